// The sandbox prelude's pure parts, run on the host against Node's own TextEncoder, TextDecoder,
// atob, btoa, URL and URLSearchParams; and the realm script (ses, lockdown, the prelude) run in a
// bare V8 context (node:vm, only the ECMAScript built-ins, as in an isolate) to prove it needs
// nothing from outside itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { hostUrl } from '../../src/hooks/sandbox/bridges.ts';
import { makeBase64 } from '../../src/hooks/sandbox/prelude/base64.ts';
import { formatLine } from '../../src/hooks/sandbox/prelude/console.ts';
import { makeText, utf8Encode } from '../../src/hooks/sandbox/prelude/encoding.ts';
import { headerPairs } from '../../src/hooks/sandbox/prelude/fetch.ts';
import type { RealmEntries } from '../../src/hooks/sandbox/prelude/boot.ts';
import { REALM_SOURCE } from '../../src/hooks/sandbox/realm.ts';
import { makeUrl, type HostCall, type HostUrl } from '../../src/hooks/sandbox/prelude/url.ts';

const { TextEncoder: PreludeEncoder, TextDecoder: PreludeDecoder } = makeText();
const prelude64 = makeBase64();
const direct: HostCall = (fn, args) => fn(...args);
const { URL: PreludeURL, URLSearchParams: PreludeParams } = makeUrl(direct, hostUrl as HostUrl);

/** A deterministic pseudo-random source (the same cases on every run). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x80000000;
  };
}

const STRINGS = [
  '',
  'ascii',
  'héllo wörld',
  '日本語テキスト',
  '😀 emoji 👩‍👩‍👧',
  '\u0000\u007f\u0080\u07ff\u0800\uffff',
  '\ud800',
  'a\udc00b',
  '\ud83d',
  '\ud83d\ude00\ud83d',
  '\ufeffbom',
  'line\nbreak\ttab',
];

test('UTF-8 encoding matches TextEncoder, lone surrogates included', () => {
  const rand = random(1);
  const cases = [...STRINGS];
  for (let i = 0; i < 300; i++) cases.push(String.fromCharCode(...Array.from({ length: 1 + Math.floor(rand() * 12) }, () => Math.floor(rand() * 0x10000))));
  const node = new TextEncoder();
  const ours = new PreludeEncoder();
  for (const s of cases) {
    assert.deepEqual(utf8Encode(s), node.encode(s), JSON.stringify(s));
    assert.deepEqual(ours.encode(s), node.encode(s));
    for (const size of [0, 1, 2, 3, 5, 16]) {
      const a = new Uint8Array(size);
      const b = new Uint8Array(size);
      assert.deepEqual(ours.encodeInto(s, a), node.encodeInto(s, b), `encodeInto ${JSON.stringify(s)} into ${size}`);
      assert.deepEqual(a, b);
    }
  }
});

test('UTF-8 decoding matches TextDecoder: invalid bytes, fatal, BOM, streaming', () => {
  const rand = random(2);
  const cases: Uint8Array[] = STRINGS.map((s) => new TextEncoder().encode(s));
  cases.push(
    new Uint8Array([0xef, 0xbb, 0xbf, 0x41]),
    new Uint8Array([0xc0, 0x80]),
    new Uint8Array([0xed, 0xa0, 0x80]),
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
    new Uint8Array([0xe2, 0x82]),
    new Uint8Array([0xf0, 0x9f, 0x98]),
    new Uint8Array([0xff, 0xfe, 0x41]),
  );
  for (let i = 0; i < 400; i++) cases.push(Uint8Array.from({ length: Math.floor(rand() * 10) }, () => (rand() < 0.5 ? 0x80 + Math.floor(rand() * 0x80) : Math.floor(rand() * 0x100))));
  for (const bytes of cases) {
    for (const ignoreBOM of [false, true]) {
      assert.equal(new PreludeDecoder('utf-8', { ignoreBOM }).decode(bytes), new TextDecoder('utf-8', { ignoreBOM }).decode(bytes), `${[...bytes]} ignoreBOM ${ignoreBOM}`);
    }
    let nodeError: unknown = null;
    let ourError: unknown = null;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (error) {
      nodeError = error;
    }
    try {
      new PreludeDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (error) {
      ourError = error;
    }
    assert.equal(ourError instanceof TypeError, nodeError instanceof TypeError, `fatal ${[...bytes]}`);
    // Streaming: the same bytes fed one at a time decode to the same text.
    const node = new TextDecoder();
    const ours = new PreludeDecoder();
    let a = '';
    let b = '';
    for (const byte of bytes) {
      a += node.decode(new Uint8Array([byte]), { stream: true });
      b += ours.decode(new Uint8Array([byte]), { stream: true });
    }
    assert.equal(b + ours.decode(), a + node.decode(), `streamed ${[...bytes]}`);
  }
  assert.equal(new PreludeDecoder().decode(new Uint8Array([0x68, 0x69]).buffer), 'hi', 'an ArrayBuffer');
  assert.throws(() => new PreludeDecoder('latin1'), RangeError);
  assert.throws(() => new PreludeDecoder().decode('text' as never), TypeError);
});

test('atob and btoa match Node, errors included', () => {
  const rand = random(3);
  const latin1 = ['', 'a', 'ab', 'abc', 'abcd', '\u00ff\u0000\u0080', 'Hello, World!'];
  for (let i = 0; i < 200; i++) latin1.push(String.fromCharCode(...Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256))));
  for (const s of latin1) {
    assert.equal(prelude64.btoa(s), btoa(s), JSON.stringify(s));
    assert.equal(prelude64.atob(btoa(s)), s);
  }
  const encoded = ['', 'YQ==', 'YQ', 'YWI=', 'YWI', 'YWJj', ' Y W J j ', 'YQ=', 'Y', 'YQ===', '=YQ', 'Y@Q=', 'YW\nJj', 'YQ==YQ==', 'ab+/', 'ab-_', 'AAAA\t'];
  for (const s of encoded) {
    let node: string | Error;
    let ours: string | Error;
    try {
      node = atob(s);
    } catch (error) {
      node = error as Error;
    }
    try {
      ours = prelude64.atob(s);
    } catch (error) {
      ours = error as Error;
    }
    if (typeof node === 'string') assert.equal(ours, node, JSON.stringify(s));
    else assert.equal((ours as Error).name, node.name, `${JSON.stringify(s)} is refused as Node refuses it`);
  }
  assert.throws(() => prelude64.btoa('\u0100'), { name: 'InvalidCharacterError' });
  assert.throws(() => (prelude64.atob as () => string)(), TypeError);
});

test('URLSearchParams parses, edits and serialises as Node does', () => {
  const queries = ['', '?', 'a=1&b=2', '?a=1&a=2&b', 'a+b=c+d', '%zz=%41%42&x=%E2%82%AC', 'a=%F0%9F%98%80&b=%ff', '&&a=&=b&', 'q=a%20b+c', '%2B=%3D', 'é=ü'];
  for (const query of queries) {
    const node = new URLSearchParams(query);
    const ours = new PreludeParams(query);
    assert.deepEqual([...ours], [...node], query);
    assert.equal(ours.toString(), node.toString(), query);
    assert.equal(ours.size, node.size);
  }
  const node = new URLSearchParams({ b: '2', a: '1 &=', z: '😀' });
  const ours = new PreludeParams({ b: '2', a: '1 &=', z: '😀' });
  for (const edit of [
    (p: any) => p.append('a', 'x'),
    (p: any) => p.set('b', 'y'),
    (p: any) => p.delete('z'),
    (p: any) => p.append('c', '~*-._'),
    (p: any) => p.sort(),
    (p: any) => p.delete('a', 'x'),
    (p: any) => p.set('new', ''),
  ]) {
    edit(node);
    edit(ours);
    assert.equal(ours.toString(), node.toString());
    assert.deepEqual(ours.getAll('a'), node.getAll('a'));
    assert.equal(ours.get('missing'), node.get('missing'));
    assert.equal(ours.has('b', 'y'), node.has('b', 'y'));
  }
  assert.deepEqual(
    [
      ...new PreludeParams([
        ['x', '1'],
        ['y', '2'],
      ]),
    ],
    [
      ...new URLSearchParams([
        ['x', '1'],
        ['y', '2'],
      ]),
    ],
  );
  assert.throws(() => new PreludeParams([['only-one']]), TypeError);
});

test('URL through the host bridge matches Node, setters and searchParams included', () => {
  const inputs: Array<[string, string?]> = [['https://user:pw@Example.COM:443/a/../b?x=1#frag'], ['/path?q', 'http://base.example/dir/'], ['http://[::1]:8080/'], ['mailto:ada@example.com']];
  for (const [input, base] of inputs) {
    const node = new URL(input, base);
    const ours = new PreludeURL(input, base);
    for (const key of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const) {
      assert.equal(ours[key], node[key], `${input} ${key}`);
    }
  }
  assert.throws(() => new PreludeURL('not a url'), TypeError);
  assert.equal(PreludeURL.canParse('https://ok.example'), true);
  assert.equal(PreludeURL.parse('::'), null);
  const node = new URL('https://a.example/p?x=1');
  const ours = new PreludeURL('https://a.example/p?x=1');
  ours.searchParams.append('y', 'two words');
  node.searchParams.append('y', 'two words');
  assert.equal(ours.href, node.href);
  ours.search = '?z=3';
  node.search = '?z=3';
  assert.deepEqual([...ours.searchParams], [...node.searchParams]);
  ours.hostname = 'b.example';
  node.hostname = 'b.example';
  ours.hash = 'h';
  node.hash = 'h';
  assert.equal(ours.toString(), node.toString());
  assert.equal(JSON.stringify({ u: ours }), JSON.stringify({ u: node }));
});

test('fetch headers are read from objects, pair lists and Headers-like values', () => {
  const never = (_: unknown): _ is { entries(): Iterable<[string, string]> } => false;
  assert.deepEqual(headerPairs({ 'X-A': 1, b: 'two' }, never), [
    ['X-A', '1'],
    ['b', 'two'],
  ]);
  assert.deepEqual(headerPairs([['a', 'b']], never), [['a', 'b']]);
  assert.deepEqual(headerPairs(new Map([['m', 'n']]), never), [['m', 'n']]);
  assert.deepEqual(headerPairs(undefined, never), []);
  assert.throws(() => headerPairs([['a']], never), TypeError);
  assert.throws(() => headerPairs('a: b', never), TypeError);
});

test('console lines are formatted like Node for the common directives', () => {
  const built = {};
  assert.equal(formatLine(['%s is %d years, %i%%', 'Ada', 36.6, 36.6], built), 'Ada is 36.6 years, 36%');
  assert.equal(formatLine(['%j', { a: [1] }], built), '{"a":[1]}');
  assert.equal(formatLine(['plain', 1, true, null, undefined, { a: { b: { c: { d: 1 } } } }], built), 'plain 1 true null undefined { a: { b: { c: [Object] } } }');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.equal(formatLine([circular], built), '{ self: [Circular] }');
  assert.equal(formatLine(['x'.repeat(9000)], built).length, 8000);
});

test('the realm (ses, lockdown, the prelude) runs in a bare V8 context: it needs nothing from outside itself', async () => {
  const context = vm.createContext({});
  const boot = vm.runInContext(REALM_SOURCE, context, { filename: 'tessera:realm' }) as (...args: unknown[]) => RealmEntries;
  const lines: string[] = [];
  const fetchBridge = { apply: async () => ({ ok: false, error: 'fetch refused: a test' }) };
  const asyncBridge = { apply: async (_: unknown, [, op]: [number, string]) => (op === 'sleep' ? true : { ok: false, error: 'no subtle here' }) };
  const [run, start, take, wait] = boot(
    (_id: number, level: string, text: string) => lines.push(`${level} ${text}`),
    (_id: number, kind: string, size: number) => (kind === 'uuid' ? '00000000-0000-4000-8000-000000000000' : new Uint8Array(size)),
    (_id: number, op: 'parse' | 'set', a: string, b?: string, c?: string) => hostUrl(op, a, b, c),
    fetchBridge,
    asyncBridge,
  );
  const source = `(function () { 'use strict'; let runs = 0; return async function (event, api) {
    runs++;
    console.log(new TextDecoder().decode(new TextEncoder().encode(event.name)), btoa('ab'), atob('YWI='), crypto.randomUUID());
    console.log(new URL('/p?q=1', 'https://h.example').searchParams.get('q'), new URLSearchParams({ a: 'b c' }).toString());
    try { await fetch('https://h.example/'); } catch (error) { console.warn(error.message); }
    await new Promise((resolve) => setTimeout(resolve, 1));
    for (const name of ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry']) { let there = true; try { globalThis[name]; } catch { there = false; } if (there) throw new Error(name + ' is there'); }
    api.idToken.setClaim('name', event.name + ' ' + runs);
  }; })`;
  const result = JSON.parse(await run('v1', source, JSON.stringify({ name: 'Ada ✓' }), 1, ''));
  assert.deepEqual(result, { actions: [{ type: 'idToken.setClaim', key: 'name', value: 'Ada ✓ 1' }], logged: 3 });
  assert.deepEqual(lines, ['log Ada ✓ YWI= ab 00000000-0000-4000-8000-000000000000', 'log 1 a=b+c', 'warn fetch refused: a test']);
  // The version stays evaluated; its top level runs again (module state is new each run).
  const again = JSON.parse(await run('v1', null, JSON.stringify({ name: 'Bo' }), 2, ''));
  assert.deepEqual(again.actions, [{ type: 'idToken.setClaim', key: 'name', value: 'Bo 1' }]);
  assert.deepEqual(JSON.parse(await run('v2', null, '{}', 3, '')), { missing: true });
  // The host's fast path: `start` runs synchronously; `take` answers the result once the run has
  // settled (under isolated-vm, before the sync call returns), nothing while it is pending; `wait`
  // hands over the run's promise.
  start('v1', null, JSON.stringify({ name: 'Cy' }), 4, '');
  assert.equal(take(), undefined, 'pending: its microtasks have not run yet');
  assert.deepEqual(JSON.parse(await wait()).actions, [{ type: 'idToken.setClaim', key: 'name', value: 'Cy 1' }]);
  start('v1', null, JSON.stringify({ name: 'Di' }), 5, '');
  let settled: string | undefined;
  for (let turn = 0; turn < 100 && settled === undefined; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    settled = take();
  }
  assert.deepEqual(JSON.parse(settled!).actions, [{ type: 'idToken.setClaim', key: 'name', value: 'Di 1' }]);
  assert.equal(take(), undefined, 'a result is taken once');
});
