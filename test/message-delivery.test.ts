// The brand sends its own mail (#15, CONTRACT §6 and §9): an application whose `message_delivery`
// says "brand" for a message gets it as a signed `message.*` webhook (with the link) and Tessera
// sends nothing itself; the pages say the same; the link works; a "*" endpoint never sees a link;
// the delivery log shows the link redacted; bad settings are 400s naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent, webhooksSettled } from './support/settle.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

for (const kind of databaseKinds()) {
  describe(`brand-sent messages (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let receiver: WebhookReceiver;
    let brandRp: RelyingParty;
    let otherRp: RelyingParty;
    let seq = 0;

    before(async () => {
      smtp = await startSmtpReceiver();
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
      const brand = await server.admin('POST', '/applications', {
        name: 'Brand Mail',
        redirect_uris: [CALLBACK],
        message_delivery: { password_reset: 'brand', activation: 'brand' },
      });
      assert.equal(brand.status, 201, JSON.stringify(brand.body));
      assert.deepEqual(brand.body.message_delivery, { password_reset: 'brand', activation: 'brand' });
      brandRp = await discoverClient(server.url, brand.body.client_id, brand.body.client_secret);
      const other = await server.admin('POST', '/applications', { name: 'Tessera Mail', redirect_uris: [CALLBACK] });
      assert.equal(other.status, 201, JSON.stringify(other.body));
      assert.deepEqual(other.body.message_delivery, {});
      otherRp = await discoverClient(server.url, other.body.client_id, other.body.client_secret);
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      await receiver?.close();
    });

    async function endpoint(events: string[], body: Record<string, unknown> = {}) {
      const path = `/brand-${++seq}`;
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}${path}`, events, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id as string, secret: created.body.secret as string, path };
    }
    const mailsTo = (to: string) => smtp.mails.filter((m) => m.to.includes(to));

    async function forgotPassword(rp: RelyingParty, email: string) {
      const browser = new Browser(server.url);
      const start = await browser.get((await authorizationUrl(rp)).url.toString());
      const href = start.doc.querySelector('a[href$="/forgot-password"]')?.getAttribute('href');
      assert.ok(href, 'the identify page links to forgot password');
      const sent = await browser.submit(await browser.get(href), { identifier: email });
      assert.equal(sent.status, 200, alertText(sent) ?? '');
      return { browser, sent };
    }

    test('password reset by the brand: no mail from Tessera, a signed event with a working link, nothing for "*"', async () => {
      const email = 'brenda@example.com';
      const user = await server.admin('POST', '/users', { email, password: 'brendas password 1', email_verified: true });
      assert.equal(user.status, 201);
      const brandHook = await endpoint(['message.password_reset'], { applications: [brandRp.clientId] });
      const everything = await endpoint(['*']);
      const otherApps = await endpoint(['message.*'], { applications: [otherRp.clientId] });

      const { browser, sent } = await forgotPassword(brandRp, email);
      const [event] = await receiver.waitForCount(brandHook.path, 1);
      verifyWebhook(brandHook.secret, event!);
      assert.equal(event!.payload.type, 'message.password_reset');
      const data = event!.payload.data;
      assert.equal(data.to, email);
      assert.equal(data.user_id, user.body.id);
      assert.equal(data.application_id, brandRp.clientId);
      assert.equal(data.delivery, 'brand');
      assert.ok(Date.parse(data.expires_at) > Date.now(), `expires_at ahead: ${data.expires_at}`);
      assert.ok(String(data.link).startsWith(`${server.url}/reset-password/`), data.link);

      // Tessera sent nothing (checked once every mail started has been handed over), and the page
      // said what it says when Tessera mails the link.
      await mailsSent(server);
      assert.deepEqual(mailsTo(email), []);
      const { sent: tesseraSent } = await forgotPassword(otherRp, 'nobody-else@example.com');
      assert.equal(sent.doc.querySelector('main')?.textContent?.trim(), tesseraSent.doc.querySelector('main')?.textContent?.trim());
      const queue = await server.admin('GET', `/message-queue?to=${encodeURIComponent(email)}`);
      assert.deepEqual(
        queue.body.map((m: { type: string; status: string; application_id: string }) => [m.type, m.status, m.application_id]),
        [['password_reset', 'brand', brandRp.clientId]],
      );

      // The brand's mail carries the link; it resets the password, and the new one signs in.
      const reset = await browser.submit(await browser.get(data.link), { password: 'brendas password 2' });
      assert.equal(reset.status, 200, alertText(reset) ?? '');
      const start = await authorizationUrl(otherRp);
      const done = await signIn(new Browser(server.url), start, email, 'brendas password 2');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), alertText(done) ?? '');
      assert.equal((await exchangeCode(otherRp, start, done.redirectedTo!)).claims()!.sub, user.body.id);

      // "*" got the reset's other events but never a message event or its link; the endpoint for
      // the other application got nothing of this one.
      await webhooksSettled(server);
      const starTypes = receiver.on(everything.path).map((r) => r.payload.type);
      assert.ok(starTypes.includes('user.password.reset.success'), starTypes.join(', '));
      assert.ok(!starTypes.some((type) => type.startsWith('message.')), starTypes.join(', '));
      assert.ok(!receiver.on(everything.path).some((r) => r.body.includes('/reset-password/')), 'no reset link reached "*"');
      assert.deepEqual(
        receiver.on(otherApps.path).filter((r) => r.payload.data.application_id === brandRp.clientId),
        [],
      );

      // The delivery log shows the event with its link redacted.
      const deliveries = await server.admin('GET', `/webhooks/${brandHook.id}/deliveries`);
      assert.equal(deliveries.status, 200);
      const detail = await server.admin('GET', `/webhooks/${brandHook.id}/deliveries/${deliveries.body[0].id}`);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.event.data.link, '[redacted]');
      assert.equal(detail.body.event.data.to, email);
      assert.ok(!JSON.stringify(detail.body).includes('/reset-password/'));
      for (const hook of [brandHook, everything, otherApps]) await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('activation by the brand covers its resend; Tessera still mails and announces where it sends', async () => {
      const brandHook = await endpoint(['message.*'], { applications: [brandRp.clientId] });
      const tesseraHook = await endpoint(['message.*'], { applications: [otherRp.clientId] });

      async function register(rp: RelyingParty, email: string) {
        const browser = new Browser(server.url);
        const identify = await browser.get((await authorizationUrl(rp)).url.toString());
        const href = identify.doc.querySelector('a[href$="/register"]')?.getAttribute('href');
        assert.ok(href);
        const registered = await browser.submit(await browser.get(href), { email, password: `${email} password 1`, given_name: 'Bea', family_name: 'Brand' });
        assert.equal(registered.status, 200, alertText(registered) ?? '');
        return { browser, registered };
      }

      const { browser, registered } = await register(brandRp, 'bea@example.com');
      const resent = await browser.submit(registered, {}, 'form[action$="/resend-activation"]');
      assert.equal(resent.status, 200, alertText(resent) ?? '');
      const events = await receiver.waitForCount(brandHook.path, 2);
      assert.deepEqual(
        events.map((r) => [r.payload.type, r.payload.data.delivery]),
        [
          ['message.activation', 'brand'],
          ['message.activation.resend', 'brand'],
        ],
      );
      // The brand's link activates the account.
      const activated = await browser.get(events[1]!.payload.data.link);
      assert.equal(activated.status, 200, alertText(activated) ?? '');
      const user = (await server.admin('GET', `/users?email=${encodeURIComponent('bea@example.com')}`)).body[0];
      assert.equal(user.email_verified, true);

      await register(otherRp, 'tess@example.com');
      const [tessera] = await receiver.waitForCount(tesseraHook.path, 1);
      assert.equal(tessera!.payload.data.delivery, 'tessera');
      await mailsSent(server);
      assert.deepEqual(mailsTo('bea@example.com'), []);
      assert.equal(mailsTo('tess@example.com').length, 1);
      assert.ok(mailsTo('tess@example.com')[0]!.text.includes(tessera!.payload.data.link), 'the event carries the mailed link');
      for (const hook of [brandHook, tesseraHook]) await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('a before_message_send denial stops the message: no mail and no event', async () => {
      const hook = await server.admin('POST', '/hooks', {
        name: 'no resets for blocked.example',
        event: 'before_message_send',
        mode: 'sync',
        code: `export default async function (event, api) { if (event.message.to.endsWith('@blocked.example')) api.deny('not to this domain'); }`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const messages = await endpoint(['message.*']);
      const email = 'bob@blocked.example';
      assert.equal((await server.admin('POST', '/users', { email, password: 'bobs password 1', email_verified: true })).status, 201);
      await forgotPassword(brandRp, email);
      // The reset mail is handed to the courier after the page's answer (its timing tells nothing):
      // wait for its queue entry, then for everything it could have caused.
      const deadline = Date.now() + 10_000;
      let queue = await server.admin('GET', `/message-queue?to=${encodeURIComponent(email)}`);
      while (queue.body.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        queue = await server.admin('GET', `/message-queue?to=${encodeURIComponent(email)}`);
      }
      await mailsSent(server);
      await webhooksSettled(server);
      assert.deepEqual(receiver.on(messages.path), []);
      assert.deepEqual(
        queue.body.map((m: { status: string }) => m.status),
        ['denied'],
      );
      await server.admin('DELETE', `/hooks/${hook.body.id}`);
      await server.admin('DELETE', `/webhooks/${messages.id}`);
    });

    test('message_delivery: unknown messages and senders are 400s naming the field; PATCH replaces it', async () => {
      const path = `/applications/${otherRp.clientId}`;
      const unknown = await server.admin('PATCH', path, { message_delivery: { mfa_code: 'brand' } });
      assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
      assert.match(JSON.stringify(unknown.body), /message_delivery/);
      const badSender = await server.admin('PATCH', path, { message_delivery: { password_reset: 'crm' } });
      assert.equal(badSender.status, 400, JSON.stringify(badSender.body));
      assert.match(JSON.stringify(badSender.body), /message_delivery/);
      const notObject = await server.admin('PATCH', path, { message_delivery: ['password_reset'] });
      assert.equal(notObject.status, 400, JSON.stringify(notObject.body));
      const set = await server.admin('PATCH', path, { message_delivery: { username: 'brand' } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body.message_delivery, { username: 'brand' });
      const cleared = await server.admin('PATCH', path, { message_delivery: {} });
      assert.deepEqual(cleared.body.message_delivery, {});
    });
  });
}
