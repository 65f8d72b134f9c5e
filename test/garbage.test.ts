// Garbage in, no 500 out: every route we know (the admin API, the OIDC endpoints from discovery, the
// hosted pages, health) gets random bytes, invalid JSON, huge bodies, wrong methods, wrong content
// types and odd query strings, with and without credentials and a live interaction. No answer may be
// a 5xx, leak a stack trace or an error class name, and the server must still be healthy afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAdminRouter } from '../src/admin/router.ts';
import { createFlowRouter } from '../src/flows/router.ts';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

const CALLBACK = 'https://app.example.com/callback';

/** Deterministic bytes (xorshift32) so a failure can be replayed. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

interface Payload {
  name: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Sent once per route (POST, no credentials): bigger than any body limit of the server. */
  huge?: boolean;
}

const HUGE = 'x'.repeat(512 * 1024);

/** Bodies sent to every route with every body-carrying method. */
const PAYLOADS: Payload[] = [
  { name: 'random bytes, no type', headers: {}, body: pseudoRandomBytes(512, 7) },
  { name: 'random bytes as JSON', headers: { 'content-type': 'application/json' }, body: pseudoRandomBytes(512, 11) },
  { name: 'random bytes as a form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: pseudoRandomBytes(512, 13) },
  { name: 'invalid JSON', headers: { 'content-type': 'application/json' }, body: '{"name": "x", "redirect_uris": [' },
  { name: 'JSON array', headers: { 'content-type': 'application/json' }, body: '[1, 2, 3]' },
  { name: 'JSON string', headers: { 'content-type': 'application/json' }, body: '"just a string"' },
  { name: 'JSON null', headers: { 'content-type': 'application/json' }, body: 'null' },
  { name: 'JSON with wrong types', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: {}, email: [], redirect_uris: 5, password: null, identifier: 1, event: {} }) },
  { name: 'JSON __proto__', headers: { 'content-type': 'application/json' }, body: '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}' },
  { name: 'deeply nested JSON', headers: { 'content-type': 'application/json' }, body: `${'['.repeat(50_000)}${']'.repeat(50_000)}` },
  { name: 'deeply nested JSON object', headers: { 'content-type': 'application/json' }, body: `${'{"a":'.repeat(15_000)}1${'}'.repeat(15_000)}` },
  { name: 'huge JSON', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: HUGE }), huge: true },
  { name: 'huge form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `identifier=${HUGE}`, huge: true },
  { name: 'broken form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '%%%&&==&a[b][c][d]=1&__proto__[x]=1&_csrf=%E0%A4%A&password' },
  { name: 'form with arrays', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'identifier=a&identifier=b&password=x&password=y&_csrf=1&_csrf=2&email=a&email=b' },
  { name: 'multipart without boundary', headers: { 'content-type': 'multipart/form-data' }, body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--' },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: 'hello' },
  { name: 'bogus content type', headers: { 'content-type': 'application/json; charset=bogus-charset' }, body: '{}' },
  { name: 'malformed content type', headers: { 'content-type': ';;;/=application' }, body: '{}' },
  { name: 'gzip that is not gzip', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: pseudoRandomBytes(256, 17) },
  { name: 'unknown content encoding', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'br, zstd, nonsense' }, body: 'a=b' },
  { name: 'empty body', headers: { 'content-type': 'application/json' }, body: '' },
  {
    name: 'NUL bytes in a form',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'identifier=a%00b&email=a%00%40example.com&password=%00pw&token=%00&client_id=%00&code=%00&refresh_token=%00&grant_type=refresh_token&_csrf=%00&resource=https%3A%2F%2Fa.example%2F%00&given_name=%00&family_name=%00',
  },
  {
    name: 'NUL bytes in a token request',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=authorization_code&code=%00&redirect_uri=%00&client_id=%00&code_verifier=%00&resource=https%3A%2F%2Fapi.example.com%2F%00',
  },
  {
    name: 'NUL bytes in JSON',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'a\u0000',
      email: 'a\u0000@example.com',
      identifier: 'https://a.example/\u0000',
      redirect_uris: ['https://a.example/\u0000'],
      given_name: '\u0000',
      metadata: { 'k\u0000': 1 },
    }),
  },
];

/** Query strings sent with GET (and DELETE) to every route. */
const QUERIES = [
  '?%',
  '?%zz=%zz&%E0%A4%A=1',
  '?a[b][c][d][e]=1&__proto__[x]=1&constructor[prototype][y]=2',
  '?email=a&email=b&to=x&to=y&limit=-1&offset=abc',
  '?email[]=x&limit[]=1',
  `?q=${'z'.repeat(6000)}`,
  '?client_id=%00&response_type=code%00&redirect_uri=javascript:alert(1)&scope=openid%20%20%20',
  '?response_type=code&client_id=garbage&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid&state=%FF',
  '?=&=&&&',
  '?limit=99999999999999999999999&offset=1e309',
  '?email=a%00%40example.com&to=%00&identifier=%00&resource=https%3A%2F%2Fapi.example.com%2F%00&id_token_hint=%00&post_logout_redirect_uri=%00',
];

const BODY_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
const ALL_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface Outcome {
  what: string;
  status: number | 'network error';
  body: string;
}

const STACK_LINE = /^\s*at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

function leaks(body: string): string | null {
  if (STACK_LINE.test(body)) return 'a stack trace line';
  if (/Error: /.test(body)) return '"Error:"';
  if (/node_modules|file:\/\/\//.test(body)) return 'a file path';
  return null;
}

/** Runs requests a few at a time (SQLite has one connection; this keeps the suite quick anyway). */
async function runAll(jobs: Array<() => Promise<Outcome>>, concurrency = 12): Promise<Outcome[]> {
  const results: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        results.push(await job());
      }
    }),
  );
  return results;
}

/** Every concrete path of a router (params filled in with `fill`). */
function routerPaths(stack: Array<{ path: string | RegExp; methods: string[] }>, fill: (param: string) => string): string[] {
  const paths = new Set<string>();
  for (const layer of stack) {
    if (typeof layer.path !== 'string' || layer.methods.length === 0) continue;
    paths.add(layer.path.replace(/:(\w+)/g, (_m, name: string) => fill(name)));
  }
  return [...paths];
}

for (const kind of databaseKinds()) {
  describe(`garbage on every route (${kind})`, () => {
    let server: TestServer;
    let clientId: string;
    let clientSecret: string;
    let userId: string;
    let interaction: { uid: string; cookie: string } | null = null;

    before(async () => {
      server = await startTestServer(kind);
      const app = await server.admin('POST', '/applications', { name: 'Garbage', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] });
      assert.equal(app.status, 201);
      clientId = app.body.client_id;
      clientSecret = app.body.client_secret;
      userId = (await server.admin('POST', '/users', { email: 'garbage@example.com', password: 'garbage-password-1' })).body.id;
      await server.admin('POST', '/resource-servers', { identifier: 'https://api.example.com', name: 'API' });
      // The application is allowed the API, so garbage resource indicators reach past the permission check.
      assert.equal((await server.admin('PATCH', `/applications/${clientId}`, { resource_servers: ['https://api.example.com'] })).status, 200);
      // A live interaction, so the hosted pages' real code paths (not just "unknown interaction") see garbage too.
      const auth = await fetch(`${server.url}/auth?client_id=${clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}&state=s`, { redirect: 'manual' });
      const location = auth.headers.get('location') ?? '';
      const uid = /\/interaction\/([^/?#]+)/.exec(location)?.[1];
      if (uid)
        interaction = {
          uid,
          cookie: auth.headers
            .getSetCookie()
            .map((c) => c.split(';')[0])
            .join('; '),
        };
    });
    after(() => server.close());

    async function send(method: string, path: string, payload: Payload | null, extraHeaders: Record<string, string> = {}): Promise<Outcome> {
      const what = `${method} ${path.slice(0, 120)}${payload ? ` [${payload.name}]` : ''}${extraHeaders.authorization ? ' (admin key)' : ''}${extraHeaders.cookie ? ' (cookies)' : ''}`;
      try {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: { ...payload?.headers, ...extraHeaders },
          body: payload && !['GET', 'HEAD'].includes(method) ? payload.body : undefined,
          redirect: 'manual',
          signal: AbortSignal.timeout(15_000),
        });
        return { what, status: response.status, body: method === 'HEAD' ? '' : await response.text() };
      } catch (error) {
        // A server may close the connection on a body it refuses to read; that is no 500, but it is noted.
        return { what, status: 'network error', body: String((error as Error).cause ?? error) };
      }
    }

    async function routes(): Promise<{ admin: string[]; oidc: string[]; pages: string[] }> {
      const services = server.server.services;
      const admin = routerPaths(
        createAdminRouter(services).stack,
        (name) => (({ client_id: clientId, id: userId, identifier: encodeURIComponent('https://api.example.com'), kid: 'nope' }) as Record<string, string>)[name] ?? 'xyz',
      );
      admin.push('/admin/api/users/%00', '/admin/api/applications/a%00b', `/admin/api/resource-servers/${encodeURIComponent('https://api.example.com/\u0000')}`, '/admin/api/keys/%00/retire');
      admin.push('/admin/api', '/admin/api/nope', '/admin/api/users/not-a-user', '/admin/api/applications/nope', `/admin/api/users/${'9'.repeat(300)}`);

      const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      const oidc = new Set<string>([
        '/.well-known/openid-configuration',
        '/auth',
        '/token',
        '/me',
        '/token/introspection',
        '/token/revocation',
        '/session/end',
        '/session/end/confirm',
        '/session/end/success',
        '/jwks',
        '/reg',
        '/auth/xyz',
        '/auth/a%00b',
        '/health',
        '/assets/style.css',
        '/',
        '/nope',
        '/favicon.ico',
      ]);
      for (const value of Object.values(discovery)) {
        if (typeof value === 'string' && value.startsWith(server.url)) oidc.add(new URL(value).pathname);
      }

      const pages = new Set(['/interaction/xyz', '/interaction/xyz/register', '/interaction/xyz/forgot-password', '/interaction/xyz/forgot-username', '/activate/xyz', '/reset-password/xyz']);
      for (const path of routerPaths(createFlowRouter(services).stack, () => 'xyz')) pages.add(path);
      for (const path of routerPaths(createFlowRouter(services).stack, () => 'a%00b')) pages.add(path);
      if (interaction) for (const path of [...pages]) if (path.startsWith('/interaction/xyz')) pages.add(path.replace('/interaction/xyz', `/interaction/${interaction.uid}`));
      return { admin, oidc: [...oidc], pages: [...pages] };
    }

    test('no route answers a 5xx or leaks a stack trace', { timeout: 120_000 }, async (t) => {
      const { admin, oidc, pages } = await routes();
      assert.ok(admin.length >= 15, `admin routes found: ${admin.length}`);
      assert.ok(oidc.includes('/token') && oidc.includes('/jwks'), 'OIDC endpoints from discovery');
      assert.ok(interaction, 'an authorization request opened an interaction');
      const adminKey = { authorization: `Bearer ${ADMIN_KEY}` };
      const clientAuth = { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` };
      const cookies = { cookie: interaction ? interaction.cookie : '_interaction=garbage' };
      const garbageCookies = { cookie: '_interaction=%E0%A4%A; _session=garbage; _session.sig=garbage; _interaction.sig=' + 'x'.repeat(4000) };

      const jobs: Array<() => Promise<Outcome>> = [];
      for (const path of [...admin, ...oidc, ...pages]) {
        const headerSets: Array<Record<string, string>> = [{}];
        if (path.startsWith('/admin/api')) headerSets.push(adminKey, { authorization: 'Bearer \u00e9\u00ff garbage ' });
        else if (path.startsWith('/token') || path === '/me') headerSets.push(clientAuth, { authorization: 'Bearer garbage' }, { authorization: 'Basic %%%' });
        else headerSets.push(cookies, garbageCookies);
        for (const [i, headers] of headerSets.entries()) {
          const full = i === 0; // the whole matrix without credentials; the main cases with them
          for (const method of ALL_METHODS) jobs.push(() => send(method, path, null, headers));
          if (full) for (const query of QUERIES) jobs.push(() => send('GET', `${path}${query}`, null, headers));
          for (const method of full ? BODY_METHODS : ['POST']) {
            const payloads = method === 'POST' ? PAYLOADS : PAYLOADS.slice(0, 6);
            for (const payload of payloads) {
              if (payload.huge && (method !== 'POST' || !full)) continue;
              jobs.push(() => send(method, path, payload, headers));
            }
          }
        }
      }
      const started = Date.now();
      const outcomes = await runAll(jobs);
      const failures: string[] = [];
      let networkErrors = 0;
      for (const outcome of outcomes) {
        if (outcome.status === 'network error') {
          networkErrors++;
          if (!/huge/.test(outcome.what)) failures.push(`${outcome.what}: ${outcome.body}`);
          continue;
        }
        if (outcome.status >= 500) failures.push(`${outcome.what}: ${outcome.status} ${outcome.body.slice(0, 200)}`);
        const leak = leaks(outcome.body);
        if (leak) failures.push(`${outcome.what}: ${outcome.status} leaks ${leak}: ${outcome.body.slice(0, 300)}`);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${outcomes.length} requests misbehaved:\n${failures.slice(0, 40).join('\n')}`);
      assert.ok(outcomes.length > 2000, `requests sent: ${outcomes.length}`);
      assert.ok(networkErrors < outcomes.length / 100, `few connections dropped (${networkErrors})`);
      const statuses: Record<string, number> = {};
      for (const outcome of outcomes) statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
      t.diagnostic(`sent ${outcomes.length} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(statuses)}`);

      // The server is still whole: healthy, and the admin API and the token endpoint still work
      // (the garbage may have deleted or changed the application and the user: DELETE was sent too).
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const fresh = await server.admin('POST', '/applications', { name: 'After', redirect_uris: [CALLBACK], grant_types: ['client_credentials'] });
      assert.equal(fresh.status, 201);
      const token = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${fresh.body.client_id}:${fresh.body.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      assert.equal(token.status, 200);
    });

    test('hosted forms submitted with their valid CSRF token and garbage values', { timeout: 60_000 }, async () => {
      const values = ['\u0000', 'a\u0000b@example.com', 'x'.repeat(20_000), '\uFFFF\uD800 \u202E', '<script>alert(1)</script>', '', ' ', 'garbage@example.com', '+1555\u0000', '../../etc/passwd'];
      const failures: string[] = [];
      let forms = 0;
      // An application of its own: the matrix above may have deleted the shared one.
      const app = await server.admin('POST', '/applications', { name: 'Forms', redirect_uris: [CALLBACK] });
      assert.equal(app.status, 201);
      for (const step of ['', '/register', '/forgot-password', '/forgot-username']) {
        for (const value of values) {
          const browser = new Browser(server.url);
          const auth = await browser.get(`/auth?client_id=${app.body.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}&state=s`);
          const uid = /\/interaction\/([^/?#]+)/.exec(auth.url)?.[1];
          if (!uid) {
            failures.push(`no interaction: ${auth.status} ${auth.url}`);
            continue;
          }
          const page = step ? await browser.get(`/interaction/${uid}${step}`) : auth;
          if (page.status >= 500 || leaks(page.html)) failures.push(`GET ${step || 'identify'}: ${page.status}`);
          for (const [i, form] of page.doc.querySelectorAll('form').entries()) {
            const { fields } = browser.form(page, `form:nth-of-type(${i + 1})`);
            const garbage: Record<string, string> = {};
            for (const [name, original] of Object.entries(fields)) garbage[name] = /csrf|token|state/i.test(name) && original ? original : value;
            for (const name of ['identifier', 'email', 'password', 'given_name', 'family_name', 'username', 'code']) {
              if (form.querySelector(`[name="${name}"]`)) garbage[name] = value;
            }
            forms++;
            const answer = await browser.submit(page, garbage, `form:nth-of-type(${i + 1})`);
            const leak = leaks(answer.html);
            if (answer.status >= 500 || leak) failures.push(`${step || 'identify'} form ${i} with ${JSON.stringify(value.slice(0, 20))}: ${answer.status} ${leak ?? ''} ${answer.html.slice(0, 200)}`);
          }
        }
      }
      assert.deepEqual(failures, []);
      assert.ok(forms >= 20, `forms submitted: ${forms}`);
    });

    test('the admin API refuses garbage with the right 4xx', async () => {
      const key = { authorization: `Bearer ${ADMIN_KEY}` };
      const expectations: Array<[string, string, Payload, number]> = [
        ['POST', '/admin/api/users', PAYLOADS.find((p) => p.name === 'random bytes, no type')!, 415],
        ['POST', '/admin/api/users', PAYLOADS.find((p) => p.name === 'random bytes as JSON')!, 400],
        ['POST', '/admin/api/applications', PAYLOADS.find((p) => p.name === 'huge JSON')!, 413],
        ['PATCH', `/admin/api/users/${userId}`, PAYLOADS.find((p) => p.name === 'deeply nested JSON')!, 400],
        ['POST', '/admin/api/users', PAYLOADS.find((p) => p.name === 'deeply nested JSON object')!, 400],
        ['POST', '/admin/api/resource-servers', PAYLOADS.find((p) => p.name === 'gzip that is not gzip')!, 400],
        ['POST', '/admin/api/users', PAYLOADS.find((p) => p.name === 'JSON string')!, 400],
        ['POST', '/admin/api/applications', PAYLOADS.find((p) => p.name === 'broken form')!, 415],
      ];
      for (const [method, path, payload, status] of expectations) {
        const outcome = await send(method, path, payload, key);
        assert.equal(outcome.status, status, `${outcome.what}: ${outcome.body}`);
        const body = JSON.parse(outcome.body) as { error: string; message: string };
        assert.equal(typeof body.error, 'string');
        assert.match(body.message, /^(body|content-type|content-encoding|[\w.[\]]+): /, `${outcome.what}: the message names what is wrong`);
      }
    });
  });
}
