// The async hook worker's settings (src/config.ts): defaults, and a clear error naming the variable
// for a bad value. No server, no database.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

const refused = (env: Record<string, string>, name: string) => {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${name} `),
    JSON.stringify(env),
  );
};

describe('async hook worker settings', () => {
  test('defaults: retries after 5 s, 30 s and 2 min; a 30 s lease; a 500 ms poll; 10 jobs at once', () => {
    const { hooks } = loadConfig({});
    assert.deepEqual(hooks.asyncRetryScheduleMs, [5_000, 30_000, 120_000]);
    assert.equal(hooks.asyncLeaseMs, 30_000);
    assert.equal(hooks.asyncPollMs, 500);
    assert.equal(hooks.asyncConcurrency, 10);
  });

  test('each can be set', () => {
    const { hooks } = loadConfig({ HOOK_ASYNC_RETRY_SCHEDULE: '1s,1m', HOOK_ASYNC_LEASE: '2m', HOOK_ASYNC_POLL_INTERVAL: '50ms', HOOK_ASYNC_CONCURRENCY: '3' });
    assert.deepEqual(hooks.asyncRetryScheduleMs, [1_000, 60_000]);
    assert.equal(hooks.asyncLeaseMs, 120_000);
    assert.equal(hooks.asyncPollMs, 50);
    assert.equal(hooks.asyncConcurrency, 3);
  });

  test('bad values name the variable', () => {
    refused({ HOOK_ASYNC_RETRY_SCHEDULE: '5s,soon' }, 'HOOK_ASYNC_RETRY_SCHEDULE');
    refused({ HOOK_ASYNC_RETRY_SCHEDULE: '8d' }, 'HOOK_ASYNC_RETRY_SCHEDULE');
    // Shorter than the longest hook run (10 s) plus a margin: a lease could end mid-run.
    refused({ HOOK_ASYNC_LEASE: '10s' }, 'HOOK_ASYNC_LEASE');
    refused({ HOOK_ASYNC_LEASE: 'long' }, 'HOOK_ASYNC_LEASE');
    refused({ HOOK_ASYNC_POLL_INTERVAL: '1ms' }, 'HOOK_ASYNC_POLL_INTERVAL');
    refused({ HOOK_ASYNC_CONCURRENCY: '0' }, 'HOOK_ASYNC_CONCURRENCY');
    refused({ HOOK_ASYNC_CONCURRENCY: 'many' }, 'HOOK_ASYNC_CONCURRENCY');
  });
});
