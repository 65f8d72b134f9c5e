// Email addresses and names through the real server: the admin API and the registration page refuse
// addresses a mailer would not deliver to one plain mailbox, and look-alikes; a full-width variant
// of an address is the same account; accounts stored before the rule are still found; CR/LF in a
// name is refused and never reaches a mail header.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, mailsTo, signIn, startLogin, waitForMailCount } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent } from './support/settle.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

/** Addresses refused by the rule, each with why (for the assertion message). */
const BAD_ADDRESSES: Array<[string, string]> = [
  ['ann@example.com,eve@example.com', 'a list'],
  ['Ann <ann@example.com>', 'a display name'],
  ['<ann@example.com>', 'angle brackets'],
  ['friends:ann@example.com;', 'a group'],
  ['"ann"@example.com', 'a quoted local part'],
  ['"eve@evil.example"@example.com', 'a quoted @'],
  ['ann(eve@evil.example)@example.com', 'a comment'],
  ['ann@[127.0.0.1]', 'a domain literal'],
  ['ann\\@example.com', 'a backslash'],
  ['ann lee@example.com', 'a space'],
  ['ann\u200b@example.com', 'a zero-width space'],
  ['ann@exa\u200dmple.com', 'a zero-width joiner'],
  ['ann@example\u2060.com', 'a word joiner'],
  ['\ufeffann@example.com', 'a byte order mark'],
  ['ann@example.com.', 'a trailing dot'],
  ['ann@example..com', 'consecutive dots in the domain'],
  ['ann..lee@example.com', 'consecutive dots in the local part'],
  ['ann@\u0435xample.com', 'Cyrillic е among Latin letters'],
  ['ann@\u0430\u0440\u0440\u04cf\u0435.com', 'a Cyrillic spelling of "apple"'],
];

for (const kind of databaseKinds()) {
  describe(`email addresses and names (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      clientId = await createTestApplication(server, { branding: { display_name: 'Acme Shop' } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    const registerPage = async (browser: Browser) => {
      const { uid } = await startLogin(browser, server, clientId);
      return browser.get(`/interaction/${uid}/register`);
    };
    const register = async (email: string, extra: Record<string, string> = {}) => {
      const browser = new Browser(server.url);
      return browser.submit(await registerPage(browser), { email, password: 'a good password 1', given_name: 'Reg', family_name: 'Ister', ...extra });
    };
    const usersWith = async (email: string) => (await server.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body as Array<{ id: string; email: string }>;
    const countUsers = async () => Number((await server.server.services.db('users').count({ n: '*' }))[0]!.n);

    it('the admin API refuses each bad form with a 400 naming email, on create and update', async () => {
      const user = await server.admin('POST', '/users', { email: 'keeper@example.com', password: 'keepers password 1' });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const before = await countUsers();
      for (const [email, why] of BAD_ADDRESSES) {
        const created = await server.admin('POST', '/users', { email, password: 'a good password 1' });
        assert.equal(created.status, 400, `POST with ${why}: ${JSON.stringify(created.body)}`);
        assert.equal(created.body.error, 'invalid_request');
        assert.match(created.body.message, /^email: /, `POST with ${why} names email`);
        const patched = await server.admin('PATCH', `/users/${user.body.id}`, { email });
        assert.equal(patched.status, 400, `PATCH with ${why}: ${JSON.stringify(patched.body)}`);
        assert.match(patched.body.message, /^email: /, `PATCH with ${why} names email`);
      }
      assert.equal(await countUsers(), before, 'no account was written');
      assert.equal((await server.admin('GET', `/users/${user.body.id}`)).body.email, 'keeper@example.com', 'the address is unchanged');
    });

    it('registration refuses the bad forms on the page, in role="alert", and makes no account', async () => {
      const before = await countUsers();
      for (const [email, why] of BAD_ADDRESSES) {
        const page = await register(email);
        assert.equal(page.status, 400, `${why}: ${page.status} ${alertText(page)}`);
        assert.match(alertText(page) ?? '', /^Email address /, `${why}: ${alertText(page)}`);
        assert.equal(page.doc.querySelector('input[name="email"]')?.getAttribute('aria-invalid'), 'true', why);
      }
      assert.equal(await countUsers(), before);
      await mailsSent(server);
      assert.equal(smtp.mails.length, 0, 'no mail went out');
    });

    it('a full-width variant of an address is the same account', async () => {
      const wide = 'ｗｉｄｅ＠ｅｘａｍｐｌｅ．ｃｏｍ';
      await createTestUser(server, { email: 'wide@example.com', password: 'wides password 1', given_name: 'Wendy' });
      // The admin API: taken.
      const again = await server.admin('POST', '/users', { email: wide, password: 'a good password 1' });
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.match(again.body.message, /^email: /);
      // Registration: the page of a taken address, and the owner is told; no second account.
      const page = await register(wide);
      assert.equal(page.status, 200, alertText(page) ?? '');
      assert.match(page.doc.querySelector('h1')?.text ?? '', /check your email/i);
      await smtp.waitFor('wide@example.com', /already have an account/i);
      assert.deepEqual(
        (await usersWith('wide@example.com')).map((u) => u.email),
        ['wide@example.com'],
      );
      await mailsSent(server);
      assert.equal(mailsTo(smtp, wide).length, 0);
      // Forgot password by the full-width form mails the original account.
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const sent = await browser.submit(await browser.get(`/interaction/${uid}/forgot-password`), { identifier: wide });
      assert.equal(sent.status, 200);
      await smtp.waitFor('wide@example.com', /reset/i);
      // Signing in by the full-width form signs in to that account.
      const login = new Browser(server.url);
      const { page: identify, state } = await startLogin(login, server, clientId);
      assertCodeRedirect(await signIn(login, identify, 'ＷＩＤＥ@example.com', 'wides password 1'), state);
    });

    it('an internationalized domain is one account in punycode and in Unicode', async () => {
      const created = await server.admin('POST', '/users', { email: 'Idn@XN--BCHER-KVA.de', password: 'idns password 1' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.email, 'idn@bücher.de');
      const unicode = await server.admin('POST', '/users', { email: 'idn@bücher.de', password: 'a good password 1' });
      assert.equal(unicode.status, 409);
      assert.deepEqual(
        (await usersWith('idn@xn--bcher-kva.de')).map((u) => u.id),
        [created.body.id],
      );
    });

    it('accounts stored before the rule are still found and can be managed', async () => {
      const db = server.server.services.db;
      // One address the rule now refuses (non-ASCII local part), one stored with a punycode domain.
      const legacyId = await createTestUser(server, { email: 'placeholder-1@example.com', password: 'legacy password 1' });
      await db('users').where({ id: legacyId }).update({ email: 'jörg@example.de' });
      const punyId = await createTestUser(server, { email: 'placeholder-2@example.com', password: 'punys password 1' });
      await db('users').where({ id: punyId }).update({ email: 'puny@xn--mller-kva.de' });

      const read = await server.admin('GET', `/users/${legacyId}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.email, 'jörg@example.de');
      assert.deepEqual(
        (await usersWith('Jörg@Example.de')).map((u) => u.id),
        [legacyId],
      );
      const renamed = await server.admin('PATCH', `/users/${legacyId}`, { given_name: 'Jörg', email: 'jörg@example.de' });
      assert.equal(renamed.status, 200, 'sending the stored address back is no change');
      assert.equal(renamed.body.email, 'jörg@example.de');
      const moved = await server.admin('PATCH', `/users/${legacyId}`, { email: 'jörg@other.example' });
      assert.equal(moved.status, 400, 'a new address must follow the rule');
      assert.match(moved.body.message, /^email: /);

      // Sign-in and forgot-username still reach both.
      for (const [identifier, password] of [
        ['jörg@example.de', 'legacy password 1'],
        ['puny@müller.de', 'punys password 1'],
      ] as const) {
        const browser = new Browser(server.url);
        const { page: identify, state } = await startLogin(browser, server, clientId);
        assertCodeRedirect(await signIn(browser, identify, identifier, password), state);
      }
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const sent = await browser.submit(await browser.get(`/interaction/${uid}/forgot-username`), { email: 'Jörg@example.de' });
      assert.equal(sent.status, 200, alertText(sent) ?? '');
      await smtp.waitFor('jörg@example.de', /username/i);
      // Registering the Unicode form of the punycode-stored address does not make a second account.
      const page = await register('puny@müller.de');
      assert.equal(page.status, 200);
      // The receiver reads the punycode domain of the envelope back as Unicode.
      await smtp.waitFor('puny@müller.de', /already have an account/i);
      assert.equal(Number((await db('users').whereIn('email', ['puny@müller.de', 'puny@xn--mller-kva.de']).count({ n: '*' }))[0]!.n), 1);
    });

    it('CR/LF in a name is refused on the admin API and the registration page, and never reaches a mail header', async () => {
      const injected = 'Ann\r\nBcc: eve@evil.example';
      for (const [field, value] of [
        ['given_name', injected],
        ['family_name', 'Lee\nX-Evil: 1'],
        ['given_name', 'Ann\u2028Lee'],
        ['family_name', 'Lee\u202e'],
        ['username', 'ann.lee\r\n'],
        ['phone_number', '+15551234567\r\n'],
      ] as const) {
        const created = await server.admin('POST', '/users', { email: `names-${field}@example.com`, [field]: value });
        assert.equal(created.status, 400, `${field}=${JSON.stringify(value)}: ${JSON.stringify(created.body)}`);
        assert.match(created.body.message, new RegExp(`^${field}: must not contain control characters`));
      }
      const user = await server.admin('POST', '/users', { email: 'names@example.com' });
      const patched = await server.admin('PATCH', `/users/${user.body.id}`, { given_name: injected });
      assert.equal(patched.status, 400);
      assert.match(patched.body.message, /^given_name: /);
      for (const body of [{ name: 'Evil\r\nBcc: eve@evil.example' }, { name: 'Fine', branding: { display_name: 'Acme\r\nBcc: eve@evil.example' } }]) {
        const app = await server.admin('POST', '/applications', { redirect_uris: ['https://app.example.com/cb'], ...body });
        assert.equal(app.status, 400, JSON.stringify(app.body));
        assert.match(app.body.message, /^(name|branding\.display_name): must not contain control characters/);
      }
      const patchedApp = await server.admin('PATCH', `/applications/${clientId}`, { branding: { display_name: 'Acme\nShop' } });
      assert.equal(patchedApp.status, 400);
      assert.match(patchedApp.body.message, /^branding\.display_name: /);

      // The registration page.
      const page = await register('crlf@example.com', { given_name: injected });
      assert.equal(page.status, 400);
      assert.match(alertText(page) ?? '', /^First name must not contain control characters/);
      assert.equal(page.doc.querySelector('input[name="given_name"]')?.getAttribute('aria-invalid'), 'true');
      assert.deepEqual(await usersWith('crlf@example.com'), []);

      // An application name stored before the rule: the mail's headers stay whole.
      const legacyClient = await createTestApplication(server);
      await server.server.services
        .db('applications')
        .where({ client_id: legacyClient })
        .update({ branding: JSON.stringify({ display_name: injected, logo_uri: null, primary_color: null }) });
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, legacyClient);
      const done = await browser.submit(await browser.get(`/interaction/${uid}/register`), { email: 'headers@example.com', password: 'a good password 1' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      const mail = await waitForMailCount(smtp, 'headers@example.com', 1);
      assert.deepEqual(mail.to, ['headers@example.com']);
      assert.doesNotMatch(mail.headers, /^bcc:/im, mail.headers);
      assert.doesNotMatch(mail.subject, /[\r\n]/);
      assert.match(mail.subject, /Ann Bcc: eve@evil\.example/);
      assert.equal(mailsTo(smtp, 'eve@evil.example').length, 0);
    });
  });
}
