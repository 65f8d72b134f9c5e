// The pure rules of a webhook attempt (src/webhooks/retry.ts): Retry-After, the retry delays with
// their jitter, and how an answer is judged. No server, no database.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, JITTER, noAnswer, parseRetryAfter, RELEASED, RETRY_AFTER_MAX_MS, retryDelay, type Answer } from '../../src/webhooks/retry.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const SCHEDULE = [5_000, 300_000, 1_800_000];
const answer = (statusCode: number | null, extra: Partial<Answer> = {}): Answer => ({ statusCode, retryAfterMs: null, response: null, error: null, released: false, ...extra });

describe('Retry-After', () => {
  test('delay-seconds, capped at a day', () => {
    assert.equal(parseRetryAfter('120', NOW), 120_000);
    assert.equal(parseRetryAfter(' 0 ', NOW), 0);
    assert.equal(parseRetryAfter('999999999', NOW), RETRY_AFTER_MAX_MS);
  });

  test('an HTTP date: the time left, never negative, capped at a day', () => {
    assert.equal(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW), 90_000);
    assert.equal(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW), 0);
    assert.equal(parseRetryAfter(new Date(NOW + 3 * 86_400_000).toUTCString(), NOW), RETRY_AFTER_MAX_MS);
  });

  test('absent or unreadable: none', () => {
    for (const value of [undefined, '', 'soon', 'Wed, 99 Foo 2026']) assert.equal(parseRetryAfter(value, NOW), null, String(value));
  });
});

describe('retry delays', () => {
  test('the schedule entry of the attempt, its last entry past its end', () => {
    const none = () => 0;
    assert.equal(retryDelay(SCHEDULE, 1, none), 5_000);
    assert.equal(retryDelay(SCHEDULE, 2, none), 300_000);
    assert.equal(retryDelay(SCHEDULE, 3, none), 1_800_000);
    assert.equal(retryDelay(SCHEDULE, 9, none), 1_800_000);
    assert.equal(retryDelay([], 1, none), 0);
  });

  test('jitter adds up to 20 % and never shortens the delay', () => {
    assert.equal(JITTER, 0.2);
    assert.equal(
      retryDelay(SCHEDULE, 1, () => 0.5),
      5_500,
    );
    assert.equal(
      retryDelay(SCHEDULE, 1, () => 0.999999),
      6_000,
    );
    for (let i = 0; i < 200; i += 1) {
      const delay = retryDelay(SCHEDULE, 2);
      assert.ok(delay >= 300_000 && delay <= 360_000, String(delay));
    }
  });
});

describe('classifying an answer', () => {
  const first = { attempts: 0, maxAttempts: SCHEDULE.length + 1 };
  const last = { attempts: SCHEDULE.length, maxAttempts: SCHEDULE.length + 1 };
  const half = () => 0.5;

  test('2xx is delivered, on any attempt', () => {
    for (const code of [200, 201, 204, 299]) {
      assert.deepEqual(classify(answer(code), first, SCHEDULE, NOW), { kind: 'delivered', nextAttemptAt: null, error: null }, String(code));
      assert.equal(classify(answer(code), last, SCHEDULE, NOW).kind, 'delivered');
    }
  });

  test('410 Gone disables the endpoint, with a reason unless the answer gave one', () => {
    assert.deepEqual(classify(answer(410), first, SCHEDULE, NOW), { kind: 'gone', nextAttemptAt: null, error: 'the endpoint answered 410 Gone: it is disabled' });
    assert.equal(classify(answer(410, { error: 'HTTP 410' }), last, SCHEDULE, NOW).error, 'HTTP 410');
  });

  test('anything else is retried after the scheduled delay, with jitter', () => {
    for (const given of [answer(500, { error: 'HTTP 500' }), answer(404), answer(302, { error: 'redirect not followed' }), answer(199), noAnswer('ECONNREFUSED: refused')]) {
      const verdict = classify(given, first, SCHEDULE, NOW, half);
      assert.deepEqual(verdict, { kind: 'retry', nextAttemptAt: NOW + 5_500, error: given.error }, JSON.stringify(given));
    }
    assert.equal(classify(answer(503), { attempts: 1, maxAttempts: 4 }, SCHEDULE, NOW, half).nextAttemptAt, NOW + 330_000);
  });

  test("the receiver's Retry-After wins over the schedule", () => {
    const verdict = classify(answer(429, { retryAfterMs: 42_000 }), first, SCHEDULE, NOW, half);
    assert.deepEqual(verdict, { kind: 'retry', nextAttemptAt: NOW + 42_000, error: null });
    assert.equal(classify(answer(503, { retryAfterMs: 0 }), first, SCHEDULE, NOW, half).nextAttemptAt, NOW);
  });

  test('the last attempt that fails is failed for good (the dead letter), Retry-After or not', () => {
    assert.deepEqual(classify(answer(500, { error: 'HTTP 500' }), last, SCHEDULE, NOW), { kind: 'failed', nextAttemptAt: null, error: 'HTTP 500' });
    assert.equal(classify(answer(429, { retryAfterMs: 1000 }), last, SCHEDULE, NOW).kind, 'failed');
    // A manual retry allows one attempt more than made so far: its failure is final at once.
    assert.equal(classify(noAnswer('timeout'), { attempts: 7, maxAttempts: 8 }, SCHEDULE, NOW).kind, 'failed');
  });

  test('a released attempt (not made, or cut short by a stop) does not count', () => {
    assert.deepEqual(classify(RELEASED, last, SCHEDULE, NOW), { kind: 'released', nextAttemptAt: null, error: null });
  });
});
