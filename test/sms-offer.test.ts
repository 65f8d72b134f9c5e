// SMS is a second factor only where texts can be delivered: with SMS_WEBHOOK_URL (a real HTTP
// receiver here), or with the explicit development switch SMS_DEV_OUTBOX=true. Without either the
// enrolment page does not offer it and refuses it, an SMS factor enrolled earlier is flagged by the
// admin API and gets no code, and start-up says where mail and texts go (warn for the dev outbox).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodePage, assertEnrolPage, codeIn, recoveryCodesOf, startSmsReceiver, type SmsReceiver } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PASSWORD = 'correct horse battery';

interface Logged {
  level: number;
  msg: string;
  channel?: string;
}

function capture(): { lines: Logged[]; log: ReturnType<typeof createLogger> } {
  const lines: Logged[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: createLogger('info', sink) };
}

async function mfaApp(server: TestServer): Promise<RelyingParty> {
  const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], mfa: 'required' });
  assert.equal(app.status, 201, JSON.stringify(app.body));
  return discoverClient(server.url, app.body.client_id, app.body.client_secret);
}

async function user(server: TestServer, email: string): Promise<string> {
  const created = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

const offersSms = (page: Page) => page.doc.querySelector('input[name="method"][value="sms"]') !== null;
const warnings = (lines: Logged[]) =>
  lines
    .filter((l) => l.level === 40 && /dev outbox/.test(l.msg))
    .map((l) => l.channel)
    .sort();

for (const kind of databaseKinds()) {
  describe(`SMS offered only with a sender (${kind})`, () => {
    const closers: Array<() => Promise<void>> = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
    });

    test('without an SMS messenger the enrolment neither offers nor accepts SMS; an earlier SMS factor is flagged and gets no code', async () => {
      const smtp: SmtpReceiver = await startSmtpReceiver();
      const sms: SmsReceiver = await startSmsReceiver();
      closers.push(
        () => smtp.close(),
        () => sms.close(),
      );
      const { lines, log } = capture();
      const server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, SMS_WEBHOOK_URL: sms.url }, log });
      closers.push(() => server.close());
      const rp = await mfaApp(server);

      // With the messenger: SMS is offered, and Sam enrols it.
      const samId = await user(server, 'sam@example.com');
      const browser = new Browser(server.url);
      const enrol = await signIn(browser, await authorizationUrl(rp), 'sam@example.com', PASSWORD);
      assertEnrolPage(enrol);
      assert.ok(offersSms(enrol), 'SMS is offered when SMS_WEBHOOK_URL is set');
      const codePage = await browser.submit(enrol, { method: 'sms', phone_number: '+15551230002' });
      assertCodePage(codePage);
      const done = await browser.submit(codePage, { code: codeIn((await sms.waitFor('+15551230002')).body) });
      assert.equal(recoveryCodesOf(done).length, 10, alertText(done) ?? '');
      const listed = (await server.admin('GET', `/users/${samId}/factors`)).body.find((f: any) => f.type === 'sms');
      assert.equal(listed.deliverable, true);
      assert.deepEqual(warnings(lines), [], 'nothing goes to the dev outbox: no warning');

      // The operator removes SMS_WEBHOOK_URL.
      delete server.env.SMS_WEBHOOK_URL;
      lines.length = 0;
      await server.restart();
      assert.deepEqual(warnings(lines), [], 'mail still goes out over SMTP and texts are not stored: no warning');
      assert.ok(
        lines.some((l) => l.channel === 'sms' && /not offered/.test(l.msg)),
        'start-up says SMS is not offered',
      );

      // A new user is not offered SMS, and a forged choice of SMS is refused without a factor.
      const adaId = await user(server, 'ada@example.com');
      const adaBrowser = new Browser(server.url);
      const adaEnrol = await signIn(adaBrowser, await authorizationUrl(rp), 'ada@example.com', PASSWORD);
      assertEnrolPage(adaEnrol);
      assert.ok(!offersSms(adaEnrol), 'no SMS radio without a sender');
      assert.equal(adaEnrol.doc.querySelector('input[name="phone_number"]'), null, 'no phone number field either');
      assert.ok(adaEnrol.doc.querySelector('input[name="method"][value="email"]'), 'email is still offered');
      const forged = await adaBrowser.submit(adaEnrol, { method: 'sms', phone_number: '+15551230003' });
      assert.equal(forged.status, 400);
      assert.match(alertText(forged) ?? '', /Choose how/);
      assert.deepEqual((await server.admin('GET', `/users/${adaId}/factors`)).body, []);

      // Sam's SMS factor: the admin API flags it, and the login texts nothing and says why.
      const flagged = (await server.admin('GET', `/users/${samId}/factors`)).body.find((f: any) => f.type === 'sms');
      assert.equal(flagged.deliverable, false);
      const textsBefore = sms.texts.length;
      const samAgain = await signIn(new Browser(server.url), await authorizationUrl(rp), 'sam@example.com', PASSWORD);
      assert.equal(samAgain.status, 503);
      assert.match(alertText(samAgain) ?? '', /Text messages cannot be sent/);
      assert.equal(sms.texts.length, textsBefore, 'no text went out');
    });

    test('SMS_DEV_OUTBOX=true offers SMS and keeps texts in the dev outbox; start-up warns for mail and texts', async () => {
      const { lines, log } = capture();
      const server = await startTestServer(kind, { env: { SMS_DEV_OUTBOX: 'true' }, log });
      closers.push(() => server.close());
      assert.deepEqual(warnings(lines), ['email', 'sms']);
      const rp = await mfaApp(server);
      await user(server, 'dev@example.com');
      const browser = new Browser(server.url);
      const enrol = await signIn(browser, await authorizationUrl(rp), 'dev@example.com', PASSWORD);
      assert.ok(offersSms(enrol), 'SMS is offered with SMS_DEV_OUTBOX=true');
      const codePage = await browser.submit(enrol, { method: 'sms', phone_number: '+15551230004' });
      assertCodePage(codePage);
      const texts = (await server.admin('GET', `/messages?to=${encodeURIComponent('+15551230004')}`)).body;
      assert.equal(texts.length, 1);
      assert.equal(texts[0].channel, 'sms');
      const done = await browser.submit(codePage, { code: codeIn(texts[0].body) });
      assert.equal(recoveryCodesOf(done).length, 10, alertText(done) ?? '');
    });

    test('the dev outbox stays usable for mail without any SMS setting; GET /messages is 404 once nothing can land there', async () => {
      const { lines, log } = capture();
      const server = await startTestServer(kind, { log });
      closers.push(() => server.close());
      assert.deepEqual(warnings(lines), ['email']);
      const rp = await mfaApp(server);
      await user(server, 'mail@example.com');
      const browser = new Browser(server.url);
      const enrol = await signIn(browser, await authorizationUrl(rp), 'mail@example.com', PASSWORD);
      assert.ok(!offersSms(enrol));
      assertCodePage(await browser.submit(enrol, { method: 'email' }));
      const mails = (await server.admin('GET', '/messages?to=mail@example.com')).body;
      assert.equal(mails.length, 1);
      assert.equal(mails[0].channel, 'email');

      const smtp = await startSmtpReceiver();
      closers.push(() => smtp.close());
      server.env.SMTP_URL = smtp.url;
      await server.restart();
      const off = await server.admin('GET', '/messages');
      assert.equal(off.status, 404);
      assert.match(off.body.message, /SMS_DEV_OUTBOX/);
    });
  });
}
