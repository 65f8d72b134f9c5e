// Pure rules of a delivery attempt: what an answer means (delivered, retried when, failed for good,
// endpoint gone) and when the next attempt is due. No I/O, no clock of its own: the caller passes `now`.

/** What one attempt came back with (transport.ts), before it is judged. */
export interface Answer {
  statusCode: number | null;
  /** The receiver's Retry-After, in ms; null when it sent none (or one that does not parse). */
  retryAfterMs: number | null;
  /** The answer's body, truncated for the log. */
  response: string | null;
  error: string | null;
  /** Not attempted, or cut short by a stop: the lease is given back and the attempt does not count. */
  released: boolean;
}

export type OutcomeKind = 'delivered' | 'retry' | 'failed' | 'gone' | 'released';

export interface Verdict {
  kind: OutcomeKind;
  /** When the retry is due (epoch ms); null unless `kind` is retry. */
  nextAttemptAt: number | null;
  /** The error to log: the answer's own, or why the endpoint is now disabled. */
  error: string | null;
}

/** An attempt not made (or cut short): its lease is given back. */
export const RELEASED: Answer = Object.freeze({ statusCode: null, retryAfterMs: null, response: null, error: null, released: true });

/** An attempt that got no answer, with the reason. */
export function noAnswer(error: string): Answer {
  return { statusCode: null, retryAfterMs: null, response: null, error, released: false };
}

/** A receiver's Retry-After is honoured up to a day. */
export const RETRY_AFTER_MAX_MS = 86_400_000;
/** Each scheduled delay grows by up to this fraction, so retries of one outage do not arrive together. */
export const JITTER = 0.2;

/** Retry-After: delay-seconds or an HTTP date, in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, RETRY_AFTER_MAX_MS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.min(Math.max(0, date - now), RETRY_AFTER_MAX_MS);
}

/**
 * The delay before the retry after attempt `attempt` (1-based): the schedule's entry (its last one
 * past its end), plus 0-20 % jitter; `random` answers in [0, 1).
 */
export function retryDelay(schedule: readonly number[], attempt: number, random: () => number = Math.random): number {
  const base = schedule[Math.min(attempt - 1, schedule.length - 1)] ?? 0;
  return Math.round(base * (1 + JITTER * random()));
}

/**
 * Judges the answer to attempt number `attempts + 1` of a delivery allowed `maxAttempts`: 2xx is
 * delivered; 410 Gone disables the endpoint; anything else (3xx not followed, 4xx, 5xx, no answer)
 * is retried, after the receiver's Retry-After or the schedule's delay, until the last attempt fails.
 */
export function classify(answer: Answer, delivery: { attempts: number; maxAttempts: number }, scheduleMs: readonly number[], now: number, random: () => number = Math.random): Verdict {
  if (answer.released) return { kind: 'released', nextAttemptAt: null, error: answer.error };
  const code = answer.statusCode;
  if (code !== null && code >= 200 && code < 300) return { kind: 'delivered', nextAttemptAt: null, error: answer.error };
  if (code === 410) return { kind: 'gone', nextAttemptAt: null, error: answer.error ?? 'the endpoint answered 410 Gone: it is disabled' };
  const attempt = delivery.attempts + 1;
  if (attempt >= delivery.maxAttempts) return { kind: 'failed', nextAttemptAt: null, error: answer.error };
  const delay = answer.retryAfterMs ?? retryDelay(scheduleMs, attempt, random);
  return { kind: 'retry', nextAttemptAt: now + delay, error: answer.error };
}
