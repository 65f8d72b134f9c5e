// Resource servers are granted per application: as a real relying party (openid-client) sees it, an
// application gets tokens only for the APIs it lists and only the scopes it is allowed of each, on
// the authorization code grant, client credentials and refresh; an unrelated application asking
// for another API's scopes (`payments:admin`) is refused with invalid_target, a scope not allowed
// with invalid_scope. The admin API refuses an unknown API or a scope the API does not define with
// a 400 naming the field, and writes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const NOTES = 'https://api.notes.test';
const PAYMENTS = 'https://api.payments.test';

const refusedWith = (error: string) => (err: any) => {
  assert.ok(err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError, `expected an OAuth error, got ${err}`);
  assert.equal(err.error, error, `${err.error}: ${err.error_description}`);
  return true;
};

for (const kind of databaseKinds()) {
  describe(`resource servers granted per application (${kind})`, () => {
    let server: TestServer;
    let jwks: ReturnType<typeof createRemoteJWKSet>;
    const email = 'ada@example.com';
    const password = 'correct horse battery';

    const createApp = async (name: string, extra: Record<string, unknown> = {}): Promise<RelyingParty> => {
      const app = await server.admin('POST', '/applications', {
        name,
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        ...extra,
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      return discoverClient(server.url, app.body.client_id, app.body.client_secret);
    };

    /** Authorization request through the hosted pages; answers the callback URL and the start. */
    const authorize = async (rp: RelyingParty, params: Record<string, string>) => {
      const start = await authorizationUrl(rp, params);
      const done = await signIn(new Browser(server.url), start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${done.status} ${done.html.slice(0, 300)}`);
      return { start, callback: done.redirectedTo! };
    };

    before(async () => {
      server = await startTestServer(kind);
      for (const body of [
        { identifier: NOTES, name: 'Notes API', scopes: ['notes:read', 'notes:write'] },
        { identifier: PAYMENTS, name: 'Payments API', scopes: ['payments:read', 'payments:admin'] },
      ]) {
        const created = await server.admin('POST', '/resource-servers', body);
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
      const user = await server.admin('POST', '/users', { email, password, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    });
    after(() => server?.close());

    test('the admin API takes an identifier alone (all its scopes) or {identifier, scopes_allowed}, and answers the second form', async () => {
      const app = await server.admin('POST', '/applications', {
        name: 'Forms',
        redirect_uris: [CALLBACK],
        resource_servers: [NOTES, { identifier: PAYMENTS, scopes_allowed: ['payments:read'] }],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const expected = [
        { identifier: NOTES, scopes_allowed: ['notes:read', 'notes:write'] },
        { identifier: PAYMENTS, scopes_allowed: ['payments:read'] },
      ];
      assert.deepEqual(app.body.resource_servers, expected);
      const path = `/applications/${app.body.client_id}`;
      assert.deepEqual((await server.admin('GET', path)).body.resource_servers, expected);
      assert.deepEqual((await server.admin('GET', '/applications')).body.find((a: any) => a.client_id === app.body.client_id).resource_servers, expected);
      // PATCH replaces the list; an application that lists nothing has none.
      const narrowed = await server.admin('PATCH', path, { resource_servers: [{ identifier: NOTES, scopes_allowed: [] }] });
      assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
      assert.deepEqual(narrowed.body.resource_servers, [{ identifier: NOTES, scopes_allowed: [] }]);
      assert.deepEqual((await server.admin('POST', '/applications', { name: 'None', redirect_uris: [CALLBACK] })).body.resource_servers, []);
    });

    test('an unknown resource server or a scope it does not define is a 400 naming the field, and nothing is written', async () => {
      const cases: Array<[unknown, RegExp]> = [
        ['https://nope.test', /^resource_servers: /],
        [['https://nope.test'], /^resource_servers\[0\]: .*not a registered resource server/],
        [[NOTES, { identifier: 'https://nope.test' }], /^resource_servers\[1\]\.identifier: .*not a registered resource server/],
        [[{ identifier: NOTES, scopes_allowed: ['notes:read', 'payments:admin'] }], /^resource_servers\[0\]\.scopes_allowed\[1\]: "payments:admin" is not a scope of https:\/\/api\.notes\.test/],
        [[{ identifier: NOTES, scopes_allowed: 'notes:read' }], /^resource_servers\[0\]\.scopes_allowed: /],
        [[{ identifier: NOTES, scope: ['notes:read'] }], /^resource_servers\[0\]\.scope: is not a known field/],
        [[{ scopes_allowed: [] }], /^resource_servers\[0\]\.identifier: is required/],
        [[NOTES, NOTES], /^resource_servers\[1\]: .*listed twice/],
        [[42], /^resource_servers\[0\]: /],
      ];
      for (const [value, message] of cases) {
        const refused = await server.admin('POST', '/applications', { name: 'Bad', client_id: 'bad-grants', redirect_uris: [CALLBACK], resource_servers: value });
        assert.equal(refused.status, 400, `${JSON.stringify(value)}: ${JSON.stringify(refused.body)}`);
        assert.match(refused.body.message, message, JSON.stringify(value));
        assert.equal((await server.admin('GET', '/applications/bad-grants')).status, 404, 'no half-written application');
      }
      const app = await server.admin('POST', '/applications', { name: 'Kept', redirect_uris: [CALLBACK], resource_servers: [NOTES] });
      const refused = await server.admin('PATCH', `/applications/${app.body.client_id}`, { name: 'Renamed', resource_servers: [PAYMENTS, 'https://nope.test'] });
      assert.equal(refused.status, 400);
      assert.match(refused.body.message, /^resource_servers\[1\]: /);
      const kept = (await server.admin('GET', `/applications/${app.body.client_id}`)).body;
      assert.equal(kept.name, 'Kept');
      assert.deepEqual(kept.resource_servers, [{ identifier: NOTES, scopes_allowed: ['notes:read', 'notes:write'] }]);
    });

    test('authorization code: only the APIs and scopes allowed; another API is invalid_target, a scope not allowed invalid_scope', async () => {
      const notes = await createApp('Notes', { resource_servers: [{ identifier: NOTES, scopes_allowed: ['notes:read'] }] });
      const allowed = await authorize(notes, { scope: 'openid notes:read', resource: NOTES });
      const tokens = await exchangeCode(notes, allowed.start, allowed.callback);
      const access = await jwtVerify(tokens.access_token, jwks, { issuer: server.url, audience: NOTES, typ: 'at+jwt' });
      assert.equal(access.payload.scope, 'notes:read');

      // The unrelated API, and the scope it was not allowed: the authorization request is refused.
      for (const [params, error] of [
        [{ scope: 'openid payments:admin', resource: PAYMENTS }, 'invalid_target'],
        [{ scope: 'openid notes:read notes:write', resource: NOTES }, 'invalid_scope'],
      ] as const) {
        const start = await authorizationUrl(notes, params);
        const page = await new Browser(server.url).get(start.url.toString());
        assert.ok(page.redirectedTo?.startsWith(CALLBACK), `the error goes back to the application: ${page.status} ${page.html.slice(0, 200)}`);
        await assert.rejects(exchangeCode(notes, start, page.redirectedTo!), refusedWith(error));
      }

      // An application that lists no resource server gets none at all.
      const bare = await createApp('Bare');
      const start = await authorizationUrl(bare, { scope: 'openid notes:read', resource: NOTES });
      const page = await new Browser(server.url).get(start.url.toString());
      await assert.rejects(exchangeCode(bare, start, page.redirectedTo!), refusedWith('invalid_target'));
    });

    test('client credentials: an unrelated application gets no payments:admin; the allowed API only its allowed scopes', async () => {
      const notes = await createApp('Notes backend', { resource_servers: [{ identifier: NOTES, scopes_allowed: ['notes:read'] }] });
      await assert.rejects(oidc.clientCredentialsGrant(notes.config, { scope: 'payments:admin', resource: PAYMENTS }), refusedWith('invalid_target'));
      await assert.rejects(oidc.clientCredentialsGrant(notes.config, { scope: 'notes:write', resource: NOTES }), refusedWith('invalid_scope'));
      const granted = await oidc.clientCredentialsGrant(notes.config, { scope: 'notes:read', resource: NOTES });
      const access = await jwtVerify(granted.access_token, jwks, { issuer: server.url, audience: NOTES });
      assert.equal(access.payload.scope, 'notes:read');

      // The payments back office, allowed that API, does get it.
      const office = await createApp('Back office', { resource_servers: [PAYMENTS] });
      const admin = await oidc.clientCredentialsGrant(office.config, { scope: 'payments:admin', resource: PAYMENTS });
      assert.equal((await jwtVerify(admin.access_token, jwks, { issuer: server.url, audience: PAYMENTS })).payload.scope, 'payments:admin');
    });

    test('refresh: a permission withdrawn stops the next refresh; a scope the API drops is dropped from the permission', async () => {
      const notes = await createApp('Notes mobile', { resource_servers: [NOTES] });
      const { start, callback } = await authorize(notes, { scope: 'openid offline_access notes:read notes:write', resource: NOTES, prompt: 'consent' });
      const tokens = await exchangeCode(notes, start, callback);
      assert.ok(tokens.refresh_token);
      const refreshed = await oidc.refreshTokenGrant(notes.config, tokens.refresh_token);
      assert.equal((await jwtVerify(refreshed.access_token, jwks, { issuer: server.url, audience: NOTES })).payload.scope, 'notes:read notes:write');

      // Narrowed to notes:read: a refresh asking for notes:write by name is refused, one without gets notes:read only.
      const path = `/applications/${notes.clientId}`;
      assert.equal((await server.admin('PATCH', path, { resource_servers: [{ identifier: NOTES, scopes_allowed: ['notes:read'] }] })).status, 200);
      await assert.rejects(oidc.refreshTokenGrant(notes.config, refreshed.refresh_token!, { scope: 'openid notes:write', resource: NOTES }), refusedWith('invalid_scope'));
      const narrower = await oidc.refreshTokenGrant(notes.config, refreshed.refresh_token!);
      assert.equal((await jwtVerify(narrower.access_token, jwks, { issuer: server.url, audience: NOTES })).payload.scope, 'notes:read');

      // Withdrawn: the next refresh is refused.
      assert.equal((await server.admin('PATCH', path, { resource_servers: [] })).status, 200);
      await assert.rejects(oidc.refreshTokenGrant(notes.config, narrower.refresh_token ?? refreshed.refresh_token!), refusedWith('invalid_target'));
    });

    test('an API losing a scope takes it from every application; an API deleted and registered again is granted to nobody', async () => {
      const api = 'https://api.reports.test';
      assert.equal((await server.admin('POST', '/resource-servers', { identifier: api, name: 'Reports', scopes: ['reports:read', 'reports:export'] })).status, 201);
      const app = await server.admin('POST', '/applications', { name: 'Reports app', redirect_uris: [CALLBACK], grant_types: ['client_credentials'], resource_servers: [api] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const path = `/applications/${app.body.client_id}`;
      const rsPath = `/resource-servers/${encodeURIComponent(api)}`;
      assert.equal((await server.admin('PATCH', rsPath, { scopes: ['reports:read'] })).status, 200);
      assert.deepEqual((await server.admin('GET', path)).body.resource_servers, [{ identifier: api, scopes_allowed: ['reports:read'] }]);
      // Adding the scope back does not hand it out again.
      assert.equal((await server.admin('PATCH', rsPath, { scopes: ['reports:read', 'reports:export'] })).status, 200);
      assert.deepEqual((await server.admin('GET', path)).body.resource_servers, [{ identifier: api, scopes_allowed: ['reports:read'] }]);

      assert.equal((await server.admin('DELETE', rsPath)).status, 204);
      assert.deepEqual((await server.admin('GET', path)).body.resource_servers, []);
      assert.equal((await server.admin('POST', '/resource-servers', { identifier: api, name: 'Reports again', scopes: ['reports:read'] })).status, 201);
      assert.deepEqual((await server.admin('GET', path)).body.resource_servers, []);
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      await assert.rejects(oidc.clientCredentialsGrant(rp.config, { scope: 'reports:read', resource: api }), refusedWith('invalid_target'));
    });
  });
}
