// Throttling and lockout: one failed-login budget per account whatever form of its identifier is
// typed, one per client address (whose refusals spend no account's budget), a way out of a lockout
// that anyone knowing the username can cause (a completed reset link finishes its journey), the
// operator's lock and unlock (POST /admin/api/users/:id/actions), and remembered devices that end
// with a password reset and with signing out everywhere.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, signIn, startLogin } from './support/hosted-pages.ts';
import { assertCodePage, enrolTotp, recoveryCodesOf, totp } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, signIn as rpSignIn, type RelyingParty } from './support/rp.ts';
import { passwordChecks, startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

let nextIp = 10;

for (const kind of databaseKinds()) {
  describe(`throttling and lockout (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, {
        env: {
          SMTP_URL: smtp.url,
          TRUST_PROXY: 'true',
          LOGIN_MAX_FAILURES_PER_ACCOUNT: '5',
          LOGIN_MAX_FAILURES_PER_IP: '8',
          LOGIN_THROTTLE_WINDOW_SECONDS: '900',
        },
      });
      clientId = await createTestApplication(server);
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    /** A browser with an address of its own (the server trusts X-Forwarded-For in this suite). */
    const browserAt = (ip?: string) => new Browser(server.url, { 'x-forwarded-for': ip ?? `198.51.100.${nextIp++}` });
    /** One whole sign-in attempt from a fresh browser; answers the page after the password. */
    const attempt = async (identifier: string, password: string, ip?: string): Promise<{ page: Page; state: string }> => {
      const browser = browserAt(ip);
      const { page, state } = await startLogin(browser, server, clientId);
      return { page: await signIn(browser, page, identifier, password), state };
    };
    const refusedAsThrottled = (page: Page, what: string) => {
      assert.equal(page.status, 429, `${what}: ${alertText(page)}`);
      assert.equal(page.redirectedTo, null, what);
      assert.match(alertText(page) ?? '', /too many failed sign-in attempts/i, what);
    };

    it('one budget per account, whatever form of the identifier is typed', async () => {
      await createTestUser(server, { email: 'lena@example.com', username: 'lena', password: 'lenas password 1' });
      const forms = ['lena', 'Lena@Example.com', ' lena@example.com', 'LENA', 'lena@example.com '];
      for (const [i, form] of forms.entries()) {
        const { page } = await attempt(form, `wrong password ${i}`);
        assert.equal(page.status, 400, `failure ${i + 1} (${form})`);
        assert.match(alertText(page) ?? '', /not correct/i);
      }
      // The sixth attempt, with the right password and yet another form: refused unchecked.
      const checks = await passwordChecks(server);
      refusedAsThrottled((await attempt('Lena', 'lenas password 1')).page, 'the right password past the budget');
      assert.equal((await passwordChecks(server)).stored, checks.stored, 'the password was not checked');
    });

    it('one budget per client address; what it refuses spends no account budget', async () => {
      await createTestUser(server, { email: 'mia@example.com', username: 'mia', password: 'mias password 1' });
      const ip = '203.0.113.50';
      for (let i = 0; i < 8; i++) {
        assert.equal((await attempt(`stranger${i}@example.com`, 'wrong password', ip)).page.status, 400, `failure ${i + 1} from the address`);
      }
      // The address is over its budget, for every account, even with the right password.
      for (let i = 0; i < 6; i++) refusedAsThrottled((await attempt('mia', i === 5 ? 'mias password 1' : `guess ${i}`, ip)).page, `refusal ${i + 1}`);
      // Those six refusals did not use Mia's budget: four failures elsewhere, and the fifth attempt signs in.
      for (let i = 0; i < 4; i++) assert.equal((await attempt('mia', `typo ${i}`)).page.status, 400, `Mia's failure ${i + 1}`);
      const fine = await attempt('mia', 'mias password 1');
      assertCodeRedirect(fine.page, fine.state);
    });

    it('a locked-out account finishes its sign-in through the reset link, even if the budget is spent again', async () => {
      await createTestUser(server, { email: 'nina@example.com', username: 'nina', password: 'ninas password 1' });
      const lockOut = async () => {
        for (let i = 0; i < 5; i++) await attempt('nina', `attacker guess ${i}`);
        refusedAsThrottled((await attempt('nina', 'ninas password 1')).page, 'locked out');
      };
      await lockOut();

      // Nina asks for a reset from her sign-in page and opens the link in her mail client.
      const nina = browserAt('192.0.2.20');
      const { uid } = await startLogin(nina, server, clientId);
      const sent = await nina.submit(await nina.get(`/interaction/${uid}/forgot-password`), { identifier: 'nina' });
      assert.equal(sent.status, 200);
      const link = linkIn(await smtp.waitFor('nina@example.com', /reset/i), `${server.url}/reset-password/`);
      const mailClient = browserAt('192.0.2.21');
      const changed = await mailClient.submit(await mailClient.get(link), { password: 'ninas new password 2' });
      assert.equal(changed.status, 200, alertText(changed) ?? '');
      assert.ok(changed.doc.querySelector(`a[href="/interaction/${uid}"]`), 'the page leads back to the sign-in');

      // The attacker spends the budget again at once: a new journey is refused, even with the new password...
      await lockOut();
      refusedAsThrottled((await attempt('nina', 'ninas new password 2')).page, 'another journey');
      // ...but the journey that asked for the link finishes.
      const identify = await nina.get(`/interaction/${uid}`);
      assert.ok(identify.doc.querySelector('input[name="identifier"]'));
      const done = await signIn(nina, identify, 'nina', 'ninas new password 2');
      assert.ok(done.redirectedTo?.startsWith('http://localhost:8976/callback'), `${done.status}: ${alertText(done)}`);
    });

    it('admin lock and unlock: sign-in refused while locked, unlock lifts it and clears the budget', async () => {
      const id = await createTestUser(server, { email: 'olga@example.com', username: 'olga', password: 'olgas password 1' });
      // A session first: the lock ends it.
      const olga = browserAt();
      const { page: p0, state: s0 } = await startLogin(olga, server, clientId);
      assertCodeRedirect(await signIn(olga, p0, 'olga', 'olgas password 1'), s0);

      const locked = await server.admin('POST', `/users/${id}/actions`, { action: 'lock', reason: 'fraud review' });
      assert.equal(locked.status, 200, JSON.stringify(locked.body));
      assert.equal(locked.body.locked, true);
      assert.equal(locked.body.reason, 'fraud review');
      assert.equal(locked.body.locked_until, null, 'no duration: until unlocked');
      // The session is gone: the next authorization asks for the sign-in again.
      const { page: again } = await startLogin(olga, server, clientId);
      const refused = await signIn(olga, again, 'olga', 'olgas password 1');
      assert.equal(refused.status, 403);
      assert.equal(refused.redirectedTo, null);
      assert.match(alertText(refused) ?? '', /this account is locked/i);
      // A wrong password still gets the usual answer: the lock is told only to the right password.
      const wrong = await attempt('olga', 'not her password');
      assert.equal(wrong.page.status, 400);
      assert.match(alertText(wrong.page) ?? '', /not correct/i);

      // Past the budget too, then an unlock: the right password signs in at once.
      for (let i = 0; i < 4; i++) await attempt('olga@example.com', `guess ${i}`);
      refusedAsThrottled((await attempt('olga', 'olgas password 1')).page, 'locked and over the budget');
      const unlocked = await server.admin('POST', `/users/${id}/actions`, { action: 'unlock', reason: 'review done' });
      assert.equal(unlocked.status, 200, JSON.stringify(unlocked.body));
      assert.equal(unlocked.body.locked, false);
      const fine = await attempt('OLGA@example.com', 'olgas password 1');
      assertCodeRedirect(fine.page, fine.state);

      // Both actions are user.action webhook events, written with the change.
      const events = (await server.server.services.db('webhook_events').where({ type: 'user.action' }).orderBy('created_at').select('data'))
        .map((row: { data: unknown }) => (typeof row.data === 'string' ? JSON.parse(row.data) : row.data))
        .filter((data: { user_id: string }) => data.user_id === id);
      assert.deepEqual(events, [
        { user_id: id, action: 'lock', reason: 'fraud review', locked_until: null },
        { user_id: id, action: 'unlock', reason: 'review done', locked_until: null },
      ]);
    });

    it('admin unlock clears the failed-login budget of an account that was never locked', async () => {
      const id = await createTestUser(server, { email: 'pia@example.com', username: 'pia', password: 'pias password 1' });
      for (let i = 0; i < 5; i++) await attempt(i % 2 ? 'pia' : 'pia@example.com', `guess ${i}`);
      refusedAsThrottled((await attempt('pia', 'pias password 1')).page, 'over the budget');
      assert.equal((await server.admin('POST', `/users/${id}/actions`, { action: 'unlock', reason: 'user called support' })).status, 200);
      const fine = await attempt('pia', 'pias password 1');
      assertCodeRedirect(fine.page, fine.state);
    });

    it('a lock with duration_seconds ends by itself', async () => {
      const id = await createTestUser(server, { email: 'quinn@example.com', password: 'quinns password 1' });
      const before = Date.now();
      const locked = await server.admin('POST', `/users/${id}/actions`, { action: 'lock', reason: 'cooling off', duration_seconds: 3600 });
      assert.equal(locked.status, 200, JSON.stringify(locked.body));
      const until = Date.parse(locked.body.locked_until);
      assert.ok(until >= before + 3_600_000 && until <= Date.now() + 3_600_000, locked.body.locked_until);
      assert.equal((await attempt('quinn@example.com', 'quinns password 1')).page.status, 403);
      // The hour has passed.
      await server.server.services
        .db('users')
        .where({ id })
        .update({ locked_until: Date.now() - 1000 });
      const fine = await attempt('quinn@example.com', 'quinns password 1');
      assertCodeRedirect(fine.page, fine.state);
    });

    it('actions: 404 for an unknown user, 400 naming the field for a bad body', async () => {
      const id = await createTestUser(server, { email: 'ruth@example.com', password: 'ruths password 1' });
      const unknown = await server.admin('POST', '/users/00000000-0000-4000-8000-000000000000/actions', { action: 'unlock', reason: 'x' });
      assert.equal(unknown.status, 404);
      const bad: Array<[unknown, RegExp]> = [
        [{ action: 'freeze', reason: 'x' }, /^action: /],
        [{ reason: 'x' }, /^action: /],
        [{ action: 'lock' }, /^reason: /],
        [{ action: 'lock', reason: '   ' }, /^reason: /],
        [{ action: 'lock', reason: 42 }, /^reason: /],
        [{ action: 'lock', reason: 'x', duration_seconds: 0 }, /^duration_seconds: /],
        [{ action: 'lock', reason: 'x', duration_seconds: 1.5 }, /^duration_seconds: /],
        [{ action: 'lock', reason: 'x', duration_seconds: '60' }, /^duration_seconds: /],
        [{ action: 'unlock', reason: 'x', duration_seconds: 60 }, /^duration_seconds: /],
        [{ action: 'lock', reason: 'x', until: 'tomorrow' }, /^until: /],
        [['lock'], /./],
      ];
      for (const [body, message] of bad) {
        const answer = await server.admin('POST', `/users/${id}/actions`, body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.match(answer.body.message, message, JSON.stringify(body));
      }
      // Nothing was locked by any of them.
      const fine = await attempt('ruth@example.com', 'ruths password 1');
      assertCodeRedirect(fine.page, fine.state);
    });
  });

  describe(`remembered devices end with a reset and with signing out everywhere (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let rp: RelyingParty;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], mfa: 'required', remember_device_days: 30 });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    /** Enrols TOTP with "remember this device"; checks that the next login in this browser skips MFA. */
    const rememberedBrowser = async (email: string, password: string): Promise<Browser> => {
      const browser = new Browser(server.url);
      const { page } = await enrolTotp(browser, await rpSignIn(browser, await authorizationUrl(rp), email, password));
      const secret = page.doc.querySelector('#totp-secret')!.text.trim();
      const done = await browser.submit(page, { code: totp(secret), remember: 'yes' });
      assert.equal(recoveryCodesOf(done).length, 10);
      assert.ok((await browser.submit(done)).redirectedTo?.startsWith(CALLBACK));
      const again = await rpSignIn(browser, await authorizationUrl(rp, { prompt: 'login' }), email, password);
      assert.ok(again.redirectedTo?.startsWith(CALLBACK), 'the remembered device skips the second factor');
      return browser;
    };

    it('a password reset ends the remembered device: the next login asks for the second factor', async () => {
      await server.admin('POST', '/users', { email: 'sam@example.com', password: 'sams password 1', email_verified: true });
      const browser = await rememberedBrowser('sam@example.com', 'sams password 1');
      const other = new Browser(server.url);
      const identify = await other.get((await authorizationUrl(rp)).url.toString());
      const uid = /\/interaction\/([^/?#]+)$/.exec(new URL(identify.url).pathname)![1];
      await other.submit(await other.get(`/interaction/${uid}/forgot-password`), { identifier: 'sam@example.com' });
      const link = linkIn(await smtp.waitFor('sam@example.com', /reset/i), `${server.url}/reset-password/`);
      assert.equal((await other.submit(await other.get(link), { password: 'sams new password 2' })).status, 200);
      assertCodePage(await rpSignIn(browser, await authorizationUrl(rp, { prompt: 'login' }), 'sam@example.com', 'sams new password 2'));
    });

    it("past the account's budget, a remembered browser (a passed second factor) still signs in; others are refused", async () => {
      await server.admin('POST', '/users', { email: 'uma@example.com', password: 'umas password 1', email_verified: true });
      const browser = await rememberedBrowser('uma@example.com', 'umas password 1');
      for (let i = 0; i < 5; i++) {
        const page = await rpSignIn(new Browser(server.url), await authorizationUrl(rp), 'uma@example.com', `attacker guess ${i}`);
        assert.equal(page.status, 400, `failure ${i + 1}`);
      }
      const stranger = await rpSignIn(new Browser(server.url), await authorizationUrl(rp), 'uma@example.com', 'umas password 1');
      assert.equal(stranger.status, 429, 'a browser without the remembered device is refused, even with the right password');
      const mine = await rpSignIn(browser, await authorizationUrl(rp, { prompt: 'login' }), 'uma@example.com', 'umas password 1');
      assert.ok(mine.redirectedTo?.startsWith(CALLBACK), `the remembered browser signs in: ${mine.status} ${alertText(mine)}`);
      // Its success forgave the failures: a new browser may sign in again (and is asked the second factor).
      assertCodePage(await rpSignIn(new Browser(server.url), await authorizationUrl(rp), 'uma@example.com', 'umas password 1'));
    });

    it('signing out everywhere (DELETE /users/:id/sessions) ends the remembered device', async () => {
      const user = await server.admin('POST', '/users', { email: 'tara@example.com', password: 'taras password 1', email_verified: true });
      const browser = await rememberedBrowser('tara@example.com', 'taras password 1');
      assert.equal((await server.admin('DELETE', `/users/${user.body.id}/sessions`)).status, 204);
      assertCodePage(await rpSignIn(browser, await authorizationUrl(rp, { prompt: 'login' }), 'tara@example.com', 'taras password 1'));
    });
  });
}
