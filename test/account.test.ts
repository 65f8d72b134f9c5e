// The end user's account page (/account) without JavaScript: signing in through the hosted pages,
// each section's change through the same services as the admin API (validation, hooks, webhooks),
// the email change through the link mailed to the new address (a real SMTP receiver), the step-up of
// sensitive changes when the sign-in is old (the test clock moves; nothing sleeps), CSRF refusals,
// an application's refresh token (openid-client) stopping once the user revokes it, the branding of
// an application the page was reached from, and the deletion of the account.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { alertText, Browser } from './support/browser.ts';
import { accountSignIn, ACCOUNT_PASSWORD, assertAccountPage, eventsOf, passSignIn } from './support/account.ts';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { totp } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, LOGGED_OUT, signIn } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SIX_MINUTES = 6 * 60 * 1000;

for (const kind of databaseKinds()) {
  describe(`account page (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let seq = 0;
    const newUser = async (extra: Record<string, unknown> = {}) => {
      const email = `acct${++seq}@example.com`;
      const made = await server.admin('POST', '/users', { email, password: ACCOUNT_PASSWORD, email_verified: true, given_name: 'Ada', ...extra });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return { id: made.body.id as string, email };
    };
    const hook = async (event: string, code: string) => {
      const made = await server.admin('POST', '/hooks', { name: `${event} ${++seq}`, event, mode: 'sync', code });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id as string;
    };
    const executions = async (hookId: string) => (await server.admin('GET', `/hooks/${hookId}/executions`)).body as Array<{ outcome: string; logs: string[] }>;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    test('GET /account signs in through the hosted pages; the session cookie is HttpOnly; the page has every section', async () => {
      const user = await newUser();
      const anonymous = await new Browser(server.url).get('/account');
      assert.ok(anonymous.doc.querySelector('input[name="identifier"]'), 'without a session: the identify page');
      const { browser, page } = await accountSignIn(server, user.email);
      const cookie = (await browser.jar.getCookies(`${server.url}/account`)).find((c) => c.key === 'tessera.account');
      assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(cookie?.path, '/account');
      assert.ok(!page.html.includes('eyJ'), 'no token reaches the page');
      for (const id of ['profile', 'email', 'password', 'security', 'consents', 'applications', 'sessions', 'delete']) assert.ok(page.doc.querySelector(`section#${id} h2`), `section ${id}`);
      assert.ok(page.doc.querySelector('#signed-in-sessions li strong'), 'this browser is listed among the sessions');
      // Every form carries the CSRF token.
      for (const form of page.doc.querySelectorAll('form[method="post"]')) assert.ok(form.querySelector('input[name="csrf"]'), `form ${form.getAttribute('action')} carries the token`);
    });

    test('every change is refused without the form token, or with another browser’s', async () => {
      const user = await newUser();
      const { browser, page } = await accountSignIn(server, user.email);
      const other = await accountSignIn(server, (await newUser()).email);
      const foreignToken = other.browser.form(other.page, '#profile-form').fields.csrf!;
      for (const [action, fields] of [
        ['/account/profile', { given_name: 'Mallory' }],
        ['/account/email', { email: 'mallory@example.com' }],
        ['/account/email/some-token-0123456789abcdef', {}],
        ['/account/password', { current_password: ACCOUNT_PASSWORD, new_password: 'mallory password 1' }],
        ['/account/mfa/totp', {}],
        ['/account/mfa/totp/confirm', { factor_id: 'x', code: '123456' }],
        ['/account/mfa/remove', { factor_id: 'x' }],
        ['/account/mfa/recovery-codes', {}],
        ['/account/consents', {}],
        ['/account/applications/revoke', { client_id: 'x' }],
        ['/account/sessions/sign-out', { session_id: 'x' }],
        ['/account/sessions/sign-out-all', {}],
        ['/account/logout', {}],
        ['/account/delete', { confirm: 'yes' }],
      ] as const) {
        const missing = await browser.post(action, fields);
        assert.equal(missing.status, 403, `${action} without a token`);
        assert.match(alertText(missing) ?? '', /expired|not sent from this site/);
        assert.ok(missing.doc.querySelector('a[href="/account"]'), 'the refusal leads back to the account page');
        assert.equal((await browser.post(action, { ...fields, csrf: foreignToken })).status, 403, `${action} with another browser's token`);
      }
      assert.equal((await server.admin('GET', `/users/${user.id}`)).body.given_name, 'Ada', 'nothing changed');
      assertAccountPage(await browser.get('/account'), 'still signed in');
      void page;
    });

    test('profile: the admin API’s validation (a bad phone number names the field, a taken username) and user.update', async () => {
      const taken = await newUser({ username: 'taken-name' });
      const user = await newUser();
      const { browser, page } = await accountSignIn(server, user.email);
      const bad = await browser.submit(page, { given_name: 'Augusta', phone_number: '12' }, '#profile-form');
      assert.equal(bad.status, 400);
      assert.match(alertText(bad) ?? '', /Phone number must be in E\.164 form/);
      assert.equal((bad.doc.querySelector('#f-given_name') as any)?.getAttribute('value'), 'Augusta', 'what was typed is kept');
      const clash = await browser.submit(page, { username: 'taken-name' }, '#profile-form');
      assert.equal(clash.status, 409);
      assert.match(alertText(clash) ?? '', /Username is already taken/);
      const saved = await browser.submit(page, { given_name: 'Augusta', family_name: 'King', phone_number: '+15551234567' }, '#profile-form');
      assertAccountPage(saved);
      assert.match(saved.doc.querySelector('[role="status"]')?.text ?? '', /profile was saved/);
      const stored = (await server.admin('GET', `/users/${user.id}`)).body;
      assert.deepEqual([stored.given_name, stored.family_name, stored.phone_number], ['Augusta', 'King', '+15551234567']);
      assert.ok((await eventsOf(server, 'user.update', user.id)).some((e) => e.user.given_name === 'Augusta'));
      void taken;
    });

    test('email change: a link to the new address; opening and confirming it changes the address (user.email.update); a used link is refused', async () => {
      const user = await newUser();
      const { browser, page } = await accountSignIn(server, user.email);
      const invalid = await browser.submit(page, { email: 'not-an-address' }, '#email-form');
      assert.equal(invalid.status, 400);
      assert.match(alertText(invalid) ?? '', /valid email address/);
      const newEmail = `new-${user.email}`;
      const sent = await browser.submit(page, { email: newEmail }, '#email-form');
      assert.equal(sent.status, 200);
      assert.match(sent.doc.querySelector('[role="status"]')?.text ?? '', new RegExp(`sent a link to ${newEmail}`));
      assert.equal((await server.admin('GET', `/users/${user.id}`)).body.email, user.email, 'nothing changes before the link is opened');
      const mail = await smtp.waitFor(newEmail, /confirm/i);
      const link = linkIn(mail, `${server.url}/account/email/`);
      // Opened in another browser (the mail app's): the link alone is the proof.
      const elsewhere = new Browser(server.url);
      const question = await elsewhere.get(link);
      assert.equal(question.status, 200);
      assert.equal((await server.admin('GET', `/users/${user.id}`)).body.email, user.email, 'a GET (a mail scanner) changes nothing');
      const confirmed = await elsewhere.submit(question, {}, '#email-confirm');
      assert.equal(confirmed.status, 200, alertText(confirmed) ?? '');
      const stored = (await server.admin('GET', `/users/${user.id}`)).body;
      assert.equal(stored.email, newEmail);
      assert.equal(stored.email_verified, true);
      const notice = await smtp.waitFor(user.email, /was changed/i);
      assert.match(notice.text, new RegExp(`now uses ${newEmail}`), 'the old address is told');
      const [event] = await eventsOf(server, 'user.email.update', user.id);
      assert.deepEqual([event.previous_email, event.email, event.user.id], [user.email, newEmail, user.id]);
      const again = await elsewhere.submit(question, {}, '#email-confirm');
      assert.equal(again.status, 400);
      assert.match(alertText(again) ?? '', /already been used/);
      assert.ok(again.doc.querySelector('a[href="/account"]'), 'a way back');
      // An address another account took meanwhile: the link says so, and nothing changes.
      const rival = await newUser();
      const moved = await browser.submit(await browser.get('/account'), { email: `late-${rival.email}` }, '#email-form');
      assert.equal(moved.status, 200);
      const late = linkIn(await smtp.waitFor(`late-${rival.email}`, /confirm/i), `${server.url}/account/email/`);
      assert.equal((await server.admin('PATCH', `/users/${rival.id}`, { email: `late-${rival.email}` })).status, 200);
      const taken = await elsewhere.submit(await elsewhere.get(late), {}, '#email-confirm');
      assert.equal(taken.status, 409);
      assert.match(alertText(taken) ?? '', /already used by another account/);
      assert.equal((await server.admin('GET', `/users/${user.id}`)).body.email, newEmail);
      const unknown = await elsewhere.get('/account/email/not-a-real-token-0123456789');
      assert.equal(unknown.status, 400);
      assert.match(alertText(unknown) ?? '', /not valid/);
    });

    test('password change: the current password, the policy, then the other sessions signed out on request', async () => {
      const user = await newUser();
      const { browser, page } = await accountSignIn(server, user.email);
      const elsewhere = await accountSignIn(server, user.email);
      const wrong = await browser.submit(page, { current_password: 'not my password', new_password: 'a brand new password 2' }, '#password-form');
      assert.equal(wrong.status, 400);
      assert.match(alertText(wrong) ?? '', /current password is not correct/);
      const weak = await browser.submit(page, { current_password: ACCOUNT_PASSWORD, new_password: 'short' }, '#password-form');
      assert.equal(weak.status, 400);
      assert.match(alertText(weak) ?? '', /New password must be/);
      const changed = await browser.submit(page, { current_password: ACCOUNT_PASSWORD, new_password: 'a brand new password 2', sign_out_others: 'yes' }, '#password-form');
      assertAccountPage(changed);
      assert.match(changed.doc.querySelector('[role="status"]')?.text ?? '', /other sessions were signed out/);
      assert.ok((await eventsOf(server, 'user.password.update', user.id)).length >= 1);
      const other = await elsewhere.browser.get('/account');
      assert.ok(other.doc.querySelector('input[name="identifier"]'), 'the other browser signs in again');
      assertAccountPage(await browser.get('/account'), 'this browser stays signed in');
      const third = new Browser(server.url);
      const relogin = await passSignIn(third, await third.get('/account'), user.email, ACCOUNT_PASSWORD);
      assert.match(alertText(relogin) ?? '', /password is not correct/, 'the old password no longer works');
    });

    test('a sensitive change with an old sign-in asks for a fresh one, then goes on; a profile change does not', async () => {
      const user = await newUser();
      const { browser, page } = await accountSignIn(server, user.email);
      advanceClock(SIX_MINUTES);
      const profile = await browser.submit(page, { given_name: 'Still' }, '#profile-form');
      assertAccountPage(profile, 'a profile change needs no fresh sign-in');
      for (const [selector, fields] of [
        ['#password-form', { current_password: ACCOUNT_PASSWORD, new_password: 'a brand new password 3' }],
        ['#email-form', { email: `stepup-${user.email}` }],
        ['#add-totp-form', {}],
      ] as const) {
        const asked = await browser.submit(page, fields, selector);
        assert.ok(asked.doc.querySelector('input[name="identifier"]'), `${selector}: the identify page of a fresh sign-in, got ${asked.url}`);
        assert.equal(asked.doc.querySelector('input[name="identifier"]')?.getAttribute('value'), user.email, 'the identifier is filled in');
      }
      const deletion = await browser.get('/account/delete');
      assert.ok(deletion.doc.querySelector('input[name="identifier"]'), 'deleting asks too');
      const back = await passSignIn(browser, deletion, user.email, ACCOUNT_PASSWORD);
      assert.equal(new URL(back.url).pathname, '/account/delete', 'back where the user was going');
      assert.ok(back.doc.querySelector('#delete-form'));
      // Fresh now: the change goes through.
      const changed = await browser.submit(await browser.get('/account'), { current_password: ACCOUNT_PASSWORD, new_password: 'a brand new password 3' }, '#password-form');
      assertAccountPage(changed);
      assert.match(changed.doc.querySelector('[role="status"]')?.text ?? '', /password was changed/);
      // Someone else signing in on the step-up page never gets this session, nor renews its proof.
      const intruder = await newUser();
      advanceClock(SIX_MINUTES);
      const asked = await browser.submit(await browser.get('/account'), { email: 'x@example.com' }, '#email-form');
      let ended = await passSignIn(browser, asked, intruder.email, ACCOUNT_PASSWORD);
      // The provider ends the other account's session first (its page's button, without JavaScript).
      if (ended.doc.querySelector('form[action$="/session/end/confirm"]')) ended = await browser.submit(ended);
      const afterwards = await browser.get('/account');
      assert.ok(!afterwards.html.includes(intruder.email), 'never the intruder’s account page');
      if (afterwards.doc.querySelector('#email-form')) {
        const still = await browser.submit(afterwards, { email: 'x@example.com' }, '#email-form');
        assert.ok(still.doc.querySelector('input[name="identifier"]'), 'the old sign-in is still too old');
      } else {
        assert.ok(afterwards.doc.querySelector('input[name="identifier"]'), 'or signed out');
      }
      void ended;
    });

    test('two-step verification: add TOTP (after_mfa_change, method.add), new recovery codes, remove it after proving it again', async () => {
      const hookId = await hook('after_mfa_change', 'export default async function (event) { console.log(JSON.stringify({ change: event.change, type: event.factor.type })); }');
      const user = await newUser();
      const { browser, page } = await accountSignIn(server, user.email);
      const setup = await browser.submit(page, {}, '#add-totp-form');
      const secret = setup.doc.querySelector('#totp-secret')?.text.trim() ?? '';
      assert.match(secret, /^[A-Z2-7]{16,}$/, alertText(setup) ?? setup.html.slice(0, 300));
      const wrong = await browser.submit(setup, { code: '000000' }, '#totp-confirm');
      assert.equal(wrong.status, 400);
      assert.match(alertText(wrong) ?? '', /not correct/);
      const codes = await browser.submit(setup, { code: totp(secret) }, '#totp-confirm');
      assert.equal(codes.doc.querySelectorAll('#recovery-codes code').length, 10, alertText(codes) ?? codes.html.slice(0, 300));
      assert.ok(codes.doc.querySelector('a[href="/account"]'), 'a way back');
      const [added] = await eventsOf(server, 'user.two-factor.method.add', user.id);
      assert.equal(added.factor.type, 'totp');
      const account = await browser.get('/account');
      assert.ok(account.doc.querySelector('#factors form[action="/account/mfa/remove"]'), 'the factor is listed');
      const fresh = await browser.submit(account, {}, '#recovery-codes-form');
      assert.equal(fresh.doc.querySelectorAll('#recovery-codes code').length, 10);

      // Later: removing it asks for a fresh sign-in that proves a second factor.
      advanceClock(SIX_MINUTES);
      const asked = await browser.submit(await browser.get('/account'), {}, '#factors form');
      const proved = await passSignIn(browser, asked, user.email, ACCOUNT_PASSWORD, secret);
      assertAccountPage(proved, 'back after the step-up');
      const removed = await browser.submit(proved, {}, '#factors form');
      assertAccountPage(removed);
      assert.match(removed.doc.querySelector('[role="status"]')?.text ?? '', /second step was removed/);
      assert.equal((await server.admin('GET', `/users/${user.id}/factors`)).body.length, 0);
      assert.equal((await eventsOf(server, 'user.two-factor.method.remove', user.id)).length, 1);
      const runs = (await executions(hookId)).map((run) => JSON.parse(run.logs[0]!.replace(/^\[log\] /, '')).change);
      assert.deepEqual(runs.sort(), ['enrolled', 'removed']);
      await server.admin('DELETE', `/hooks/${hookId}`);
    });

    test('consents: withdrawing one runs after_consent_update and writes user.consent.update; a denying hook changes nothing', async () => {
      const user = await newUser();
      await server.server.services.consents.set(user.id, [
        { key: 'newsletter', granted: true },
        { key: 'research', granted: false },
      ]);
      const hookId = await hook(
        'after_consent_update',
        `export default async function (event, api) {
  console.log(JSON.stringify({ consents: event.consents, changed: event.changed }));
  if (event.consents.research) api.deny('Research consent is closed for now.');
}`,
      );
      const { browser, page } = await accountSignIn(server, user.email);
      assert.ok(page.doc.querySelector('input[name="consent:newsletter"][checked]'));
      const withdrawn = await browser.submit(page, { 'consent:newsletter': '' }, '#consents-form');
      assertAccountPage(withdrawn);
      const consents = await server.server.services.consents.list(user.id);
      assert.deepEqual(
        consents.map((c) => [c.key, c.granted]),
        [
          ['newsletter', false],
          ['research', false],
        ],
      );
      const event = (await eventsOf(server, 'user.consent.update', user.id)).at(-1);
      assert.deepEqual(event.consents, [{ key: 'newsletter', granted: false }]);
      const [run] = await executions(hookId);
      assert.deepEqual(JSON.parse(run!.logs[0]!.replace(/^\[log\] /, '')), { consents: { newsletter: false, research: false }, changed: ['newsletter'] });
      const refused = await browser.submit(withdrawn, { 'consent:research': 'yes' }, '#consents-form');
      assert.equal(refused.status, 403);
      assert.match(alertText(refused) ?? '', /Research consent is closed/);
      assert.equal((await server.server.services.consents.list(user.id)).find((c) => c.key === 'research')?.granted, false, 'nothing changed');
      await server.admin('DELETE', `/hooks/${hookId}`);
    });

    test('connected applications: revoking one stops its refresh token (openid-client) and writes user.access.revoke by the user', async () => {
      const app = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: [LOGGED_OUT],
        grant_types: ['authorization_code', 'refresh_token'],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const user = await newUser();
      const { browser } = await accountSignIn(server, user.email);
      // The same browser signs in to the application (its session is there already).
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(browser, start, user.email, ACCOUNT_PASSWORD);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `${done.status} ${done.url} ${alertText(done) ?? ''}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token);
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token);
      const page = await browser.get('/account');
      const row = page.doc.querySelector(`#revoke-${app.body.client_id}`);
      assert.ok(row, `Notes is listed: ${page.doc.querySelector('#applications')?.text}`);
      assert.ok(!page.doc.querySelector('#revoke-tessera-account'), 'the account page itself is not listed');
      const unknown = await browser.submit(page, { client_id: 'tessera-console' }, `#revoke-${app.body.client_id}`);
      assert.equal(unknown.status, 404);
      const revoked = await browser.submit(page, {}, `#revoke-${app.body.client_id}`);
      assertAccountPage(revoked);
      assert.match(revoked.doc.querySelector('[role="status"]')?.text ?? '', /no longer has access/);
      await assert.rejects(oidc.refreshTokenGrant(rp.config, refreshed.refresh_token ?? tokens.refresh_token), (error: { error?: string }) => error.error === 'invalid_grant');
      const [event] = await eventsOf(server, 'user.access.revoke', user.id);
      assert.deepEqual([event.application_id, event.by], [app.body.client_id, 'user']);
    });

    test('signed-in sessions: signing out another browser, then everywhere', async () => {
      const user = await newUser();
      const first = await accountSignIn(server, user.email);
      const second = await accountSignIn(server, user.email);
      const page = await first.browser.get('/account');
      const rows = page.doc.querySelectorAll('#signed-in-sessions li');
      assert.equal(rows.length, 2, page.doc.querySelector('#sessions')?.text);
      const otherIndex = rows.findIndex((row) => !row.querySelector('strong'));
      const signedOut = await first.browser.submit(page, {}, `#sign-out-${otherIndex + 1}`);
      assertAccountPage(signedOut);
      assert.equal(signedOut.doc.querySelectorAll('#signed-in-sessions li').length, 1);
      // The other browser's provider session is gone: signing in to an application asks again.
      const asked = await second.browser.get('/account/login');
      assert.ok(asked.doc.querySelector('input[name="identifier"]'), 'the other browser must sign in again');
      const all = await first.browser.submit(signedOut, {}, '#sign-out-all-form');
      assert.match(all.doc.querySelector('h1')?.text ?? '', /signed out/);
      assert.ok(all.doc.querySelector('a[href="/account/login"]'), 'a way to sign in again');
      assert.ok((await first.browser.get('/account')).doc.querySelector('input[name="identifier"]'));
      // An operator signing the user out everywhere ends the account page's sessions too.
      const third = await accountSignIn(server, user.email);
      assert.equal((await server.admin('DELETE', `/users/${user.id}/sessions`)).status, 204);
      assert.ok((await third.browser.get('/account')).doc.querySelector('input[name="identifier"]'), 'signed out by the operator');
    });

    test('reached from an application (?client_id=): its branding and a way back to it; unknown ids are ignored', async () => {
      const app = await server.admin('POST', '/applications', {
        name: 'Shop',
        redirect_uris: [CALLBACK],
        initiate_login_uri: 'https://shop.example.com/start',
        branding: { display_name: 'Example Shop', primary_color: '#0b5fff' },
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const user = await newUser();
      const signInPage = await new Browser(server.url).get(`/account?client_id=${app.body.client_id}`);
      assert.ok(signInPage.doc.querySelector('input[name="identifier"]'));
      assert.equal(signInPage.doc.querySelector('.brand-name')?.text.trim(), 'Example Shop', 'the sign-in pages wear it too');
      const { browser, page } = await accountSignIn(server, user.email, ACCOUNT_PASSWORD, `?client_id=${app.body.client_id}`);
      assert.equal(page.doc.querySelector('.brand-name')?.text.trim(), 'Example Shop');
      assert.ok(page.doc.querySelector('a[href="https://shop.example.com/start"]'), 'Back to Example Shop');
      const again = await browser.get('/account?client_id=tessera-console');
      assert.equal(again.doc.querySelector('.brand-name')?.text.trim(), 'Example Shop', 'the console cannot be worn');
      const other = await accountSignIn(server, (await newUser()).email, ACCOUNT_PASSWORD, '?client_id=https%3A%2F%2Fevil.example');
      assert.equal(other.page.doc.querySelector('.brand-name')?.text.trim(), 'Tessera');
    });

    test('sign-in edge cases: a return path elsewhere lands on /account; a callback without its sign-in is an error page with a way on', async () => {
      const user = await newUser();
      for (const target of ['https://evil.example/', '//evil.example/account', '/account/../admin', '/accountx']) {
        const browser = new Browser(server.url);
        const page = await passSignIn(browser, await browser.get(`/account/login?return=${encodeURIComponent(target)}`), user.email, ACCOUNT_PASSWORD);
        assert.equal(page.redirectedTo, null, `${target}: never leaves the server`);
        assertAccountPage(page, target);
        assert.equal(new URL(page.url).pathname, '/account');
      }
      const stray = await new Browser(server.url).get('/account/callback?code=x&state=y');
      assert.equal(stray.status, 400);
      assert.match(alertText(stray) ?? '', /expired or was started in another browser/);
      assert.ok(stray.doc.querySelector('a[href="/account/login"]'), 'a way to sign in again');
    });

    test('deleting the account: a fresh sign-in, the confirmation, after_account_deleted, user.delete; the session ends', async () => {
      const hookId = await hook('after_account_deleted', 'export default async function (event) { console.log(event.user.email); }');
      const user = await newUser();
      const { browser } = await accountSignIn(server, user.email);
      const form = await browser.get('/account/delete');
      assert.ok(form.doc.querySelector('#delete-form'), alertText(form) ?? form.html.slice(0, 300));
      const unconfirmed = await browser.submit(form, {}, '#delete-form');
      assert.equal(unconfirmed.status, 400);
      assert.match(alertText(unconfirmed) ?? '', /Tick the box/);
      const deleted = await browser.submit(form, { confirm: 'yes' }, '#delete-form');
      assert.equal(deleted.status, 200);
      assert.match(deleted.doc.querySelector('h1')?.text ?? '', /was deleted/);
      assert.ok(deleted.doc.querySelector('.actions a'), 'a way back');
      assert.equal((await server.admin('GET', `/users/${user.id}`)).status, 404);
      assert.equal((await eventsOf(server, 'user.delete', user.id)).length, 1);
      const [run] = await executions(hookId);
      assert.equal(run?.logs[0], `[log] ${user.email}`);
      assert.ok((await browser.get('/account')).doc.querySelector('input[name="identifier"]'), 'signed out');
      await server.admin('DELETE', `/hooks/${hookId}`);
    });
  });
}
