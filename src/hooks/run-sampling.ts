// Which successful runs the execution log records. Recording a run costs a redacted copy of its
// event and a row: on a busy token path, about a fifth of what a claims hook adds to a refresh grant
// (docs/BENCHMARKS.md §14), for rows the log prunes to HOOK_EXECUTIONS_PER_HOOK anyway. Failed and
// denied runs are always recorded (executions.ts); a successful or skipped one while its hook's
// bucket has a token: a burst of BURST, then `perSecond` (HOOK_EXECUTIONS_PER_SECOND). A quiet hook
// has every run recorded, a busy one a steady sample; tessera_hook_runs_total counts them all.
const BURST = 100;
/** Buckets kept at most (one per hook that ran lately); the oldest goes first. */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RunSampler {
  readonly #perSecond: number;
  readonly #buckets = new Map<string, Bucket>();

  /** `perSecond`: successful runs a hook has recorded each second past the first BURST; Infinity: all. */
  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** Whether this successful run of `hookId` is recorded (it takes a token if so). */
  keep(hookId: string, now = Date.now()): boolean {
    if (this.#perSecond === Number.POSITIVE_INFINITY) return true;
    let bucket = this.#buckets.get(hookId);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: BURST, at: now };
      this.#buckets.set(hookId, bucket);
    } else {
      bucket.tokens = Math.min(BURST, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.#perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
