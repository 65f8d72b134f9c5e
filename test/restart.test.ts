// A restart keeps users, applications, sessions, refresh tokens and signing keys valid, and does not
// make a rotated key sign early.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`restart (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test('users, applications, sessions, refresh tokens and keys survive', async () => {
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK] });
      assert.equal(app.status, 201);
      await server.admin('POST', '/users', { email: 'grace@example.com', password: 'hopper-compiler-1952', email_verified: true });
      let rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(browser, start, 'grace@example.com', 'hopper-compiler-1952');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `signed in: ${done.status} ${done.html.slice(0, 200)}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      const kidBefore = decodeProtectedHeader(tokens.id_token!).kid;

      await server.restart();

      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      // Signing keys: the old ID token still verifies, and new tokens carry the same kid.
      const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: app.body.client_id, currentDate: new Date() });
      // Refresh token issued before the restart still works.
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
      assert.equal(decodeProtectedHeader(refreshed.id_token!).kid, kidBefore);
      // The browser session (and its cookie keys) survive: no pages shown.
      const again = await browser.get((await authorizationUrl(rp)).url.toString());
      assert.ok(again.redirectedTo?.startsWith(CALLBACK), 'the session is still valid after the restart');
      // Users and applications are still there.
      const users = await server.admin('GET', '/users?email=grace@example.com');
      assert.equal(users.status, 200);
      const apps = await server.admin('GET', `/applications/${app.body.client_id}`);
      assert.equal(apps.status, 200);
      assert.equal(apps.body.name, 'Notes');

      // Key rotation: the new key is published at once, but a restart does not make it sign before its
      // activates_at (other instances may not publish it yet); tokens of the old key still verify.
      const rotated = await server.admin('POST', '/keys/rotate');
      assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
      assert.notEqual(rotated.body.kid, kidBefore);
      assert.ok(Date.parse(rotated.body.activates_at) > Date.now(), `activates later: ${rotated.body.activates_at}`);
      await server.restart();
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const afterRotation = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
      assert.equal(decodeProtectedHeader(afterRotation.id_token!).kid, kidBefore);
      const published = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      assert.deepEqual(published.keys.map((k) => k.kid).sort(), [kidBefore, rotated.body.kid].sort());
      const jwksAfter = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      await jwtVerify(tokens.id_token!, jwksAfter, { issuer: server.url, audience: app.body.client_id });
      await jwtVerify(afterRotation.id_token!, jwksAfter, { issuer: server.url, audience: app.body.client_id });
    });
  });
}
