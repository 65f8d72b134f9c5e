// Journeys are all-or-nothing (issue #18): the real server in a child process kills itself with
// SIGKILL at a named step of a multi-write journey (a fault point, src/faults.ts, armed through
// TESSERA_FAULT_POINT under NODE_ENV=test), is started again on the same database, and the journey
// is found in its old state or its new one, never a mix: a reset killed before its commit left the
// old password, a working link and a working refresh token; killed after it, the new password, a used
// link and no old refresh token. An enrolment killed before its commit left the factor unconfirmed
// (a new code confirms it); killed after, the recovery codes are shown again and resubmitting is no error.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { alertText, Browser, type Page } from './support/browser.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';
import { waitForMailCount } from './support/hosted-pages.ts';
import { assertCodePage, assertEnrolPage, codeIn, recoveryCodesOf } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { ServerProcess } from './support/server-process.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const OLD = 'the old password 1';
const NEW = 'the new password 2';

for (const kind of databaseKinds()) {
  describe(`journeys killed at a fault point leave the old state or the new one (${kind})`, () => {
    let smtp: SmtpReceiver;

    before(async () => {
      smtp = await startSmtpReceiver();
    });
    after(async () => {
      await smtp?.close();
    });

    /** A database of its own and a server process on it, armed for `point`, with an application; both go with the test. */
    const setUp = async (t: TestContext, point: string, app: Record<string, unknown> = {}) => {
      const database: TestDatabase = await createTestDatabase(kind);
      const proc = await ServerProcess.create(database.url, { SMTP_URL: smtp.url, MFA_RESEND_INTERVAL_SECONDS: '0' });
      t.after(async () => {
        await proc.kill();
        await database.drop();
      });
      await proc.start({ NODE_ENV: 'test', TESSERA_FAULT_POINT: point });
      const created = await proc.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], ...app });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const rp = await discoverClient(proc.url, created.body.client_id, created.body.client_secret);
      return { proc, rp };
    };

    /** Submits the page's form, which the armed process must answer by dying; then starts it again, unarmed. */
    const crashOn = async (proc: ServerProcess, browser: Browser, page: Page, values: Record<string, string>, selector?: string) => {
      await assert.rejects(browser.submit(page, values, selector), 'the request is cut by the kill');
      assert.equal((await proc.exited()).signal, 'SIGKILL', 'the process killed itself at the fault point');
      await proc.start();
    };

    const signsIn = async (rp: RelyingParty, proc: ServerProcess, email: string, password: string) => {
      const done = await signIn(new Browser(proc.url), await authorizationUrl(rp), email, password);
      return done.redirectedTo?.startsWith(CALLBACK) === true;
    };
    const refreshes = (rp: RelyingParty, token: string) =>
      oidc.refreshTokenGrant(rp.config, token).then(
        (tokens) => tokens.refresh_token ?? token,
        (error: { error?: string }) => {
          assert.equal(error.error, 'invalid_grant', String(error));
          return null;
        },
      );
    const uidOf = (page: Page) => /\/interaction\/([^/?#]+)/.exec(new URL(page.url).pathname)![1]!;

    // ---- password reset ------------------------------------------------------------------------

    const RESET_POINTS: Array<[point: string, committed: boolean]> = [
      ['reset.link-consumed', false],
      ['reset.password-set', false],
      ['reset.signed-out', false],
      ['reset.committed', true],
    ];
    for (const [point, committed] of RESET_POINTS) {
      it(`a password reset killed at ${point} leaves the ${committed ? 'new' : 'old'} state, whole`, async (t) => {
        const { proc, rp } = await setUp(t, point);
        const email = `${point.replaceAll('.', '-')}-${kind}@example.com`;
        assert.equal((await proc.admin('POST', '/users', { email, password: OLD, email_verified: true })).status, 201);
        const browser = new Browser(proc.url);
        const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
        const signedIn = await signIn(browser, start, email, OLD);
        assert.ok(signedIn.redirectedTo?.startsWith(CALLBACK), alertText(signedIn) ?? signedIn.html.slice(0, 300));
        let refreshToken = (await exchangeCode(rp, start, signedIn.redirectedTo!)).refresh_token!;
        assert.ok(refreshToken);

        // The reset from another browser (this one's session would sign in without a page).
        const resetter = new Browser(proc.url);
        const identify = await resetter.get((await authorizationUrl(rp)).url.toString());
        const forgot = await resetter.get(`/interaction/${uidOf(identify)}/forgot-password`);
        await resetter.submit(forgot, { identifier: email });
        const link = linkIn(await smtp.waitFor(email, /reset/i), `${proc.url}/reset-password/`);
        await crashOn(proc, resetter, await resetter.get(link), { password: NEW });

        const token = await refreshes(rp, refreshToken);
        if (committed) {
          assert.equal(token, null, 'the old refresh token does not survive a completed password change');
          assert.ok(await signsIn(rp, proc, email, NEW), 'the new password signs in');
          assert.ok(!(await signsIn(rp, proc, email, OLD)), 'the old password does not');
          assert.equal((await new Browser(proc.url).get(link)).status, 410, 'the link is used up');
          return;
        }
        assert.ok(token, 'the old state: the refresh token still works');
        refreshToken = token;
        assert.ok(await signsIn(rp, proc, email, OLD), 'the old state: the old password still signs in');
        assert.ok(!(await signsIn(rp, proc, email, NEW)));
        // The link was not used up: the reset can be done now, and then it is whole.
        const again = new Browser(proc.url);
        const form = await again.get(link);
        assert.equal(form.status, 200, alertText(form) ?? '');
        const done = await again.submit(form, { password: NEW });
        assert.equal(done.status, 200, alertText(done) ?? '');
        assert.equal(await refreshes(rp, refreshToken), null, 'the reset signs out everywhere');
        assert.ok(await signsIn(rp, proc, email, NEW));
      });
    }

    // ---- MFA enrolment -------------------------------------------------------------------------

    for (const [point, committed] of [
      ['mfa.enrol.activated', false],
      ['mfa.enrol.committed', true],
    ] as const) {
      it(`an MFA enrolment killed at ${point} leaves the ${committed ? 'new' : 'old'} state, whole`, async (t) => {
        const { proc, rp } = await setUp(t, point, { mfa: 'required' });
        const email = `${point.replaceAll('.', '-')}-${kind}@example.com`;
        const created = await proc.admin('POST', '/users', { email, password: OLD, email_verified: true });
        assert.equal(created.status, 201);
        const factors = async () => (await proc.admin('GET', `/users/${created.body.id}/factors`)).body as Array<{ type: string; status: string; remaining_codes?: number }>;
        const browser = new Browser(proc.url);
        const start = await authorizationUrl(rp);
        const enrol = await signIn(browser, start, email, OLD);
        assertEnrolPage(enrol);
        const codePage = await browser.submit(enrol, { method: 'email' });
        assertCodePage(codePage);
        const code = codeIn((await waitForMailCount(smtp, email, 1)).text);
        await crashOn(proc, browser, codePage, { code });
        const uid = uidOf(codePage);

        if (!committed) {
          assert.deepEqual(
            (await factors()).map((f) => [f.type, f.status]),
            [['email', 'pending']],
            'the old state: the factor is not confirmed, no recovery codes',
          );
          const page = await browser.get(`/interaction/${uid}/mfa`);
          assertCodePage(page);
          await browser.submit(page, {}, 'form#mfa-resend');
          const fresh = codeIn((await waitForMailCount(smtp, email, 2)).text);
          const codes = await browser.submit(page, { code: fresh });
          assert.equal(recoveryCodesOf(codes).length, 10, alertText(codes) ?? codes.html.slice(0, 300));
          const done = await browser.submit(codes);
          assert.ok(done.redirectedTo?.startsWith(CALLBACK));
          return;
        }
        const stored = await factors();
        assert.deepEqual(stored.map((f) => [f.type, f.status]).sort(), [
          ['email', 'active'],
          ['recovery_codes', 'active'],
        ]);
        // The codes were never shown: the page shows them now, again on a reload, and resubmitting the
        // confirming code is no error either.
        const shown = recoveryCodesOf(await browser.get(`/interaction/${uid}/mfa`));
        assert.equal(shown.length, 10);
        assert.deepEqual(recoveryCodesOf(await browser.get(`/interaction/${uid}/mfa`)), shown);
        const resubmitted = await browser.submit(codePage, { code });
        assert.equal(resubmitted.status, 200);
        assert.deepEqual(recoveryCodesOf(resubmitted), shown);
        const done = await browser.submit(resubmitted);
        assert.ok(done.redirectedTo?.startsWith(CALLBACK), alertText(done) ?? done.html.slice(0, 300));
        // Once acknowledged they are not shown again, and they are the stored ones: one signs in.
        assert.deepEqual(recoveryCodesOf(await browser.get(`/interaction/${uid}/mfa`)), []);
        const other = new Browser(proc.url);
        const challenge = await signIn(other, await authorizationUrl(rp), email, OLD);
        assertCodePage(challenge);
        const recovery = await other.submit(challenge, {}, 'form#mfa-recovery');
        const signedIn = await other.submit(recovery, { code: shown[0]! });
        assert.ok(signedIn.redirectedTo?.startsWith(CALLBACK), alertText(signedIn) ?? signedIn.html.slice(0, 300));
      });
    }

    // ---- registration and activation -----------------------------------------------------------

    it('an activation killed with its link used up leaves the account pending and the link working', async (t) => {
      const { proc, rp } = await setUp(t, 'activation.link-consumed');
      const email = `activation-${kind}@example.com`;
      const browser = new Browser(proc.url);
      const identify = await browser.get((await authorizationUrl(rp)).url.toString());
      const registered = await browser.submit(await browser.get(`/interaction/${uidOf(identify)}/register`), { email, password: OLD, given_name: 'Ada', family_name: 'Byron' });
      assert.equal(registered.status, 200, alertText(registered) ?? '');
      const link = linkIn(await smtp.waitFor(email, /activat/i), `${proc.url}/activate/`);
      await assert.rejects(new Browser(proc.url).get(link));
      assert.equal((await proc.exited()).signal, 'SIGKILL');
      await proc.start();
      const [user] = (await proc.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body;
      assert.equal(user.status, 'pending');
      assert.equal(user.email_verified, false);
      const opened = await new Browser(proc.url).get(link);
      assert.equal(opened.status, 200, alertText(opened) ?? '');
      assert.equal((await proc.admin('GET', `/users/${user.id}`)).body.status, 'active');
    });

    it('a registration killed after the account was created: registering again mails a working link', async (t) => {
      const { proc, rp } = await setUp(t, 'registration.user-created');
      const email = `registration-${kind}@example.com`;
      const register = async () => {
        const browser = new Browser(proc.url);
        const identify = await browser.get((await authorizationUrl(rp)).url.toString());
        return { browser, form: await browser.get(`/interaction/${uidOf(identify)}/register`) };
      };
      const first = await register();
      await crashOn(proc, first.browser, first.form, { email, password: OLD, given_name: 'Ada', family_name: 'Byron' });
      const found = (await proc.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body;
      assert.equal(found.length, 1, 'the account was created once');
      assert.equal(found[0].status, 'pending');
      const second = await register();
      const again = await second.browser.submit(second.form, { email, password: OLD, given_name: 'Ada', family_name: 'Byron' });
      assert.equal(again.status, 200, alertText(again) ?? '');
      const opened = await new Browser(proc.url).get(linkIn(await smtp.waitFor(email, /activat/i), `${proc.url}/activate/`));
      assert.equal(opened.status, 200, alertText(opened) ?? '');
      assert.equal((await proc.admin('GET', `/users/${found[0].id}`)).body.status, 'active');
      assert.equal((await proc.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body.length, 1);
    });
  });
}
