// A hook's fetch, host side: a local peer on 127.0.0.1 is reachable only when listed in
// allowed_hosts; loopback, link-local (cloud metadata), private, IPv6 loopback and names resolving to
// loopback are refused before any connection is opened; each redirect hop is checked again; the
// body and the time are capped; the connection goes to the address that was checked. No test sends
// a packet anywhere but loopback: every refused target is refused before connecting, which the
// `onConnect` probe proves.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { addressRefusal, parseAllowedHosts } from '../src/net/address-policy.ts';
import { bridgeFetch, checkTarget, FetchError, type FetchPolicy } from '../src/hooks/sandbox/fetch-bridge.ts';
import { HookSandbox } from '../src/hooks/sandbox/sandbox.ts';

interface Peer {
  server: Server;
  port: number;
  requests: Array<{ url: string; headers: IncomingMessage['headers']; body: string }>;
}

async function startPeer(handler: (req: IncomingMessage, res: ServerResponse, port: number) => void): Promise<Peer> {
  const requests: Peer['requests'] = [];
  let port = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      handler(req, res, port);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return { server, port, requests };
}

async function stopPeer(peer: Peer): Promise<void> {
  peer.server.closeAllConnections();
  await new Promise<void>((resolve) => peer.server.close(() => resolve()));
}

/** A policy whose onConnect records every connection the bridge opens. */
function probe(extra: FetchPolicy = {}): { policy: FetchPolicy; connects: Array<{ url: string; addresses: string[] }> } {
  const connects: Array<{ url: string; addresses: string[] }> = [];
  return { connects, policy: { ...extra, onConnect: (target) => connects.push({ url: target.url, addresses: target.addresses }) } };
}

async function refused(promise: Promise<unknown>, pattern?: RegExp): Promise<FetchError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FetchError, `expected a FetchError, got ${String(error)}`);
    if (pattern) assert.match(error.message, pattern);
    return error;
  }
  assert.fail('the fetch was expected to fail');
}

const BIG = Buffer.alloc(2 * 1024 * 1024, 'a');

let peer: Peer;

before(async () => {
  peer = await startPeer((req, res, port) => {
    const url = new URL(req.url ?? '/', 'http://peer');
    switch (url.pathname) {
      case '/json':
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-multi', ['a', 'b']);
        res.end(JSON.stringify({ tier: 'gold', method: req.method }));
        return;
      case '/echo':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, headers: req.headers }));
        return;
      case '/redirect':
        res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/json' });
        res.end();
        return;
      case '/loop':
        res.writeHead(302, { location: `/loop?n=${Number(url.searchParams.get('n') ?? 0) + 1}` });
        res.end();
        return;
      case '/big':
        res.setHeader('content-type', 'text/plain');
        res.end(BIG);
        return;
      case '/big-chunked':
        // No content-length: the cap has to bite while streaming.
        res.setHeader('content-type', 'text/plain');
        for (let i = 0; i < 40; i++) res.write(Buffer.alloc(64 * 1024, 'b'));
        res.end();
        return;
      case '/gzip-bomb':
        res.setHeader('content-encoding', 'gzip');
        res.end(gzipSync(BIG));
        return;
      case '/gzip':
        res.setHeader('content-encoding', 'gzip');
        res.setHeader('content-type', 'application/json');
        res.end(gzipSync(JSON.stringify({ zipped: true })));
        return;
      case '/slow':
        setTimeout(() => res.end('late'), 3000).unref();
        return;
      default:
        res.statusCode = 404;
        res.end(`no ${port}`);
    }
  });
});

after(async () => {
  await stopPeer(peer);
});

describe('address classes', () => {
  test('non-public addresses are refused, public ones pass', () => {
    const refusedAddresses = [
      '127.0.0.1',
      '127.255.255.254',
      '10.0.0.1',
      '10.255.1.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '100.127.255.255',
      '169.254.169.254',
      '169.254.0.1',
      '0.0.0.0',
      '0.1.2.3',
      '224.0.0.1',
      '239.255.255.250',
      '255.255.255.255',
      '240.0.0.1',
      '192.0.2.10',
      '198.18.0.1',
      '::',
      '::1',
      'fe80::1',
      'fe80::1%eth0',
      'febf::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '2001:db8::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '::ffff:10.0.0.1',
      '::ffff:0:127.0.0.1',
      '64:ff9b::127.0.0.1',
      '64:ff9b::a00:1',
      '2002:7f00:1::1',
      '2002:a9fe:a9fe::1',
      '::127.0.0.1',
      '2001::1',
      '[::1]',
      'not-an-ip',
    ];
    for (const address of refusedAddresses) assert.notEqual(addressRefusal(address), null, `${address} must be refused`);
    const publicAddresses = [
      '93.184.216.34',
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '100.128.0.1',
      '192.169.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4007:80e::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ];
    for (const address of publicAddresses) assert.equal(addressRefusal(address), null, `${address} must pass`);
    assert.match(String(addressRefusal('169.254.169.254')), /link-local/);
    assert.match(String(addressRefusal('::ffff:127.0.0.1')), /IPv4-mapped loopback/);
  });

  test('allowed_hosts entries are canonicalized; an entry without a port means the default port', () => {
    assert.deepEqual(parseAllowedHosts(['API.Example.com', 'crm.example.com:8443', '[::1]:8080', '127.1', 'bad/host', 'x:99999']), [
      { hostname: 'api.example.com', port: null },
      { hostname: 'crm.example.com', port: 8443 },
      { hostname: '[::1]', port: 8080 },
      { hostname: '127.0.0.1', port: null },
    ]);
  });

  test('every address a name resolves to is checked: one private address among public ones refuses the name', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ];
    await refused(checkTarget(new URL('http://mixed.test/'), [], resolve), /mixed\.test resolves to a private address/);
    const onlyPublic = await checkTarget(new URL('http://public.test/'), [], async () => [{ address: '93.184.216.34', family: 4 }]);
    assert.deepEqual(
      onlyPublic.map((a) => a.address),
      ['93.184.216.34'],
    );
  });
});

describe('bridgeFetch', () => {
  test('a local peer is reachable when listed in allowed_hosts, with the response as data', async () => {
    const { policy, connects } = probe({ allowedHosts: [`127.0.0.1:${peer.port}`] });
    const response = await bridgeFetch({ url: `http://127.0.0.1:${peer.port}/json?q=1`, headers: [['x-trace', 'abc']] }, policy);
    assert.equal(response.status, 200);
    assert.equal(response.redirected, false);
    assert.equal(response.url, `http://127.0.0.1:${peer.port}/json?q=1`);
    assert.deepEqual(JSON.parse(Buffer.from(response.body).toString()), { tier: 'gold', method: 'GET' });
    assert.deepEqual(
      response.headers.filter(([k]) => k === 'x-multi'),
      [
        ['x-multi', 'a'],
        ['x-multi', 'b'],
      ],
    );
    assert.deepEqual(connects, [{ url: `http://127.0.0.1:${peer.port}/json?q=1`, addresses: ['127.0.0.1'] }]);
    assert.equal(peer.requests.at(-1)?.headers['x-trace'], 'abc');
  });

  test('the same peer is refused, before connecting, when it is not listed', async () => {
    const before = peer.requests.length;
    for (const allowedHosts of [null, [], ['127.0.0.1'], [`127.0.0.1:${peer.port + 1}`], ['api.example.com']]) {
      const { policy, connects } = probe({ allowedHosts });
      await refused(bridgeFetch({ url: `http://127.0.0.1:${peer.port}/json` }, policy), /fetch refused/);
      assert.equal(connects.length, 0, `no connection for allowed_hosts ${JSON.stringify(allowedHosts)}`);
    }
    assert.equal(peer.requests.length, before, 'the peer saw no request');
  });

  test('loopback, metadata, private, IPv6 loopback and names resolving to loopback are refused before connecting', async () => {
    const targets = [
      `http://127.0.0.1:${peer.port}/json`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://10.0.0.1/',
      `http://[::1]:${peer.port}/json`,
      `http://localhost:${peer.port}/json`,
      `http://2130706433:${peer.port}/json`, // 127.0.0.1 as one number
      `http://0x7f.1:${peer.port}/json`, // 127.0.0.1 in hex shorthand
      `http://[::ffff:127.0.0.1]:${peer.port}/json`,
      'http://[::ffff:169.254.169.254]/',
      'http://0.0.0.0/',
      'http://100.64.0.1/',
      'http://192.168.0.1/',
      'http://172.16.5.5/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'https://169.254.169.254/',
    ];
    const before = peer.requests.length;
    for (const url of targets) {
      const { policy, connects } = probe();
      const error = await refused(bridgeFetch({ url }, policy));
      assert.equal(error.code, 'refused', `${url}: ${error.message}`);
      assert.equal(connects.length, 0, `${url} must be refused before connecting`);
    }
    assert.equal(peer.requests.length, before);
  });

  test('a name is refused when it resolves to a private address, and pinned to the address checked when listed', async () => {
    const { policy, connects } = probe({ resolve: async () => [{ address: '10.0.0.1', family: 4 }] });
    await refused(bridgeFetch({ url: 'http://internal.example/' }, policy), /internal\.example resolves to a private address/);
    assert.equal(connects.length, 0);

    // DNS rebinding: the first answer is checked and used; a later, different answer is never asked for.
    let lookups = 0;
    const rebinding = probe({
      allowedHosts: [`rebind.test:${peer.port}`],
      resolve: async () => (++lookups === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.1', family: 4 }]),
    });
    const response = await bridgeFetch({ url: `http://rebind.test:${peer.port}/echo` }, rebinding.policy);
    assert.equal(response.status, 200);
    assert.equal(lookups, 1);
    assert.deepEqual(
      rebinding.connects.map((c) => c.addresses),
      [['127.0.0.1']],
    );
    assert.equal(JSON.parse(Buffer.from(response.body).toString()).headers.host, `rebind.test:${peer.port}`);
  });

  test('allowed_hosts restricts to the hosts listed, by name', async () => {
    const { policy, connects } = probe({ allowedHosts: [`localhost:${peer.port}`] });
    const response = await bridgeFetch({ url: `http://localhost:${peer.port}/json` }, policy);
    assert.equal(response.status, 200);
    assert.equal(connects.length, 1);
    assert.ok(connects[0].addresses.every((a) => a === '127.0.0.1' || a === '::1'));
    await refused(bridgeFetch({ url: `http://127.0.0.1:${peer.port}/json` }, policy), /not in the hook's allowed_hosts/);
    await refused(bridgeFetch({ url: 'https://api.example.com/' }, policy), /not in the hook's allowed_hosts/);
    assert.equal(connects.length, 1);
  });

  test('only http and https; no credentials in the URL', async () => {
    const { policy, connects } = probe({ allowedHosts: [`127.0.0.1:${peer.port}`] });
    await refused(bridgeFetch({ url: 'file:///etc/passwd' }, policy), /only http and https/);
    await refused(bridgeFetch({ url: `ftp://127.0.0.1:${peer.port}/` }, policy), /only http and https/);
    await refused(bridgeFetch({ url: `http://user:pw@127.0.0.1:${peer.port}/json` }, policy), /credentials/);
    await refused(bridgeFetch({ url: 'not a url' }, policy), /invalid URL/);
    await refused(bridgeFetch({ url: `http://127.0.0.1:${peer.port}/json`, method: 'CONNECT' }, policy), /CONNECT method is not allowed/);
    assert.equal(connects.length, 0);
  });

  test('each redirect hop is checked: a redirect from an allowed host to a forbidden address is refused', async () => {
    const base = `http://127.0.0.1:${peer.port}`;
    for (const to of ['http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data/', `http://localhost:${peer.port}/json`, `http://[::1]:${peer.port}/json`, 'file:///etc/passwd']) {
      for (const allowedHosts of [[`127.0.0.1:${peer.port}`], [`127.0.0.1:${peer.port}`, 'api.example.com']]) {
        const { policy, connects } = probe({ allowedHosts });
        await refused(bridgeFetch({ url: `${base}/redirect?to=${encodeURIComponent(to)}` }, policy), /fetch refused/);
        assert.equal(connects.length, 1, `only the first hop connected (redirect to ${to})`);
      }
    }
  });

  test('redirects within the allowed hosts are followed (at most 5), and credentials do not cross origins', async () => {
    const base = `http://127.0.0.1:${peer.port}`;
    const allowedHosts = [`127.0.0.1:${peer.port}`, `localhost:${peer.port}`];
    const followed = await bridgeFetch({ url: `${base}/redirect?to=/json` }, { allowedHosts });
    assert.equal(followed.status, 200);
    assert.equal(followed.redirected, true);
    assert.equal(followed.url, `${base}/json`);

    // 303 turns a POST into a GET without a body.
    const seeOther = await bridgeFetch({ url: `${base}/redirect?status=303&to=/echo`, method: 'POST', body: 'x=1', headers: [['content-type', 'text/plain']] }, { allowedHosts });
    assert.equal(JSON.parse(Buffer.from(seeOther.body).toString()).method, 'GET');

    const crossing = await bridgeFetch(
      {
        url: `${base}/redirect?to=${encodeURIComponent(`http://localhost:${peer.port}/echo`)}`,
        headers: [
          ['authorization', 'Bearer s3cr3t'],
          ['x-kept', 'yes'],
        ],
      },
      { allowedHosts },
    );
    const echoed = JSON.parse(Buffer.from(crossing.body).toString()).headers;
    assert.equal(echoed.authorization, undefined);
    assert.equal(echoed['x-kept'], 'yes');

    const before = peer.requests.length;
    await refused(bridgeFetch({ url: `${base}/loop` }, { allowedHosts }), /more than 5 redirects/);
    assert.equal(peer.requests.length - before, 6, 'the first request and 5 redirects');

    const manual = await bridgeFetch({ url: `${base}/redirect?to=/json`, redirect: 'manual' }, { allowedHosts });
    assert.equal(manual.status, 302);
    assert.deepEqual(
      manual.headers.find(([k]) => k === 'location'),
      ['location', '/json'],
    );
    await refused(bridgeFetch({ url: `${base}/redirect?to=/json`, redirect: 'error' }, { allowedHosts }), /redirect is "error"/);
  });

  test('the response body is capped (declared, streamed and decompressed)', async () => {
    const allowedHosts = [`127.0.0.1:${peer.port}`];
    const base = `http://127.0.0.1:${peer.port}`;
    for (const path of ['/big', '/big-chunked', '/gzip-bomb']) {
      const error = await refused(bridgeFetch({ url: `${base}${path}` }, { allowedHosts }), /larger than 1048576 bytes/);
      assert.equal(error.code, 'too_large');
    }
    await refused(bridgeFetch({ url: `${base}/json` }, { allowedHosts, maxResponseBytes: 10 }), /larger than 10 bytes/);
    const zipped = await bridgeFetch({ url: `${base}/gzip` }, { allowedHosts });
    assert.deepEqual(JSON.parse(Buffer.from(zipped.body).toString()), { zipped: true });
    await refused(bridgeFetch({ url: `${base}/echo`, method: 'POST', body: 'x'.repeat(2000) }, { allowedHosts, maxRequestBytes: 1000 }), /request body is larger/);
  });

  test('time is capped per request and by the hook deadline', async () => {
    const allowedHosts = [`127.0.0.1:${peer.port}`];
    let started = performance.now();
    const error = await refused(bridgeFetch({ url: `http://127.0.0.1:${peer.port}/slow` }, { allowedHosts, requestTimeoutMs: 200 }), /timed out/);
    let elapsed = performance.now() - started;
    assert.equal(error.code, 'timeout');
    assert.ok(elapsed >= 190 && elapsed < 1000, `timed out after ${elapsed} ms`);

    started = performance.now();
    await refused(bridgeFetch({ url: `http://127.0.0.1:${peer.port}/slow` }, { allowedHosts, deadline: performance.now() + 150 }), /timed out/);
    elapsed = performance.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 1000, `cut at the deadline after ${elapsed} ms`);

    await refused(bridgeFetch({ url: `http://127.0.0.1:${peer.port}/json` }, { allowedHosts, deadline: performance.now() - 1 }), /no time left/);
  });
});

describe('fetch inside a hook', () => {
  let sandbox: HookSandbox;
  before(() => {
    sandbox = new HookSandbox();
  });
  after(() => sandbox.dispose());

  const hook = (code: string) => ({ id: `fetch-${Math.random()}`, version: 1, code });

  test('returns a Response-like object from a listed peer', async () => {
    const result = await sandbox.run(
      hook(`export default async function (event, api) {
  const res = await fetch('http://127.0.0.1:${peer.port}/json?email=' + encodeURIComponent(event.user.email), {
    method: 'POST', headers: { 'x-api-key': event.secrets.KEY }, body: JSON.stringify({ a: 1 }),
  });
  api.user.setMetadata('status', [res.status, res.ok, res.statusText, res.headers.get('content-type'), res.headers.get('x-multi'), res.redirected]);
  const data = await res.json();
  api.idToken.setClaim('tier', data.tier);
  api.user.setMetadata('method', data.method);
  let again;
  try { await res.text(); } catch (e) { again = e.constructor.name + ': ' + e.message; }
  api.user.setMetadata('again', again);
}`),
      { user: { email: 'ada@example.com' }, secrets: { KEY: 'k-0123456789' } },
      { allowedHosts: [`127.0.0.1:${peer.port}`] },
    );
    assert.equal(result.outcome, 'success', result.error);
    assert.deepEqual(result.actions, [
      { type: 'user.setMetadata', key: 'status', value: [200, true, 'OK', 'application/json', 'a, b', false] },
      { type: 'idToken.setClaim', key: 'tier', value: 'gold' },
      { type: 'user.setMetadata', key: 'method', value: 'POST' },
      { type: 'user.setMetadata', key: 'again', value: 'TypeError: Body has already been used' },
    ]);
    const seen = peer.requests.at(-1);
    assert.equal(seen?.url, '/json?email=ada%40example.com');
    assert.equal(seen?.headers['x-api-key'], 'k-0123456789');
    assert.equal(seen?.headers['content-type'], 'text/plain;charset=UTF-8');
    assert.equal(seen?.body, '{"a":1}');
  });

  test('an unlisted peer and the metadata address are refused with a TypeError the hook can catch', async () => {
    const before = peer.requests.length;
    const result = await sandbox.run(
      hook(`export default async function (event, api) {
  for (const url of ['http://127.0.0.1:${peer.port}/json', 'http://169.254.169.254/latest/meta-data/', 'http://localhost:${peer.port}/json', 'http://[::1]:${peer.port}/json', 'http://10.0.0.1/']) {
    try { await fetch(url); api.user.setMetadata('reached', url); }
    catch (e) { api.user.setMetadata('refused', e instanceof TypeError && e.message.startsWith('fetch refused')); }
  }
}`),
      {},
    );
    assert.equal(result.outcome, 'success', result.error);
    assert.deepEqual(
      result.actions.map((a) => [a.key, a.value]),
      Array(5).fill(['refused', true]),
    );
    assert.equal(peer.requests.length, before);
  });

  test('the number of fetches per run is capped', async () => {
    const capped = new HookSandbox({ maxFetchesPerRun: 2 });
    try {
      const result = await capped.run(
        hook(`export default async function (event, api) {
  for (let i = 0; i < 3; i++) {
    try { await fetch('http://127.0.0.1:${peer.port}/json'); api.user.setMetadata('ok', i); }
    catch (e) { api.user.setMetadata('error', e.message); }
  }
}`),
        {},
        { allowedHosts: [`127.0.0.1:${peer.port}`] },
      );
      assert.deepEqual(
        result.actions.map((a) => a.value),
        [0, 1, 'fetch refused: at most 2 fetches per run'],
      );
    } finally {
      capped.dispose();
    }
  });
});
