// Revoking an application's access (CONTRACT §9, DELETE /admin/api/users/:id/applications/:client_id):
// the application's refresh token stops working at once, another application's keeps working, the
// user.access.revoke event arrives signed and says who revoked; unknown users and applications are a
// 404, and a repeat revokes nothing more.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

for (const kind of databaseKinds()) {
  describe(`application access revocation (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;

    before(async () => {
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    async function relyingParty(name: string): Promise<RelyingParty> {
      const app = await server.admin('POST', '/applications', { name, redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      return discoverClient(server.url, app.body.client_id, app.body.client_secret);
    }

    async function refreshToken(rp: RelyingParty, browser: Browser, email: string, password: string): Promise<string> {
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(browser, start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), 'signed in');
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token, 'a refresh token');
      return tokens.refresh_token;
    }

    test("the revoked application's refresh token stops working, the other's does not, and user.access.revoke arrives", async () => {
      const endpoint = await server.admin('POST', '/webhooks', { url: `${receiver.url}/revoke`, events: ['user.access.revoke'] });
      assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
      const password = 'access password 1';
      const user = await server.admin('POST', '/users', { email: 'access@example.com', password, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const mail = await relyingParty('Mail');
      const shop = await relyingParty('Shop');
      const browser = new Browser(server.url);
      const mailToken = await refreshToken(mail, browser, 'access@example.com', password);
      const shopToken = await refreshToken(shop, browser, 'access@example.com', password);

      const listed = await server.admin('GET', `/users/${user.body.id}/applications`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(listed.body.map((a: { client_id: string }) => a.client_id).sort(), [mail.clientId, shop.clientId].sort());
      assert.equal(listed.body.find((a: { client_id: string }) => a.client_id === mail.clientId).name, 'Mail');

      assert.equal((await server.admin('DELETE', `/users/${user.body.id}/applications/${mail.clientId}`)).status, 204);
      await assert.rejects(oidc.refreshTokenGrant(mail.config, mailToken), (err: { error?: string }) => err.error === 'invalid_grant');
      const stillWorks = await oidc.refreshTokenGrant(shop.config, shopToken);
      assert.ok(stillWorks.access_token, "the other application's refresh token keeps working");
      assert.deepEqual(
        (await server.admin('GET', `/users/${user.body.id}/applications`)).body.map((a: { client_id: string }) => a.client_id),
        [shop.clientId],
      );

      // A repeat revokes nothing and writes no second event.
      assert.equal((await server.admin('DELETE', `/users/${user.body.id}/applications/${mail.clientId}`)).status, 204);
      await webhooksSettled(server);
      const got = receiver.on('/revoke');
      assert.equal(got.length, 1, JSON.stringify(got.map((r) => r.payload)));
      verifyWebhook(endpoint.body.secret, got[0]!);
      assert.deepEqual(got[0]!.payload.data, { user_id: user.body.id, application_id: mail.clientId, by: 'operator' });

      // The application signs the user in again (and gets a new grant) at the next sign-in.
      assert.ok(await refreshToken(mail, browser, 'access@example.com', password));
    });

    test('an unknown user or application is a 404 naming it', async () => {
      const user = await server.admin('POST', '/users', { email: 'nobody-app@example.com' });
      const rp = await relyingParty('Known');
      const unknownApp = await server.admin('DELETE', `/users/${user.body.id}/applications/no-such-client`);
      assert.equal(unknownApp.status, 404);
      assert.match(unknownApp.body.message, /application/);
      const unknownUser = await server.admin('DELETE', `/users/00000000-0000-4000-8000-000000000000/applications/${rp.clientId}`);
      assert.equal(unknownUser.status, 404);
      assert.match(unknownUser.body.message, /user/);
      assert.equal((await server.admin('GET', '/users/00000000-0000-4000-8000-000000000000/applications')).status, 404);
    });
  });
}
