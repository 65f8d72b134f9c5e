// Forgot password and forgot username: the reset link works once, expires, retires the other links,
// and the old password stops working; both answer the same whether or not an account matches.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, mailsTo, signIn, startLogin, waitForMailCount } from './support/hosted-pages.ts';
import * as oidc from 'openid-client';
import { authorizationUrl as rpAuthorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn as rpSignIn } from './support/rp.ts';
import { advanceClockTo } from './support/clock.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const mainText = (page: Page) => page.doc.querySelector('main')!.text.replace(/\s+/g, ' ').trim();

for (const kind of databaseKinds()) {
  describe(`password reset and forgot username (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, PASSWORD_RESET_TTL_SECONDS: '600' } });
      clientId = await createTestApplication(server);
      await createTestUser(server, { email: 'alice@example.com', username: 'alice', password: 'old password 1', given_name: 'Alice' });
      await createTestUser(server, { email: 'nousername@example.com', password: 'some password 1' });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    /** Opens the forgot-password page from the identify page and submits `identifier`. */
    async function requestReset(identifier: string): Promise<Page> {
      const browser = new Browser(server.url);
      const { page, uid } = await startLogin(browser, server, clientId);
      const href = page.doc.querySelector(`a[href="/interaction/${uid}/forgot-password"]`)?.getAttribute('href');
      assert.ok(href, 'the identify page links to forgot password');
      const form = await browser.get(href);
      assert.ok(form.doc.querySelector('input[name="identifier"]'));
      return browser.submit(form, { identifier });
    }

    const events = async (type: string) => (await server.server.services.db('webhook_events').where({ type })).length;

    it('mails a reset link that works once; the old password stops working', async () => {
      const known = await requestReset('alice');
      const unknown = await requestReset('nobody-at-all');
      assert.equal(known.status, 200);
      assert.equal(known.status, unknown.status);
      assert.equal(mainText(known), mainText(unknown));
      assert.match(mainText(known), /if an account matches/i);

      const mail = await smtp.waitFor('alice@example.com', /reset/i);
      assert.equal(await events('user.password.reset.start'), 1);
      const link = linkIn(mail, `${server.url}/reset-password/`);

      const browser = new Browser(server.url);
      const form = await browser.get(link);
      assert.equal(form.status, 200);
      assert.ok(form.doc.querySelector('input[name="password"][type="password"]'));

      const weak = await browser.submit(form, { password: 'abc' });
      assert.equal(weak.status, 400);
      assert.match(alertText(weak) ?? '', /at least 8 characters/i);

      const done = await browser.submit(weak, { password: 'brand new password 2' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      assert.match(mainText(done), /password has been changed/i);
      assert.equal(await events('user.password.reset.success'), 1);

      // Once only.
      const reused = await browser.get(link);
      assert.equal(reused.status, 410);
      assert.match(alertText(reused) ?? '', /already been used/i);
      const replayPost = await browser.submit(form, { password: 'third password 3' });
      assert.equal(replayPost.status, 410);

      // The old password is refused, the new one signs in (by email and by username).
      const b1 = new Browser(server.url);
      const { page: p1 } = await startLogin(b1, server, clientId);
      const old = await signIn(b1, p1, 'alice@example.com', 'old password 1');
      assert.equal(old.redirectedTo, null);
      assert.match(alertText(old) ?? '', /not correct/i);

      const b2 = new Browser(server.url);
      const { page: p2, state } = await startLogin(b2, server, clientId);
      assertCodeRedirect(await signIn(b2, p2, 'alice', 'brand new password 2'), state);
    });

    it('a reset signs the account out everywhere: its sessions and refresh tokens stop working', async () => {
      await createTestUser(server, { email: 'bob@example.com', password: 'bob password 1' });
      const app = await server.admin('POST', '/applications', { name: 'Mail', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const browser = new Browser(server.url);
      const start = await rpAuthorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await rpSignIn(browser, start, 'bob@example.com', 'bob password 1');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), alertText(done) ?? done.html.slice(0, 300));
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token);
      // Before the reset, the browser's session signs in again without a page.
      const silent = await browser.get((await rpAuthorizationUrl(rp)).url.toString());
      assert.ok(silent.redirectedTo?.startsWith(CALLBACK), 'the session is live before the reset');

      await requestReset('bob@example.com');
      const link = linkIn(await smtp.waitFor('bob@example.com', /reset/i), `${server.url}/reset-password/`);
      const other = new Browser(server.url);
      const reset = await other.submit(await other.get(link), { password: 'bob password 2' });
      assert.equal(reset.status, 200, alertText(reset) ?? '');

      await assert.rejects(oidc.refreshTokenGrant(rp.config, tokens.refresh_token), (error: { error?: string }) => error.error === 'invalid_grant');
      const again = await browser.get((await rpAuthorizationUrl(rp)).url.toString());
      assert.equal(again.redirectedTo ?? null, null, 'the old session no longer signs in');
      assert.ok(again.doc.querySelector('input[name="identifier"]'), 'the sign-in page is shown');
      const fresh = await rpSignIn(new Browser(server.url), await rpAuthorizationUrl(rp), 'bob@example.com', 'bob password 2');
      assert.ok(fresh.redirectedTo?.startsWith(CALLBACK), 'the new password signs in');
    });

    it('retires the other links when one is used, and refuses an expired link', async () => {
      const before = mailsTo(smtp, 'alice@example.com').length;
      await requestReset('alice@example.com');
      await requestReset('ALICE@example.com ');
      const first = linkIn(await waitForMailCount(smtp, 'alice@example.com', before + 1), `${server.url}/reset-password/`);
      const second = linkIn(await waitForMailCount(smtp, 'alice@example.com', before + 2), `${server.url}/reset-password/`);
      assert.notEqual(first, second);

      const browser = new Browser(server.url);
      const done = await browser.submit(await browser.get(second), { password: 'fourth password 4' });
      assert.equal(done.status, 200);
      const retired = await browser.get(first);
      assert.equal(retired.status, 410);

      // Expiry: the link's time runs out (moved into the past rather than waiting).
      await requestReset('alice');
      const third = linkIn(await waitForMailCount(smtp, 'alice@example.com', before + 3), `${server.url}/reset-password/`);
      const form = await browser.get(third);
      assert.equal(form.status, 200);
      await server.server.services
        .db('action_tokens')
        .where({ kind: 'password_reset' })
        .whereNull('used_at')
        .update({ expires_at: Date.now() - 1000 });
      const expired = await browser.get(third);
      assert.equal(expired.status, 410);
      assert.match(alertText(expired) ?? '', /expired/i);
      const late = await browser.submit(form, { password: 'fifth password 5' });
      assert.equal(late.status, 410);

      const b = new Browser(server.url);
      const { page, state } = await startLogin(b, server, clientId);
      assertCodeRedirect(await signIn(b, page, 'alice@example.com', 'fourth password 4'), state);
    });

    // The ten seconds pass on the clock (test/support/clock.ts), not in real time.
    it('a link with PASSWORD_RESET_TTL_SECONDS=10 stops working after 10 seconds', async () => {
      const short = await startTestServer(kind, { env: { SMTP_URL: smtp.url, PASSWORD_RESET_TTL_SECONDS: '10' } });
      try {
        await short.server.services.users.create({ email: 'dana@example.com', password: 'dana password 1' }, 'admin');
        const app = await short.server.services.applications.create({
          name: 'Short',
          redirect_uris: ['http://localhost:8976/callback'],
          token_endpoint_auth_method: 'none',
        });
        const browser = new Browser(short.url);
        const { uid } = await startLogin(browser, short, app.client_id);
        const asked = Date.now();
        await browser.submit(await browser.get(`/interaction/${uid}/forgot-password`), { identifier: 'dana@example.com' });
        const link = linkIn(await smtp.waitFor('dana@example.com', /reset/i), `${short.url}/reset-password/`);
        const mailed = Date.now();
        assert.equal((await browser.get(link)).status, 200);
        // The link was made between `asked` and `mailed`: just short of ten seconds after the first
        // it still works, ten seconds after the second it no longer does.
        advanceClockTo(asked + 9_900);
        assert.equal((await browser.get(link)).status, 200, 'still works inside the ten seconds');
        advanceClockTo(mailed + 10_000);
        const expired = await browser.get(link);
        assert.equal(expired.status, 410);
        assert.match(alertText(expired) ?? '', /expired/i);
      } finally {
        await short.close();
      }
    });

    it('forgot username mails the username, or says there is none; nothing tells whether an account exists', async () => {
      const ask = async (email: string) => {
        const browser = new Browser(server.url);
        const { page, uid } = await startLogin(browser, server, clientId);
        const href = page.doc.querySelector(`a[href="/interaction/${uid}/forgot-username"]`)?.getAttribute('href');
        assert.ok(href, 'the identify page links to forgot username');
        const form = await browser.get(href);
        assert.ok(form.doc.querySelector('input[name="email"]'));
        return browser.submit(form, { email });
      };
      const withName = await ask('Alice@Example.com');
      const without = await ask('nousername@example.com');
      const unknown = await ask('ghost@example.com');
      for (const page of [withName, without, unknown]) {
        assert.equal(page.status, 200);
        assert.equal(mainText(page), mainText(withName));
        assert.equal(alertText(page), null);
      }
      const a = await smtp.waitFor('alice@example.com', /username/i);
      assert.match(a.text, /Your username is: alice/);
      const n = await smtp.waitFor('nousername@example.com', /username/i);
      assert.match(n.text, /no username/i);
      assert.match(n.text, /nousername@example\.com/);
      await mailsSent(server); // the mails are sent after the answer: all of them have gone now
      assert.equal(mailsTo(smtp, 'ghost@example.com').length, 0);

      const invalid = await ask('not-an-email');
      assert.equal(invalid.status, 400);
      assert.match(alertText(invalid) ?? '', /valid email/i);
    });
  });
}
