// Signing an account out from the admin API: DELETE /users/:id/sessions, disabling and deleting all
// revoke the account's browser sessions, refresh tokens and opaque access tokens, as a real RP sees.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestUser } from './support/hosted-pages.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`admin sign-out (${kind})`, () => {
    let server: TestServer;
    let rp: RelyingParty;

    before(async () => {
      server = await startTestServer(kind);
      const app = await server.admin('POST', '/applications', { name: 'Portal', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
    });
    after(async () => {
      await server?.close();
    });

    /** Signs in through the hosted pages: the browser (with its session) and the RP's tokens. */
    async function signedIn(email: string, password: string) {
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(browser, start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), done.html.slice(0, 300));
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token, 'a refresh token was issued');
      return { browser, tokens };
    }

    async function sessionSignsIn(browser: Browser): Promise<boolean> {
      const page = await browser.get((await authorizationUrl(rp)).url.toString());
      if (page.redirectedTo?.startsWith(CALLBACK)) return true;
      assert.ok(page.doc.querySelector('input[name="identifier"]'), 'without a session, the sign-in page is shown');
      return false;
    }

    async function assertRevoked(browser: Browser, tokens: { refresh_token?: string; access_token: string }) {
      await assert.rejects(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!), (error: { error?: string }) => error.error === 'invalid_grant');
      const introspected = await oidc.tokenIntrospection(rp.config, tokens.access_token);
      assert.equal(introspected.active, false, 'the opaque access token is no longer active');
      assert.equal(await sessionSignsIn(browser), false, 'the browser session is gone');
    }

    it('DELETE /users/:id/sessions signs the account out everywhere, and only that account', async () => {
      const userId = await createTestUser(server, { email: 'carol@example.com', password: 'carol password 1' });
      await createTestUser(server, { email: 'dave@example.com', password: 'dave password 1' });
      const carol = await signedIn('carol@example.com', 'carol password 1');
      const dave = await signedIn('dave@example.com', 'dave password 1');
      assert.equal((await oidc.tokenIntrospection(rp.config, carol.tokens.access_token)).active, true);
      assert.equal(await sessionSignsIn(carol.browser), true, 'the session is live before the sign-out');

      const out = await server.admin('DELETE', `/users/${userId}/sessions`);
      assert.equal(out.status, 204);
      await assertRevoked(carol.browser, carol.tokens);

      // Dave is untouched.
      const refreshed = await oidc.refreshTokenGrant(rp.config, dave.tokens.refresh_token!);
      assert.ok(refreshed.id_token);
      assert.equal(await sessionSignsIn(dave.browser), true);
      // Carol can sign in again with her password.
      await signedIn('carol@example.com', 'carol password 1');
    });

    it('disabling revokes the tokens, so enabling the account again does not revive them', async () => {
      const userId = await createTestUser(server, { email: 'erin@example.com', password: 'erin password 1' });
      const erin = await signedIn('erin@example.com', 'erin password 1');
      assert.equal((await server.admin('POST', `/users/${userId}/disable`)).status, 200);
      assert.equal((await server.admin('POST', `/users/${userId}/enable`)).status, 200);
      await assertRevoked(erin.browser, erin.tokens);
      await signedIn('erin@example.com', 'erin password 1');
    });

    it('deleting an account removes its tokens from the store', async () => {
      const userId = await createTestUser(server, { email: 'frank@example.com', password: 'frank password 1' });
      const frank = await signedIn('frank@example.com', 'frank password 1');
      const rows = () => server.server.services.db('oidc_models').where({ account_id: userId }).count<{ n: number | string }[]>({ n: '*' });
      assert.ok(Number((await rows())[0]!.n) > 0, 'the sign-in stored a session, a grant and tokens');
      assert.equal((await server.admin('DELETE', `/users/${userId}`)).status, 204);
      assert.equal(Number((await rows())[0]!.n), 0);
      await assertRevoked(frank.browser, frank.tokens);
    });

    it('answers 404 for an unknown account', async () => {
      const out = await server.admin('DELETE', '/users/usr_nope/sessions');
      assert.equal(out.status, 404);
      assert.match(JSON.stringify(out.body), /not found|no user/i);
    });
  });
}
