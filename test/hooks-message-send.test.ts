// before_message_send (CONTRACT §5): every mail and text goes through it with the message's type,
// channel, recipient, link or code, expiry and locale. api.message.suppress() leaves the sending to
// the brand (no mail reaches the SMTP receiver; the hook's peer got the link, which works);
// api.deny() sends nothing (an MFA code page shows the message); a hook that fails with on_error
// "continue" lets the message go as if it had not run, with "fail" nothing is sent. An async hook's
// queued event is sealed at rest: the link it carries is not in the database in the clear.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { HookFixtures, hookCode, report, startHookPeer, waitForExecutions, type HookPeer } from './support/hook-peer.ts';
import { createTestApplication, mailsTo, startLogin } from './support/hosted-pages.ts';
import { assertEnrolPage, codeIn, startSmsReceiver, type SmsReceiver, assertCodePage } from './support/mfa.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { hookJobsDone, mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PASSWORD = 'correct horse battery';

for (const kind of databaseKinds()) {
  describe(`before_message_send (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let sms: SmsReceiver;
    let peer: HookPeer;
    const hooks = new HookFixtures(() => server);

    before(async () => {
      smtp = await startSmtpReceiver();
      sms = await startSmsReceiver();
      peer = await startHookPeer();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, SMS_WEBHOOK_URL: sms.url } });
    });
    afterEach(async () => {
      await hooks.clear();
      peer.reset();
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      await sms?.close();
      await peer?.close();
    });

    const register = async (clientId: string, email: string) => {
      const browser = new Browser(server.url, { 'accept-language': 'fr-FR,fr;q=0.9' });
      const { uid } = await startLogin(browser, server, clientId);
      const form = await browser.get(`/interaction/${uid}/register`);
      const page = await browser.submit(form, { email, password: PASSWORD, given_name: 'Ida', family_name: 'Sent' });
      return { browser, page };
    };

    test('suppress: the activation mail is not sent by Tessera; the hook got its link, which works', async () => {
      const clientId = await createTestApplication(server);
      const hookId = await hooks.create({
        event: 'before_message_send',
        applications: [clientId],
        allowed_hosts: [peer.host],
        code: hookCode(`${report(peer, '/mail')}\napi.message.suppress();`),
      });
      const { browser, page } = await register(clientId, 'ida@example.com');
      assert.equal(page.status, 200);
      assert.match(page.doc.querySelector('h1')?.text ?? '', /consultez votre messagerie/i);

      const call = await peer.waitFor('/mail');
      const { message, user, type } = call.body;
      assert.equal(type, 'before_message_send');
      assert.equal(user.email, 'ida@example.com');
      assert.equal(message.type, 'activation');
      assert.equal(message.channel, 'email');
      assert.equal(message.to, 'ida@example.com');
      assert.equal(message.code, null);
      assert.equal(message.locale, 'fr', 'the language the mail is written in (the browser asked for fr-FR)');
      assert.ok(message.link.startsWith(`${server.url}/activate/`), message.link);
      const expiresIn = Date.parse(message.expires_at) - Date.now();
      assert.ok(expiresIn > 23 * 3600_000 && expiresIn <= 24 * 3600_000, `the activation link's expiry: ${message.expires_at}`);

      await mailsSent(server);
      assert.equal(mailsTo(smtp, 'ida@example.com').length, 0, 'no mail reached the SMTP receiver');
      const queued = (await server.admin('GET', '/message-queue?to=ida@example.com')).body;
      assert.deepEqual(
        queued.map((m: any) => [m.type, m.status, m.application_id]),
        [['activation', 'suppressed', clientId]],
      );
      const [run] = await waitForExecutions(server, hookId, 1);
      assert.deepEqual(run!.actions, [{ type: 'message.suppress' }]);

      const activated = await browser.get(message.link);
      assert.equal(activated.status, 200);
      assert.match(activated.doc.querySelector('h1')?.text ?? '', /adresse e-mail est confirmée/i);
    });

    test('deny: an MFA code by SMS is not sent and the code page says why; another channel goes through', async () => {
      const clientId = await createTestApplication(server, { mfa: 'required' });
      const created = await server.admin('POST', '/users', { email: 'max@example.com', password: PASSWORD, email_verified: true });
      assert.equal(created.status, 201);
      await hooks.create({
        event: 'before_message_send',
        applications: [clientId],
        code: hookCode(`if (event.message.type === 'mfa_code' && event.message.channel === 'sms') api.deny('Texts are off today.');
          console.log(JSON.stringify({ type: event.message.type, code: /^\\d{6}$/.test(event.message.code) }));`),
      });
      const browser = new Browser(server.url);
      const { page: identify } = await startLogin(browser, server, clientId);
      const password = await browser.submit(identify, { identifier: 'max@example.com' });
      const enrol = await browser.submit(password, { password: PASSWORD });
      assertEnrolPage(enrol);
      const denied = await browser.submit(enrol, { method: 'sms', phone_number: '+15551230077' });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Texts are off today.');
      await mailsSent(server);
      assert.equal(sms.texts.filter((t) => t.to === '+15551230077').length, 0, 'nothing was texted');
      assert.deepEqual(
        (await server.admin('GET', `/message-queue?to=${encodeURIComponent('+15551230077')}`)).body.map((m: any) => [m.type, m.channel, m.status]),
        [['mfa_code', 'sms', 'denied']],
      );

      const codePage = await browser.submit(denied, { method: 'email' });
      assertCodePage(codePage);
      const mail = await smtp.waitFor('max@example.com', /code/i);
      assert.match(codeIn(mail.text), /^\d{6}$/);
    });

    test('async: the hook gets the link, and its queued job holds the event sealed, not the link in the clear', async () => {
      const clientId = await createTestApplication(server);
      const hookId = await hooks.create({
        event: 'before_message_send',
        mode: 'async',
        applications: [clientId],
        allowed_hosts: [peer.host],
        code: hookCode(report(peer, '/async-mail')),
      });
      await register(clientId, 'ava@example.com');
      const link = linkIn(await smtp.waitFor('ava@example.com', /activate/i), `${server.url}/activate/`);
      await hookJobsDone(server, hookId);
      const reported = await peer.waitFor('/async-mail', 1);
      assert.equal(reported.body.message.link, link);
      const rows = await server.server.services.db('hook_jobs').where({ hook_id: hookId });
      assert.equal(rows.length, 1);
      const stored = String(rows[0].event);
      assert.ok(stored.startsWith('v1.'), 'sealed');
      for (const secret of [link, new URL(link).pathname.split('/').pop()!, 'ava@example.com']) assert.ok(!stored.includes(secret), `no ${secret} in the clear`);
    });

    test('a failing hook: on_error "continue" sends as if it had not run, "fail" sends nothing', async () => {
      const clientId = await createTestApplication(server);
      const hookId = await hooks.create({ event: 'before_message_send', applications: [clientId], on_error: 'continue', code: hookCode(`throw new Error('provider down');`) });
      await register(clientId, 'cat@example.com');
      const mail = await smtp.waitFor('cat@example.com', /activate/i);
      assert.ok(linkIn(mail, `${server.url}/activate/`));

      assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { on_error: 'fail' })).status, 200);
      await register(clientId, 'dot@example.com');
      await mailsSent(server);
      assert.equal(mailsTo(smtp, 'dot@example.com').length, 0, 'a failed hook with on_error "fail" sends nothing');
      const [entry] = (await server.admin('GET', '/message-queue?to=dot@example.com')).body;
      assert.equal(entry.status, 'denied');
      assert.match(entry.last_error, /on_error "fail"/);
    });
  });
}
