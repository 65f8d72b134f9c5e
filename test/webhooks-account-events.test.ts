// Account events of issue 16 beyond the catalog walk (test/webhooks.test.ts): jwt.refresh-token.revoke
// for each way refresh tokens go (the revocation endpoint, an operator's sign-out, a password reset, a
// lock, disabling, deleting), and none when there was no live refresh token; user.loginId.duplicate.*
// from the hosted sign-up (whose page is the same as for a new address: only the webhook tells) and
// from a username change; user.email.update only when the address changed; user.password.reset.send.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { verifyWebhook, WebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver.ts';

const PASSWORD = 'account events password 1';

for (const kind of databaseKinds()) {
  describe(`account webhook events (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let smtp: SmtpReceiver;
    let rp: RelyingParty;
    let all: { id: string; secret: string };
    let seq = 0;

    before(async () => {
      receiver = await WebhookReceiver.start();
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, SMTP_URL: smtp.url } });
      const app = await server.admin('POST', '/applications', { name: 'Events RP', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}/all`, events: ['*'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      all = created.body;
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await smtp?.close();
    });

    async function user(): Promise<{ id: string; email: string }> {
      const email = `events${++seq}@example.com`;
      const created = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id, email };
    }

    async function refreshToken(email: string, password = PASSWORD): Promise<string> {
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(new Browser(server.url), start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `signed in: ${alertText(done) ?? done.status}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token);
      return tokens.refresh_token;
    }

    /** The events of `type` delivered so far (after the outbox settled), checked against the signature. */
    async function events(type: string, match: (data: Record<string, any>) => boolean = () => true): Promise<ReceivedWebhook[]> {
      await webhooksSettled(server);
      const got = receiver.on('/all').filter((r) => r.payload.type === type && match(r.payload.data));
      for (const request of got) verifyWebhook(all.secret, request);
      return got;
    }

    const revokes = (userId: string) => events('jwt.refresh-token.revoke', (d) => d.user_id === userId);

    test('jwt.refresh-token.revoke: the revocation endpoint, sign-out, lock, disable, delete; none without a live token', async () => {
      const cases: Array<[string, (id: string) => Promise<void>]> = [
        [
          'sign_out',
          async (id) => {
            assert.equal((await server.admin('DELETE', `/users/${id}/sessions`)).status, 204);
          },
        ],
        [
          'locked',
          async (id) => {
            assert.equal((await server.admin('POST', `/users/${id}/actions`, { action: 'lock', reason: 'review' })).status, 200);
          },
        ],
        [
          'disabled',
          async (id) => {
            assert.equal((await server.admin('POST', `/users/${id}/disable`)).status, 200);
          },
        ],
        [
          'deleted',
          async (id) => {
            assert.equal((await server.admin('DELETE', `/users/${id}`)).status, 204);
          },
        ],
      ];
      for (const [reason, act] of cases) {
        const subject = await user();
        const token = await refreshToken(subject.email);
        await act(subject.id);
        await assert.rejects(oidc.refreshTokenGrant(rp.config, token), (err: { error?: string }) => err.error === 'invalid_grant', `${reason}: the token no longer works`);
        const got = await revokes(subject.id);
        assert.deepEqual(
          got.map((r) => r.payload.data),
          [{ user_id: subject.id, application_id: rp.clientId, count: 1, reason }],
          reason,
        );
      }

      // The client revokes its own refresh token (RFC 7009).
      const revoking = await user();
      const token = await refreshToken(revoking.email);
      await oidc.tokenRevocation(rp.config, token, { token_type_hint: 'refresh_token' });
      await assert.rejects(oidc.refreshTokenGrant(rp.config, token));
      assert.deepEqual(
        (await revokes(revoking.id)).map((r) => r.payload.data),
        [{ user_id: revoking.id, application_id: rp.clientId, count: 1, reason: 'revocation' }],
      );

      // No refresh token to revoke: no event.
      const idle = await user();
      assert.equal((await server.admin('DELETE', `/users/${idle.id}/sessions`)).status, 204);
      assert.equal((await server.admin('POST', `/users/${idle.id}/disable`)).status, 200);
      assert.deepEqual(await revokes(idle.id), []);
    });

    test('a password reset revokes the refresh tokens (reason password_reset) after user.password.reset.send', async () => {
      const subject = await user();
      const token = await refreshToken(subject.email);
      const browser = new Browser(server.url);
      const identify = await browser.get((await authorizationUrl(rp)).url.toString());
      const forgot = identify.doc.querySelector('a[href$="/forgot-password"]')?.getAttribute('href');
      assert.ok(forgot);
      await browser.submit(await browser.get(forgot), { identifier: subject.email });
      const link = linkIn(await smtp.waitFor(subject.email, /reset/i), `${server.url}/reset-password/`);
      const [send] = await events('user.password.reset.send', (d) => d.user_id === subject.id);
      assert.deepEqual(send?.payload.data, { user_id: subject.id, application_id: rp.clientId });
      const reset = await browser.submit(await browser.get(link), { password: 'a brand new password 2' });
      assert.equal(reset.status, 200, alertText(reset) ?? '');
      await assert.rejects(oidc.refreshTokenGrant(rp.config, token));
      assert.deepEqual(
        (await revokes(subject.id)).map((r) => r.payload.data),
        [{ user_id: subject.id, application_id: rp.clientId, count: 1, reason: 'password_reset' }],
      );
      // An unknown identifier gets the same page, and no reset.send.
      await browser.submit(await browser.get(forgot), { identifier: 'nobody-here@example.com' });
      assert.equal((await events('user.password.reset.send')).length, 1);
    });

    test('sign-up with a taken address: the same page as a new address, and only the webhook says it was taken', async () => {
      const owner = await user();
      const register = async (email: string): Promise<Page> => {
        const browser = new Browser(server.url);
        const identify = await browser.get((await authorizationUrl(rp)).url.toString());
        const href = identify.doc.querySelector('a[href$="/register"]')?.getAttribute('href');
        assert.ok(href);
        return browser.submit(await browser.get(href), { email, password: PASSWORD, given_name: 'Dup', family_name: 'Licate' });
      };
      const fresh = await register(`fresh${++seq}@example.com`);
      const taken = await register(owner.email);
      assert.equal(taken.status, fresh.status);
      assert.equal(taken.doc.querySelector('h1')?.textContent, fresh.doc.querySelector('h1')?.textContent);
      assert.equal(alertText(taken), alertText(fresh));
      const [event] = await events('user.loginId.duplicate.create', (d) => d.existing_user_id === owner.id);
      assert.deepEqual(event?.payload.data, { login_id: owner.email, login_id_type: 'email', existing_user_id: owner.id, application_id: rp.clientId });
      assert.equal((await server.admin('GET', `/users?email=${encodeURIComponent(owner.email)}`)).body.length, 1);
    });

    test('a username or email change to a taken one is refused (409) and is user.loginId.duplicate.update; the same address is no user.email.update', async () => {
      const holder = await user();
      const name = `holder${seq}`;
      assert.equal((await server.admin('PATCH', `/users/${holder.id}`, { username: name })).status, 200);
      const other = await user();
      const refused = await server.admin('PATCH', `/users/${other.id}`, { username: name.toUpperCase() });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(refused.body.message, /^username: /);
      const [event] = await events('user.loginId.duplicate.update', (d) => d.user_id === other.id);
      assert.deepEqual(event?.payload.data, { user_id: other.id, login_id: name, login_id_type: 'username', existing_user_id: holder.id, application_id: null });

      assert.equal((await server.admin('PATCH', `/users/${other.id}`, { email: other.email.toUpperCase() })).status, 200);
      assert.deepEqual(await events('user.email.update', (d) => d.user.id === other.id), [], 'the same address: no email change');
      const moved = `moved${seq}@example.com`;
      assert.equal((await server.admin('PATCH', `/users/${other.id}`, { email: moved })).status, 200);
      const changes = await events('user.email.update', (d) => d.user.id === other.id);
      assert.deepEqual(
        changes.map((r) => [r.payload.data.previous_email, r.payload.data.email, r.payload.data.user.email_verified]),
        [[other.email, moved, false]],
      );
    });
  });
}
