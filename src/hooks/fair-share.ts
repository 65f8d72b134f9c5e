// Fair sharing between hooks: no hook takes more than its share of the box, so one application's
// misbehaving hooks (spinning, leaking, hanging) cannot slow another application's logins.
// - Runs at once: at most `maxConcurrency` runs of one hook, and after a failed run only one, growing
//   by one with each run that succeeds (so a hook that spins holds one thread, not one per login,
//   while the breaker counts its failures); more wait for a free run, within the run's own timeout
//   (the wait counts against it).
// - CPU: a budget per hook that refills at `cpuSharePercent` of one core and holds at most
//   `cpuBurstMs`; a run is charged its isolate CPU (its wall time where the sandbox does not say).
//   While the budget is spent, the hook is skipped.
// - A circuit breaker (breaker.ts): after consecutive failed runs the hook is skipped for a cool-down.
// A skipped run is not run: the runner applies the hook's on_error and records it as `skipped`.
// State is per hook version in this process (a new version, a fix, starts afresh).
import { CircuitBreaker, type BreakerTicket } from './breaker.ts';

export interface FairShareSettings {
  maxConcurrency: number;
  cpuSharePercent: number;
  cpuBurstMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
}

export const DEFAULT_FAIR_SHARE: FairShareSettings = { maxConcurrency: 8, cpuSharePercent: 25, cpuBurstMs: 5_000, breakerFailures: 5, breakerCooldownMs: 30_000 };

/** What a hook needs to be admitted. */
export interface ShareableHook {
  id: string;
  version: number;
  timeout_ms: number;
}

/** How a run ended, as far as sharing goes. */
export interface RunCost {
  outcome: string;
  duration_ms: number;
  /** The isolate's CPU time for the run, when the sandbox measured it. */
  cpu_ms?: number;
}

export type SkipReason = 'circuit open' | 'over its CPU budget' | 'no free run before its timeout';

export type Admission =
  | { admitted: true /** What is left of the hook's timeout after waiting for a free run. */; timeoutMs: number; done(cost: RunCost): void }
  | { admitted: false; reason: SkipReason };

export interface FairShareEvents<H extends ShareableHook> {
  /** A hook's breaker opened (it is skipped until `until`). */
  opened?(hook: H, failures: number, until: number): void;
  /** A trial run succeeded: the hook runs again. */
  closed?(hook: H): void;
}

const FAILED = new Set(['error', 'timeout', 'memory']);
/** The least time worth starting a run with, in ms. */
const MIN_RUN_MS = 10;

class HookShare {
  readonly version: number;
  readonly breaker: CircuitBreaker;
  running = 0;
  /** Runs that succeeded since the last failure: the runs allowed at once are 1 + this (up to the maximum). */
  streak = 0;
  readonly waiting: Array<() => void> = [];
  /** CPU ms left to spend; may go below 0 (a run is charged after it ends). */
  budget: number;
  refilledAt: number;

  constructor(version: number, settings: FairShareSettings, now: number) {
    this.version = version;
    this.breaker = new CircuitBreaker({ failures: settings.breakerFailures, cooldownMs: settings.breakerCooldownMs });
    this.budget = settings.cpuBurstMs;
    this.refilledAt = now;
  }
}

export class FairShare<H extends ShareableHook> {
  readonly #settings: FairShareSettings;
  readonly #events: FairShareEvents<H>;
  readonly #shares = new Map<string, HookShare>();

  constructor(settings: FairShareSettings = DEFAULT_FAIR_SHARE, events: FairShareEvents<H> = {}) {
    this.#settings = settings;
    this.#events = events;
  }

  /** The breaker's state of a hook, for tests and the admin view. */
  state(hookId: string): { breaker: 'closed' | 'open' | 'half-open'; running: number; waiting: number; cpuBudgetMs: number } | null {
    const share = this.#shares.get(hookId);
    if (!share) return null;
    this.#refill(share, Date.now());
    return { breaker: share.breaker.state, running: share.running, waiting: share.waiting.length, cpuBudgetMs: Math.round(share.budget) };
  }

  /** Admits a run of `hook` now, after waiting for a free run, or says why it is skipped. */
  async admit(hook: H): Promise<Admission> {
    const started = Date.now();
    const share = this.#share(hook, started);
    this.#refill(share, started);
    if (!share.breaker.wouldAdmit(started)) return { admitted: false, reason: 'circuit open' };
    if (share.budget <= 0) return { admitted: false, reason: 'over its CPU budget' };

    const startedAt = performance.now();
    if (share.running < this.#limit(share)) share.running += 1;
    else if (!(await this.#waitForRun(share, hook.timeout_ms))) return { admitted: false, reason: 'no free run before its timeout' };
    // A run behind a hanging one gets its place only as that one times out: with less than a tenth
    // of its own timeout left it could do nothing useful, so it is skipped rather than run.
    const left = hook.timeout_ms - (performance.now() - startedAt);
    if (left < Math.max(MIN_RUN_MS, hook.timeout_ms / 10)) {
      this.#release(share);
      return { admitted: false, reason: 'no free run before its timeout' };
    }
    const ticket: BreakerTicket | null = share.breaker.admit();
    if (ticket === null) {
      this.#release(share);
      return { admitted: false, reason: 'circuit open' };
    }
    let finished = false;
    return {
      admitted: true,
      timeoutMs: Math.floor(left),
      done: (cost) => {
        if (finished) return;
        finished = true;
        share.running -= 1;
        const now = Date.now();
        this.#refill(share, now);
        share.budget -= cost.cpu_ms ?? cost.duration_ms;
        const failed = FAILED.has(cost.outcome);
        share.streak = failed ? 0 : Math.min(this.#settings.maxConcurrency, share.streak + 1);
        this.#dispatch(share);
        const change = share.breaker.record(ticket, failed, now);
        if (change === 'opened') this.#events.opened?.(hook, share.breaker.failures, share.breaker.openUntil);
        else if (change === 'closed') this.#events.closed?.(hook);
      },
    };
  }

  #share(hook: H, now: number): HookShare {
    let share = this.#shares.get(hook.id);
    if (!share || share.version !== hook.version) {
      // A new version starts afresh; runs of the old one still release into the old share.
      share = new HookShare(hook.version, this.#settings, now);
      this.#shares.set(hook.id, share);
    }
    return share;
  }

  #refill(share: HookShare, now: number): void {
    const elapsed = Math.max(0, now - share.refilledAt);
    share.refilledAt = now;
    share.budget = Math.min(this.#settings.cpuBurstMs, share.budget + (elapsed * this.#settings.cpuSharePercent) / 100);
  }

  /** Waits until a place is handed over (#dispatch), or `timeoutMs` passes; true when it got one. */
  #waitForRun(share: HookShare, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const at = share.waiting.indexOf(wake);
        if (at >= 0) share.waiting.splice(at, 1);
        resolve(false);
      }, timeoutMs);
      share.waiting.push(wake);
    });
  }

  #limit(share: HookShare): number {
    return Math.min(this.#settings.maxConcurrency, 1 + share.streak);
  }

  /** A run ended (or gave its place back): its place is free for the waiters. */
  #release(share: HookShare): void {
    share.running -= 1;
    this.#dispatch(share);
  }

  /** Wakes waiters while the hook has places free; each woken waiter holds its place already. */
  #dispatch(share: HookShare): void {
    while (share.waiting.length > 0 && share.running < this.#limit(share)) {
      share.running += 1;
      share.waiting.shift()!();
    }
  }
}
