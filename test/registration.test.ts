// Self-service registration: the activation mail arrives at a real SMTP server, its link verifies
// the address, and login works afterwards; before that, login is refused with a way to resend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, mailsTo, signIn, startLogin, waitForMailCount } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

for (const kind of databaseKinds()) {
  describe(`registration and activation (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      clientId = await createTestApplication(server, {
        branding: { display_name: 'Acme Shop', logo_uri: 'https://cdn.example.com/acme.png', primary_color: '#0b7a3e' },
      });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    it('registers, mails an activation link that works once, then signs in', async () => {
      const browser = new Browser(server.url);
      const { page: identify, uid, state } = await startLogin(browser, server, clientId);
      // Branding of the application on the page.
      assert.match(identify.html, /Acme Shop/);
      assert.equal(identify.doc.querySelector('img.brand-logo')?.getAttribute('src'), 'https://cdn.example.com/acme.png');
      const themeHref = identify.doc.querySelector(`link[href^="/assets/brand/"]`)?.getAttribute('href');
      assert.ok(themeHref);
      const theme = await fetch(new URL(themeHref, server.url));
      assert.match(await theme.text(), /--brand:#0b7a3e/);

      const registerLink = identify.doc.querySelector(`a[href="/interaction/${uid}/register"]`);
      assert.ok(registerLink, 'the identify page links to registration');
      const register = await browser.get(registerLink.getAttribute('href')!);
      for (const name of ['email', 'password', 'given_name', 'family_name', 'csrf']) {
        assert.ok(register.doc.querySelector(`input[name="${name}"]`), `register form has ${name}`);
      }
      for (const input of register.doc.querySelectorAll('input:not([type="hidden"])')) {
        assert.ok(register.doc.querySelector(`label[for="${input.getAttribute('id')}"]`), `input ${input.getAttribute('name')} has a label`);
      }

      // A policy error is shown in role="alert", the form refilled but never the password.
      const tooShort = await browser.submit(register, { email: 'Ann@Example.com', password: 'short', given_name: 'Ann', family_name: 'Lee' });
      assert.equal(tooShort.status, 400);
      assert.match(alertText(tooShort) ?? '', /password.*at least 8 characters/i);
      assert.equal(tooShort.doc.querySelector('input[name="email"]')?.getAttribute('value'), 'Ann@Example.com');
      assert.equal(tooShort.doc.querySelector('input[name="given_name"]')?.getAttribute('value'), 'Ann');
      assert.equal(tooShort.doc.querySelector('input[name="password"]')?.getAttribute('value') ?? '', '');
      await mailsSent(server);
      assert.equal(mailsTo(smtp, 'ann@example.com').length, 0);

      const checkEmail = await browser.submit(tooShort, { email: 'Ann@Example.com', password: 'correct horse battery', given_name: 'Ann', family_name: 'Lee' });
      assert.equal(checkEmail.status, 200);
      assert.match(checkEmail.doc.querySelector('h1')?.text ?? '', /check your email/i);
      assert.ok(checkEmail.doc.querySelector('form button'), 'a resend button');

      const user = await server.server.services.users.findByEmail('ann@example.com');
      assert.equal(user?.status, 'pending');
      assert.equal(user?.source, 'registration');
      assert.equal(user?.email_verified, false);

      const mail = await smtp.waitFor('ann@example.com', /activate/i);
      assert.match(mail.subject, /Acme Shop/);
      const link = linkIn(mail, `${server.url}/activate/`);

      // Before activation: the right password is refused with a clear message and a resend button.
      const { page: identify2 } = await startLogin(browser, server, clientId);
      const refused = await signIn(browser, identify2, 'ann@example.com', 'correct horse battery');
      assert.equal(refused.redirectedTo, null);
      assert.match(alertText(refused) ?? '', /not verified/i);
      const resent = await browser.submit(refused);
      assert.equal(resent.status, 200);
      assert.match(resent.doc.querySelector('[role="status"]')?.text ?? '', /sent another email/i);
      const second = await waitForMailCount(smtp, 'ann@example.com', 2);
      const secondLink = linkIn(second, `${server.url}/activate/`);
      assert.notEqual(secondLink, link);

      // The first link activates (and retires the second); a second use is refused clearly.
      const activated = await browser.get(link);
      assert.equal(activated.status, 200);
      assert.match(activated.doc.querySelector('h1')?.text ?? '', /verified/i);
      assert.equal(alertText(activated), null);
      const continueLink = activated.doc.querySelector(`a[href^="/interaction/"]`)?.getAttribute('href');
      assert.ok(continueLink, 'a link back to the sign-in that is still open');
      const again = await browser.get(link);
      assert.equal(again.status, 410);
      assert.match(alertText(again) ?? '', /already been used/i);
      const retired = await browser.get(secondLink);
      assert.equal(retired.status, 410);
      const bogus = await browser.get(`${server.url}/activate/${'x'.repeat(43)}`);
      assert.equal(bogus.status, 404);
      assert.match(alertText(bogus) ?? '', /not valid/i);

      const active = await server.server.services.users.findByEmail('ann@example.com');
      assert.equal(active?.status, 'active');
      assert.equal(active?.email_verified, true);

      // Login now completes.
      const back = await browser.get(continueLink);
      assert.equal(back.doc.querySelector('input[name="identifier"]')?.getAttribute('value'), 'ann@example.com');
      const done = await signIn(browser, back, 'ann@example.com', 'correct horse battery');
      assertCodeRedirect(done, state);
    });

    it('registering an address that has an account reveals nothing and mails the owner', async () => {
      await createTestUser(server, { email: 'bob@example.com', password: 'bobs password 1', given_name: 'Bob' });
      const fresh = new Browser(server.url);
      const taken = new Browser(server.url);

      const register = async (browser: Browser, email: string) => {
        const { uid } = await startLogin(browser, server, clientId);
        const form = await browser.get(`/interaction/${uid}/register`);
        return browser.submit(form, { email, password: 'another password 2', given_name: 'X', family_name: 'Y' });
      };
      const a = await register(fresh, 'newcomer@example.com');
      const b = await register(taken, 'bob@example.com');
      assert.equal(a.status, b.status);
      assert.equal(alertText(a), alertText(b));
      const text = (page: typeof a) =>
        page.doc
          .querySelector('main')!
          .text.replace(/\s+/g, ' ')
          .replace(/newcomer@example\.com|bob@example\.com/g, 'EMAIL');
      assert.equal(text(a), text(b));

      const notice = await smtp.waitFor('bob@example.com', /already have an account/i);
      assert.doesNotMatch(notice.text, /\/activate\//);
      const bob = await server.server.services.users.findByEmail('bob@example.com');
      assert.equal(bob?.status, 'active');
      assert.ok(await server.server.services.users.verifyPassword(bob, 'bobs password 1'), "the owner's password is untouched");
      await smtp.waitFor('newcomer@example.com', /activate/i);
    });
  });
}
