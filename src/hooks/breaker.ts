// A circuit breaker for one hook version: after `failures` consecutive failed runs (an error, a
// timeout, the memory limit) the hook is skipped for `cooldownMs`, under its on_error policy; then one
// trial run decides: a success closes the breaker, a failure opens it for another cool-down. Time is
// Date.now(), so a test moves it with its clock instead of waiting.

export interface BreakerSettings {
  /** Consecutive failed runs that open the breaker. */
  failures: number;
  /** How long an open breaker skips the hook before it lets one trial run through. */
  cooldownMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What admit() gave a run: an ordinary run, or the one trial of a half-open breaker. */
export type BreakerTicket = 'run' | 'trial';

export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  #failures = 0;
  #openUntil = 0;
  #state: BreakerState = 'closed';

  constructor(settings: BreakerSettings) {
    this.#settings = settings;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Until when an open breaker skips the hook (epoch ms). */
  get openUntil(): number {
    return this.#openUntil;
  }

  /** Whether a run would be admitted now, without taking the trial. */
  wouldAdmit(now = Date.now()): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') return now >= this.#openUntil;
    return false;
  }

  /** A ticket for a run that may start now, or null: skip it (open, or a trial is under way). */
  admit(now = Date.now()): BreakerTicket | null {
    if (this.#state === 'closed') return 'run';
    if (this.#state === 'open' && now >= this.#openUntil) {
      this.#state = 'half-open';
      return 'trial';
    }
    return null;
  }

  /** The end of an admitted run; answers the change it made ('opened', 'closed') or null. */
  record(ticket: BreakerTicket, failed: boolean, now = Date.now()): 'opened' | 'closed' | null {
    if (ticket === 'trial') {
      if (failed) return this.#open(now);
      this.#state = 'closed';
      this.#failures = 0;
      return 'closed';
    }
    // An ordinary run that ends after the breaker opened (it started before) changes nothing more.
    if (this.#state !== 'closed') return null;
    if (!failed) {
      this.#failures = 0;
      return null;
    }
    this.#failures += 1;
    return this.#failures >= this.#settings.failures ? this.#open(now) : null;
  }

  #open(now: number): 'opened' {
    this.#state = 'open';
    this.#failures = Math.max(this.#failures, this.#settings.failures);
    this.#openUntil = now + this.#settings.cooldownMs;
    return 'opened';
  }
}
