// Equal answer times for the two paths of one step, so that a stopwatch cannot tell whether an
// identifier names an account. The identify step must run different sync hooks on its two paths
// (after_identification for an account, at_failed_identification for none) and wait for them, since
// their decisions (deny, MFA, migration) shape the journey; so each answer waits until a floor: a
// high quantile of the recent times of BOTH paths in the same scope (the application, whose hooks
// they are). The faster path is held to the slower's time, the slower to its own tail.
//
// What is left: a run slower than the floor (its path's last percent) answers when it ends; the
// floor is learned per process from the last WINDOW answers, so the first answers after a start (or
// of a scope seen for the first time) are not yet padded.

const WINDOW = 200;
const QUANTILE = 0.99;
/** No answer is held longer than this (hook time limits bound the paths anyway). */
const MAX_FLOOR_MS = 15_000;
/** Scopes remembered (applications); the oldest is forgotten past this. */
const MAX_SCOPES = 1000;

export type EqualTimeSide = 'known' | 'unknown';

export interface EqualTimeClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: EqualTimeClock = {
  now: () => performance.now(),
  // Timers fire on whole milliseconds, late by up to one: a long wait and a short one would end at
  // different distances from the floor. So: a timer to just short of the end, then event-loop turns.
  async sleep(ms) {
    const end = performance.now() + ms;
    if (ms > 2) await new Promise((resolve) => setTimeout(resolve, ms - 2));
    while (performance.now() < end) await new Promise((resolve) => setImmediate(resolve));
  },
};

/** Told of every settled answer: its step, side and wait (ms); the server counts them in /metrics. */
export type EqualTimeObserver = (step: string, side: EqualTimeSide, waitMs: number) => void;

export class EqualTime {
  readonly #scopes = new Map<string, Record<EqualTimeSide, number[]>>();
  readonly #clock: EqualTimeClock;
  readonly #observe: EqualTimeObserver;

  constructor(options: { clock?: EqualTimeClock; observe?: EqualTimeObserver } = {}) {
    this.#clock = options.clock ?? realClock;
    this.#observe = options.observe ?? (() => {});
  }

  /** The moment a step's work starts, for settle(). */
  start(): number {
    return this.#clock.now();
  }

  /**
   * Records how long this answer's work took on its side (unless `record` is false), then waits
   * until the floor of the step in this scope (an application). Answers how long it waited (ms).
   */
  async settle(step: string, scope: string, side: EqualTimeSide, startedAt: number, options: { record?: boolean } = {}): Promise<number> {
    const elapsed = this.#clock.now() - startedAt;
    const samples = this.#samples(`${step}:${scope}`);
    if (options.record !== false) {
      const mine = samples[side];
      mine.push(elapsed);
      if (mine.length > WINDOW) mine.shift();
    }
    const floor = Math.min(MAX_FLOOR_MS, Math.max(quantile(samples.known), quantile(samples.unknown)));
    const wait = Math.max(0, floor - elapsed);
    this.#observe(step, side, wait);
    if (wait > 0) await this.#clock.sleep(wait);
    return wait;
  }

  #samples(scope: string): Record<EqualTimeSide, number[]> {
    let samples = this.#scopes.get(scope);
    if (!samples) {
      if (this.#scopes.size >= MAX_SCOPES) this.#scopes.delete(this.#scopes.keys().next().value!);
      samples = { known: [], unknown: [] };
      this.#scopes.set(scope, samples);
    }
    return samples;
  }
}

function quantile(values: number[], q = QUANTILE): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
