// Which successful hook runs the execution log records (src/hooks/run-sampling.ts): a burst of 100,
// then a rate per hook; each hook has its own bucket; Infinity records every run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunSampler } from '../../src/hooks/run-sampling.ts';

const kept = (sampler: RunSampler, hookId: string, times: number[]) => times.map((at) => sampler.keep(hookId, at));
const count = (values: boolean[]) => values.filter(Boolean).length;

test('a burst of 100, then the rate per hook; a quiet hook gets its burst back, never more', () => {
  const sampler = new RunSampler(10);
  assert.deepEqual(kept(sampler, 'h1', Array(102).fill(1000)), [...Array(100).fill(true), false, false]);
  // 50 ms at 10 a second: half a run, not enough; 100 ms: one.
  assert.deepEqual(kept(sampler, 'h1', [1050, 1100, 1100]), [false, true, false]);
  // Another hook has its own bucket.
  assert.equal(count(kept(sampler, 'h2', Array(100).fill(1100))), 100);
  // A second at 10 a second, spread over 200 runs: 10 of them.
  assert.equal(
    count(
      kept(
        sampler,
        'h1',
        Array.from({ length: 200 }, (_, i) => 1100 + (i + 1) * 5),
      ),
    ),
    10,
  );
  // Quiet for an hour: the burst again, not 36 000.
  assert.equal(count(kept(sampler, 'h1', Array(150).fill(3_700_000))), 100);
});

test('a rate of 0 records the first burst only; Infinity records every run; a clock going back takes nothing', () => {
  const none = new RunSampler(0);
  assert.equal(count(kept(none, 'h', [0, ...Array(150).fill(10 ** 9)])), 100);
  const all = new RunSampler(Number.POSITIVE_INFINITY);
  assert.ok(kept(all, 'h', Array(1000).fill(0)).every(Boolean));
  const back = new RunSampler(10);
  kept(back, 'h', Array(100).fill(5000));
  assert.deepEqual(kept(back, 'h', [1000, 1000]), [false, false]);
});
