// No form of a path reaches a handler without its guard: every admin API route, GET /metrics and
// every hosted-page form, asked for with the prefix in another case, percent-encoded letters, doubled
// or trailing slashes, dot segments and every method, answers 401 without the key (403 without the
// anti-CSRF token), exactly as its plain form does. With the key, the odd forms reach the same route.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createAdminRouter } from '../src/admin/router.ts';
import { createFlowRouter } from '../src/flows/router.ts';
import { databaseKinds } from './support/databases.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

interface Answer {
  status: number;
  body: string;
}

/** Sends the path exactly as written (fetch would resolve dot segments and escapes first). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: { connection: 'close', ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Ways of writing the same path: case, escapes of unreserved characters, slashes, dot segments. */
function variants(path: string): string[] {
  const [, first = '', second = '', ...rest] = path.split('/');
  const tail = rest.length ? `/${rest.join('/')}` : '';
  const escapeFirstLetter = (segment: string) => `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`;
  return [
    path,
    `/${first.toUpperCase()}/${second.toUpperCase()}${tail}`,
    `/${first[0]!.toUpperCase()}${first.slice(1)}/${second}${tail}`,
    path.toUpperCase(),
    `/${first}/${escapeFirstLetter(second)}${tail}`,
    `/${escapeFirstLetter(first).toUpperCase()}/${second}${tail}`,
    `/${first}/%${second.charCodeAt(0).toString(16).toUpperCase()}${second.slice(1).toUpperCase()}${tail}`,
    `/${path}`,
    `/${first}//${second}${tail}`,
    path.replace(/\/([^/]*)$/, '//$1'),
    `${path}/`,
    `/${first}/./${second}${tail}`,
    `/nothing/../${first}/${second}${tail}`,
    `/${first}/%2e/${second}${tail}`,
    `/${first}/x/%2E%2E/${second}${tail}`,
  ];
}

function routeTable(stack: Array<{ path: string | RegExp; methods: string[] }>, fill: string): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  for (const layer of stack) {
    if (typeof layer.path !== 'string') continue;
    for (const method of layer.methods) routes.push({ method, path: layer.path.replace(/:(\w+)/g, fill) });
  }
  return routes;
}

for (const kind of databaseKinds()) {
  describe(`every path form meets its guard (${kind})`, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server?.close());

    test('every admin API route answers 401 without the key, whatever the form of its path or the method', { timeout: 120_000 }, async () => {
      const routes = routeTable(createAdminRouter(server.server.services).stack, 'x1');
      assert.ok(routes.length >= 40, `admin routes found: ${routes.length}`);
      const failures: string[] = [];
      let asked = 0;
      for (const { method, path } of routes) {
        for (const form of variants(path)) {
          for (const m of new Set([method, 'OPTIONS', 'PUT', 'TRACE'])) {
            for (const headers of [{}, { authorization: 'Bearer wrong-key' }] as Array<Record<string, string>>) {
              const answer = await rawRequest(server.url, m, form, { ...headers, 'content-type': 'application/json' }, ['POST', 'PUT', 'PATCH'].includes(m) ? '{}' : undefined);
              asked++;
              if (answer.status !== 401) failures.push(`${m} ${form}${headers.authorization ? ' (wrong key)' : ''}: ${answer.status} ${answer.body.slice(0, 80)}`);
            }
          }
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${asked} requests were not refused`);
    });

    test('the prefix itself and unknown paths under it answer 401 without the key', async () => {
      for (const path of ['/admin/api', '/ADMIN/API', '/Admin/Api/', '/admin/api/nope', '/admin/%61pi', '/admin//api/users/x/y/z', '/x/../admin/api/messages']) {
        assert.equal((await rawRequest(server.url, 'GET', path)).status, 401, path);
      }
    });

    test('with the key, the odd forms reach the same route', async () => {
      const created = await server.admin('POST', '/users', { email: 'path.forms@example.com', password: 'a long enough password' });
      assert.equal(created.status, 201);
      const auth = { authorization: `Bearer ${ADMIN_KEY}` };
      for (const form of variants('/admin/api/users')) {
        const answer = await rawRequest(server.url, 'GET', `${form.replace(/\/$/, '')}/${created.body.id}`, auth);
        assert.equal(answer.status, 200, `${form}: ${answer.body.slice(0, 120)}`);
        assert.equal(JSON.parse(answer.body).email, 'path.forms@example.com', form);
      }
      const listed = await rawRequest(server.url, 'GET', '/ADMIN/%61pi//users?email=path.forms@example.com', auth);
      assert.equal(listed.status, 200);
      assert.match(listed.body, /path\.forms@example\.com/);
    });

    test('GET /metrics answers 401 without a token, whatever the form of its path', async () => {
      for (const form of ['/metrics', '/METRICS', '/Metrics', '/%6detrics', '//metrics', '/metrics/', '/x/../metrics', '/./metrics']) {
        for (const method of ['GET', 'HEAD']) {
          const answer = await rawRequest(server.url, method, form);
          assert.equal(answer.status, 401, `${method} ${form}: ${answer.status}`);
        }
      }
      const ok = await rawRequest(server.url, 'GET', '/%6detrics', { authorization: `Bearer ${ADMIN_KEY}` });
      assert.equal(ok.status, 200);
      assert.match(ok.body, /tessera_/);
    });

    test('every hosted-page form answers 403 without its anti-CSRF token, whatever the form of its path', { timeout: 60_000 }, async () => {
      const posts = routeTable(createFlowRouter(server.server.services).stack, 'x1').filter((route) => route.method === 'POST');
      assert.ok(posts.length >= 15, `form routes found: ${posts.length}`);
      const failures: string[] = [];
      for (const { path } of posts) {
        for (const form of variants(path)) {
          const answer = await rawRequest(
            server.url,
            'POST',
            form,
            { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
            'identifier=a%40example.com&password=x&email=a%40example.com',
          );
          // An identity provider's form_post answer carries no form token: the callback is guarded by
          // its single-use state instead, and refuses a POST without one (400, nothing recorded).
          const expected = path === '/external/callback' ? 400 : 403;
          if (answer.status !== expected) failures.push(`POST ${form}: ${answer.status}`);
        }
      }
      assert.deepEqual(failures, []);
    });
  });
}
