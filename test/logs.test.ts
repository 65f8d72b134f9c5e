// Secrets never reach the server's logs: passwords, the client secret, the admin key, codes and
// tokens, the one-time links mailed to users, and a hook's secrets, through a whole journey logged
// at debug level.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { createLogger } from '../src/log.ts';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestUser } from './support/hosted-pages.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';
import { mailsSent, webhooksSettled } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

for (const kind of databaseKinds()) {
  describe(`secrets stay out of the logs (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    const lines: string[] = [];

    before(async () => {
      smtp = await startSmtpReceiver();
      const sink = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url }, log: createLogger('debug', sink) });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    it('a sign-in, token grants, a failing hook and a password reset log none of their secrets', async () => {
      const secrets: Record<string, string> = { 'admin key': ADMIN_KEY };
      const app = await server.admin('POST', '/applications', { name: 'Logged', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      secrets['client secret'] = app.body.client_secret;
      const hookSecret = 'hook-secret-value-4711';
      secrets['hook secret'] = hookSecret;
      const hook = await server.admin('POST', '/hooks', {
        name: 'leaky',
        event: 'after_login',
        mode: 'sync',
        on_error: 'continue',
        secrets: { API_KEY: hookSecret },
        code: "export default async function (event) {\n  console.log('key', event.secrets.API_KEY);\n  throw new Error('failed with ' + event.secrets.API_KEY);\n}",
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));

      secrets.password = 'ivys password 1';
      await createTestUser(server, { email: 'ivy@example.com', password: secrets.password });
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(new Browser(server.url), start, 'ivy@example.com', secrets.password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), done.html.slice(0, 300));
      secrets.code = new URL(done.redirectedTo!).searchParams.get('code')!;
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      secrets['access token'] = tokens.access_token;
      secrets['refresh token'] = tokens.refresh_token!;
      secrets['ID token'] = tokens.id_token!;
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
      secrets['refreshed access token'] = refreshed.access_token;
      await oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck);
      const runs = await server.admin('GET', `/hooks/${hook.body.id}/executions`);
      assert.equal(runs.body[0]?.outcome, 'error', 'the hook ran and failed');

      // A password reset: the link's token is in its path.
      const browser = new Browser(server.url);
      const identify = await browser.get((await authorizationUrl(rp)).url.toString());
      const forgot = identify.doc.querySelector('a[href$="/forgot-password"]')?.getAttribute('href');
      assert.ok(forgot, 'the sign-in page links to forgot password');
      await browser.submit(await browser.get(forgot), { identifier: 'ivy@example.com' });
      const link = linkIn(await smtp.waitFor('ivy@example.com', /reset/i), `${server.url}/reset-password/`);
      secrets['reset token'] = link.slice(`${server.url}/reset-password/`.length);
      // A POST without the form's CSRF token is refused, and logged as such.
      const forged = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=forged+password+1' });
      assert.equal(forged.status, 403);
      secrets['new password'] = 'ivys password 2';
      const reset = await browser.submit(await browser.get(link), { password: secrets['new password'] });
      assert.equal(reset.status, 200);

      // Lines a background task may still write: the mails (sent after the answer), the hook runs'
      // records, the webhook deliveries.
      await mailsSent(server);
      await server.server.services.executions.flush();
      await webhooksSettled(server);
      const log = lines.join('');
      // The log is there and says what happened...
      assert.match(log, /"path":"\/token"/);
      assert.match(log, /"path":"\/reset-password\/\[redacted\]"/);
      assert.match(log, /csrf check failed/);
      assert.match(log, /hook failed/);
      // ...without any of the secrets.
      for (const [name, value] of Object.entries(secrets)) {
        assert.ok(value && value.length >= 8, `${name} is known to the test`);
        assert.ok(!log.includes(value), `the ${name} is not in the logs`);
      }
      assert.ok(!log.includes(encodeURIComponent(secrets.password!)), 'nor the form-encoded password');
    });
  });
}
