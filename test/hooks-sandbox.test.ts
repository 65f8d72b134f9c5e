// The hook sandbox (isolated-vm): api calls come out as plain actions, console output is captured
// (capped, secrets redacted), code that does not compile is refused with its line; `while (true) {}`
// is stopped at timeout_ms while this process keeps answering HTTP requests; a runaway allocation
// ends as 'memory' and the next run succeeds; process, require, constructor tricks and prototype
// pollution reach nothing of the host, and writing a global or a built-in throws saying why (the
// realm is hardened: test/hooks-isolation.test.ts probes it run against run); an await on a slow
// fetch past the deadline ends as 'timeout' near the deadline.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { checkHookCode, codeProblem } from '../src/hooks/sandbox/check.ts';
import { HookSandbox, type SandboxHook } from '../src/hooks/sandbox/sandbox.ts';

let sandbox: HookSandbox;
let counter = 0;

function hook(code: string, extra: Partial<SandboxHook> = {}): SandboxHook {
  return { id: `hook-${++counter}`, version: 1, code, ...extra };
}

const body = (code: string) => hook(`export default async function (event, api) {\n${code}\n}`);

before(async () => {
  sandbox = new HookSandbox();
  await sandbox.warmup();
});

after(() => sandbox.dispose());

/** An HTTP server in this process, and a client that records how fast it answers. */
async function startPinger(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('pong'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function ping(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - started));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Pings every 25 ms until `done` settles; answers each ping's latency. */
async function pingDuring(port: number, done: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  while (!finished) {
    latencies.push(await ping(port));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return latencies;
}

describe('actions and console', () => {
  test('every api call is recorded as plain data, in order', async () => {
    const result = await sandbox.run(
      body(`
  const meta = { plan: 'pro', seats: [1, 2] };
  api.deny('Registrations from this domain are closed');
  api.user.setAttribute('department', 'R&D');
  api.user.setMetadata('crm', meta);
  meta.plan = 'changed after the call';
  api.mfa.require();
  api.mfa.skip();
  api.migration.createUser({ email: event.identifier, given_name: 'Ada', attributes: { legacy_id: 42 } });
  api.password.accept();
  api.password.reject('Wrong password');
  api.password.reject();
  api.error.setMessage('Try again later');
  api.redirect('https://help.example.com/locked');
  api.form.requireFields([{ name: 'phone', label: 'Phone', type: 'tel', required: true }]);
  api.form.requireConsents([{ key: 'marketing', label: 'Send me news' }]);
  api.idToken.setClaim('tier', event.user.tier);
  api.accessToken.setClaim('roles', ['admin', 'billing']);
`),
      { identifier: 'ada@example.com', user: { tier: 'gold' } },
    );
    assert.equal(result.outcome, 'success', result.error);
    assert.deepEqual(result.actions, [
      { type: 'deny', message: 'Registrations from this domain are closed' },
      { type: 'user.setAttribute', key: 'department', value: 'R&D' },
      { type: 'user.setMetadata', key: 'crm', value: { plan: 'pro', seats: [1, 2] } },
      { type: 'mfa.require' },
      { type: 'mfa.skip' },
      { type: 'migration.createUser', user: { email: 'ada@example.com', given_name: 'Ada', attributes: { legacy_id: 42 } } },
      { type: 'password.accept' },
      { type: 'password.reject', message: 'Wrong password' },
      { type: 'password.reject' },
      { type: 'error.setMessage', message: 'Try again later' },
      { type: 'redirect', url: 'https://help.example.com/locked' },
      { type: 'form.requireFields', fields: [{ name: 'phone', label: 'Phone', type: 'tel', required: true }] },
      { type: 'form.requireConsents', consents: [{ key: 'marketing', label: 'Send me news' }] },
      { type: 'idToken.setClaim', key: 'tier', value: 'gold' },
      { type: 'accessToken.setClaim', key: 'roles', value: ['admin', 'billing'] },
    ]);
    assert.deepEqual(result.logs, []);
    assert.equal(typeof result.duration_ms, 'number');
    assert.equal(result.error, undefined);
  });

  test('a hook that throws is an error with its line, and none of its actions count', async () => {
    const result = await sandbox.run(
      hook(`export default async function (event, api) {
  api.idToken.setClaim('a', 1);
  throw new TypeError('no tier for ' + event.user.id);
}`),
      { user: { id: 'usr_1' } },
    );
    assert.equal(result.outcome, 'error');
    assert.equal(result.error, 'TypeError: no tier for usr_1 (line 3)');
    assert.deepEqual(result.actions, []);

    const values = await sandbox.run(body(`api.user.setMetadata('big', 1n);`), {});
    assert.equal(values.outcome, 'error');
    assert.match(String(values.error), /must be JSON-serializable/);

    const thrownValue = await sandbox.run(body(`throw { code: 'E_TIER', retry: false };`), {});
    assert.equal(thrownValue.outcome, 'error');
    assert.equal(thrownValue.error, 'Uncaught { code: "E_TIER", retry: false }');

    const rejected = await sandbox.run(body(`Promise.reject(new Error('forgotten'));`), {});
    assert.equal(rejected.outcome, 'error');
    assert.match(String(rejected.error), /Uncaught \(in promise\) Error: forgotten/);
  });

  test('console output is captured, formatted and capped', async () => {
    const result = await sandbox.run(
      body(`
  console.log('user', event.user.id, { tier: 'gold', n: [1, 2] }, 3, true, null, undefined);
  console.info('%s has %d logins', 'ada', 3);
  console.warn('careful');
  console.error(new Error('boom'));
  console.log('x'.repeat(5000));
`),
      { user: { id: 'usr_1' } },
    );
    assert.equal(result.outcome, 'success', result.error);
    assert.equal(result.logs[0], '[log] user usr_1 { tier: "gold", n: [ 1, 2 ] } 3 true null undefined');
    assert.equal(result.logs[1], '[info] ada has 3 logins');
    assert.equal(result.logs[2], '[warn] careful');
    assert.match(result.logs[3], /^\[error\] Error: boom\n {2,4}at default \(hook\.js:6:\d+\)$/);
    assert.equal(result.logs[4].length, 1001);
    assert.ok(result.logs[4].endsWith('x…'));

    const flood = await sandbox.run(body(`for (let i = 0; i < 500; i++) console.log('line', i);`), {});
    assert.equal(flood.outcome, 'success');
    assert.equal(flood.logs.length, 101);
    assert.equal(flood.logs[99], '[log] line 99');
    assert.equal(flood.logs[100], '[console output truncated after 100 lines]');
  });

  test('exact secret values never appear in the logs or the error', async () => {
    const secrets = { CRM_TOKEN: 'tok_live_5f3a9c1e77', WEBHOOK: 'whsec-abcdef123456', SHORT: 'abc' };
    const result = await sandbox.run(
      body(`
  console.log('token', event.secrets.CRM_TOKEN, 'in a url: https://x.test/?t=' + event.secrets.CRM_TOKEN);
  console.log(event.secrets);
  console.warn({ nested: { headers: { authorization: 'Bearer ' + event.secrets.WEBHOOK } } });
  throw new Error('failed with ' + event.secrets.CRM_TOKEN);
`),
      { secrets },
    );
    assert.equal(result.outcome, 'error');
    const everything = `${result.logs.join('\n')}\n${result.error}`;
    assert.ok(!everything.includes(secrets.CRM_TOKEN));
    assert.ok(!everything.includes(secrets.WEBHOOK));
    assert.equal(result.logs[0], '[log] token [redacted] in a url: https://x.test/?t=[redacted]');
    assert.match(result.logs[1], /CRM_TOKEN: "\[redacted\]"/);
    assert.match(result.logs[2], /Bearer \[redacted\]/);
    assert.equal(result.error, 'Error: failed with [redacted] (line 6)');
  });
});

describe('code checks', () => {
  test('a syntax error is refused with its line', () => {
    const check = checkHookCode('export default async function (event, api) {\n  const x = ;\n}\n');
    assert.deepEqual(check, { ok: false, message: "SyntaxError: Unexpected token ';'", line: 2 });
    assert.deepEqual(codeProblem('export default async function (event, api) {\n  api.deny("x")\n\n  if (\n}'), {
      message: "SyntaxError: Unexpected token '}'",
      line: 5,
    });
    const unterminated = checkHookCode('export default async function () {}\n/* never closed');
    assert.equal(unterminated.ok, false);
    assert.equal(!unterminated.ok && unterminated.line, 2);
  });

  test('imports and a missing default export are refused; a valid hook passes without running', () => {
    assert.deepEqual(checkHookCode('\nimport fs from "node:fs";\nexport default async function () {}'), {
      ok: false,
      message: 'imports are not supported in hooks ("node:fs")',
      line: 2,
    });
    const missing = checkHookCode('export async function handler(event, api) {}');
    assert.equal(missing.ok, false);
    assert.match(!missing.ok ? missing.message : '', /must export a default function/);
    // Checking never runs the code: a top level that would loop forever is fine to check.
    assert.deepEqual(checkHookCode('while (true) {}\nexport default async function (event, api) {}'), { ok: true });
    assert.equal(codeProblem('export default async (event, api) => { api.mfa.skip(); };'), null);
  });

  test('a run of code that does not compile is an error naming the line; versions are compiled once', async () => {
    const broken = hook('export default async function (event, api) {\n  api.deny(\n}', { id: 'versioned', version: 1 });
    const result = await sandbox.run(broken, {});
    assert.equal(result.outcome, 'error');
    assert.match(String(result.error), /^SyntaxError: .* \(line 3\)$/);

    const compiledBefore = sandbox.stats().compiled;
    const fixed = { id: 'versioned', version: 2, code: 'export default async function (event, api) { api.mfa.skip(); }' };
    assert.deepEqual(sandbox.compile(fixed), { ok: true });
    for (let i = 0; i < 5; i++) assert.deepEqual((await sandbox.run(fixed, {})).actions, [{ type: 'mfa.skip' }]);
    assert.equal(sandbox.stats().compiled, compiledBefore + 1);
  });

  test('the module top level runs before the hook, once per run; throwing there is an error with its line', async () => {
    const result = await sandbox.run(
      hook(`const started = 'top level ran';
export default async function (event, api) { api.user.setMetadata('x', started); }`),
      {},
    );
    assert.deepEqual(result.actions, [{ type: 'user.setMetadata', key: 'x', value: 'top level ran' }]);

    const throwing = await sandbox.run(hook(`const a = 1;\nthrow new RangeError('bad config');\nexport default async function () {}`), {});
    assert.equal(throwing.outcome, 'error');
    assert.equal(throwing.error, 'RangeError: bad config (line 2)');

    const notAFunction = await sandbox.run(hook('export default 42;'), {});
    assert.equal(notAFunction.outcome, 'error');
    assert.match(String(notAFunction.error), /must export a default function/);
  });
});

describe('limits', () => {
  test('a result cannot be forged past the api limits: Object.prototype.toJSON cannot be written (and the host measures the result anyway)', async () => {
    // The prelude's JSON.stringify of the result used to follow a hook's Object.prototype.toJSON;
    // the intrinsics are frozen now, so the attempt throws, and run.ts still checks the result's
    // size and shape outside the isolate (test/unit/hooks-contract.test.ts).
    const forged = body(
      `api.mfa.skip();\n  Object.defineProperty(Object.prototype, 'toJSON', { configurable: true, value() { return { actions: Array.from({ length: 1000 }, () => ({ type: 'user.setMetadata', key: 'k', value: 1 })), logged: 0 }; } });`,
    );
    const result = await sandbox.run(forged, {});
    assert.equal(result.outcome, 'error');
    assert.deepEqual(result.actions, []);
    assert.match(
      String(result.error),
      /^TypeError: Cannot define property toJSON, object is not extensible \(globals and built-ins are frozen in hooks, so that no run can leave anything for the next/,
    );
  });

  test('while (true) {} is stopped at timeout_ms while the host keeps answering HTTP requests', async () => {
    const { server, port } = await startPinger();
    try {
      for (const code of ['while (true) {}', 'await null;\n  while (true) {}']) {
        const started = performance.now();
        const run = sandbox.run(body(code), {}, { timeoutMs: 1000 });
        const latencies = await pingDuring(port, run);
        const result = await run;
        const elapsed = performance.now() - started;
        assert.equal(result.outcome, 'timeout', code);
        assert.match(String(result.error), /did not finish within 1000 ms/);
        assert.ok(elapsed >= 990 && elapsed < 1500, `${code}: stopped after ${elapsed} ms`);
        assert.ok(latencies.length >= 10, `${code}: only ${latencies.length} pings were answered during the run`);
        assert.ok(Math.max(...latencies) < 400, `${code}: a ping took ${Math.max(...latencies)} ms`);
      }
      // The sandbox goes on.
      const next = await sandbox.run(body(`api.mfa.skip();`), {});
      assert.equal(next.outcome, 'success');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('calls that block on the host (URL parsing, crypto) are bounded per run, by count and by main-thread time', async () => {
    const result = await sandbox.run(
      body(`
  let n = 0;
  const started = Date.now();
  try { for (;;) { new URL('https://a.test/?n=' + n); n++; } } catch (e) { api.user.setMetadata('stopped', [n, e.message]); }
`),
      {},
      { timeoutMs: 10_000 },
    );
    assert.equal(result.outcome, 'success', result.error);
    const [n, message] = result.actions[0].value as [number, string];
    // Whichever comes first: 20000 calls, or 50 ms of the host's main thread (HOST_TIME_BUDGET_MS).
    assert.ok(n > 0 && n <= 20000, String(n));
    if (n === 20000) assert.equal(message, 'too many URL or crypto operations in one run (at most 20000)');
    else assert.equal(message, 'the hook used its share of the server for URL parsing and randomness in this run');
    // A run over its share is refused at once, whatever the count.
    const random = await sandbox.run(
      body(`let n = 0; try { for (;;) { crypto.getRandomValues(new Uint8Array(65536)); n++; } } catch (e) { api.user.setMetadata('stopped', [n, e.message]); }`),
      {},
      { timeoutMs: 10_000 },
    );
    const [draws, why] = random.actions[0].value as [number, string];
    assert.ok(draws < 20000, String(draws));
    assert.equal(why, 'the hook used its share of the server for URL parsing and randomness in this run');
  });

  test('the hook timeout_ms is used, and capped at 10000', async () => {
    // Isolates retired by the tests before are booted again first (the wait counts against a run's timeout).
    await sandbox.warmup();
    const started = performance.now();
    const result = await sandbox.execute({ ...body('for (;;) {}'), timeout_ms: 300 }, {});
    assert.equal(result.outcome, 'timeout');
    assert.ok(performance.now() - started < 800);
    const capped = await sandbox.run({ ...body('for (;;) {}'), timeout_ms: 60_000 }, {}, { timeoutMs: 200 });
    assert.equal(capped.outcome, 'timeout');
    assert.match(String(capped.error), /within 200 ms/);
    await sandbox.warmup();
  });

  test('a runaway allocation ends as memory, the isolate is replaced and the next run succeeds', async () => {
    const { server, port } = await startPinger();
    try {
      const run = sandbox.run(
        body(`
  const hoard = [];
  while (true) hoard.push(new Array(100000).fill(Math.random()));
`),
        {},
        { timeoutMs: 10000 },
      );
      const latencies = await pingDuring(port, run);
      const result = await run;
      assert.equal(result.outcome, 'memory');
      assert.match(String(result.error), /32 MiB memory limit/);
      assert.ok(result.duration_ms < 5000, `stopped after ${result.duration_ms} ms`);
      assert.ok(latencies.length >= 1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    const strings = await sandbox.run(body(`let s = 'x'; while (true) s = s + s;`), {});
    assert.ok(strings.outcome === 'memory' || strings.outcome === 'error', `${strings.outcome}: ${strings.error}`);

    for (let i = 0; i < 4; i++) {
      const next = await sandbox.run(body(`api.user.setMetadata('n', ${i});`), {});
      assert.equal(next.outcome, 'success', next.error);
      assert.deepEqual(next.actions, [{ type: 'user.setMetadata', key: 'n', value: i }]);
    }
  });

  test('an await on a slow fetch past timeout_ms ends as timeout near the deadline', async () => {
    const server = createServer((_req, res) => {
      setTimeout(() => res.end('{}'), 5000).unref();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const started = performance.now();
      const result = await sandbox.run(
        body(`
  const res = await fetch('http://127.0.0.1:${port}/slow');
  api.idToken.setClaim('never', await res.json());
`),
        {},
        { timeoutMs: 700, allowedHosts: [`127.0.0.1:${port}`] },
      );
      const elapsed = performance.now() - started;
      assert.equal(result.outcome, 'timeout', result.error);
      assert.deepEqual(result.actions, []);
      assert.ok(elapsed >= 690 && elapsed < 1000, `ended after ${elapsed} ms`);

      // Catching the fetch's failure does not buy more time.
      const caught = await sandbox.run(
        body(`
  try { await fetch('http://127.0.0.1:${port}/slow'); } catch { while (true) {} }
`),
        {},
        { timeoutMs: 500, allowedHosts: [`127.0.0.1:${port}`] },
      );
      assert.equal(caught.outcome, 'timeout');
      assert.ok(caught.duration_ms < 900);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('isolation', () => {
  test('process, require and host objects are not there', async () => {
    const result = await sandbox.run(
      body(`
  const refused = [];
  for (const name of ['process', 'require', 'module', 'Buffer', 'setInterval', 'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry', 'WeakRef']) {
    try { globalThis[name]; refused.push('there'); } catch (e) { refused.push(e.name); }
  }
  api.user.setMetadata('refused', refused);
  api.user.setMetadata('types', [typeof globalThis.ivm, typeof lockdown, typeof Compartment, typeof harden]);
  api.user.setMetadata('contract', [typeof fetch, typeof console.log, typeof URL, typeof URLSearchParams, typeof TextEncoder, typeof TextDecoder, typeof atob, typeof btoa, typeof crypto.randomUUID, typeof crypto.subtle.digest, typeof setTimeout, typeof clearTimeout, typeof Headers, typeof Request, typeof Response, typeof AbortController, typeof structuredClone]);
  const viaFunction = Function('try { return process; } catch (e) { return e.name; }')();
  const viaEval = (0, eval)('try { process; } catch (e) { e.name; }');
  api.user.setMetadata('indirect', [viaFunction, viaEval, typeof globalThis.ivm]);
`),
      {},
    );
    assert.equal(result.outcome, 'success', result.error);
    assert.deepEqual(
      result.actions.map((a) => a.value),
      [Array(10).fill('ReferenceError'), Array(4).fill('undefined'), Array(17).fill('function'), ['ReferenceError', 'ReferenceError', 'undefined']],
    );
    // A dynamic import is refused when the code is checked (Hardened JavaScript refuses the form).
    assert.deepEqual(codeProblem("export default async function () {\n  await import('node:fs');\n}"), {
      message: 'SyntaxError: dynamic import is not supported in hooks',
      line: 2,
    });
    const missing = await sandbox.run(body(`Buffer.from('x');`), {});
    assert.equal(missing.error, 'ReferenceError: Buffer is not available in hooks (use Uint8Array, TextEncoder and atob/btoa; what exists is listed in docs/hooks.md) (line 2)');
  });

  test("this.constructor.constructor('return process')() and event.constructor.constructor(...) reach nothing", async () => {
    const viaThis = await sandbox.run(body(`return this.constructor.constructor('return process')();`), {});
    assert.equal(viaThis.outcome, 'error');
    assert.match(String(viaThis.error), /^TypeError: Cannot read properties of undefined/);

    const topLevel = await sandbox.run(
      hook(`const p = this === undefined ? 'no this' : this.constructor.constructor('return process')();
export default async function (event, api) { api.user.setMetadata('p', String(p)); }`),
      {},
    );
    assert.deepEqual(topLevel.actions, [{ type: 'user.setMetadata', key: 'p', value: 'no this' }]);

    // The intrinsic constructors of functions are tamed: they make no function at all.
    const viaEvent = await sandbox.run(body(`event.constructor.constructor('return process')();`), { user: { id: 'u' } });
    assert.equal(viaEvent.outcome, 'error');
    assert.match(String(viaEvent.error), /^TypeError: Function\.prototype\.constructor is not a valid constructor/);

    const probes = await sandbox.run(
      body(`
  const results = {};
  const attempt = async (name, f) => { try { const v = await f(); results[name] = v === undefined ? 'undefined' : typeof v; } catch (e) { results[name] = 'threw ' + e.name; } };
  await attempt('event-global-process', () => event.constructor.constructor('return this')().process);
  await attempt('api-process', () => api.deny.constructor('return process')());
  await attempt('console-process', () => console.log.constructor('return process')());
  await attempt('fetch-process', () => fetch.constructor('return process')());
  await attempt('async-process', () => (async () => {}).constructor('return process')());
  await attempt('generator-process', () => (function* () {}).constructor('return process')());
  await attempt('proto-chain', () => event.user.__proto__.constructor.constructor('return require')());
  await attempt('function-global', () => Function('return this')().process);
  await attempt('eval-global', () => (0, eval)('this').process);
  await attempt('error-stack', () => { try { Error.prepareStackTrace = (e, frames) => frames; } catch {} const frames = new Error().stack; return typeof frames === 'string' ? undefined : frames[0] && frames[0].getThis && frames[0].getThis() && frames[0].getThis().process; });
  api.user.setMetadata('results', results);
`),
      { user: { id: 'u' } },
    );
    assert.equal(probes.outcome, 'success', probes.error);
    assert.deepEqual(probes.actions[0].value, {
      'event-global-process': 'threw TypeError',
      'api-process': 'threw TypeError',
      'console-process': 'threw TypeError',
      'fetch-process': 'threw TypeError',
      'async-process': 'threw TypeError',
      'generator-process': 'threw TypeError',
      'proto-chain': 'threw TypeError',
      'function-global': 'threw TypeError',
      'eval-global': 'threw ReferenceError',
      'error-stack': 'undefined',
    });
  });

  test('prototype pollution throws, says why, and reaches neither this process nor the next run', async () => {
    const event = { user: { id: 'usr_1', email: 'ada@example.com' }, list: [1, 2] };
    const result = await sandbox.run(
      body(`
  const attempts = {};
  const attempt = (name, f) => { try { f(); attempts[name] = 'written'; } catch (e) { attempts[name] = e.name + ': ' + e.message; } };
  attempt('event __proto__', () => { event.__proto__.polluted = 'yes'; });
  attempt('constructor.prototype', () => { event.user.constructor.prototype.viaUser = 'yes'; });
  attempt('Object.prototype', () => { Object.prototype.x = 1; });
  attempt('Array.prototype', () => { Array.prototype.y = 2; });
  attempt('Object.prototype.toString', () => { Object.prototype.toString = () => 'hijacked'; });
  event.user.id = 'changed inside';
  api.user.setMetadata('evil', JSON.parse('{"__proto__": {"polluted": "via action"}, "ok": true}'));
  api.user.setMetadata('attempts', attempts);
  api.user.setMetadata('seen', [({}).polluted, ({}).x, [].y, event.user.id]);
`),
      event,
    );
    assert.equal(result.outcome, 'success', result.error);
    const attempts = result.actions[1].value as Record<string, string>;
    for (const [name, outcome] of Object.entries(attempts)) assert.match(outcome, /^TypeError: Cannot (add|assign to read only) property/, name);
    // Nothing leaked into this process.
    const plain: Record<string, unknown> = {};
    assert.equal(plain.polluted, undefined);
    assert.equal(plain.viaUser, undefined);
    assert.equal(Object.prototype.toString.call({}), '[object Object]');
    assert.deepEqual(Object.keys(Object.prototype), []);
    assert.equal(event.user.id, 'usr_1', 'the event went in as a copy');
    // The action came out as plain data; its __proto__ key is dropped, not applied.
    const evil = result.actions[0].value as Record<string, unknown>;
    assert.equal(evil.polluted, undefined);
    assert.equal(Object.getPrototypeOf(evil), Object.prototype);
    assert.deepEqual(evil, { ok: true });
    assert.deepEqual(result.actions[2].value, [null, null, null, 'changed inside']);
    // An uncaught write names the reason.
    const uncaught = await sandbox.run(body(`Array.prototype.map = () => [];`), {});
    assert.equal(
      uncaught.error,
      "TypeError: Cannot assign to read only property 'map' of object '[object Array]' (globals and built-ins are frozen in hooks, so that no run can leave anything for the next: keep state in variables of your own) (line 2)",
    );

    const next = await sandbox.run(body(`api.user.setMetadata('seen', [({}).polluted === undefined, ({}).x === undefined, [].y === undefined, String({})]);`), {});
    assert.deepEqual(next.actions[0].value, [true, true, true, '[object Object]']);
  });

  test('a global cannot be written: it throws, says why, and the next run sees nothing', async () => {
    const same = hook(`export default async function (event, api) {
  api.user.setMetadata('before', [typeof globalThis.leak, typeof URL.leak, fetch.name]);
  const attempts = [];
  for (const write of [() => { globalThis.leak = event.user.id; }, () => { URL.leak = 1; }, () => { globalThis.fetch = () => 'hijacked'; }, () => { delete globalThis.console; }, () => { Object.defineProperty(globalThis, 'x', { value: 1 }); }]) {
    try { write(); attempts.push('written'); } catch (e) { attempts.push(e.name); }
  }
  api.user.setMetadata('attempts', attempts);
}`);
    for (let i = 0; i < 6; i++) {
      const result = await sandbox.run(same, { user: { id: `user-${i}` } });
      assert.equal(result.outcome, 'success', result.error);
      assert.deepEqual(
        result.actions,
        [
          { type: 'user.setMetadata', key: 'before', value: ['undefined', 'undefined', 'fetch'] },
          { type: 'user.setMetadata', key: 'attempts', value: Array(5).fill('TypeError') },
        ],
        `run ${i}`,
      );
    }
    const uncaught = await sandbox.run(body(`globalThis.cache = new Map();`), {});
    assert.equal(
      uncaught.error,
      'TypeError: Cannot add property cache, object is not extensible (globals and built-ins are frozen in hooks, so that no run can leave anything for the next: keep state in variables of your own) (line 2)',
    );
  });

  test('concurrent runs each see their own event and produce their own actions', async () => {
    const shared = hook(`let mine;
export default async function (event, api) {
  mine = event.user.id;
  await null;
  await new Promise((resolve) => resolve());
  api.idToken.setClaim('id', mine);
  console.log('run', event.user.id);
}`);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => sandbox.run(shared, { user: { id: `usr_${i}` } })));
    results.forEach((result, i) => {
      assert.equal(result.outcome, 'success', result.error);
      assert.deepEqual(result.actions, [{ type: 'idToken.setClaim', key: 'id', value: `usr_${i}` }]);
      assert.deepEqual(result.logs, [`[log] run usr_${i}`]);
    });
  });
});

describe('globals', () => {
  test('URL, URLSearchParams, TextEncoder/TextDecoder, atob/btoa and crypto behave as on the web', async () => {
    await sandbox.warmup();
    const result = await sandbox.run(
      body(`
  const out = {};
  const u = new URL('/path/a b?x=1&y=%C3%A9#frag', 'https://User@Example.COM:443/base/');
  out.url = [u.href, u.origin, u.host, u.pathname, u.search, u.hash, u.username, u.searchParams.get('y')];
  u.searchParams.append('z', 'a&b=c d');
  u.searchParams.delete('x');
  u.pathname = '/other';
  u.port = '8443';
  out.edited = u.toString();
  out.json = JSON.stringify({ u });
  try { new URL('not a url'); out.invalid = 'parsed'; } catch (e) { out.invalid = e.constructor.name; }
  out.canParse = [URL.canParse('https://x.test'), URL.canParse('nope'), URL.canParse('/a', 'https://x.test')];
  const p = new URLSearchParams({ email: 'ada+test@example.com', q: 'a b' });
  p.append('list', '1'); p.append('list', '2'); p.sort();
  out.params = [p.toString(), p.getAll('list'), p.has('q'), p.size, [...new URLSearchParams('a=1&b=2&a=3').keys()]];
  const bytes = new TextEncoder().encode('h€llo 😀');
  out.encoded = Array.from(bytes);
  out.decoded = new TextDecoder().decode(bytes);
  out.replaced = new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0xe2, 0x82, 0x62, 0xf0, 0x9f, 0x98]));
  try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xc3])); out.fatal = 'decoded'; } catch (e) { out.fatal = e.constructor.name; }
  const d = new TextDecoder(); out.stream = d.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) + d.decode(new Uint8Array([0xac]));
  out.bom = [new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length];
  out.into = new TextEncoder().encodeInto('a€😀', new Uint8Array(5));
  out.b64 = [btoa('hello world'), atob('aGVsbG8gd29ybGQ='), atob(' aGk= '), btoa(String.fromCharCode(0, 255)), atob('/w')];
  try { btoa('€'); out.btoaError = 'encoded'; } catch (e) { out.btoaError = e.name; }
  try { atob('a'); out.atobError = 'decoded'; } catch (e) { out.atobError = e.name; }
  const id = crypto.randomUUID();
  out.uuid = [/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id), id !== crypto.randomUUID()];
  out.random = crypto.getRandomValues(new Uint8Array(32)).some((b) => b !== 0);
  api.user.setMetadata('out', out);
`),
      {},
    );
    assert.equal(result.outcome, 'success', result.error);
    const out = result.actions[0].value as Record<string, unknown>;
    assert.deepEqual(out.url, ['https://User@example.com/path/a%20b?x=1&y=%C3%A9#frag', 'https://example.com', 'example.com', '/path/a%20b', '?x=1&y=%C3%A9', '#frag', 'User', 'é']);
    assert.equal(out.edited, 'https://User@example.com:8443/other?y=%C3%A9&z=a%26b%3Dc+d#frag');
    assert.equal(out.json, '{"u":"https://User@example.com:8443/other?y=%C3%A9&z=a%26b%3Dc+d#frag"}');
    assert.equal(out.invalid, 'TypeError');
    assert.deepEqual(out.canParse, [true, false, true]);
    assert.deepEqual(out.params, ['email=ada%2Btest%40example.com&list=1&list=2&q=a+b', ['1', '2'], true, 4, ['a', 'b', 'a']]);
    assert.deepEqual(out.encoded, [...Buffer.from('h€llo 😀')]);
    assert.equal(out.decoded, 'h€llo 😀');
    assert.equal(out.replaced, new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0xe2, 0x82, 0x62, 0xf0, 0x9f, 0x98])));
    assert.equal(out.fatal, 'TypeError');
    assert.equal(out.stream, '€');
    assert.deepEqual(out.bom, ['A', 2]);
    assert.deepEqual(out.into, { read: 2, written: 4 });
    assert.deepEqual(out.b64, ['aGVsbG8gd29ybGQ=', 'hello world', 'hi', 'AP8=', 'ÿ']);
    assert.equal(out.btoaError, 'InvalidCharacterError');
    assert.equal(out.atobError, 'InvalidCharacterError');
    assert.deepEqual(out.uuid, [true, true]);
    assert.equal(out.random, true);
  });
});

describe('isolate pool', () => {
  test('a burst grows the pool, its isolates serve the next burst, and go once idle past idleTtlMs (down to the warm ones)', async () => {
    const pool = new HookSandbox({ warmIsolates: 1, idleTtlMs: 3000 });
    try {
      await pool.warmup();
      const slow = hook("export default async function (event, api) {\n  const until = Date.now() + 30; while (Date.now() < until) {}\n  api.user.setMetadata('n', event.n);\n}");
      const burst = async () => {
        const results = await Promise.all(Array.from({ length: 8 }, (_, n) => pool.run(slow, { n })));
        assert.deepEqual(
          results.map((r) => r.outcome),
          Array(8).fill('success'),
        );
      };
      await burst();
      // The burst was served by the isolates already booted while new ones booted: wait for those.
      await pool.warmup();
      const afterFirst = pool.stats();
      // Runs wait for the first isolate free (booted or a run ending) while new ones boot.
      assert.ok(afterFirst.isolates >= 2, `the burst started more isolates: ${JSON.stringify(afterFirst)}`);
      assert.equal(afterFirst.idle, afterFirst.isolates, 'all of them are kept idle');
      await burst();
      // The pool grows by one isolate at a time while runs wait, never past one per concurrent run.
      assert.ok(pool.stats().isolates >= afterFirst.isolates && pool.stats().isolates <= 8, JSON.stringify(pool.stats()));
      // Quiet: the idle isolates beyond the warm one are disposed.
      const deadline = Date.now() + 20_000;
      while (pool.stats().isolates > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual({ isolates: pool.stats().isolates, idle: pool.stats().idle }, { isolates: 1, idle: 1 });
      const after = await pool.run(slow, { n: 9 });
      assert.equal(after.outcome, 'success', after.error);
    } finally {
      pool.dispose();
    }
  });
});
