// The whole OpenID Connect journey as a real relying party (openid-client) sees it: discovery,
// authorization code + PKCE through the hosted pages, code exchange, ID token verified against the
// JWKS, userinfo, refresh, logout; plus client credentials, introspection, revocation, JWT access
// tokens for a resource server, and the refusals (unregistered redirect URI, missing PKCE).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, LOGGED_OUT, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`OIDC journey (${kind})`, () => {
    let server: TestServer;
    let rp: RelyingParty;
    let clientSecret: string;
    const email = 'ada@example.com';
    const password = 'correct horse battery';

    before(async () => {
      server = await startTestServer(kind);
      const app = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: [LOGGED_OUT],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      clientSecret = app.body.client_secret;
      rp = await discoverClient(server.url, app.body.client_id, clientSecret);
      const user = await server.admin('POST', '/users', { email, password, given_name: 'Ada', family_name: 'Lovelace', email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
    });
    after(() => server.close());

    test('discovery advertises the endpoints and S256 PKCE', () => {
      const meta = rp.config.serverMetadata();
      assert.equal(meta.issuer, server.url);
      assert.ok(meta.code_challenge_methods_supported?.includes('S256'));
      for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint'] as const) {
        assert.ok(meta[key], `${key} is advertised`);
      }
    });

    test('code + PKCE through the hosted pages, ID token, userinfo, refresh, logout', async () => {
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp, { scope: 'openid email profile offline_access', prompt: 'consent' });
      const done = await signIn(browser, start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected a redirect to the callback, got ${done.status} ${done.redirectedTo} ${done.html.slice(0, 300)}`);

      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      const claims = tokens.claims()!;
      assert.equal(claims.iss, server.url);
      assert.equal(claims.aud, rp.clientId);
      assert.ok(claims.sub);

      // Verified once more, independently, against the published JWKS.
      const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      const verified = await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: rp.clientId });
      assert.equal(verified.payload.sub, claims.sub);

      const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, email);
      assert.equal(userinfo.email_verified, true);
      assert.equal(userinfo.given_name, 'Ada');
      assert.equal(userinfo.family_name, 'Lovelace');

      assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token);
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.equal(refreshed.claims()?.sub, claims.sub);

      // The session signs in again without pages...
      const again = await browser.get((await authorizationUrl(rp)).url.toString());
      assert.ok(again.redirectedTo?.startsWith(CALLBACK), 'an existing session skips the pages');

      // ...until the user signs out through RP-initiated logout.
      const logoutPage = await browser.get(oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT }).toString());
      assert.equal(logoutPage.status, 200);
      const loggedOut = await browser.submit(logoutPage, { logout: 'yes' });
      assert.ok(loggedOut.redirectedTo?.startsWith(LOGGED_OUT), `logout returns to the RP, got ${loggedOut.status} ${loggedOut.redirectedTo}`);
      const afterLogout = await browser.get((await authorizationUrl(rp)).url.toString());
      assert.equal(afterLogout.redirectedTo, null, 'after logout the login page is shown again');
      assert.ok(afterLogout.doc.querySelector('input[name="identifier"]'));
    });

    test('max_age: the ID token carries auth_time, and a session older than max_age signs in again', async () => {
      const browser = new Browser(server.url);
      const before = Math.floor(Date.now() / 1000);
      const start = await authorizationUrl(rp, { max_age: '300' });
      const done = await signIn(browser, start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `${done.status} ${done.html.slice(0, 200)}`);
      // openid-client itself checks that auth_time is there when max_age was asked for.
      const tokens = await oidc.authorizationCodeGrant(rp.config, new URL(done.redirectedTo!), {
        pkceCodeVerifier: start.verifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
        maxAge: 300,
      });
      const authTime = Number(tokens.claims()?.auth_time);
      assert.ok(authTime >= before - 1 && authTime <= Math.ceil(Date.now() / 1000), `auth_time ${authTime}`);

      advanceClock(2100); // the session is now older than max_age=1 (test/support/clock.ts)
      const stale = await browser.get((await authorizationUrl(rp, { max_age: '1' })).url.toString());
      assert.equal(stale.redirectedTo ?? null, null, 'a session older than max_age asks for the password again');
      assert.ok(stale.doc.querySelector('input[name="identifier"], input[name="password"]'), `a sign-in form, got ${stale.status}`);
      const fresh = await browser.get((await authorizationUrl(rp, { max_age: '300' })).url.toString());
      assert.ok(fresh.redirectedTo?.startsWith(CALLBACK), 'within max_age the session is enough');
    });

    test('client credentials, introspection and revocation', async () => {
      const cc = await oidc.clientCredentialsGrant(rp.config);
      assert.ok(cc.access_token);
      const active = await oidc.tokenIntrospection(rp.config, cc.access_token);
      assert.equal(active.active, true);
      assert.equal(active.client_id, rp.clientId);
      await oidc.tokenRevocation(rp.config, cc.access_token);
      const revoked = await oidc.tokenIntrospection(rp.config, cc.access_token);
      assert.equal(revoked.active, false);
    });

    test("another client can neither introspect nor revoke an application's tokens", async () => {
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(browser, start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK));
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      const app = await server.admin('POST', '/applications', { name: 'Other', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'client_credentials'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const other = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      for (const token of [tokens.access_token, tokens.refresh_token!]) {
        const seen = await oidc.tokenIntrospection(other.config, token);
        assert.deepEqual(seen, { active: false }, 'nothing about the token reaches another client');
        await assert.rejects(oidc.tokenRevocation(other.config, token), (error: { error?: string }) => error.error === 'invalid_request');
      }
      // The tokens still work for their own client.
      assert.equal((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active, true);
      assert.ok((await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!)).access_token);
    });

    test('a resource server gets JWT access tokens with its audience', async () => {
      const api = 'https://api.notes.test';
      const created = await server.admin('POST', '/resource-servers', { identifier: api, name: 'Notes API', scopes: ['notes:read'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      // An application gets tokens only for the resource servers it is allowed.
      const granted = await server.admin('PATCH', `/applications/${rp.clientId}`, { resource_servers: [{ identifier: api, scopes_allowed: ['notes:read'] }] });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp, { scope: 'openid notes:read', resource: api });
      const done = await signIn(browser, start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK));
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: server.url, audience: api });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.scope, 'notes:read');
      assert.equal(payload.sub, decodeJwt(tokens.id_token!).sub);
    });

    test('an unregistered redirect URI is refused without redirecting', async () => {
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp, { redirect_uri: 'https://evil.test/steal' });
      const page = await browser.get(start.url.toString());
      assert.equal(page.redirectedTo, null, 'never redirects to an unregistered URI');
      assert.equal(page.status, 400);
      assert.match(page.html, /redirect_uri/);
    });

    test('a public client must use PKCE', async () => {
      const app = await server.admin('POST', '/applications', { name: 'SPA', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      assert.equal(app.body.client_secret, undefined);
      const spa = await discoverClient(server.url, app.body.client_id, null);
      const url = oidc.buildAuthorizationUrl(spa.config, { redirect_uri: CALLBACK, scope: 'openid', state: 'xyz' });
      const page = await new Browser(server.url).get(url.toString());
      assert.ok(page.redirectedTo, 'the error goes back to the registered redirect URI');
      const error = new URL(page.redirectedTo!).searchParams;
      assert.equal(error.get('error'), 'invalid_request');
      assert.match(error.get('error_description') ?? '', /PKCE/);

      const browser = new Browser(server.url);
      const start = await authorizationUrl(spa);
      const done = await signIn(browser, start, email, password);
      const tokens = await exchangeCode(spa, start, done.redirectedTo!);
      assert.ok(tokens.id_token);
    });
  });
}
