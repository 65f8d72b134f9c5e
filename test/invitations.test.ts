// Invitations end to end (CONTRACT §9): the operator invites an address, the SMTP receiver gets the
// link, the hosted pages let the user set a password and land signed in at the application (through
// its initiate_login_uri), with before_registration/after_registration seeing `invited: true` and
// user.create / user.registration.create saying so; a used, expired, withdrawn or unknown link shows
// a clear page with a way back; resend makes a new link; bad bodies are 400/409 naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const START = 'http://localhost:4999/start-login';

for (const kind of databaseKinds()) {
  describe(`invitations (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let receiver: WebhookReceiver;
    let withStart: { client_id: string; client_secret: string };
    let withoutStart: { client_id: string; client_secret: string };

    before(async () => {
      smtp = await startSmtpReceiver();
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, INVITATION_TTL_SECONDS: '3600' } });
      const a = await server.admin('POST', '/applications', { name: 'Team Portal', redirect_uris: [CALLBACK], initiate_login_uri: START });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      withStart = a.body;
      const b = await server.admin('POST', '/applications', { name: 'Back Office', redirect_uris: [CALLBACK] });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      withoutStart = b.body;
      const hook = await server.admin('POST', '/hooks', {
        name: 'mark invited users, refuse one',
        event: 'before_registration',
        mode: 'sync',
        code: `export default async function (event, api) {
  if (event.user.email === 'refused@example.com') api.deny('Invitations to this address are paused.');
  api.user.setMetadata('invited', event.invited);
}`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      await receiver?.close();
    });

    const mailsTo = (to: string) => smtp.mails.filter((m) => m.to.includes(to));
    /** Waits for the n-th mail to `to` (the receiver records each as it arrives). */
    async function nthMail(to: string, n: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (mailsTo(to).length < n) {
        if (Date.now() > deadline) throw new Error(`mail ${n} to ${to} did not arrive`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return mailsTo(to)[n - 1]!;
    }

    async function invite(email: string, application: string, extra: Record<string, unknown> = {}): Promise<{ id: string; user_id: string; link: string }> {
      const created = await server.admin('POST', '/invitations', { email, application, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.status, 'pending');
      const mail = await smtp.waitFor(email, /invited/i);
      return { id: created.body.id, user_id: created.body.user_id, link: linkIn(mail, `${server.url}/invitation/`) };
    }

    test('the invited user sets a password and lands signed in at the application', async () => {
      const endpoint = await server.admin('POST', '/webhooks', { url: `${receiver.url}/invited`, events: ['user.create', 'user.registration.create'] });
      assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
      const invitation = await invite('newcomer@example.com', withStart.client_id, { given_name: 'Nia' });
      const pending = await server.admin('GET', `/users/${invitation.user_id}`);
      assert.equal(pending.body.status, 'pending');
      assert.equal(pending.body.has_password, false);

      // The link sends the browser to the application's sign-in start, which starts a sign-in.
      const browser = new Browser(server.url);
      const opened = await browser.get(invitation.link);
      assert.ok(opened.redirectedTo, `the link redirects to the application: ${opened.status} ${alertText(opened)} ${opened.html.slice(0, 2000)}`);
      const start = new URL(opened.redirectedTo);
      assert.equal(`${start.origin}${start.pathname}`, START);
      assert.equal(start.searchParams.get('iss'), server.url);
      assert.equal(start.searchParams.get('login_hint'), 'newcomer@example.com');
      const rp: RelyingParty = await discoverClient(server.url, withStart.client_id, withStart.client_secret);
      const authorization = await authorizationUrl(rp, { login_hint: start.searchParams.get('login_hint')! });
      const form = await browser.get(authorization.url.toString());
      assert.match(form.url, /\/invitation$/, 'the sign-in opens on the invitation form');
      assert.equal(form.doc.querySelector('input[name="given_name"]')?.getAttribute('value'), 'Nia');

      // A weak password is refused next to its field; then a good one signs the user in.
      const weak = await browser.submit(form, { password: 'short' });
      assert.equal(weak.status, 400);
      assert.match(alertText(weak) ?? '', /password/i);
      const done = await browser.submit(weak, { password: 'newcomer password 1', given_name: 'Nia', family_name: 'New' });
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `signed in: ${done.status} ${alertText(done) ?? ''}`);
      const tokens = await exchangeCode(rp, authorization, done.redirectedTo!);
      const claims = tokens.claims()!;
      assert.equal(claims.sub, invitation.user_id);
      assert.equal(claims.email_verified, true);

      const user = await server.admin('GET', `/users/${invitation.user_id}`);
      assert.equal(user.body.status, 'active');
      assert.equal(user.body.family_name, 'New');
      assert.equal(user.body.metadata.invited, true, 'before_registration saw invited: true');
      assert.equal((await server.admin('GET', `/invitations/${invitation.id}`)).body.status, 'accepted');

      // The password works for a normal sign-in afterwards.
      const again = await signIn(new Browser(server.url), await authorizationUrl(rp), 'newcomer@example.com', 'newcomer password 1');
      assert.ok(again.redirectedTo?.startsWith(CALLBACK));

      await webhooksSettled(server);
      const events = receiver.on('/invited').map((r) => r.payload);
      const created = events.find((e) => e.type === 'user.create' && e.data.user.id === invitation.user_id);
      assert.deepEqual([created?.data.invited, created?.data.application_id], [true, withStart.client_id]);
      const registered = events.find((e) => e.type === 'user.registration.create' && e.data.user.id === invitation.user_id);
      assert.deepEqual([registered?.data.invited, registered?.data.application_id, registered?.data.user.status], [true, withStart.client_id, 'active']);

      // The link is used up: a clear page with a way back to the application.
      const used = await new Browser(server.url).get(invitation.link);
      assert.equal(used.status, 410);
      assert.match(alertText(used) ?? '', /already been accepted/);
      assert.ok(used.doc.querySelector(`a[href="${START}"]`), 'a way back to the application');
    });

    test('without initiate_login_uri the link has its own form; an expired link can be sent again', async () => {
      const invitation = await invite('late@example.com', withoutStart.client_id);
      advanceClock(3601_000);
      const expired = await new Browser(server.url).get(invitation.link);
      assert.equal(expired.status, 410);
      assert.match(alertText(expired) ?? '', /expired/);
      assert.ok(expired.doc.querySelector('a[href]'), 'a way back');
      const listed = await server.admin('GET', '/invitations?status=expired');
      assert.ok(listed.body.some((i: { id: string }) => i.id === invitation.id));

      const sentBefore = mailsTo('late@example.com').length;
      const resent = await server.admin('POST', `/invitations/${invitation.id}/resend`);
      assert.equal(resent.status, 200, JSON.stringify(resent.body));
      assert.equal(resent.body.status, 'pending');
      const fresh = linkIn(await nthMail('late@example.com', sentBefore + 1), `${server.url}/invitation/`);
      assert.notEqual(fresh, invitation.link);

      const browser = new Browser(server.url);
      const form = await browser.get(fresh);
      assert.equal(form.status, 200);
      const done = await browser.submit(form, { password: 'late password 1' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      assert.match(done.html, /Your account is ready/);
      const rp = await discoverClient(server.url, withoutStart.client_id, withoutStart.client_secret);
      const signedIn = await signIn(new Browser(server.url), await authorizationUrl(rp), 'late@example.com', 'late password 1');
      assert.ok(signedIn.redirectedTo?.startsWith(CALLBACK), 'the chosen password signs in');
    });

    test('a denial keeps the invitation usable; a withdrawn invitation deletes the pending user and its link stops working', async () => {
      const refused = await invite('refused@example.com', withoutStart.client_id);
      const browser = new Browser(server.url);
      const denied = await browser.submit(await browser.get(refused.link), { password: 'refused password 1' });
      assert.equal(denied.status, 403);
      assert.match(alertText(denied) ?? '', /Invitations to this address are paused/);
      assert.equal((await server.admin('GET', `/users/${refused.user_id}`)).body.status, 'pending');
      assert.equal((await new Browser(server.url).get(refused.link)).status, 200, 'still usable');

      assert.equal((await server.admin('DELETE', `/invitations/${refused.id}`)).status, 204);
      assert.equal((await server.admin('GET', `/users/${refused.user_id}`)).status, 404);
      assert.equal((await server.admin('GET', `/invitations/${refused.id}`)).body.status, 'revoked');
      const gone = await new Browser(server.url).get(refused.link);
      assert.equal(gone.status, 410);
      assert.match(alertText(gone) ?? '', /withdrawn/);
      const unknown = await new Browser(server.url).get(`${server.url}/invitation/${'x'.repeat(43)}`);
      assert.equal(unknown.status, 404);
      assert.match(alertText(unknown) ?? '', /not valid/);
    });

    test('bad bodies are refused naming the field, and nothing is written', async () => {
      const before = (await server.admin('GET', '/invitations?limit=200')).body.length;
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [{ application: withStart.client_id }, 400, 'email'],
        [{ email: 'x@example.com' }, 400, 'application'],
        [{ email: 'x@example.com', application: 'no-such-app' }, 400, 'application'],
        [{ email: 'not an address', application: withStart.client_id }, 400, 'email'],
        [{ email: 'x@example.com', application: withStart.client_id, roles: ['ok', 'not ok'] }, 400, 'roles[1]'],
        [{ email: 'x@example.com', application: withStart.client_id, status: 'accepted' }, 400, 'status'],
        [{ email: 'newcomer@example.com', application: withStart.client_id }, 409, 'email'],
      ];
      for (const [body, status, field] of cases) {
        const answer = await server.admin('POST', '/invitations', body);
        assert.equal(answer.status, status, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
        assert.ok(answer.body.message.startsWith(`${field}`), JSON.stringify(answer.body));
      }
      assert.equal((await server.admin('GET', '/invitations?limit=200')).body.length, before);
      assert.equal((await server.admin('GET', '/users?email=x@example.com')).body.length, 0);
    });
  });
}
