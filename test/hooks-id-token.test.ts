// before_id_token as a relying party sees it: a real RP (openid-client, which verifies every ID
// token against the JWKS) signs in through the hosted pages and exchanges the code, then refreshes;
// the claims a hook sets appear in the ID token and in the JWT access token of a resource server
// (verified again with jose against /jwks), on both grants. A hook setting a protected claim (`sub`)
// is refused and its run logged; api.deny fails the token request with access_denied.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { executions, HookFixtures, hookCode, report, startHookPeer, type HookPeer } from './support/hook-peer.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const API = 'https://api.notes.test';
const GENERIC_HOOK_FAILURE = 'We could not complete this step right now. Please try again later.';

for (const kind of databaseKinds()) {
  describe(`before_id_token with a real relying party (${kind})`, () => {
    let server: TestServer;
    let peer: HookPeer;
    let rp: RelyingParty;
    let jwks: ReturnType<typeof createRemoteJWKSet>;
    const hooks = new HookFixtures(() => server);
    const password = 'correct horse battery';

    before(async () => {
      peer = await startHookPeer();
      server = await startTestServer(kind);
      const app = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const api = await server.admin('POST', '/resource-servers', { identifier: API, name: 'Notes API', scopes: ['notes:read', 'notes:write'] });
      assert.equal(api.status, 201, JSON.stringify(api.body));
      // An application gets tokens only for the resource servers it is allowed: this one all of the API's scopes.
      const granted = await server.admin('PATCH', `/applications/${app.body.client_id}`, { resource_servers: [API] });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    });
    afterEach(async () => {
      await hooks.clear();
      peer.reset();
    });
    after(async () => {
      await server?.close();
      await peer?.close();
    });

    const createUser = async (email: string, extra: Record<string, unknown> = {}): Promise<any> => {
      const created = await server.admin('POST', '/users', { email, password, given_name: 'Ada', family_name: 'Lovelace', email_verified: true, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    };

    /** Signs in through the hosted pages; answers the token response of the code exchange (a promise). */
    const codeGrant = async (email: string, params: Record<string, string>) => {
      const start = await authorizationUrl(rp, params);
      const done = await signIn(new Browser(server.url), start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${done.status} ${done.html.slice(0, 300)}`);
      return exchangeCode(rp, start, done.redirectedTo!);
    };

    const rejectsWith = async (promise: Promise<unknown>, error: string, description?: string | RegExp) => {
      await assert.rejects(promise, (err: any) => {
        assert.ok(err instanceof oidc.ResponseBodyError, `expected an OAuth error response, got ${err}`);
        assert.equal(err.error, error);
        if (typeof description === 'string') assert.equal(err.error_description, description);
        else if (description) assert.match(err.error_description ?? '', description);
        return true;
      });
    };

    test('claims reach the ID token and the JWT access token, on the code grant and on refresh', async () => {
      const hookId = await hooks.create({
        event: 'before_id_token',
        allowed_hosts: [peer.host],
        code: hookCode(`
          ${report(peer, '/before_id_token')}
          api.idToken.setClaim('tier', 'gold');
          api.idToken.setClaim('roles', ['admin', 'editor']);
          api.idToken.setClaim('grant', event.grant_type);
          api.accessToken.setClaim('plan', 'pro');
          api.accessToken.setClaim('org', { id: 7, name: 'Notes Inc' });`),
      });
      const ada = await createUser('ada@example.com');

      const tokens = await codeGrant('ada@example.com', { scope: 'openid email profile offline_access notes:read', resource: API, prompt: 'consent' });
      // openid-client validated the ID token (signature against the JWKS, iss, aud, nonce, exp).
      const claims = tokens.claims()!;
      assert.equal(claims.sub, ada.id);
      assert.equal(claims.tier, 'gold');
      assert.deepEqual(claims.roles, ['admin', 'editor']);
      assert.equal(claims.grant, 'authorization_code');
      assert.equal(claims.plan, undefined, 'access token claims stay in the access token');
      const idToken = await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: rp.clientId });
      assert.equal(idToken.payload.tier, 'gold');

      const access = await jwtVerify(tokens.access_token, jwks, { issuer: server.url, audience: API, typ: 'at+jwt' });
      assert.equal(access.payload.sub, ada.id);
      assert.equal(access.payload.plan, 'pro');
      assert.deepEqual(access.payload.org, { id: 7, name: 'Notes Inc' });
      assert.equal(access.payload.tier, undefined, 'ID token claims stay in the ID token');
      assert.equal(access.payload.scope, 'notes:read');

      // The hook ran once for the whole token request, with the documented payload.
      assert.equal(peer.callsTo('/before_id_token').length, 1);
      const event = peer.callsTo('/before_id_token')[0]!.body;
      assert.equal(event.type, 'before_id_token');
      assert.deepEqual(event.hook, { id: hookId, name: 'test before_id_token' });
      assert.deepEqual(event.application, { client_id: rp.clientId, name: 'Notes' });
      assert.equal(event.grant_type, 'authorization_code');
      assert.equal(event.user.id, ada.id);
      assert.equal(event.user.email, 'ada@example.com');
      for (const scope of ['openid', 'email', 'profile']) assert.ok(event.scopes.includes(scope), `scopes has ${scope}: ${event.scopes}`);
      assert.equal(event.claims.sub, ada.id);
      assert.equal(event.claims.email, 'ada@example.com');
      assert.equal(event.claims.given_name, 'Ada');
      assert.ok(!JSON.stringify(event).includes(password));

      // Refresh: the hook runs again, and both tokens carry its claims.
      assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token);
      const refreshedClaims = refreshed.claims()!;
      assert.equal(refreshedClaims.sub, ada.id);
      assert.equal(refreshedClaims.tier, 'gold');
      assert.equal(refreshedClaims.grant, 'refresh_token');
      const refreshedAccess = await jwtVerify(refreshed.access_token, jwks, { issuer: server.url, audience: API });
      assert.equal(refreshedAccess.payload.plan, 'pro');
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.equal(peer.callsTo('/before_id_token').length, 2);
      const second = peer.callsTo('/before_id_token')[1]!.body;
      assert.equal(second.grant_type, 'refresh_token');
      assert.notEqual(second.id, event.id, 'each token request is its own event');
      for (const scope of ['openid', 'email']) assert.ok(second.scopes.includes(scope), `refresh scopes has ${scope}: ${second.scopes}`);
      assert.equal(second.claims.email, 'ada@example.com');

      const runs = await executions(server, hookId);
      assert.deepEqual(
        runs.map((r) => r.outcome),
        ['success', 'success'],
      );
    });

    test('id_token_claims "strict": the hook is shown the claims the ID token carries (sub), userinfo still answers them', async () => {
      await hooks.create({ event: 'before_id_token', allowed_hosts: [peer.host], code: hookCode(`${report(peer, '/strict')}`) });
      const app = await server.admin('POST', '/applications', {
        name: 'Strict',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        id_token_claims: 'strict',
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const strict = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const ada = await createUser('strict@example.com');
      const start = await authorizationUrl(strict, { scope: 'openid email profile' });
      const done = await signIn(new Browser(server.url), start, 'strict@example.com', password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${done.status} ${done.html.slice(0, 300)}`);
      const tokens = await exchangeCode(strict, start, done.redirectedTo!);
      assert.equal(tokens.claims()!.email, undefined);
      const event = peer.callsTo('/strict')[0]!.body;
      assert.deepEqual(event.claims, { sub: ada.id }, 'the claims about to be issued in the ID token');
      for (const scope of ['openid', 'email', 'profile']) assert.ok(event.scopes.includes(scope), `scopes has ${scope}: ${event.scopes}`);
      assert.equal(event.user.email, 'strict@example.com');
      assert.equal((await oidc.fetchUserInfo(strict.config, tokens.access_token, ada.id)).email, 'strict@example.com');
    });

    test('without a resource server: the ID token carries the claims, the opaque access token its own', async () => {
      await hooks.create({
        event: 'before_id_token',
        code: hookCode(`api.idToken.setClaim('tier', 'silver'); api.accessToken.setClaim('plan', 'basic');`),
      });
      await createUser('bea@example.com');
      const tokens = await codeGrant('bea@example.com', { scope: 'openid email' });
      assert.equal(tokens.claims()!.tier, 'silver');
      assert.equal(tokens.claims()!.email, 'bea@example.com', "the email scope's claims are in the ID token too");
      const introspected = await oidc.tokenIntrospection(rp.config, tokens.access_token);
      assert.equal(introspected.active, true);
      assert.equal(introspected.plan, 'basic');
      // userinfo is about the user, not the hook's token claims.
      const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
      assert.equal(userinfo.email, 'bea@example.com');
    });

    test('a hook setting `sub` is refused: with on_error "continue" the token is issued without its claims, and the run is logged', async () => {
      const hookId = await hooks.create({
        event: 'before_id_token',
        on_error: 'continue',
        code: hookCode(`api.idToken.setClaim('tier', 'gold'); api.idToken.setClaim('sub', 'someone-else');`),
      });
      const cy = await createUser('cy@example.com');
      const tokens = await codeGrant('cy@example.com', { scope: 'openid email' });
      const claims = tokens.claims()!;
      assert.equal(claims.sub, cy.id, "sub is the user's id");
      assert.equal(claims.tier, undefined, 'nothing of the refused run is applied');
      assert.equal(decodeJwt(tokens.id_token!).sub, cy.id);

      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'invalid_action');
      assert.match(run!.error ?? '', /"sub" is a protected claim/);
    });

    test('a hook setting a protected claim with on_error "fail" (the default) fails the token request', async () => {
      const hookId = await hooks.create({
        event: 'before_id_token',
        code: hookCode(`api.accessToken.setClaim('aud', 'https://evil.test');`),
      });
      await createUser('dee@example.com');
      await rejectsWith(codeGrant('dee@example.com', { scope: 'openid email' }), 'access_denied', GENERIC_HOOK_FAILURE);
      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'invalid_action');
      assert.match(run!.error ?? '', /"aud" is a protected claim/);
    });

    test('api.deny fails the token request with access_denied, on the code grant and on refresh', async () => {
      await hooks.create({
        event: 'before_id_token',
        code: hookCode(`
          if (event.user.attributes.blocked) api.deny('Token issuance is blocked for this account.');
          if (event.grant_type === 'refresh_token' && event.user.attributes.no_refresh) api.deny('Refresh is not allowed.');`),
      });
      await createUser('eve@example.com', { attributes: { blocked: true } });
      await rejectsWith(codeGrant('eve@example.com', { scope: 'openid' }), 'access_denied', 'Token issuance is blocked for this account.');

      await createUser('fay@example.com', { attributes: { no_refresh: true } });
      const tokens = await codeGrant('fay@example.com', { scope: 'openid offline_access', prompt: 'consent' });
      assert.ok(tokens.id_token);
      assert.ok(tokens.refresh_token);
      await rejectsWith(oidc.refreshTokenGrant(rp.config, tokens.refresh_token), 'access_denied', 'Refresh is not allowed.');
    });
  });
}
