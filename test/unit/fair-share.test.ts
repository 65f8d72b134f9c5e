// Fair sharing's CPU budget and the breaker's state machine, without a server (the clock is moved).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker } from '../../src/hooks/breaker.ts';
import { FairShare } from '../../src/hooks/fair-share.ts';
import { advanceClock } from '../support/clock.ts';

const hook = { id: 'hook_1', version: 1, timeout_ms: 2000 };
const settings = { maxConcurrency: 4, cpuSharePercent: 50, cpuBurstMs: 1000, breakerFailures: 2, breakerCooldownMs: 5000 };

test('a hook that spent its CPU budget is skipped until it refills at its share of a core', async () => {
  const share = new FairShare(settings);
  const first = await share.admit(hook);
  assert.ok(first.admitted);
  first.done({ outcome: 'timeout', duration_ms: 2000 }); // a spin to its timeout: charged its wall time (no cpu_ms)
  assert.deepEqual(await share.admit(hook), { admitted: false, reason: 'over its CPU budget' });
  advanceClock(1500); // 750 ms back at 50 %: still 250 ms short
  assert.deepEqual(await share.admit(hook), { admitted: false, reason: 'over its CPU budget' });
  advanceClock(1000);
  const again = await share.admit(hook);
  assert.ok(again.admitted, 'refilled');
  again.done({ outcome: 'success', duration_ms: 50, cpu_ms: 1 }); // charged its CPU, not its wall time
  assert.ok((share.state(hook.id)?.cpuBudgetMs ?? 0) > 200);
  const next = await share.admit({ ...hook, version: 2 });
  assert.ok(next.admitted, 'a new version starts with a full budget');
  assert.equal(share.state(hook.id)?.cpuBudgetMs, 1000);
});

test('the breaker: closed → open after N failures, one trial after the cool-down, reopened or closed by it', () => {
  const breaker = new CircuitBreaker({ failures: 2, cooldownMs: 5000 });
  const now = 1_000_000;
  assert.equal(breaker.record(breaker.admit(now)!, true, now), null);
  assert.equal(breaker.record(breaker.admit(now)!, false, now), null, 'a success resets the count');
  assert.equal(breaker.record(breaker.admit(now)!, true, now), null);
  assert.equal(breaker.record(breaker.admit(now)!, true, now), 'opened');
  assert.equal(breaker.admit(now + 4999), null, 'open for the cool-down');
  assert.equal(breaker.admit(now + 5000), 'trial');
  assert.equal(breaker.admit(now + 5000), null, 'one trial at a time');
  assert.equal(breaker.record('trial', true, now + 5001), 'opened');
  assert.equal(breaker.admit(now + 10_000), null);
  assert.equal(breaker.admit(now + 10_001), 'trial');
  assert.equal(breaker.record('trial', false, now + 10_002), 'closed');
  assert.equal(breaker.admit(now + 10_003), 'run');
});

test('after a failed run, one run at a time; each success lets one more run at once', async () => {
  const share = new FairShare({ ...settings, cpuBurstMs: 60_000, breakerFailures: 10 });
  const first = await share.admit(hook);
  assert.ok(first.admitted);
  first.done({ outcome: 'timeout', duration_ms: 1, cpu_ms: 1 });
  const second = await share.admit(hook);
  assert.ok(second.admitted);
  const third = share.admit(hook);
  assert.equal(share.state(hook.id)?.waiting, 1, 'the third waits: one at a time after a failure');
  second.done({ outcome: 'success', duration_ms: 1, cpu_ms: 1 });
  const admitted = await third;
  assert.ok(admitted.admitted, 'the success handed its place over');
  const fourth = await share.admit(hook);
  assert.ok(fourth.admitted, 'one success: two at once');
  assert.equal(share.state(hook.id)?.running, 2);
  admitted.done({ outcome: 'success', duration_ms: 1, cpu_ms: 1 });
  fourth.done({ outcome: 'success', duration_ms: 1, cpu_ms: 1 });
  const many = await Promise.all([share.admit(hook), share.admit(hook), share.admit(hook), share.admit(hook)]);
  assert.ok(
    many.every((m) => m.admitted),
    'three successes: the maximum of four at once',
  );
  assert.equal(share.state(hook.id)?.running, 4);
});
