// Per-application webhook subscriptions and prefix wildcards (CONTRACT §6): an endpoint limited to
// some applications gets only their events (and events of no application only with
// include_unscoped); "user.login.*" takes both login types and nothing else; bad filters are a 400
// naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

for (const kind of databaseKinds()) {
  describe(`webhook subscriptions (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;

    before(async () => {
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, WEBHOOK_RETRY_SCHEDULE: '0.2s' } });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    async function application(name: string): Promise<{ client_id: string; client_secret: string }> {
      const created = await server.admin('POST', '/applications', { name, redirect_uris: [CALLBACK] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    }

    async function login(app: { client_id: string; client_secret: string }, email: string, password: string): Promise<void> {
      const rp = await discoverClient(server.url, app.client_id, app.client_secret);
      const start = await authorizationUrl(rp);
      const done = await signIn(new Browser(server.url), start, email, password);
      assert.ok(done.redirectedTo, `signed in at ${app.client_id}`);
      await exchangeCode(rp, start, done.redirectedTo);
    }

    test('an endpoint gets only its applications’ events, and events of no application only with include_unscoped', async () => {
      const appA = await application('App A');
      const appB = await application('App B');
      const onlyA = await server.admin('POST', '/webhooks', { url: `${receiver.url}/only-a`, events: ['user.login.*'], applications: [appA.client_id] });
      assert.equal(onlyA.status, 201, JSON.stringify(onlyA.body));
      assert.deepEqual(onlyA.body.applications, [appA.client_id]);
      assert.equal(onlyA.body.include_unscoped, false);
      const bAndUnscoped = await server.admin('POST', '/webhooks', { url: `${receiver.url}/b-and-unscoped`, events: ['user.*'], applications: [appB.client_id], include_unscoped: true });
      assert.equal(bAndUnscoped.status, 201, JSON.stringify(bAndUnscoped.body));
      const everything = await server.admin('POST', '/webhooks', { url: `${receiver.url}/all`, events: ['*'] });
      assert.equal(everything.status, 201, JSON.stringify(everything.body));

      const password = 'correct horse battery staple';
      const user = await server.admin('POST', '/users', { email: 'subscriber@example.com', password, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      await login(appA, 'subscriber@example.com', password);
      await login(appB, 'subscriber@example.com', password);
      await webhooksSettled(server);

      const seen = (path: string) => receiver.on(path).map((r) => `${r.payload.type}@${r.payload.data.application_id ?? '-'}`);
      // user.login.* also holds user.login.new-device (each login here is a fresh browser): of appA too.
      const successes = (path: string) => seen(path).filter((entry) => entry.startsWith('user.login.success@'));
      assert.deepEqual(successes('/only-a'), [`user.login.success@${appA.client_id}`]);
      assert.ok(
        seen('/only-a').every((entry) => entry.endsWith(`@${appA.client_id}`)),
        seen('/only-a').join(', '),
      );
      const atB = seen('/b-and-unscoped');
      assert.ok(atB.includes(`user.login.success@${appB.client_id}`), atB.join(', '));
      assert.ok(atB.includes('user.create@-'), atB.join(', '));
      assert.ok(!atB.some((seenType) => seenType.endsWith(`@${appA.client_id}`)), atB.join(', '));
      const atAll = seen('/all');
      for (const wanted of [`user.login.success@${appA.client_id}`, `user.login.success@${appB.client_id}`, 'user.create@-']) assert.ok(atAll.includes(wanted), `${wanted} in ${atAll.join(', ')}`);
      for (const request of receiver.on('/only-a')) verifyWebhook(onlyA.body.secret, request);

      // Dropping the filter (null) opens the endpoint to every application again.
      const opened = await server.admin('PATCH', `/webhooks/${onlyA.body.id}`, { applications: null });
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      assert.equal(opened.body.applications, null);
      await login(appB, 'subscriber@example.com', password);
      await webhooksSettled(server);
      assert.deepEqual(successes('/only-a'), [`user.login.success@${appA.client_id}`, `user.login.success@${appB.client_id}`]);
    });

    test('bad filters are refused with a 400 naming the field, and nothing is stored', async () => {
      const before = (await server.admin('GET', '/webhooks')).body.length;
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ events: ['user.*'], applications: ['no-such-app'] }, 'applications[0]'],
        [{ events: ['user.*'], applications: [] }, 'applications'],
        [{ events: ['user.*'], applications: 'app' }, 'applications'],
        [{ events: ['nothing.*'] }, 'events[0]'],
        [{ events: ['user.login'] }, 'events[0]'],
        [{ events: ['*', 'user.create'] }, 'events'],
        [{ events: ['user.*'], include_unscoped: 'yes' }, 'include_unscoped'],
      ];
      for (const [body, field] of cases) {
        const answer = await server.admin('POST', '/webhooks', { url: `${receiver.url}/bad`, ...body });
        assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
        assert.ok(answer.body.message.startsWith(`${field}:`), JSON.stringify(answer.body));
      }
      assert.equal((await server.admin('GET', '/webhooks')).body.length, before);
    });
  });
}
