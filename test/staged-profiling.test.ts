// Staged progressive profiling (CONTRACT §5): a before_progressive_profiling hook asks for a
// customer number, checks it against the brand's CRM (a real HTTP peer on loopback, reached through
// the hook's allowed_hosts), rejects a wrong one with its own message, shown by the field with the
// typed value kept so the user can correct it, then asks for a consent on a second page. At sign-up
// nothing is written (no user, no mail) until the last page passes; at login each accepted page is
// saved and the login completes after the last. The pages work without JavaScript (a form browser),
// each has its error state and a way back, and every POST needs the form token.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { hookCode, startHookPeer, type HookPeer } from './support/hook-peer.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, mailsTo, signIn, startLogin } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const KNOWN_CUSTOMER = 'C-1042';
const UNKNOWN = 'We do not know this customer number. Please check your invoice.';

/** The brand's hook: page 1 asks for the customer number, page 2 (once the CRM knows it) for a consent. */
const CRM_CHECK = hookCode(`
  if (event.step === 0) {
    api.form.requireFields([{ name: 'customer_number', label: 'Customer number' }]);
    return;
  }
  if (event.step === 1) {
    const res = await fetch(event.secrets.CRM_URL + '/customers/' + encodeURIComponent(String(event.answers.customer_number)));
    if (!res.ok) {
      api.form.reject('customer_number', ${JSON.stringify(UNKNOWN)});
      return;
    }
    api.form.requireConsents([{ key: 'crm-sharing', label: 'Share my details with customer service', required: true }]);
  }
`);

const fieldError = (page: Page, name: string) => page.doc.querySelector(`#f-${name}-error`)?.text.trim() ?? null;

for (const kind of databaseKinds()) {
  describe(`staged progressive profiling (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let crm: HookPeer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      crm = await startHookPeer();
      clientId = await createTestApplication(server);
      const created = await server.admin('POST', '/hooks', {
        name: 'customer number check',
        event: 'before_progressive_profiling',
        mode: 'sync',
        applications: [clientId],
        secrets: { CRM_URL: crm.url },
        allowed_hosts: [crm.host],
        code: CRM_CHECK,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    });
    beforeEach(() => {
      crm.reset();
      // The CRM knows one customer; any other number is a 404.
      crm.respond(`/customers/${KNOWN_CUSTOMER}`, { status: 200, body: { id: KNOWN_CUSTOMER } });
      crm.respond('/customers/C-9999', { status: 404, body: { error: 'not_found' } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      await crm?.close();
    });

    const usersNamed = async (email: string) => (await server.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body as any[];
    /** Nothing of the sign-up is written yet: no user, and (once every mail begun has gone) no mail. */
    const assertNothingWritten = async (email: string, when: string) => {
      assert.deepEqual(await usersNamed(email), [], `no user ${when}`);
      await mailsSent(server);
      assert.equal(mailsTo(smtp, email).length, 0, `no mail ${when}`);
    };

    test('sign-up: a wrong customer number is rejected by the field, corrected, then a consent; the account and its mail come after the last page', async () => {
      const email = 'nina@example.com';
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const form = await browser.get(`/interaction/${uid}/register`);
      const first = await browser.submit(form, { email, password: 'ninas password 1', given_name: 'Nina' });
      assert.equal(first.status, 200, alertText(first) ?? '');
      assert.ok(first.doc.querySelector('input[name="customer_number"]'), 'page 1 asks for the customer number');
      assert.equal(first.doc.querySelector('input[name="consent:crm-sharing"]'), null, 'the consent is not asked yet');
      assert.equal(first.doc.querySelector('a[href$="/register"]')?.text.trim(), 'Start the registration again', 'a way back');
      await assertNothingWritten(email, 'after the registration form');

      // Without the form token the page is refused, and nothing moves.
      const forged = await browser.post(`/interaction/${uid}/profile`, { customer_number: KNOWN_CUSTOMER });
      assert.equal(forged.status, 403);
      assert.equal(crm.calls.length, 0, 'the hook did not run for a forged POST');

      const wrong = await browser.submit(first, { customer_number: 'C-9999' });
      assert.equal(wrong.status, 400);
      assert.equal(fieldError(wrong, 'customer_number'), UNKNOWN, 'the message stands by its field');
      const input = wrong.doc.querySelector('input[name="customer_number"]')!;
      assert.equal(input.getAttribute('value'), 'C-9999', 'what was typed is kept, to correct it');
      assert.equal(input.getAttribute('aria-invalid'), 'true');
      assert.match(input.getAttribute('aria-describedby') ?? '', /f-customer_number-error/);
      assert.ok(alertText(wrong), 'the page says something is wrong');
      assert.equal((await crm.waitFor('/customers/C-9999')).method, 'GET');
      await assertNothingWritten(email, 'after a rejected page');

      const second = await browser.submit(wrong, { customer_number: KNOWN_CUSTOMER });
      assert.equal(second.status, 200, alertText(second) ?? '');
      assert.ok(second.doc.querySelector('input[name="consent:crm-sharing"]'), 'page 2 asks for the consent');
      assert.equal(second.doc.querySelector('input[name="customer_number"]'), null, 'page 2 does not ask the number again');
      assert.match(second.html, /Step 2/);
      await crm.waitFor(`/customers/${KNOWN_CUSTOMER}`);
      await assertNothingWritten(email, 'after page 1');

      const noConsent = await browser.submit(second);
      assert.equal(noConsent.status, 400);
      assert.match(alertText(noConsent) ?? '', /Share my details with customer service/);
      await assertNothingWritten(email, 'while the required consent is missing');

      const done = await browser.submit(noConsent, { 'consent:crm-sharing': 'yes' });
      assert.match(done.doc.querySelector('h1')?.text ?? '', /check your email/i);
      const [user] = await usersNamed(email);
      assert.ok(user, 'the account exists after the last page');
      assert.equal(user.status, 'pending');
      assert.equal(user.given_name, 'Nina');
      assert.equal(user.attributes.customer_number, KNOWN_CUSTOMER);
      const consents = await server.server.services.consents.list(user.id);
      assert.deepEqual(
        consents.map((c) => [c.key, c.granted]),
        [['crm-sharing', true]],
      );
      // The activation link works and the password typed on the first form signs in.
      const mail = await smtp.waitFor(email, /activate/i);
      assert.equal((await browser.get(linkIn(mail, `${server.url}/activate/`))).status, 200);
      const login = new Browser(server.url);
      const { page, state } = await startLogin(login, server, clientId);
      const profile = await signIn(login, page, email, 'ninas password 1');
      // At login the hook asks its first page again (it does not look at the account), answered at once.
      const again = await login.submit(profile, { customer_number: KNOWN_CUSTOMER });
      assertCodeRedirect(await login.submit(again, { 'consent:crm-sharing': 'yes' }), state);
    });

    test('sign-up with a taken address: the same pages, no second account; the owner is mailed only at the end', async () => {
      const email = 'owen@example.com';
      const ownerId = await createTestUser(server, { email, password: 'owens password 1', attributes: { customer_number: 'C-0001' } });
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const first = await browser.submit(await browser.get(`/interaction/${uid}/register`), { email, password: 'another password 1' });
      assert.ok(first.doc.querySelector('input[name="customer_number"]'));
      const second = await browser.submit(first, { customer_number: KNOWN_CUSTOMER });
      await mailsSent(server);
      assert.equal(mailsTo(smtp, email).length, 0, 'no mail before the last page');
      const done = await browser.submit(second, { 'consent:crm-sharing': 'yes' });
      assert.match(done.doc.querySelector('h1')?.text ?? '', /check your email/i);
      await smtp.waitFor(email, /already|sign in/i);
      const users = await usersNamed(email);
      assert.deepEqual(
        users.map((u) => [u.id, u.attributes.customer_number]),
        [[ownerId, 'C-0001']],
        'the owner keeps their account and data',
      );
    });

    test('login: each accepted page is saved, a rejected one is not; the login completes after the last page', async () => {
      const email = 'pia@example.com';
      const userId = await createTestUser(server, { email, password: 'pias password 1' });
      const browser = new Browser(server.url);
      const { page, state } = await startLogin(browser, server, clientId);
      const first = await signIn(browser, page, email, 'pias password 1');
      assert.equal(first.redirectedTo, null);
      assert.ok(first.doc.querySelector('input[name="customer_number"]'));
      assert.equal(first.doc.querySelector('main a[href="/interaction/' + new URL(first.url).pathname.split('/')[2] + '"]')?.text.trim(), 'Sign in with another account');

      const wrong = await browser.submit(first, { customer_number: 'C-9999' });
      assert.equal(wrong.status, 400);
      assert.equal(fieldError(wrong, 'customer_number'), UNKNOWN);
      assert.equal((await server.admin('GET', `/users/${userId}`)).body.attributes.customer_number, undefined, 'a rejected page is not saved');

      const second = await browser.submit(wrong, { customer_number: KNOWN_CUSTOMER });
      assert.ok(second.doc.querySelector('input[name="consent:crm-sharing"]'));
      assert.equal((await server.admin('GET', `/users/${userId}`)).body.attributes.customer_number, KNOWN_CUSTOMER, 'page 1 saved once accepted');
      assertCodeRedirect(await browser.submit(second, { 'consent:crm-sharing': 'yes' }), state);
      const consents = await server.server.services.consents.list(userId);
      assert.deepEqual(
        consents.map((c) => [c.key, c.granted]),
        [['crm-sharing', true]],
      );
    });

    test('a rejected consent stands by its checkbox, a name not on the page is the alert; a hook asking forever stops after 10 pages', async () => {
      const edgeClient = await createTestApplication(server);
      const created = await server.admin('POST', '/hooks', {
        name: 'edge cases',
        event: 'before_progressive_profiling',
        mode: 'sync',
        applications: [edgeClient],
        code: hookCode(`
          if (event.step === 0) { api.form.requireConsents([{ key: 'terms', label: 'I accept the terms' }]); return; }
          if (event.step === 1 && !event.consents.terms) {
            api.form.reject('terms', 'Please accept the terms to go on.');
            api.form.reject('elsewhere', 'Your account needs a look from our team.');
            return;
          }
          api.form.requireFields([{ name: 'field_' + event.step, label: 'Field ' + event.step }]);`),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await createTestUser(server, { email: 'quin@example.com', password: 'quins password 1' });
      const browser = new Browser(server.url);
      const { page, state } = await startLogin(browser, server, edgeClient);
      const first = await signIn(browser, page, 'quin@example.com', 'quins password 1');
      const rejected = await browser.submit(first);
      assert.equal(rejected.status, 400);
      assert.equal(rejected.doc.querySelector('#c-1-error')?.text.trim(), 'Please accept the terms to go on.');
      assert.equal(rejected.doc.querySelector('input[name="consent:terms"]')?.getAttribute('aria-describedby'), 'c-1-error');
      assert.equal(alertText(rejected), 'Your account needs a look from our team.');

      // Accepted: from now on the hook asks a new field on every page; the profiling ends after page 10.
      let current = await browser.submit(rejected, { 'consent:terms': 'yes' });
      for (let stage = 2; stage <= 10; stage++) {
        assert.ok(current.doc.querySelector(`input[name="field_${stage - 1}"]`), `page ${stage} asks field_${stage - 1}`);
        current = await browser.submit(current, { [`field_${stage - 1}`]: `answer ${stage}` });
      }
      assertCodeRedirect(current, state);
    });
  });
}
