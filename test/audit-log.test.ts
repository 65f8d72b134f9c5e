// The audit log (CONTRACT §9): every change made through the admin API is recorded with its actor,
// action, target, before and after (secrets redacted), address and time; reads and refused changes
// are not; entries are filtered by actor and target, pruned by age, and each is an audit-log.create
// webhook event.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

for (const kind of databaseKinds()) {
  describe(`audit log (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;

    before(async () => {
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    const entriesFor = async (target: string) => {
      const listed = await server.admin('GET', `/audit-log?target=${encodeURIComponent(target)}`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body as Array<Record<string, any>>;
    };

    test('a change is recorded with who, what, the target before and after, and where from; reads and refused changes are not', async () => {
      const endpoint = await server.admin('POST', '/webhooks', { url: `${receiver.url}/audit`, events: ['audit-log.create'] });
      assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
      const created = await server.admin('POST', '/users', { email: 'audited@example.com', given_name: 'Ada', password: 'audited password 1' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal((await server.admin('PATCH', `/users/${id}`, { given_name: 'Augusta' })).status, 200);
      assert.equal((await server.admin('GET', `/users/${id}`)).status, 200);
      assert.equal((await server.admin('PATCH', `/users/${id}`, { given_name: 42 })).status, 400);
      assert.equal((await server.admin('POST', `/users/${id}/disable`)).status, 200);
      assert.equal((await server.admin('DELETE', `/users/${id}`)).status, 204);

      const entries = (await entriesFor(id)).reverse();
      assert.deepEqual(
        entries.map((e) => e.action),
        ['POST /users', 'PATCH /users/:id', 'POST /users/:id/disable', 'DELETE /users/:id'],
      );
      const [create, patch, disable, remove] = entries;
      for (const entry of entries) {
        assert.equal(entry.actor, 'admin-key');
        assert.deepEqual(entry.target, { type: 'users', id });
        assert.equal(entry.address, '127.0.0.1');
        assert.ok(!Number.isNaN(Date.parse(entry.created_at)));
      }
      assert.equal(create!.before, null);
      assert.equal(create!.after.email, 'audited@example.com');
      assert.deepEqual([patch!.before.given_name, patch!.after.given_name], ['Ada', 'Augusta']);
      assert.deepEqual([disable!.before.status, disable!.after.status], ['active', 'disabled']);
      assert.equal(remove!.before.email, 'audited@example.com');
      assert.equal(remove!.after, null);
      assert.equal(remove!.status, 204);

      await webhooksSettled(server);
      const events = receiver.on('/audit');
      for (const request of events) verifyWebhook(endpoint.body.secret, request);
      const ids = new Set(entries.map((e) => e.id));
      assert.equal(events.filter((r) => ids.has(r.payload.data.audit.id)).length, 4, 'one audit-log.create per entry');
    });

    test('secrets never reach the log: a hook secret, a client secret, a password', async () => {
      const app = await server.admin('POST', '/applications', { name: 'Audited app', redirect_uris: ['http://rp.test/callback'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const hook = await server.admin('POST', '/hooks', {
        name: 'audited hook',
        event: 'after_login',
        mode: 'sync',
        code: 'export default async function () {}',
        secrets: { CRM_TOKEN: 'crm-token-do-not-log-7f3a' },
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const user = await server.admin('POST', '/users', { email: 'secretive@example.com', password: 'password-do-not-log-9c1e' });
      assert.equal(user.status, 201);
      const all = JSON.stringify((await server.admin('GET', '/audit-log?limit=500')).body);
      for (const secret of ['crm-token-do-not-log-7f3a', app.body.client_secret, 'password-do-not-log-9c1e']) assert.ok(!all.includes(secret), `${secret} is not in the log`);
      const hookEntry = (await entriesFor(hook.body.id))[0]!;
      assert.equal(hookEntry.action, 'POST /hooks');
      assert.equal(hookEntry.after.name, 'audited hook');
      const appEntry = (await entriesFor(app.body.client_id))[0]!;
      assert.equal(appEntry.after.name, 'Audited app');
    });

    test('filters are checked, and old entries are pruned', async () => {
      assert.equal((await server.admin('GET', '/audit-log?limit=0')).status, 400);
      assert.equal((await server.admin('GET', `/audit-log?actor=${'x'.repeat(201)}`)).status, 400);
      const byKey = await server.admin('GET', '/audit-log?actor=admin-key&limit=500');
      assert.ok(byKey.body.length > 0 && byKey.body.every((e: { actor: string }) => e.actor === 'admin-key'));
      assert.equal((await server.admin('GET', '/audit-log?actor=console:nobody')).body.length, 0);

      const audit = server.server.services.audit;
      const total = (await server.admin('GET', '/audit-log?limit=500')).body.length;
      assert.equal(await audit.prune(365 * 86400_000), 0, 'nothing is a year old');
      assert.equal(await audit.prune(365 * 86400_000, Date.now() + 366 * 86400_000), total, 'a year later everything goes');
      assert.equal((await server.admin('GET', '/audit-log')).body.length, 0);
    });
  });
}
