// The sandbox's fast path (src/hooks/sandbox/run.ts runSlice): a version an isolate has evaluated,
// whose last run was short, starts synchronously on the server's thread for at most a slice of a few
// milliseconds. These tests show that it answers what the async path answers (actions, console
// lines, errors), that a hook waiting on the host finishes the usual way, and that a run going past
// its slice is stopped there and run again the async way with nothing of the first attempt counted:
// no action twice, no console line of it, no fetch it queued, and the server's thread kept free; and
// that the memory limit holds there as on the async path.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HookSandbox, type SandboxHook } from '../src/hooks/sandbox/sandbox.ts';

let sandbox: HookSandbox;
let counter = 0;
const hookOf = (code: string, extra: Partial<SandboxHook> = {}): SandboxHook => ({
  id: `fast-${++counter}`,
  version: 1,
  code: `export default async function (event, api) {\n${code}\n}`,
  ...extra,
});

before(async () => {
  // One isolate: every run after the first finds the version evaluated. The hooks that await the
  // host below take a few hundred µs of isolate CPU a run, near the default bound on the fast path's
  // guess (1 ms): a bound well above it keeps them on the fast path; the bound has a test of its own.
  sandbox = new HookSandbox({ warmIsolates: 1, maxIsolates: 1, fastPathMaxCpuMs: 30 });
  await sandbox.warmup();
});
after(() => sandbox.dispose());

/** Runs `hook` and answers the result with how the fast-path counters moved. */
async function runCounted(hook: SandboxHook, event: Record<string, unknown>, timeoutMs?: number) {
  const before = sandbox.stats();
  const result = await sandbox.run(hook, event, timeoutMs === undefined ? {} : { timeoutMs });
  const now = sandbox.stats();
  return { result, fast: now.fast - before.fast, slicesOver: now.slicesOver - before.slicesOver };
}

/**
 * The first run in an isolate carries the version's source: the async way. The next ones measure
 * its isolate CPU, and once a run took under the fast path's bound (a trivial hook does as soon as
 * V8 has compiled it), the version takes the fast path: runs until one did.
 */
async function warmUp(hook: SandboxHook, event: Record<string, unknown> = {}) {
  const cold = await runCounted(hook, event);
  assert.equal(cold.fast, 0, 'the first run carries the source: the async way');
  for (let runs = 2; runs <= 20; runs += 1) if ((await runCounted(hook, event)).fast === 1) return Object.assign(cold, { runs });
  assert.fail('the version never took the fast path');
}

const BUSY = (ms: number) => `const until = Date.now() + ${ms}; while (Date.now() < until) {}`;

describe('the fast path', () => {
  test('a warm version runs there and answers what the first, async run answered: actions, console lines, errors', async () => {
    const hook = hookOf(`console.log('n is', event.n);\n  api.idToken.setClaim('n', event.n);\n  if (event.fail) throw new Error('asked to fail');`);
    const cold = await warmUp(hook, { n: 1 });
    assert.equal(cold.result.outcome, 'success', cold.result.error);
    assert.deepEqual(cold.result.actions, [{ type: 'idToken.setClaim', key: 'n', value: 1 }]);
    for (const n of [2, 3]) {
      const warm = await runCounted(hook, { n });
      assert.equal(warm.fast, 1);
      assert.equal(warm.result.outcome, 'success', warm.result.error);
      assert.deepEqual(warm.result.actions, [{ type: 'idToken.setClaim', key: 'n', value: n }]);
      assert.deepEqual(warm.result.logs, [`[log] n is ${n}`]);
    }
    const failing = await runCounted(hook, { n: 4, fail: true });
    assert.equal(failing.fast, 1);
    assert.equal(failing.result.outcome, 'error');
    assert.equal(failing.result.error, 'Error: asked to fail (line 4)');
    assert.deepEqual(failing.result.actions, []);
    assert.deepEqual(failing.result.logs, ['[log] n is 4']);
  });

  test('a promise the hook leaves rejected is the same error on both paths', async () => {
    const hook = hookOf(`Promise.reject(new Error('left behind'));`);
    const cold = await warmUp(hook);
    const warm = await runCounted(hook, {});
    assert.equal(cold.result.error, 'Uncaught (in promise) Error: left behind');
    assert.deepEqual({ fast: warm.fast, outcome: warm.result.outcome, error: warm.result.error }, { fast: 1, outcome: 'error', error: cold.result.error });
  });

  test('a hook that waits on the host (a timer, crypto.subtle) is pending after its slice and finishes the usual way', async () => {
    const hook = hookOf(
      `await new Promise((resolve) => setTimeout(resolve, 20));\n  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(String(event.n)));\n  api.idToken.setClaim('bytes', new Uint8Array(digest).length);\n  api.idToken.setClaim('n', event.n);`,
    );
    await warmUp(hook, { n: 0 });
    const warm = await runCounted(hook, { n: 5 });
    assert.equal(warm.fast, 1);
    assert.equal(warm.result.outcome, 'success', warm.result.error);
    assert.deepEqual(warm.result.actions, [
      { type: 'idToken.setClaim', key: 'bytes', value: 32 },
      { type: 'idToken.setClaim', key: 'n', value: 5 },
    ]);
    assert.ok(warm.result.duration_ms >= 20, `the timer was waited for: ${warm.result.duration_ms} ms`);
  });

  test('a run past its slice is stopped there and run again the async way: one set of actions, its own console lines', async () => {
    const hook = hookOf(`console.log('run', event.n);\n  if (event.slow) { ${BUSY(40)} }\n  api.user.setMetadata('n', event.n);`);
    await warmUp(hook, { n: 0 });
    const fast = await runCounted(hook, { n: 1 });
    assert.equal(fast.fast, 1);
    const slow = await runCounted(hook, { n: 2, slow: true });
    assert.equal(slow.slicesOver, 1, 'the slice ran over');
    assert.equal(slow.fast, 0);
    assert.equal(slow.result.outcome, 'success', slow.result.error);
    assert.deepEqual(slow.result.actions, [{ type: 'user.setMetadata', key: 'n', value: 2 }]);
    assert.deepEqual(slow.result.logs, ['[log] run 2'], 'the stopped attempt left no console line');
    // That version now runs the async way for a while: no second slice runs over.
    const next = await runCounted(hook, { n: 3, slow: true });
    assert.deepEqual({ fast: next.fast, slicesOver: next.slicesOver, outcome: next.result.outcome }, { fast: 0, slicesOver: 0, outcome: 'success' });
  });

  test('a warm version that goes over the memory limit ends as memory, on the fast path or after it, and the next run succeeds', async () => {
    for (const grab of [`'x'.repeat(2 ** 29 - 24).length`, `(() => { const a = []; for (;;) a.push(new Array(1e5).fill(1)); })()`]) {
      const hook = hookOf(`if (event.big) api.user.setMetadata('n', ${grab});\n  api.user.setMetadata('ok', 1);`);
      await warmUp(hook);
      const big = await runCounted(hook, { big: true });
      assert.equal(big.result.outcome, 'memory', `${grab}: ${big.result.error}`);
      assert.equal(big.fast + big.slicesOver, 1, 'it started on the fast path');
      assert.deepEqual(big.result.actions, []);
      const next = await runCounted(hook, {});
      assert.deepEqual({ outcome: next.result.outcome, actions: next.result.actions }, { outcome: 'success', actions: [{ type: 'user.setMetadata', key: 'ok', value: 1 }] });
    }
  });

  test('a version whose last run took over 1 ms of the isolate CPU (the default bound) runs the async way: no slice is spent on it', async () => {
    const defaults = new HookSandbox({ warmIsolates: 1, maxIsolates: 1 });
    try {
      const hook = hookOf(`${BUSY(3)}\n  api.user.setMetadata('ok', true);`);
      for (let i = 0; i < 4; i++) {
        const before = defaults.stats();
        const run = await defaults.run(hook, {});
        const after = defaults.stats();
        assert.equal(run.outcome, 'success', run.error);
        assert.ok(run.cpu_ms !== undefined && run.cpu_ms > 1, `it spent ${run.cpu_ms} ms of isolate CPU`);
        assert.deepEqual({ fast: after.fast - before.fast, slicesOver: after.slicesOver - before.slicesOver }, { fast: 0, slicesOver: 0 });
      }
    } finally {
      defaults.dispose();
    }
  });

  test('a fetch queued by a stopped attempt is never made; the second attempt makes its own', async () => {
    const seen: string[] = [];
    const peer: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('{}');
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    const port = (peer.address() as AddressInfo).port;
    try {
      const hook = hookOf(`const answer = fetch('http://127.0.0.1:${port}/n/' + event.n);\n  if (event.slow) { ${BUSY(40)} }\n  await answer;\n  api.user.setMetadata('n', event.n);`, {
        allowed_hosts: [`127.0.0.1:${port}`],
      });
      const { runs } = await warmUp(hook, { n: 0 });
      assert.equal((await runCounted(hook, { n: 1 })).fast, 1);
      const slow = await runCounted(hook, { n: 2, slow: true });
      assert.equal(slow.slicesOver, 1);
      assert.equal(slow.result.outcome, 'success', slow.result.error);
      assert.deepEqual(seen, [...Array(runs).fill('/n/0'), '/n/1', '/n/2'], 'one request per run: none from the stopped attempt');
    } finally {
      peer.closeAllConnections();
      peer.close();
    }
  });

  test('a loop that never ends, in a warm version, costs the server one slice: it is stopped at timeout_ms while the server keeps answering', async () => {
    const pinger = createServer((_req, res) => res.end('pong'));
    await new Promise<void>((resolve) => pinger.listen(0, '127.0.0.1', resolve));
    const port = (pinger.address() as AddressInfo).port;
    const ping = () =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        const req = request({ host: '127.0.0.1', port, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - started));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const hook = hookOf(`if (event.loop) { for (;;) {} }\n  api.user.setMetadata('ok', true);`);
      await warmUp(hook);
      assert.equal((await runCounted(hook, {})).fast, 1);
      let finished = false;
      const run = runCounted(hook, { loop: true }, 800).finally(() => {
        finished = true;
      });
      const latencies: number[] = [];
      while (!finished) {
        latencies.push(await ping());
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const looped = await run;
      assert.equal(looped.result.outcome, 'timeout');
      assert.equal(looped.slicesOver, 1);
      assert.match(String(looped.result.error), /did not finish within 800 ms/);
      assert.ok(latencies.length >= 8, `only ${latencies.length} pings were answered during the run`);
      assert.ok(Math.max(...latencies) < 400, `a ping took ${Math.max(...latencies)} ms`);
    } finally {
      pinger.closeAllConnections();
      pinger.close();
    }
  });
});
