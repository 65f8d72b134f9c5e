// The hook template library (hooks/*.js), each published through the admin API and driven end to
// end through the hosted pages, against a fake HTTP peer standing in for the real service (a legacy
// user API, a CRM, a GeoIP service, a marketing hub, a chat webhook). Each test scopes its hooks to
// an application of its own, so the templates never see each other's journeys.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { HOOK_TEMPLATES_DIR } from '../src/paths.ts';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, signIn, sleep, startLogin } from './support/hosted-pages.ts';
import { authorizationUrl as rpAuthorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn as rpSignIn } from './support/rp.ts';
import { isEnrolPage } from './support/mfa.ts';
import { advanceClock } from './support/clock.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { hookJobsDone, hookRetryScheduled, mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

// ---- a fake HTTP peer --------------------------------------------------------------------------

interface PeerRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}

interface PeerAnswer {
  status: number;
  body?: unknown;
}

interface Peer {
  url: string;
  /** "127.0.0.1:port", for the hook's allowed_hosts. */
  host: string;
  requests: PeerRequest[];
  answer: (request: PeerRequest) => PeerAnswer | Promise<PeerAnswer>;
  /** Waits until `count` requests match; answers them. */
  waitFor(match: (r: PeerRequest) => boolean, count?: number, timeoutMs?: number): Promise<PeerRequest[]>;
  close(): Promise<void>;
}

/** A node:http server that records every request and answers as `answer` says. */
async function startPeer(answer: Peer['answer']): Promise<Peer> {
  const requests: PeerRequest[] = [];
  const peer = { requests, answer } as Peer;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      if ((req.headers['content-type'] ?? '').includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          /* kept as text */
        }
      }
      const url = new URL(req.url ?? '/', 'http://peer.invalid');
      const recorded: PeerRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      requests.push(recorded);
      let reply: PeerAnswer;
      try {
        reply = await peer.answer(recorded);
      } catch (error) {
        reply = { status: 599, body: { error: String(error) } };
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  peer.url = `http://127.0.0.1:${port}`;
  peer.host = `127.0.0.1:${port}`;
  peer.waitFor = async (match, count = 1, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = requests.filter(match);
      if (found.length >= count) return found;
      if (Date.now() > deadline) {
        throw new Error(`expected ${count} matching request(s) within ${timeoutMs} ms, got ${found.length}: ` + JSON.stringify(requests.map((r) => `${r.method} ${r.path}`)));
      }
      await sleep(25);
    }
  };
  peer.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return peer;
}

// ---- helpers -----------------------------------------------------------------------------------

async function publish(server: TestServer, template: string, options: Record<string, unknown>): Promise<string> {
  const created = await server.admin('POST', `/templates/${template}/publish`, options);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

async function executions(server: TestServer, hookId: string): Promise<any[]> {
  const answer = await server.admin('GET', `/hooks/${hookId}/executions`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

/** Polls the execution log until `count` runs are recorded (oldest first). */
async function waitForExecutions(server: TestServer, hookId: string, count: number, timeoutMs = 5000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await executions(server, hookId);
    if (runs.length >= count) return runs.reverse();
    if (Date.now() > deadline) throw new Error(`expected ${count} execution(s) of ${hookId}, got ${runs.length}: ${JSON.stringify(runs)}`);
    await sleep(100);
  }
}

async function usersByEmail(server: TestServer, email: string): Promise<any[]> {
  const answer = await server.admin('GET', `/users?email=${encodeURIComponent(email)}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

/** A whole login in a fresh browser (no session): answers the last page and the request's state. */
async function login(server: TestServer, clientId: string, identifier: string, password: string): Promise<{ page: Page; state: string; browser: Browser }> {
  const browser = new Browser(server.url);
  const { page: identify, state } = await startLogin(browser, server, clientId);
  const page = await signIn(browser, identify, identifier, password);
  return { page, state, browser };
}

/** Registration through the hosted pages: answers the page after the form. */
async function register(server: TestServer, clientId: string, values: Record<string, string>): Promise<Page> {
  const browser = new Browser(server.url);
  const { uid } = await startLogin(browser, server, clientId);
  const form = await browser.get(`/interaction/${uid}/register`);
  assert.equal(form.status, 200);
  return browser.submit(form, { password: 'a long enough password 1', given_name: 'New', family_name: 'User', ...values });
}

const mainText = (page: Page) => page.doc.querySelector('main')?.text.replace(/\s+/g, ' ').trim() ?? '';

// ---- the library itself ------------------------------------------------------------------------

test('every template has a complete header: a known event, a mode, the secrets its code reads', async () => {
  const { EVENTS } = await import('../src/hooks/catalog/events.ts');
  const { listTemplates } = await import('../src/hooks/templates.ts');
  const templates = listTemplates();
  assert.deepEqual(
    templates.map((t) => t.name),
    [
      'consents-to-marketing-hub',
      'country-gate',
      'crm-claims',
      'crm-sync-new-user',
      'deny-email-domains',
      'enrich-at-login',
      'legacy-migration-identify',
      'legacy-migration-password',
      'password-reset-alert',
      'progressive-phone',
      'reset-mail-via-http-api',
      'risk-step-up',
    ],
  );
  for (const template of templates) {
    const raw = readFileSync(join(HOOK_TEMPLATES_DIR, `${template.name}.js`), 'utf8');
    for (const tag of ['name', 'event', 'mode', 'secrets', 'purpose']) {
      assert.match(raw, new RegExp(`^// @${tag} \\S`, 'm'), `${template.name}: // @${tag}`);
    }
    const spec = EVENTS.find((e) => e.name === template.event);
    assert.ok(spec, `${template.name}: ${template.event} is an event of the catalog`);
    if (!spec.sync) assert.equal(template.mode, 'async', `${template.name}: ${spec.name} runs async only`);
    assert.ok(template.title.length > 5 && template.purpose.length > 20, `${template.name}: a title and a purpose`);
    const read = [...new Set([...template.code.matchAll(/event\.secrets\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]))].sort();
    assert.deepEqual([...template.secrets].sort(), read, `${template.name}: @secrets lists what the code reads`);
  }
});

for (const kind of databaseKinds()) {
  describe(`hook templates end to end (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    const peers: Peer[] = [];
    const peer = async (answer: Peer['answer']) => {
      const started = await startPeer(answer);
      peers.push(started);
      return started;
    };

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      for (const p of peers) await p.close();
    });

    test('publishing without the secrets the header declares answers 400 naming them, and creates no hook', async () => {
      const hooksBefore = (await server.admin('GET', '/hooks')).body.length;
      const listed = (await server.admin('GET', '/templates')).body;
      assert.deepEqual(listed.find((t: any) => t.name === 'crm-claims').required_secrets, ['CRM_URL', 'CRM_TOKEN']);
      assert.deepEqual(listed.find((t: any) => t.name === 'deny-email-domains').required_secrets, [], 'BLOCKED_DOMAINS is optional');

      const none = await server.admin('POST', '/templates/crm-claims/publish', {});
      assert.equal(none.status, 400);
      assert.equal(none.body.error, 'invalid_request');
      assert.match(none.body.message, /^secrets: crm-claims needs CRM_URL, CRM_TOKEN/);
      const one = await server.admin('POST', '/templates/crm-claims/publish', { secrets: { CRM_URL: 'https://crm.example.com', CRM_TOKEN: '' } });
      assert.equal(one.status, 400);
      assert.match(one.body.message, /^secrets: crm-claims needs CRM_TOKEN:/);
      const risk = await server.admin('POST', '/templates/risk-step-up/publish', { secrets: { GEOIP_URL: 'https://geo.example.com' } });
      assert.equal(risk.status, 400);
      assert.match(risk.body.message, /needs ALLOWED_COUNTRIES/);
      assert.equal((await server.admin('GET', '/hooks')).body.length, hooksBefore, 'no hook was created');

      // An optional secret may be left out; a template with none needs nothing.
      const optional = await server.admin('POST', '/templates/deny-email-domains/publish', { enabled: false });
      assert.equal(optional.status, 201, JSON.stringify(optional.body));
      const plain = await server.admin('POST', '/templates/progressive-phone/publish', { enabled: false });
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      for (const id of [optional.body.id, plain.body.id]) assert.equal((await server.admin('DELETE', `/hooks/${id}`)).status, 204);
    });

    test('lazy migration from a legacy user API (both templates)', async () => {
      const TOKEN = 'legacy-api-token';
      const legacyUsers = [
        { id: 1001, email: 'ann@legacy.test', username: 'ann', first_name: 'Ann', last_name: 'Legacy', password: 'legacy password A' },
        { id: 1002, email: 'bob@legacy.test', username: null, first_name: 'Bob', last_name: null, password: 'legacy password B' },
      ];
      const legacy = await peer((r) => {
        if (r.headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { error: 'unauthorized' } };
        if (r.method === 'GET' && r.path === '/users') {
          const wanted = (r.query.get('identifier') ?? '').toLowerCase();
          const found = legacyUsers.find((u) => u.email === wanted || u.username === wanted);
          if (!found) return { status: 404, body: { error: 'not found' } };
          const { password: _password, ...profile } = found;
          return { status: 200, body: profile };
        }
        if (r.method === 'POST' && r.path === '/authenticate') {
          const found = legacyUsers.find((u) => String(u.id) === r.body?.id && u.email === r.body?.email);
          return found && found.password === r.body?.password ? { status: 200, body: { ok: true } } : { status: 401, body: { ok: false } };
        }
        return { status: 404 };
      });
      const lookups = () => legacy.requests.filter((r) => r.method === 'GET' && r.path === '/users').length;
      const authentications = () => legacy.requests.filter((r) => r.method === 'POST' && r.path === '/authenticate').length;

      const clientId = await createTestApplication(server);
      const options = { secrets: { LEGACY_API_URL: legacy.url, LEGACY_API_TOKEN: TOKEN }, allowed_hosts: [legacy.host], applications: [clientId] };
      const identifyHook = await publish(server, 'legacy-migration-identify', options);
      const passwordHook = await publish(server, 'legacy-migration-password', options);
      await createTestUser(server, { email: 'carl@example.com', password: 'carls own password' });

      // First login: the user is created from the legacy store and the login completes.
      assert.deepEqual(await usersByEmail(server, 'ann@legacy.test'), []);
      const first = await login(server, clientId, 'ann@legacy.test', 'legacy password A');
      assertCodeRedirect(first.page, first.state);
      assert.equal(lookups(), 1, 'one lookup in the legacy store');
      assert.equal(authentications(), 1, 'one password check in the legacy store');
      const lookup = legacy.requests.find((r) => r.path === '/users')!;
      assert.equal(lookup.query.get('identifier'), 'ann@legacy.test');
      const check = legacy.requests.find((r) => r.path === '/authenticate')!;
      assert.deepEqual(check.body, { id: '1001', email: 'ann@legacy.test', password: 'legacy password A' });

      const [ann] = await usersByEmail(server, 'ann@legacy.test');
      assert.ok(ann, 'the user now exists in Tessera');
      assert.equal(ann.username, 'ann');
      assert.equal(ann.given_name, 'Ann');
      assert.equal(ann.family_name, 'Legacy');
      assert.equal(ann.status, 'active');
      assert.equal(ann.attributes.legacy_id, '1001');
      const stored = await server.server.services.users.findByEmail('ann@legacy.test');
      assert.equal(stored?.source, 'migration');
      assert.equal(stored?.has_password, true, 'the password was kept');
      assert.ok(await server.server.services.users.verifyPassword(stored, 'legacy password A'));

      const identifyRuns = await executions(server, identifyHook);
      assert.equal(identifyRuns.length, 1);
      assert.equal(identifyRuns[0].outcome, 'success');
      assert.equal(identifyRuns[0].actions[0].type, 'migration.createUser');
      const passwordRuns = await executions(server, passwordHook);
      assert.deepEqual(
        passwordRuns.map((r) => [r.outcome, r.actions]),
        [['success', [{ type: 'password.accept' }]]],
      );
      assert.ok(!JSON.stringify(passwordRuns).includes('legacy password A'), 'the password is not in the execution log');

      // Second login (also by username): local, the legacy store is not asked again.
      const second = await login(server, clientId, 'ann@legacy.test', 'legacy password A');
      assertCodeRedirect(second.page, second.state);
      const byName = await login(server, clientId, 'ann', 'legacy password A');
      assertCodeRedirect(byName.page, byName.state);
      assert.equal(lookups(), 1);
      assert.equal(authentications(), 1);

      // A wrong password is refused (locally now); the right one still works afterwards.
      const wrong = await login(server, clientId, 'ann@legacy.test', 'not the password');
      assert.equal(wrong.page.redirectedTo, null);
      assert.equal(wrong.page.status, 400);
      const wrongAlert = alertText(wrong.page);
      assert.match(wrongAlert ?? '', /not correct/i);
      const right = await login(server, clientId, 'ann@legacy.test', 'legacy password A');
      assertCodeRedirect(right.page, right.state);
      assert.equal(lookups(), 1);
      assert.equal(authentications(), 1);

      // A wrong password on the very first login: the legacy store refuses, nothing is kept, and
      // the right password still migrates the user afterwards.
      const bobWrong = await login(server, clientId, 'bob@legacy.test', 'guessing');
      assert.equal(bobWrong.page.redirectedTo, null);
      assert.equal(bobWrong.page.status, 400);
      assert.equal(alertText(bobWrong.page), wrongAlert);
      assert.equal(authentications(), 2);
      const bobBefore = await server.server.services.users.findByEmail('bob@legacy.test');
      assert.equal(bobBefore?.has_password, false, 'a refused password is not kept');
      const bobRight = await login(server, clientId, 'bob@legacy.test', 'legacy password B');
      assertCodeRedirect(bobRight.page, bobRight.state);
      assert.equal(authentications(), 3);
      assert.equal((await server.server.services.users.findByEmail('bob@legacy.test'))?.has_password, true);
      assert.equal(lookups(), 2, 'bob was looked up once');

      // The legacy store is down: that is no wrong password. The run fails (on_error "fail"), the
      // user sees the generic error, nothing is kept, and the login works once the store is back.
      legacyUsers.push({ id: 1003, email: 'cyd@legacy.test', username: null, first_name: 'Cyd', last_name: null, password: 'legacy password C' });
      const answer = legacy.answer;
      legacy.answer = (r) => (r.path === '/authenticate' ? { status: 503, body: { error: 'maintenance' } } : answer(r));
      const outage = await login(server, clientId, 'cyd@legacy.test', 'legacy password C');
      assert.equal(outage.page.redirectedTo, null);
      assert.notEqual(alertText(outage.page), wrongAlert);
      assert.match(alertText(outage.page) ?? '', /could not complete this step/i);
      assert.equal((await server.server.services.users.findByEmail('cyd@legacy.test'))?.has_password, false);
      const failedRun = (await executions(server, passwordHook))[0];
      assert.equal(failedRun.outcome, 'error');
      assert.match(failedRun.error, /503/);
      legacy.answer = answer;
      const cyd = await login(server, clientId, 'cyd@legacy.test', 'legacy password C');
      assertCodeRedirect(cyd.page, cyd.state);

      // An identifier unknown to both fails exactly like a wrong password for an existing user.
      const lookupsSoFar = lookups();
      const unknown = await login(server, clientId, 'ghost@legacy.test', 'whatever password');
      assert.equal(lookups(), lookupsSoFar + 1, 'the legacy store was asked');
      assert.deepEqual(await usersByEmail(server, 'ghost@legacy.test'), [], 'nobody was created');
      const local = await login(server, clientId, 'carl@example.com', 'whatever password');
      for (const page of [unknown.page, local.page]) {
        assert.equal(page.redirectedTo, null);
        assert.equal(page.status, wrong.page.status);
        assert.equal(alertText(page), wrongAlert);
      }
      const anonymised = (page: Page) => mainText(page).replace(/ghost@legacy\.test|carl@example\.com/g, 'ID');
      assert.equal(anonymised(unknown.page), anonymised(local.page));
    });

    test('crm-claims: the CRM tier is in the ID token (code and refresh) and the JWT access token', async () => {
      const crm = await peer((r) => {
        if (r.headers.authorization !== 'Bearer crm-token') return { status: 401 };
        if (r.path !== '/customers') return { status: 404 };
        return r.query.get('email') === 'dora@example.com' ? { status: 200, body: { tier: 'gold', segment: 'vip' } } : { status: 404 };
      });
      const app = await server.admin('POST', '/applications', {
        name: 'Shop',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const hookId = await publish(server, 'crm-claims', {
        secrets: { CRM_URL: crm.url, CRM_TOKEN: 'crm-token' },
        allowed_hosts: [crm.host],
        applications: [app.body.client_id],
      });
      await createTestUser(server, { email: 'dora@example.com', password: 'doras password 1' });
      await createTestUser(server, { email: 'eve@example.com', password: 'eves password 1' });

      const browser = new Browser(server.url);
      const start = await rpAuthorizationUrl(rp, { scope: 'openid email profile offline_access', prompt: 'consent' });
      const done = await rpSignIn(browser, start, 'dora@example.com', 'doras password 1');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${done.status} ${alertText(done)}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      const claims = tokens.claims()!;
      assert.equal(claims.tier, 'gold');
      assert.equal(claims.segment, 'vip');
      const crmCall = crm.requests.at(-1)!;
      assert.equal(crmCall.query.get('email'), 'dora@example.com');

      assert.ok(tokens.refresh_token);
      const calls = crm.requests.length;
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token);
      assert.equal(refreshed.claims()?.tier, 'gold', 'the claim is added on refresh too');
      assert.equal(crm.requests.length, calls + 1, 'one CRM call per token request');

      // The access token as a resource server sees it.
      const api = 'https://api.shop.test';
      const rs = await server.admin('POST', '/resource-servers', { identifier: api, name: 'Shop API', scopes: ['orders:read'] });
      assert.equal(rs.status, 201, JSON.stringify(rs.body));
      // An application gets tokens only for the resource servers it is allowed.
      const granted = await server.admin('PATCH', `/applications/${app.body.client_id}`, { resource_servers: [{ identifier: api, scopes_allowed: ['orders:read'] }] });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      const withApi = await rpAuthorizationUrl(rp, { scope: 'openid orders:read', resource: api });
      const apiDone = await rpSignIn(new Browser(server.url), withApi, 'dora@example.com', 'doras password 1');
      assert.ok(apiDone.redirectedTo?.startsWith(CALLBACK));
      const apiTokens = await exchangeCode(rp, withApi, apiDone.redirectedTo!);
      const { payload } = await jwtVerify(apiTokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: api });
      assert.equal(payload.tier, 'gold');
      assert.equal(payload.segment, undefined, 'segment is an ID token claim only');

      // No CRM record: the token is issued without the claims.
      const eveStart = await rpAuthorizationUrl(rp);
      const eveDone = await rpSignIn(new Browser(server.url), eveStart, 'eve@example.com', 'eves password 1');
      const eveTokens = await exchangeCode(rp, eveStart, eveDone.redirectedTo!);
      assert.equal(eveTokens.claims()?.tier, undefined);
      assert.ok((await executions(server, hookId)).every((run) => run.outcome === 'success'));
    });

    test('enrich-at-login: the brand endpoint answer is in the tokens and the profile; refreshes reuse it; on_error decides a failure', async () => {
      let failing = false;
      const brand = await peer((r) => {
        if (r.method !== 'POST' || r.headers.authorization !== 'Bearer enrich-token') return { status: 401 };
        if (failing) return { status: 503 };
        const body = r.body;
        return { status: 200, body: { claims: { tier: body.user.email === 'gil@example.com' ? 'platinum' : 'basic', app: body.application.client_id }, profile: { crm_id: 'crm-42' } } };
      });
      const app = await server.admin('POST', '/applications', { name: 'Enriched', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const hookId = await publish(server, 'enrich-at-login', {
        secrets: { ENRICH_URL: `${brand.url}/enrich`, ENRICH_TOKEN: 'enrich-token' },
        allowed_hosts: [brand.host],
        applications: [app.body.client_id],
      });
      const userId = await createTestUser(server, { email: 'gil@example.com', password: 'gils password 1' });

      const start = await rpAuthorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await rpSignIn(new Browser(server.url), start, 'gil@example.com', 'gils password 1');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), alertText(done) ?? '');
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.equal(tokens.claims()!.tier, 'platinum');
      assert.equal(tokens.claims()!.app, app.body.client_id, 'the endpoint was told the application');
      const stored = (await server.admin('GET', `/users/${userId}`)).body.metadata.enrich;
      assert.deepEqual([stored.claims, stored.profile], [{ tier: 'platinum', app: app.body.client_id }, { crm_id: 'crm-42' }]);

      // A refresh reuses the stored answer: the claim again, no new call (even with the endpoint down).
      const calls = brand.requests.length;
      failing = true;
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
      assert.equal(refreshed.claims()?.tier, 'platinum');
      assert.equal(brand.requests.length, calls);

      // The endpoint down at a sign-in: "fail" (the default) refuses, "continue" issues tokens without the claims.
      assert.equal((await server.admin('GET', `/hooks/${hookId}`)).body.on_error, 'fail');
      const refused = await rpAuthorizationUrl(rp);
      const refusedDone = await rpSignIn(new Browser(server.url), refused, 'gil@example.com', 'gils password 1');
      await assert.rejects(exchangeCode(rp, refused, refusedDone.redirectedTo!), (error: { error?: string }) => error.error === 'access_denied');
      assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { on_error: 'continue' })).status, 200);
      const again = await rpAuthorizationUrl(rp);
      const continued = await exchangeCode(rp, again, (await rpSignIn(new Browser(server.url), again, 'gil@example.com', 'gils password 1')).redirectedTo!);
      assert.equal(continued.claims()?.tier, undefined);
    });

    test('crm-sync-new-user: the CRM receives the new contact, keyed by the event id, retried after a 500', async () => {
      const seen = new Map<string, number>();
      const crm = await peer((r) => {
        if (r.method !== 'POST' || r.path !== '/contacts' || r.headers.authorization !== 'Bearer crm-token') return { status: 400 };
        const key = String(r.headers['idempotency-key']);
        seen.set(key, (seen.get(key) ?? 0) + 1);
        return seen.get(key) === 1 ? { status: 500, body: { error: 'database unavailable' } } : { status: 201, body: { id: 'c_1' } };
      });
      const clientId = await createTestApplication(server);
      const hookId = await publish(server, 'crm-sync-new-user', {
        secrets: { CRM_URL: crm.url, CRM_TOKEN: 'crm-token' },
        allowed_hosts: [crm.host],
        applications: [clientId],
      });
      assert.equal((await server.admin('GET', `/hooks/${hookId}`)).body.mode, 'async');

      const page = await register(server, clientId, { email: 'Fay@Example.com', given_name: 'Fay', family_name: 'Sync' });
      assert.equal(page.status, 200, alertText(page) ?? '');
      assert.match(page.doc.querySelector('h1')?.text ?? '', /check your email/i);
      const [user] = await usersByEmail(server, 'fay@example.com');
      assert.ok(user);

      const [firstTry] = await crm.waitFor((r) => r.path === '/contacts');
      assert.deepEqual(firstTry!.body, { external_id: user.id, email: 'fay@example.com', first_name: 'Fay', last_name: 'Sync' });
      const key = String(firstTry!.headers['idempotency-key']);
      assert.match(key, /^evt_/);

      // The CRM answered 500: the run is retried (after 5 s, on the clock) with the same event, hence the same key.
      await hookRetryScheduled(server, hookId);
      advanceClock(5_000);
      const tries = await crm.waitFor((r) => r.path === '/contacts', 2, 12_000);
      assert.equal(tries[1]!.headers['idempotency-key'], key);
      assert.deepEqual(tries[1]!.body, firstTry!.body);
      const runs = await waitForExecutions(server, hookId, 2);
      assert.deepEqual(
        runs.map((r) => [r.mode, r.outcome]),
        [
          ['async', 'error'],
          ['async', 'success'],
        ],
      );
      assert.match(runs[0].error, /CRM answered 500/);
      assert.ok(
        runs.every((r) => r.event_id === key),
        'the idempotency key is the event id',
      );
      await hookJobsDone(server, hookId);
      assert.equal(crm.requests.length, 2, 'no further attempt after the success');
    });

    test('deny-email-domains: a disposable or listed domain is refused with the message, and no user is created', async () => {
      const clientId = await createTestApplication(server);
      const hookId = await publish(server, 'deny-email-domains', { secrets: { BLOCKED_DOMAINS: 'Competitor.test, other.test' }, applications: [clientId] });

      const disposable = await register(server, clientId, { email: 'temp@mailinator.com' });
      assert.equal(disposable.status, 403);
      assert.equal(alertText(disposable), 'Please sign up with a permanent email address.');
      assert.equal(disposable.doc.querySelector('input[name="email"]')?.getAttribute('value'), 'temp@mailinator.com', 'the form is refilled');
      assert.deepEqual(await usersByEmail(server, 'temp@mailinator.com'), []);

      const listed = await register(server, clientId, { email: 'spy@competitor.test' });
      assert.equal(listed.status, 403);
      assert.equal(alertText(listed), 'Sign-ups from this email domain are not allowed.');
      assert.deepEqual(await usersByEmail(server, 'spy@competitor.test'), []);

      const fine = await register(server, clientId, { email: 'gil@example.org' });
      assert.equal(fine.status, 200, alertText(fine) ?? '');
      assert.equal((await usersByEmail(server, 'gil@example.org')).length, 1);
      const runs = await executions(server, hookId);
      assert.equal(runs.length, 3);
      assert.equal(runs.filter((r) => r.actions.some((a: any) => a.type === 'deny')).length, 2);
    });

    test('risk-step-up: outside the allowed countries the user must pass MFA, inside not; a failed lookup fails closed', async () => {
      let country: string | null = 'FR';
      const geo = await peer((r) => (r.path.startsWith('/ip/') && country ? { status: 200, body: { country } } : { status: 503 }));
      const clientId = await createTestApplication(server); // MFA policy "optional": no factor, no MFA
      const hookId = await publish(server, 'risk-step-up', {
        secrets: { GEOIP_URL: geo.url, ALLOWED_COUNTRIES: 'US, ca' },
        allowed_hosts: [geo.host],
        applications: [clientId],
      });
      for (const name of ['hal', 'ida', 'jay']) await createTestUser(server, { email: `${name}@example.com`, password: `${name}s password 1` });

      // From abroad: the step-up sends Hal, who has no factor yet, on to MFA enrolment (the MFA
      // flow itself is tested in mfa-*.test.ts).
      const abroad = await login(server, clientId, 'hal@example.com', 'hals password 1');
      assert.match(geo.requests.at(-1)!.path, /^\/ip\/.*127\.0\.0\.1$/, 'the request IP was looked up');
      assert.equal(abroad.page.redirectedTo, null, 'no code without the second factor');
      assert.equal(abroad.page.status, 200);
      assert.ok(isEnrolPage(abroad.page), `expected MFA enrolment, got ${abroad.page.url}: ${alertText(abroad.page)}`);

      // From an allowed country (compared without regard to case): no MFA for Ida.
      country = 'ca';
      const home = await login(server, clientId, 'ida@example.com', 'idas password 1');
      assertCodeRedirect(home.page, home.state);

      // The lookup fails: fail closed, Jay is asked for a second factor too.
      country = null;
      const unknown = await login(server, clientId, 'jay@example.com', 'jays password 1');
      assert.equal(unknown.page.redirectedTo, null);
      assert.ok(isEnrolPage(unknown.page), `expected MFA enrolment, got ${unknown.page.url}`);

      const runs = (await executions(server, hookId)).reverse();
      assert.equal(runs.length, 3);
      assert.ok(runs.every((r) => r.outcome === 'success' && r.event === 'after_identification'));
      assert.deepEqual(
        runs.map((r) => r.actions),
        [[{ type: 'mfa.require' }], [], [{ type: 'mfa.require' }]],
      );
      // The console line logged just before the run ends is kept (it travels apart from the result).
      assert.deepEqual(
        runs.map((r) => r.logs),
        [['[log] step-up: country FR'], [], ['[log] step-up: country unknown']],
      );

      // The dry run shows the same decision.
      country = 'DE';
      const dry = await server.admin('POST', `/hooks/${hookId}/test`, { event: { request: { ip: '198.51.100.4', user_agent: null, locale: null } } });
      assert.equal(dry.status, 200, JSON.stringify(dry.body));
      assert.deepEqual(dry.body.actions, [{ type: 'mfa.require' }]);
      assert.equal(geo.requests.at(-1)!.path, '/ip/198.51.100.4');
    });

    test('consents-to-marketing-hub: a consent given on the profiling page reaches the hub', async () => {
      const hub = await peer((r) => (r.method === 'PUT' && r.headers.authorization === 'Bearer hub-token' ? { status: 204 } : { status: 400 }));
      const clientId = await createTestApplication(server);
      const hubHook = await publish(server, 'consents-to-marketing-hub', {
        secrets: { HUB_URL: hub.url, HUB_TOKEN: 'hub-token' },
        allowed_hosts: [hub.host],
        applications: [clientId],
      });
      const ask = await server.admin('POST', '/hooks', {
        name: 'Ask for marketing consent',
        event: 'before_progressive_profiling',
        mode: 'sync',
        applications: [clientId],
        code: `export default async function (event, api) {
          if (event.flow === 'login') api.form.requireConsents([{ key: 'marketing', label: 'Send me offers by email' }]);
        }`,
      });
      assert.equal(ask.status, 201, JSON.stringify(ask.body));
      const userId = await createTestUser(server, { email: 'ivy@example.com', password: 'ivys password 1' });

      // First login: the consent is given.
      const first = await login(server, clientId, 'ivy@example.com', 'ivys password 1');
      assert.equal(first.page.status, 200);
      assert.match(first.page.url, /\/profile$/);
      const box = first.page.doc.querySelector('input[name="consent:marketing"]');
      assert.ok(box, 'the consent checkbox is shown');
      assert.equal(box.hasAttribute('checked'), false);
      const given = await first.browser.submit(first.page, { 'consent:marketing': 'yes' });
      assertCodeRedirect(given, first.state);

      const [put] = await hub.waitFor((r) => r.method === 'PUT');
      assert.equal(put!.path, `/subscribers/${userId}/consents`);
      assert.deepEqual(put!.body, { email: 'ivy@example.com', consents: { marketing: true }, changed: ['marketing'] });
      assert.match(String(put!.headers['idempotency-key']), /^evt_/);

      // Second login: the box comes checked; unchecking it is a change the hub hears about too.
      const second = await login(server, clientId, 'ivy@example.com', 'ivys password 1');
      const form = second.browser.form(second.page);
      assert.equal(form.fields['consent:marketing'], 'yes', 'the granted consent is shown checked');
      const { 'consent:marketing': _withdrawn, ...rest } = form.fields;
      assertCodeRedirect(await second.browser.post(form.action, rest), second.state);
      const puts = await hub.waitFor((r) => r.method === 'PUT', 2);
      assert.deepEqual(puts[1]!.body, { email: 'ivy@example.com', consents: { marketing: false }, changed: ['marketing'] });
      assert.notEqual(puts[1]!.headers['idempotency-key'], put!.headers['idempotency-key']);

      const runs = await waitForExecutions(server, hubHook, 2);
      assert.deepEqual(
        runs.map((r) => [r.mode, r.outcome]),
        [
          ['async', 'success'],
          ['async', 'success'],
        ],
      );
    });

    test('password-reset-alert: the chat webhook hears about a password reset, naming the user', async () => {
      const chat = await peer(() => ({ status: 200, body: { ok: true } }));
      const clientId = await createTestApplication(server);
      const hookId = await publish(server, 'password-reset-alert', {
        secrets: { CHAT_WEBHOOK_URL: `${chat.url}/hooks/T000/B000` },
        allowed_hosts: [chat.host],
        applications: [clientId],
      });
      await createTestUser(server, { email: 'jon@example.com', password: 'jons old password' });

      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const forgot = await browser.get(`/interaction/${uid}/forgot-password`);
      await browser.submit(forgot, { identifier: 'jon@example.com' });
      const link = linkIn(await smtp.waitFor('jon@example.com', /reset/i), `${server.url}/reset-password/`);
      const form = await browser.get(link);
      const done = await browser.submit(form, { password: 'jons new password 2' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      assert.match(mainText(done), /password has been changed/i);

      const [message] = await chat.waitFor((r) => r.method === 'POST');
      assert.equal(message!.path, '/hooks/T000/B000');
      assert.match(message!.body.text, /^Password reset for jon@example\.com from .*127\.0\.0\.1/);
      assert.ok(!JSON.stringify(message!.body).includes('jons new password'), 'the password is not sent');
      const runs = await waitForExecutions(server, hookId, 1);
      assert.deepEqual(
        runs.map((r) => [r.event, r.mode, r.outcome]),
        [['after_password_reset', 'async', 'success']],
      );

      const after = await login(server, clientId, 'jon@example.com', 'jons new password 2');
      assertCodeRedirect(after.page, after.state);
      await hookJobsDone(server, hookId); // an async run the login queued would have called by now
      assert.equal(chat.requests.length, 1, 'a login is no reset');
    });

    test('reset-mail-via-http-api (before_message_send): the brand API sends the reset mail, no mail reaches SMTP, the link works', async () => {
      let apiAnswers = 202;
      const mailApi = await peer(() => ({ status: apiAnswers, body: { id: 'm_1' } }));
      const clientId = await createTestApplication(server);
      // The header's secrets are required to publish it.
      const refused = await server.admin('POST', '/templates/reset-mail-via-http-api/publish', { secrets: { MAIL_API_URL: `${mailApi.url}/v1/send` } });
      assert.equal(refused.status, 400);
      assert.match(refused.body.message, /^secrets: .* needs MAIL_API_KEY/);
      const hookId = await publish(server, 'reset-mail-via-http-api', {
        secrets: { MAIL_API_URL: `${mailApi.url}/v1/send`, MAIL_API_KEY: 'mail-api-key-1' },
        allowed_hosts: [mailApi.host],
        applications: [clientId],
      });
      await createTestUser(server, { email: 'mo@example.com', password: 'mos old password' });

      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const sent = await browser.submit(await browser.get(`/interaction/${uid}/forgot-password`), { identifier: 'mo@example.com' });
      assert.match(mainText(sent), /check your email/i, 'the page is the same whoever sends the mail');

      const [call] = await mailApi.waitFor((r) => r.method === 'POST');
      assert.equal(call!.path, '/v1/send');
      assert.equal(call!.headers.authorization, 'Bearer mail-api-key-1');
      assert.equal(call!.body.to, 'mo@example.com');
      assert.equal(call!.body.template, 'password-reset');
      assert.ok(call!.body.link.startsWith(`${server.url}/reset-password/`), call!.body.link);
      assert.ok(Date.parse(call!.body.expires_at) > Date.now());
      await mailsSent(server);
      assert.equal(smtp.mails.filter((m) => m.to.includes('mo@example.com')).length, 0, 'no mail reached the SMTP receiver');
      const queue = (await server.admin('GET', '/message-queue?to=mo@example.com')).body;
      assert.deepEqual(
        queue.map((m: any) => [m.type, m.status]),
        [['password_reset', 'suppressed']],
      );
      const runs = await waitForExecutions(server, hookId, 1);
      assert.deepEqual(runs[0].actions, [{ type: 'message.suppress' }]);

      // The link the brand mailed works.
      const form = await browser.get(call!.body.link);
      const done = await browser.submit(form, { password: 'mos new password 2' });
      assert.match(mainText(done), /password has been changed/i, alertText(done) ?? '');

      // When the brand's API does not take it, Tessera sends its own mail: no reset is lost.
      apiAnswers = 503;
      const again = await startLogin(browser, server, clientId);
      await browser.submit(await browser.get(`/interaction/${again.uid}/forgot-password`), { identifier: 'mo@example.com' });
      const fallback = await smtp.waitFor('mo@example.com', /reset/i);
      assert.ok(linkIn(fallback, `${server.url}/reset-password/`));
      assert.equal(mailApi.requests.length, 2);
    });

    test('progressive-phone: the third login asks for a phone number and saves it; earlier logins do not', async () => {
      const clientId = await createTestApplication(server);
      const hookId = await publish(server, 'progressive-phone', { applications: [clientId] });
      const userId = await createTestUser(server, { email: 'kim@example.com', password: 'kims password 1' });

      for (const n of [1, 2]) {
        const { page, state } = await login(server, clientId, 'kim@example.com', 'kims password 1');
        assert.equal(page.doc.querySelector('input[name="phone_number"]'), null, `login ${n} asks nothing`);
        assertCodeRedirect(page, state);
      }
      const third = await login(server, clientId, 'kim@example.com', 'kims password 1');
      assert.equal(third.page.status, 200);
      const phone = third.page.doc.querySelector('input[name="phone_number"]');
      assert.ok(phone, `login 3 asks for the phone number, got ${third.page.url}`);
      assert.equal(phone.getAttribute('type'), 'tel');
      assert.equal(phone.hasAttribute('required'), false, 'optional');
      assert.ok(third.page.doc.querySelector(`label[for="${phone.getAttribute('id')}"]`)?.text.includes('Mobile phone number'));

      // A value that is not a phone number is refused on the page; a good one is saved.
      const bad = await third.browser.submit(third.page, { phone_number: 'call me maybe' });
      assert.equal(bad.status, 400);
      assert.ok(alertText(bad));
      const saved = await third.browser.submit(bad, { phone_number: '+15551234567' });
      assertCodeRedirect(saved, third.state);
      const user = (await server.admin('GET', `/users/${userId}`)).body;
      assert.equal(user.phone_number, '+15551234567');
      assert.equal(user.login_count, 3);

      // With a phone number on file, the fourth login asks nothing.
      const fourth = await login(server, clientId, 'kim@example.com', 'kims password 1');
      assertCodeRedirect(fourth.page, fourth.state);
      // Logins 1-2 ask nothing; login 3 asks, and each submitted page runs the hook again (step 1: it
      // asks the same field, which ends the profiling); login 4 asks nothing.
      const runs = (await executions(server, hookId)).reverse();
      assert.deepEqual(
        runs.map((r) => r.actions.length),
        [0, 0, 1, 1, 1, 0],
      );
      assert.deepEqual(
        runs.map((r) => r.event),
        Array(6).fill('before_progressive_profiling'),
      );
    });
  });
}
