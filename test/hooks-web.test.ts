// The web platform in hooks (docs/hooks.md): crypto.subtle (digest, HMAC sign/verify, raw and JWK
// keys) done by the host's WebCrypto, setTimeout/clearTimeout bounded by the run's deadline,
// Headers, Request and Response, AbortController, structuredClone. Results are checked against
// Node's own implementations.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { HookSandbox } from '../src/hooks/sandbox/sandbox.ts';

let sandbox: HookSandbox;
let n = 0;
before(async () => {
  sandbox = new HookSandbox({ warmIsolates: 1 });
  await sandbox.warmup();
});
after(() => sandbox.dispose());

async function values(code: string, timeoutMs = 2000): Promise<Record<string, unknown>> {
  const result = await sandbox.run(
    { id: `web-${++n}`, version: 1, code: `export default async function (event, api) {\nconst out = {};\n${code}\napi.user.setMetadata('out', out);\n}` },
    {},
    { timeoutMs },
  );
  assert.equal(result.outcome, 'success', result.error);
  return result.actions[0]!.value as Record<string, unknown>;
}

test('crypto.subtle: digest, HMAC sign and verify with raw and JWK keys, as Node computes them', async () => {
  const out = await values(`
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
const bytes = (text) => new TextEncoder().encode(text);
out.sha256 = hex(await crypto.subtle.digest('SHA-256', bytes('abc')));
out.sha512 = hex(await crypto.subtle.digest({ name: 'SHA-512' }, bytes('abc')));
const raw = await crypto.subtle.importKey('raw', bytes('top secret'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
out.key = [raw.type, raw.algorithm.name, raw.algorithm.hash.name, raw.extractable, [...raw.usages].sort().join(','), raw instanceof CryptoKey];
const signature = await crypto.subtle.sign('HMAC', raw, bytes('payload'));
out.hmac = hex(signature);
out.verified = await crypto.subtle.verify('HMAC', raw, signature, bytes('payload'));
out.tampered = await crypto.subtle.verify('HMAC', raw, signature, bytes('payload!'));
const jwk = await crypto.subtle.importKey('jwk', { kty: 'oct', k: btoa('top secret').replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_'), alg: 'HS256' }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
out.jwkHmac = hex(await crypto.subtle.sign('HMAC', jwk, bytes('payload')));
out.exported = (await crypto.subtle.exportKey('jwk', jwk)).kty;
try { await crypto.subtle.sign('HMAC', { type: 'secret' }, bytes('x')); } catch (e) { out.forged = e.name; }
try { await crypto.subtle.digest('MD5', bytes('x')); } catch (e) { out.md5 = e.name; }
`);
  assert.equal(out.sha256, createHash('sha256').update('abc').digest('hex'));
  assert.equal(out.sha512, createHash('sha512').update('abc').digest('hex'));
  assert.deepEqual(out.key, ['secret', 'HMAC', 'SHA-256', false, 'sign,verify', true]);
  const expected = createHmac('sha256', 'top secret').update('payload').digest('hex');
  assert.equal(out.hmac, expected);
  assert.equal(out.jwkHmac, expected);
  assert.equal(out.verified, true);
  assert.equal(out.tampered, false);
  assert.equal(out.exported, 'oct');
  assert.equal(out.forged, 'TypeError');
  assert.equal(out.md5, 'NotSupportedError');
});

test('setTimeout and clearTimeout: in order, cancellable, and bounded by the deadline', async () => {
  const out = await values(`
const order = [];
const wait = (ms, label) => new Promise((resolve) => setTimeout(() => { order.push(label); resolve(); }, ms));
const cancelled = setTimeout(() => order.push('cancelled'), 5);
clearTimeout(cancelled);
await Promise.all([wait(30, 'late'), wait(1, 'early'), wait(10, 'middle')]);
out.order = order;
try { setTimeout('code string', 1); } catch (e) { out.string = e.name; }
`);
  assert.deepEqual(out.order, ['early', 'middle', 'late']);
  assert.equal(out.string, 'TypeError');
  const started = performance.now();
  const slow = await sandbox.run({ id: 'web-slow-timer', version: 1, code: 'export default async function () { await new Promise((r) => setTimeout(r, 5000)); }' }, {}, { timeoutMs: 200 });
  assert.equal(slow.outcome, 'timeout');
  assert.ok(performance.now() - started < 2000);
});

test('Headers, Request and Response have the web shapes', async () => {
  const out = await values(`
const h = new Headers({ 'Content-Type': 'text/plain' });
h.append('X-Many', 'a'); h.append('x-many', 'b'); h.set('x-one', '1'); h.delete('x-one');
out.headers = [h.get('content-type'), h.get('X-MANY'), h.has('x-one'), [...h.keys()]];
try { new Headers({ 'bad name': 'x' }); } catch (e) { out.badHeader = e.name; }
const request = new Request('https://api.example/x', { method: 'post', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
out.request = [request.url, request.method, request.headers.get('content-type'), await request.json()];
const response = new Response('hello', { status: 201, headers: { 'x-a': 'b' } });
out.response = [response.status, response.ok, response.headers.get('x-a'), await response.text(), response.bodyUsed];
try { await response.text(); } catch (e) { out.reused = e.message; }
const json = Response.json({ ok: true });
out.json = [json.headers.get('content-type'), await json.json()];
`);
  assert.deepEqual(out.headers, ['text/plain', 'a, b', false, ['content-type', 'x-many']]);
  assert.equal(out.badHeader, 'TypeError');
  assert.deepEqual(out.request, ['https://api.example/x', 'POST', 'application/json', { a: 1 }]);
  assert.deepEqual(out.response, [201, true, 'b', 'hello', true]);
  assert.equal(out.reused, 'Body has already been used');
  assert.deepEqual(out.json, ['application/json', { ok: true }]);
});

test('AbortController: a signal aborts, fires its listeners, and an aborted fetch is refused with its reason', async () => {
  const out = await values(`
const controller = new AbortController();
const seen = [];
controller.signal.addEventListener('abort', () => seen.push('listener'));
controller.signal.onabort = () => seen.push('onabort');
controller.abort(new Error('stop'));
out.signal = [controller.signal.aborted, controller.signal.reason.message, seen];
try { controller.signal.throwIfAborted(); } catch (e) { out.thrown = e.message; }
try { await fetch('https://api.example/', { signal: AbortSignal.abort() }); } catch (e) { out.fetch = e.name; }
try { new AbortSignal(); } catch (e) { out.construct = e.name; }
`);
  assert.deepEqual(out.signal, [true, 'stop', ['onabort', 'listener']]);
  assert.equal(out.thrown, 'stop');
  assert.equal(out.fetch, 'AbortError');
  assert.equal(out.construct, 'TypeError');
});

test('structuredClone copies plain data deeply, keeps cycles, and refuses functions', async () => {
  const out = await values(`
const source = { date: new Date(0), map: new Map([['a', [1, 2]]]), set: new Set([1]), bytes: new Uint8Array([1, 2, 3]), nested: { list: [1, { x: 2 }] } };
source.self = source;
const copy = structuredClone(source);
copy.nested.list[1].x = 99;
out.clone = [copy !== source, copy.self === copy, copy.date.getTime(), copy.map.get('a'), copy.set.has(1), [...copy.bytes], source.nested.list[1].x];
try { structuredClone({ f() {} }); } catch (e) { out.fn = e.name; }
`);
  assert.deepEqual(out.clone, [true, true, 0, [1, 2], true, [1, 2, 3], 2]);
  assert.equal(out.fn, 'DataCloneError');
});
