// Isolation probes for the hardened sandbox (docs/hooks.md, "Threat model"): every run of an
// isolate shares its realm with the runs before it, so each probe has one run try to leave state
// behind (a global, a patched built-in, module state, a timer, a registry entry…) and the next run
// in the SAME isolate look for it. What the second run sees must equal what it sees as the first
// run of a fresh isolate. The sandbox under test has one isolate, so both runs share it (checked).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HookSandbox } from '../src/hooks/sandbox/sandbox.ts';

let shared: HookSandbox;
let fresh: HookSandbox;
let n = 0;

before(async () => {
  shared = new HookSandbox({ maxIsolates: 1, warmIsolates: 1 });
  fresh = new HookSandbox({ maxIsolates: 1, warmIsolates: 1 });
  await Promise.all([shared.warmup(), fresh.warmup()]);
});
after(() => {
  shared.dispose();
  fresh.dispose();
});

const hookOf = (code: string) => ({ id: `probe-${++n}`, version: 1, code: `export default async function (event, api) {\n${code}\n}` });

/** The `seen` metadata of a run (its outcome must be success). */
async function seen(sandbox: HookSandbox, code: string): Promise<{ value: unknown; logs: string[] }> {
  const result = await sandbox.run(hookOf(code), {}, { timeoutMs: 5000 });
  assert.equal(result.outcome, 'success', result.error);
  const action = result.actions.find((a) => a.key === 'seen');
  return { value: action?.value, logs: result.logs };
}

/**
 * Runs `leave` (which records in `attempts` what each try did), then `look` in the same isolate,
 * and `look` in a fresh isolate: the two looks must agree. Answers the attempts.
 */
async function probe(leave: string, look: string): Promise<Record<string, string>> {
  const before = shared.stats().isolates;
  const left = await shared.run(
    hookOf(`const attempts = {};
const attempt = (name, f) => { try { f(); attempts[name] = 'done'; } catch (e) { attempts[name] = e.name; } };
${leave}
api.user.setMetadata('attempts', attempts);`),
    {},
    { timeoutMs: 5000 },
  );
  assert.equal(left.outcome, 'success', left.error);
  const after = await seen(shared, look);
  assert.equal(shared.stats().isolates, before, 'both runs used the same isolate');
  const baseline = await seen(fresh, look);
  assert.deepEqual(after.value, baseline.value, 'the next run sees what a fresh isolate sees');
  assert.deepEqual(after.logs, baseline.logs, 'and logs nothing of the run before');
  return (left.actions.find((a) => a.key === 'attempts')?.value ?? {}) as Record<string, string>;
}

const allThrew = (attempts: Record<string, string>, name = 'TypeError') => {
  assert.ok(Object.keys(attempts).length > 0);
  for (const [what, outcome] of Object.entries(attempts)) assert.equal(outcome, name, what);
};

describe('a run cannot leave state for the next run', () => {
  test('globals', async () => {
    const attempts = await probe(
      `attempt('assign', () => { globalThis.leak = 1; });
attempt('define', () => Object.defineProperty(globalThis, 'leak2', { value: 1 }));
attempt('replace fetch', () => { globalThis.fetch = () => 'mine'; });
attempt('delete console', () => { delete globalThis.console; });
attempt('setPrototypeOf', () => Object.setPrototypeOf(globalThis, { leak3: 1 }));`,
      `api.user.setMetadata('seen', [typeof globalThis.leak, typeof globalThis.leak2, typeof globalThis.leak3, fetch.name, typeof console.log]);`,
    );
    allThrew(attempts);
  });

  test('module state: the top level runs afresh each run', async () => {
    const code = 'let runs = 0; const cache = new Map();\nexport default async function (event, api) { runs++; cache.set(runs, 1); api.user.setMetadata("seen", [runs, cache.size]); }';
    for (let i = 0; i < 3; i++) {
      const result = await shared.run({ id: 'probe-module', version: 1, code }, {});
      assert.deepEqual(result.actions, [{ type: 'user.setMetadata', key: 'seen', value: [1, 1] }]);
    }
  });

  test('Object.prototype and Array.prototype', async () => {
    const attempts = await probe(
      `attempt('Object.prototype.x', () => { Object.prototype.x = 1; });
attempt('Object.prototype.toJSON', () => { Object.prototype.toJSON = () => 'forged'; });
attempt('Object.prototype.toString', () => { Object.prototype.toString = () => 'mine'; });
attempt('__proto__ of a literal', () => { ({}).__proto__.y = 1; });
attempt('Array.prototype.push', () => { Array.prototype.push = () => 0; });
attempt('Array.prototype.z', () => { Array.prototype.z = 1; });
attempt('Array[Symbol.species]', () => Object.defineProperty(Array, Symbol.species, { value: Object }));`,
      `api.user.setMetadata('seen', [({}).x, ({}).y, [].z, String({}), JSON.stringify({ a: 1 }), [1].concat([2]).length]);`,
    );
    allThrew(attempts);
  });

  test('JSON and Math', async () => {
    const attempts = await probe(
      `attempt('JSON.parse', () => { JSON.parse = () => 'mine'; });
attempt('JSON.stringify', () => { JSON.stringify = () => 'mine'; });
attempt('Math.max', () => { Math.max = () => 0; });
attempt('Math.random', () => { Math.random = () => 0.5; });
attempt('Math.extra', () => { Math.extra = 1; });`,
      `api.user.setMetadata('seen', [JSON.stringify(JSON.parse('[1]')), Math.max(1, 2), typeof Math.extra, typeof Math.random()]);`,
    );
    allThrew(attempts);
  });

  test('Math.random: each run has its own generator, not the one the previous run drew from', async () => {
    const draw = `api.user.setMetadata('seen', Array.from({ length: 8 }, () => Math.random()));`;
    const first = await seen(shared, draw);
    const second = await seen(shared, draw);
    const values = first.value as number[];
    for (const v of [...values, ...(second.value as number[])]) assert.ok(v >= 0 && v < 1);
    assert.notDeepEqual(first.value, second.value);
    assert.equal(new Set(values).size, values.length);
  });

  test('RegExp legacy statics', async () => {
    const attempts = await probe(
      `/(secret-\\w+)/.exec('the secret-value-123 here');
'secret-abc'.replace(/secret/, 'x');
attempt('RegExp.$1', () => { if (RegExp.$1 !== undefined) throw new Error('RegExp.$1 is there: ' + RegExp.$1); });
attempt('RegExp.prototype.exec', () => { RegExp.prototype.exec = () => null; });
attempt('RegExp.extra', () => { RegExp.extra = 1; });`,
      `api.user.setMetadata('seen', [typeof RegExp.$1, typeof RegExp.lastMatch, typeof RegExp.input, typeof RegExp.leftContext, typeof RegExp.extra, /a/.exec('a') !== null]);`,
    );
    assert.equal(attempts['RegExp.$1'], 'done', 'no legacy statics in a run either');
    assert.equal(attempts['RegExp.prototype.exec'], 'TypeError');
    assert.equal(attempts['RegExp.extra'], 'TypeError');
  });

  test('Error.prepareStackTrace, Error.stackTraceLimit, captureStackTrace and stack fields', async () => {
    const attempts = await probe(
      `attempt('prepareStackTrace', () => { Error.prepareStackTrace = () => 'forged stack'; if (String(new Error('x').stack).includes('forged')) throw new Error('applied'); });
attempt('stackTraceLimit', () => { Error.stackTraceLimit = 0; if (!String(new Error('x').stack).includes('hook.js')) throw new Error('applied'); });
attempt('Error.prototype.message', () => { Error.prototype.message = 'mine'; });
attempt('Error.prototype.toString', () => { Error.prototype.toString = () => 'mine'; });
attempt('TypeError.prototype.name', () => { TypeError.prototype.name = 'Mine'; });`,
      `const e = new Error('probe');
api.user.setMetadata('seen', [/hook\\.js:2:/.test(String(e.stack)), String(e.stack).includes('forged'), String(new Error()), new TypeError('t').name, typeof Error.prepareStackTrace, Error.stackTraceLimit]);`,
    );
    // The stack hooks see is always V8's: an assignment to prepareStackTrace or stackTraceLimit is
    // accepted and has no effect (SES), a write to a prototype throws.
    assert.equal(attempts.prepareStackTrace, 'done');
    assert.equal(attempts.stackTraceLimit, 'done');
    assert.equal(attempts['Error.prototype.message'], 'TypeError');
    assert.equal(attempts['Error.prototype.toString'], 'TypeError');
    assert.equal(attempts['TypeError.prototype.name'], 'TypeError');
  });

  test('eval and Function-constructor escapes', async () => {
    const attempts = await probe(
      `attempt('indirect eval', () => (0, eval)('globalThis.viaEval = 1'));
attempt('Function', () => Function('globalThis.viaFunction = 1')());
attempt('Function.prototype.constructor', () => (function () {}).constructor('return this')().leak = 1);
attempt('async constructor', () => (async function () {}).constructor('return 1'));
attempt('eval patch', () => { globalThis.eval = () => 1; });
attempt('Function.prototype.call', () => { Function.prototype.call = () => 1; });`,
      `api.user.setMetadata('seen', [typeof globalThis.viaEval, typeof globalThis.viaFunction, (0, eval)('typeof lockdown'), Function('return typeof Compartment')(), [1, 2].map((x) => x * 2).join()]);`,
    );
    allThrew(attempts);
  });

  test('the Symbol registry carries nothing from run to run', async () => {
    const attempts = await probe(
      `const s = Symbol.for('tessera-probe');
attempt('property on the symbol', () => { Object(s).leak = 1; if (Object(s).leak !== undefined) throw new TypeError('kept'); });
attempt('Symbol.prototype', () => { Symbol.prototype.leak = 1; });
attempt('Symbol.for', () => { Symbol.for = () => 'mine'; });
attempt('as a WeakMap key', () => { new WeakMap().set(s, 1); });`,
      `const s = Symbol.for('tessera-probe');
api.user.setMetadata('seen', [Symbol.keyFor(s), s === Symbol.for('tessera-probe'), Object(s).leak, typeof Symbol.prototype.leak, Object.getOwnPropertyNames(Object(s)).length]);`,
    );
    assert.equal(attempts['property on the symbol'], 'done', 'each Object(symbol) is a new wrapper: nothing is kept');
    assert.equal(attempts['Symbol.prototype'], 'TypeError');
    assert.equal(attempts['Symbol.for'], 'TypeError');
    assert.equal(attempts['as a WeakMap key'], 'TypeError', 'a registered symbol is never a weak key');
  });

  test('WeakRef and FinalizationRegistry are absent, so garbage collection cannot signal across runs', async () => {
    const attempts = await probe(
      `attempt('WeakRef', () => new WeakRef({}));
attempt('FinalizationRegistry', () => new FinalizationRegistry(() => console.log('collected')).register({}, 1));`,
      `const names = [];
for (const name of ['WeakRef', 'FinalizationRegistry']) { try { globalThis[name]; names.push('there'); } catch (e) { names.push(e.message); } }
api.user.setMetadata('seen', names);`,
    );
    allThrew(attempts, 'ReferenceError');
  });

  test('Intl: formatters and their caches', async () => {
    const attempts = await probe(
      `new Intl.DateTimeFormat('de-DE').format(0);
new Intl.NumberFormat('ja-JP').format(5);
attempt('Intl.extra', () => { Intl.extra = 1; });
attempt('NumberFormat.prototype.format', () => Object.defineProperty(Intl.NumberFormat.prototype, 'format', { get: () => () => 'mine' }));
attempt('DateTimeFormat', () => { Intl.DateTimeFormat = function () {}; });
attempt('Number.prototype.toLocaleString', () => { Number.prototype.toLocaleString = () => 'mine'; });`,
      `api.user.setMetadata('seen', [new Intl.NumberFormat().resolvedOptions().locale, new Intl.DateTimeFormat().resolvedOptions().timeZone, new Intl.NumberFormat('en-US').format(1234.5), (1234.5).toLocaleString('en-US'), typeof Intl.extra]);`,
    );
    allThrew(attempts);
  });

  test('Date: the clock cannot be set or patched', async () => {
    const attempts = await probe(
      `attempt('Date.now', () => { Date.now = () => 0; });
attempt('Date.prototype.getTime', () => { Date.prototype.getTime = () => 0; });
attempt('global Date', () => { globalThis.Date = function () {}; });`,
      `api.user.setMetadata('seen', [Date.now() > 1.7e12, new Date(0).toISOString(), typeof Date.prototype.getTime]);`,
    );
    allThrew(attempts);
  });

  test('Function.prototype.toString and Promise', async () => {
    const attempts = await probe(
      `attempt('toString', () => { Function.prototype.toString = () => 'mine'; });
attempt('Promise.prototype.then', () => { Promise.prototype.then = function () {}; });
attempt('Promise.resolve', () => { Promise.resolve = () => 1; });`,
      `function f() { return 1; }
api.user.setMetadata('seen', [f.toString(), await Promise.resolve(2), Object.isFrozen(Promise.prototype)]);`,
    );
    allThrew(attempts);
  });

  test('a timer left pending never fires into the next run', async () => {
    const attempts = await probe(
      `attempt('timer', () => { setTimeout(() => console.log('left over from the run before'), 30); });`,
      `await new Promise((resolve) => setTimeout(resolve, 150));
api.user.setMetadata('seen', 'waited');`,
    );
    assert.equal(attempts.timer, 'done');
  });

  test('the hook globals (URL, Headers, crypto, api) are frozen', async () => {
    const attempts = await probe(
      `attempt('URL.prototype', () => { URL.prototype.toString = () => 'mine'; });
attempt('Headers.prototype', () => { Headers.prototype.get = () => 'mine'; });
attempt('crypto.subtle', () => { crypto.subtle.digest = async () => new ArrayBuffer(0); });
attempt('console.log', () => { console.log = () => {}; });
attempt('api', () => { api.mfa.skip = () => {}; });`,
      `api.user.setMetadata('seen', [new URL('https://a.example/x').toString(), new Headers({ a: '1' }).get('a'), typeof crypto.subtle.digest, console.log.name]);`,
    );
    allThrew(attempts);
  });
});

describe('the runtime catalog (docs/hooks.md) is what hooks get', () => {
  test('every catalogued global is there, every refused name throws its reason', async () => {
    const { RUNTIME_ABSENT, RUNTIME_GLOBALS } = await import('../src/hooks/catalog/runtime.ts');
    const result = await shared.run(
      hookOf(`const there = {}; const refused = {};
for (const name of ${JSON.stringify(Object.keys(RUNTIME_GLOBALS))}) there[name] = typeof globalThis[name];
for (const name of ${JSON.stringify(Object.keys(RUNTIME_ABSENT))}) { try { globalThis[name]; refused[name] = 'there'; } catch (e) { refused[name] = e.message; } }
api.user.setMetadata('seen', { there, refused });`),
      {},
    );
    assert.equal(result.outcome, 'success', result.error);
    const { there, refused } = result.actions[0]!.value as { there: Record<string, string>; refused: Record<string, string> };
    for (const [name, type] of Object.entries(there)) assert.notEqual(type, 'undefined', name);
    for (const [name, why] of Object.entries(RUNTIME_ABSENT)) assert.equal(refused[name], `${name} is not available in hooks (${why}; what exists is listed in docs/hooks.md)`);
  });
});
