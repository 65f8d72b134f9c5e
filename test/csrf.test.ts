// Every form of the hosted pages carries an anti-CSRF token: a POST without it, with a wrong one, or
// with another browser's is refused (403, role="alert") before anything happens; with it, accepted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, authorizationUrl, createTestApplication, createTestUser, startLogin } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

for (const kind of databaseKinds()) {
  describe(`anti-CSRF tokens on every form (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let firstParty: string;
    let thirdParty: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      firstParty = await createTestApplication(server);
      thirdParty = await createTestApplication(server, { name: 'Partner', third_party: true });
      await createTestUser(server, { email: 'gina@example.com', password: 'ginas password 1' });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    /**
     * Submits the page's form without its token, with a tampered one, and with a token from another
     * browser: each is refused. Then submits it properly and answers the result.
     */
    async function checkForm(browser: Browser, page: Page, values: Record<string, string> = {}, selector = 'form'): Promise<Page> {
      const form = browser.form(page, selector);
      const token = form.fields.csrf;
      assert.ok(token, `the form ${form.action} has a csrf input`);
      const { csrf: _omitted, ...rest } = { ...form.fields, ...values };

      const refused = async (result: Page, what: string) => {
        assert.equal(result.status, 403, `${what}: ${form.action}`);
        assert.match(alertText(result) ?? '', /could not be accepted/i, what);
        assert.equal(result.redirectedTo, null);
      };
      await refused(await browser.post(form.action, rest), 'without a token');
      await refused(await browser.post(form.action, { ...rest, csrf: '' }), 'with an empty token');
      const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
      await refused(await browser.post(form.action, { ...rest, csrf: flipped }), 'with a wrong token');
      await refused(await browser.post(form.action, { ...rest, csrf: `${token}x` }), 'with a longer token');

      // Another browser (its own cookie) cannot use this browser's token; nor can one without a cookie.
      const stranger = new Browser(server.url);
      await refused(await stranger.post(form.action, { ...rest, csrf: token }), 'without the cookie');
      await stranger.get(form.action);
      await refused(await stranger.post(form.action, { ...rest, csrf: token }), "with another browser's cookie");

      const accepted = await browser.submit(page, values, selector);
      assert.notEqual(accepted.status, 403, `accepted with the token: ${form.action} ${alertText(accepted) ?? ''}`);
      return accepted;
    }

    it('login, consent and cancel forms', async () => {
      const browser = new Browser(server.url);
      const { page: identify, uid } = await startLogin(browser, server, thirdParty);
      const passwordPage = await checkForm(browser, identify, { identifier: 'gina@example.com' });
      assert.ok(passwordPage.doc.querySelector('input[name="password"]'));

      const consent = await checkForm(browser, passwordPage, { password: 'ginas password 1' });
      assert.equal(consent.status, 200, alertText(consent) ?? '');
      assert.notEqual(new URL(consent.url).pathname, `/interaction/${uid}`, 'consent is a new interaction');
      assert.match(consent.doc.querySelector('h1')?.text ?? '', /Allow Partner/);
      assert.match(consent.doc.querySelector('main')?.text ?? '', /See your email address/);
      // Two forms: allow, then deny. Deny is checked on a copy of the page, allow goes through.
      const consentForm = browser.form(consent, 'form[action$="/consent"]');
      assert.ok(consentForm.fields.csrf);
      const denyForm = browser.form(consent, 'form[action$="/abort"]');
      assert.ok(denyForm.fields.csrf);
      const redirected = await checkForm(browser, consent, {}, 'form[action$="/consent"]');
      assert.ok(redirected.redirectedTo?.startsWith('http://localhost:8976/callback?code='), `got ${redirected.redirectedTo ?? redirected.url}`);

      // Cancel from the identify page: the application hears access_denied.
      const other = new Browser(server.url);
      const { page: start } = await startLogin(other, server, firstParty);
      const cancelled = await checkForm(other, start, {}, 'form[action$="/abort"]');
      assert.ok(cancelled.redirectedTo);
      assert.equal(new URL(cancelled.redirectedTo).searchParams.get('error'), 'access_denied');
    });

    it('registration, resend, forgot password, reset password and forgot username forms', async () => {
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, firstParty);

      const registered = await checkForm(browser, await browser.get(`/interaction/${uid}/register`), {
        email: 'hank@example.com',
        password: 'hanks password 1',
        given_name: 'Hank',
        family_name: 'Hill',
      });
      assert.match(registered.doc.querySelector('h1')?.text ?? '', /check your email/i);
      await smtp.waitFor('hank@example.com', /activate/i);
      const resent = await checkForm(browser, registered);
      assert.match(resent.doc.querySelector('[role="status"]')?.text ?? '', /another email/i);

      const sent = await checkForm(browser, await browser.get(`/interaction/${uid}/forgot-password`), { identifier: 'gina@example.com' });
      assert.match(sent.doc.querySelector('main')?.text ?? '', /if an account matches/i);
      const link = linkIn(await smtp.waitFor('gina@example.com', /reset/i), `${server.url}/reset-password/`);

      const resetBrowser = new Browser(server.url);
      const changed = await checkForm(resetBrowser, await resetBrowser.get(link), { password: 'ginas new password 2' });
      assert.equal(changed.status, 200);
      assert.match(changed.doc.querySelector('main')?.text ?? '', /password has been changed/i);

      const named = await checkForm(browser, await browser.get(`/interaction/${uid}/forgot-username`), { email: 'gina@example.com' });
      assert.match(named.doc.querySelector('main')?.text ?? '', /check your email/i);
      await smtp.waitFor('gina@example.com', /username/i);

      // The refused attempts changed nothing: the reset link worked once and the login goes on.
      const login = new Browser(server.url);
      const { page, state } = await startLogin(login, server, firstParty);
      const pw = await login.submit(page, { identifier: 'gina@example.com' });
      assertCodeRedirect(await login.submit(pw, { password: 'ginas new password 2' }), state);
    });

    it('forms are not cached and the token cookie is httpOnly and SameSite=Lax', async () => {
      const { url } = authorizationUrl(server, firstParty);
      const first = await fetch(url, { redirect: 'manual' });
      const location = first.headers.get('location')!;
      const cookies = first.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const response = await fetch(new URL(location, server.url), { headers: { cookie: cookies, accept: 'text/html' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('tessera.csrf='));
      assert.ok(setCookie);
      assert.match(setCookie, /httponly/i);
      assert.match(setCookie, /samesite=lax/i);
      // The identify page loads one script, our own (passkeys, public/passkeys.js): no inline script, no other origin.
      assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'(;|$)/);
    });
  });
}
