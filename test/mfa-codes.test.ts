// Multi-factor authentication with one-time codes sent by email (through a real SMTP receiver) and by
// SMS (through an HTTP receiver playing the SMS messenger), and the MFA hook points with real hooks:
// a step-up for one email domain and a step-down at after_identification, before_mfa_send denying
// (its message shown, nothing sent), after_mfa_send and after_mfa_change with their payloads. Plus
// the limits: at most 5 attempts per code (the 6th is refused even when right), expiry, single use,
// and the resend throttle.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { waitForExecutions } from './support/hook-peer.ts';
import { waitForMailCount } from './support/hosted-pages.ts';
import { assertCodePage, assertEnrolPage, codeIn, logged, recoveryCodesOf, startSmsReceiver, type SmsReceiver } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type AuthorizationStart, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PASSWORD = 'correct horse battery';

for (const kind of databaseKinds()) {
  describe(`MFA with email and SMS codes, and the MFA hooks (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let sms: SmsReceiver;

    before(async () => {
      smtp = await startSmtpReceiver();
      sms = await startSmsReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, SMS_WEBHOOK_URL: sms.url } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      await sms?.close();
    });

    const createApp = async (body: Record<string, unknown>): Promise<RelyingParty> => {
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], ...body });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      return discoverClient(server.url, app.body.client_id, app.body.client_secret);
    };
    const createUser = async (email: string, extra: Record<string, unknown> = {}): Promise<string> => {
      const user = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true, ...extra });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      return user.body.id;
    };
    const createHook = async (event: string, mode: 'sync' | 'async', body: string, rp?: RelyingParty): Promise<string> => {
      const hook = await server.admin('POST', '/hooks', {
        name: `test ${event}`,
        event,
        mode,
        code: `export default async function (event, api) {\n${body}\n}`,
        ...(rp ? { applications: [rp.clientId] } : {}),
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      return hook.body.id;
    };
    const deleteHook = async (id: string) => assert.equal((await server.admin('DELETE', `/hooks/${id}`)).status, 204);
    const tokensOf = async (rp: RelyingParty, start: AuthorizationStart, page: Page) => {
      assert.ok(page.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 300)}`);
      return (await exchangeCode(rp, start, page.redirectedTo!)).claims()!;
    };
    const mailCount = (to: string) => smtp.mails.filter((m) => m.to.includes(to)).length;
    const textCount = (to: string) => sms.texts.filter((t) => t.to === to).length;
    /** Enrols the email factor of `email` during a login; answers at the callback. */
    const enrolEmail = async (rp: RelyingParty, email: string) => {
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const enrolPage = await signIn(browser, start, email, PASSWORD);
      assertEnrolPage(enrolPage);
      const before = mailCount(email);
      const codePage = await browser.submit(enrolPage, { method: 'email' });
      assertCodePage(codePage);
      const mail = await waitForMailCount(smtp, email, before + 1);
      const done = await browser.submit(codePage, { code: codeIn(mail.text) });
      assert.equal(recoveryCodesOf(done).length, 10, alertText(done) ?? done.html.slice(0, 300));
      return tokensOf(rp, start, await browser.submit(done));
    };

    test('email code through a real SMTP receiver: enrolment, then every login; 5 attempts per code; resend throttled', async () => {
      const required = await createApp({ mfa: 'required' });
      const optional = await createApp({ mfa: 'optional' });
      const email = 'eve@example.com';
      await createUser(email);

      const claims = await enrolEmail(required, email);
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      const mail = smtp.mails.filter((m) => m.to.includes(email)).at(-1)!;
      assert.match(mail.subject, /sign-in code/);
      assert.match(mail.text, /expires in 5 minutes/);

      // "optional": Eve has a factor now, so she is asked; the code goes out on its own.
      const browser = new Browser(server.url);
      const start = await authorizationUrl(optional);
      const before = mailCount(email);
      const page = await signIn(browser, start, email, PASSWORD);
      assertCodePage(page);
      assert.match(page.doc.querySelector('main')?.text ?? '', /e••+@example\.com/, 'the address is shown masked');
      const code = codeIn((await waitForMailCount(smtp, email, before + 1)).text);
      const wrongCode = code === '000000' ? '111111' : '000000';

      let current = page;
      for (let i = 1; i <= 5; i++) {
        current = await browser.submit(current, { code: wrongCode });
        assert.equal(current.status, 400);
        assert.match(alertText(current) ?? '', /not correct/, `wrong attempt ${i}`);
      }
      const sixth = await browser.submit(current, { code });
      assert.equal(sixth.status, 400, 'the 6th attempt is refused even with the right code');
      assert.match(alertText(sixth) ?? '', /Too many wrong attempts/);

      // A new code cannot be asked for at once...
      const tooSoon = await browser.submit(sixth, {}, 'form#mfa-resend');
      assert.equal(tooSoon.status, 429);
      assert.match(alertText(tooSoon) ?? '', /wait/);
      assert.equal(mailCount(email), before + 1, 'no mail went out');
      // ...but after the interval it can, and the new code works once.
      await server.server.services.db('mfa_codes').update({ created_at: Date.now() - 60_000 });
      const resent = await browser.submit(tooSoon, {}, 'form#mfa-resend');
      assert.equal(resent.status, 200, alertText(resent) ?? '');
      assert.match(resent.doc.querySelector('[role="status"]')?.text ?? '', /new code was sent/);
      const fresh = codeIn((await waitForMailCount(smtp, email, before + 2)).text);
      const signedIn = await tokensOf(optional, start, await browser.submit(resent, { code: fresh }));
      assert.deepEqual(signedIn.amr, ['pwd', 'otp', 'mfa']);

      // Single use: the same code in another login is refused (that login has a code of its own).
      const other = new Browser(server.url);
      await server.server.services.db('mfa_codes').update({ created_at: Date.now() - 60_000 });
      const otherPage = await signIn(other, await authorizationUrl(optional), email, PASSWORD);
      assertCodePage(otherPage);
      const reused = await other.submit(otherPage, { code: fresh });
      assert.equal(reused.status, 400);
    });

    test('an expired email code is refused', async () => {
      const rp = await createApp({ mfa: 'required' });
      const email = 'exp@example.com';
      await createUser(email);
      await enrolEmail(rp, email);
      await server.server.services.db('mfa_codes').update({ created_at: Date.now() - 60_000 });

      const browser = new Browser(server.url);
      const before = mailCount(email);
      const page = await signIn(browser, await authorizationUrl(rp), email, PASSWORD);
      assertCodePage(page);
      const code = codeIn((await waitForMailCount(smtp, email, before + 1)).text);
      // Five minutes later (the clock of the code moved back instead):
      await server.server.services
        .db('mfa_codes')
        .whereNull('used_at')
        .update({ expires_at: Date.now() - 1000 });
      const expired = await browser.submit(page, { code });
      assert.equal(expired.status, 400);
      assert.match(alertText(expired) ?? '', /expired/);
    });

    test('SMS code through the HTTP messenger: enrolment with a phone number, amr says sms', async () => {
      const rp = await createApp({ mfa: 'required' });
      const email = 'sam@example.com';
      const phone = '+15551230001';
      await createUser(email);
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const enrolPage = await signIn(browser, start, email, PASSWORD);
      assertEnrolPage(enrolPage);
      const badNumber = await browser.submit(enrolPage, { method: 'sms', phone_number: '12' });
      assert.equal(badNumber.status, 400);
      assert.match(alertText(badNumber) ?? '', /international format/);
      const codePage = await browser.submit(badNumber, { method: 'sms', phone_number: '+1 555 123 0001' });
      assertCodePage(codePage);
      assert.match(codePage.doc.querySelector('main')?.text ?? '', /•+0001/);
      const text = await sms.waitFor(phone);
      assert.match(text.body, /sign-in code/);
      const done = await browser.submit(codePage, { code: codeIn(text.body) });
      const claims = await tokensOf(rp, start, await browser.submit(done));
      assert.deepEqual(claims.amr, ['pwd', 'sms', 'otp', 'mfa']);
      assert.equal(claims.acr, 'urn:tessera:loa:2');
    });

    test('a sync after_identification hook requires MFA only for one email domain; another skips it', async () => {
      const rp = await createApp({ mfa: 'off' });
      const hookId = await createHook(
        'after_identification',
        'sync',
        `
        if (event.user.email.endsWith('@secure.test')) api.mfa.require();`,
        rp,
      );
      await createUser('alice@secure.test');
      await createUser('bob@plain.test');

      const asked = await signIn(new Browser(server.url), await authorizationUrl(rp), 'alice@secure.test', PASSWORD);
      assertEnrolPage(asked);
      const bobStart = await authorizationUrl(rp);
      const notAsked = await signIn(new Browser(server.url), bobStart, 'bob@plain.test', PASSWORD);
      assert.deepEqual((await tokensOf(rp, bobStart, notAsked)).amr, ['pwd']);
      await deleteHook(hookId);

      // Step-down: a user with a factor, on an "optional" application, is not asked when a hook skips.
      const optional = await createApp({ mfa: 'optional' });
      const required = await createApp({ mfa: 'required' });
      await createUser('carl@trusted.test');
      await enrolEmail(required, 'carl@trusted.test');
      const skipOptional = await createHook(
        'after_identification',
        'sync',
        `
        if (event.user.email.endsWith('@trusted.test')) api.mfa.skip();`,
        optional,
      );
      const skipRequired = await createHook('after_identification', 'sync', 'api.mfa.skip();', required);
      const start = await authorizationUrl(optional);
      const skipped = await signIn(new Browser(server.url), start, 'carl@trusted.test', PASSWORD);
      assert.deepEqual((await tokensOf(optional, start, skipped)).amr, ['pwd']);
      // ...but never where the policy is "required".
      await server.server.services.db('mfa_codes').update({ created_at: Date.now() - 60_000 });
      assertCodePage(await signIn(new Browser(server.url), await authorizationUrl(required), 'carl@trusted.test', PASSWORD));
      await deleteHook(skipOptional);
      await deleteHook(skipRequired);
    });

    test('before_mfa_send can deny (message shown, nothing sent); after_mfa_send and after_mfa_change fire with their payloads', async () => {
      const rp = await createApp({ mfa: 'required' });
      const email = 'dan@example.com';
      const userId = await createUser(email);
      const blocked = '+15559990000';
      const beforeSend = await createHook(
        'before_mfa_send',
        'sync',
        `
        console.log(JSON.stringify({ channel: event.channel, to: event.to, user: event.user.email }));
        if (event.channel === 'sms' && event.to.startsWith('+1555999')) api.deny('Texts to this number are not allowed.');`,
        rp,
      );
      const afterSend = await createHook(
        'after_mfa_send',
        'async',
        `
        console.log(JSON.stringify({ type: event.type, channel: event.channel, user: event.user.id }));`,
        rp,
      );
      const afterChange = await createHook(
        'after_mfa_change',
        'async',
        `
        console.log(JSON.stringify({ type: event.type, change: event.change, factor: event.factor, user: event.user.id }));`,
        rp,
      );

      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const enrolPage = await signIn(browser, start, email, PASSWORD);
      assertEnrolPage(enrolPage);
      const denied = await browser.submit(enrolPage, { method: 'sms', phone_number: blocked });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Texts to this number are not allowed.');
      // A code is sent inside the request (sendCode awaits the messenger): had one gone, it is here.
      assert.equal(textCount(blocked), 0, 'nothing was sent');
      const [deniedRun] = await waitForExecutions(server, beforeSend, 1);
      assert.deepEqual(logged(deniedRun!), { channel: 'sms', to: blocked, user: email });

      // Another number goes through.
      const allowed = '+15551230002';
      const codePage = await browser.submit(denied, { method: 'sms', phone_number: allowed });
      assertCodePage(codePage);
      const done = await browser.submit(codePage, { code: codeIn((await sms.waitFor(allowed)).body) });
      await tokensOf(rp, start, await browser.submit(done));

      const [sent] = await waitForExecutions(server, afterSend, 1);
      assert.deepEqual(logged(sent!), { type: 'after_mfa_send', channel: 'sms', user: userId });
      const [changed] = await waitForExecutions(server, afterChange, 1);
      const factors = (await server.admin('GET', `/users/${userId}/factors`)).body;
      const smsFactor = factors.find((f: any) => f.type === 'sms');
      assert.equal(smsFactor.target, allowed);
      assert.deepEqual(logged(changed!), { type: 'after_mfa_change', change: 'enrolled', factor: { id: smsFactor.id, type: 'sms' }, user: userId });

      // A denial at sign-in (not only at enrolment) shows the message too, and offers the recovery codes.
      await server.admin('PATCH', `/hooks/${beforeSend}`, { code: `export default async function (event, api) { api.deny('No codes right now.'); }` });
      await server.server.services.db('mfa_codes').update({ created_at: Date.now() - 60_000 });
      const textsBefore = textCount(allowed);
      const b2 = new Browser(server.url);
      const stopped = await signIn(b2, await authorizationUrl(rp), email, PASSWORD);
      assert.equal(stopped.status, 403);
      assert.equal(alertText(stopped), 'No codes right now.');
      assert.ok(stopped.doc.querySelector('form#mfa-recovery'), 'a recovery code is offered instead');
      assert.equal(textCount(allowed), textsBefore, 'nothing was sent');

      for (const id of [beforeSend, afterSend, afterChange]) await deleteHook(id);
    });
  });
}
