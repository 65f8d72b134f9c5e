// The event log (CONTRACT §9, GET /admin/api/event-log): what the server itself reports. Each source
// writes its entry through a real action: KICKSTART at the first start, a failing hook, a webhook
// delivery failed after its last attempt, a mail failed after its last attempt, a key rotation and a
// retirement; each entry is an event-log.create webhook event; no secret is in an entry; the query
// filters by type and is bounded; entries are pruned by age by the clean-up; the route needs the key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanUp } from '../src/housekeeping.ts';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

const CLIENT_ID = 'event-log-rp';
const CLIENT_SECRET = 'event-log-rp-secret-0123456789abcdef';
const PASSWORD = 'event log password 1';

for (const kind of databaseKinds()) {
  describe(`event log (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let dir: string;
    let listener: { id: string; secret: string };

    before(async () => {
      receiver = await WebhookReceiver.start();
      dir = mkdtempSync(join(tmpdir(), 'tessera-event-log-'));
      const kickstart = join(dir, 'kickstart.json');
      writeFileSync(
        kickstart,
        JSON.stringify({
          applications: [{ name: 'Event log RP', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [CALLBACK] }],
          users: [{ email: 'eve@example.com', password: PASSWORD, email_verified: true }],
        }),
      );
      // Mail goes to a port nothing listens on: every attempt fails.
      const closed = await freePort();
      server = await startTestServer(kind, {
        env: {
          KICKSTART: kickstart,
          SMTP_URL: `smtp://127.0.0.1:${closed}`,
          MAIL_RETRY_SCHEDULE: '0.1s',
          WEBHOOK_ALLOWED_HOSTS: receiver.hostPort,
          WEBHOOK_RETRY_SCHEDULE: '0.1s',
          WEBHOOK_TIMEOUT: '2s',
          WEBHOOK_LEASE: '10s',
        },
      });
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}/event-log`, events: ['event-log.create'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      listener = created.body;
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function entries(query = ''): Promise<any[]> {
      const listed = await server.admin('GET', `/event-log${query}`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body;
    }

    async function waitForEntry(type: string, match: (entry: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = (await entries(`?type=${type}&limit=500`)).find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${type} entry: ${JSON.stringify(await entries())}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    test('KICKSTART at the first start writes an entry with its counts', async () => {
      const [entry] = await entries('?type=kickstart.applied');
      assert.ok(entry, 'the KICKSTART entry');
      assert.match(entry.message, /^KICKSTART kickstart\.json applied$/);
      assert.equal(entry.details.applications, 1);
      assert.equal(entry.details.users, 1);
      assert.ok(!JSON.stringify(entry).includes(CLIENT_SECRET), 'no client secret in the entry');
      assert.ok(!JSON.stringify(entry).includes(PASSWORD));
      assert.match(entry.id, /^evl_/);
      assert.ok(!Number.isNaN(Date.parse(entry.created_at)));
    });

    test('a hook that fails writes an entry, and event-log.create is delivered signed', async () => {
      const hook = await server.admin('POST', '/hooks', {
        name: 'fails at login',
        event: 'after_login',
        mode: 'sync',
        on_error: 'continue',
        secrets: { CRM_TOKEN: 'crm-token-do-not-leak-0123456789' },
        code: 'export default async function (event) { throw new Error("crm unreachable with " + event.secrets.CRM_TOKEN); }',
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      try {
        const rp = await discoverClient(server.url, CLIENT_ID, CLIENT_SECRET);
        const start = await authorizationUrl(rp);
        const done = await signIn(new Browser(server.url), start, 'eve@example.com', PASSWORD);
        assert.ok(done.redirectedTo?.startsWith(CALLBACK), 'the login goes on (on_error continue)');
        await exchangeCode(rp, start, done.redirectedTo!);
        const entry = await waitForEntry('hook.failed', (e) => e.details.hook_id === hook.body.id);
        assert.equal(entry.details.event, 'after_login');
        assert.equal(entry.details.outcome, 'error');
        assert.match(entry.message, /^hook "fails at login" \(after_login\) failed: error .*crm unreachable/);
        assert.ok(!JSON.stringify(entry).includes('crm-token-do-not-leak'), `the hook's secret is redacted: ${JSON.stringify(entry)}`);
        await receiver.waitFor('its event-log.create', (all) => all.some((r) => r.path === '/event-log' && r.payload.data.event_log?.id === entry.id));
        const delivered = receiver.on('/event-log').find((r) => r.payload.data.event_log.id === entry.id)!;
        verifyWebhook(listener.secret, delivered);
        assert.deepEqual(delivered.payload.data.event_log, entry, 'the webhook carries the entry as the API answers it');
      } finally {
        await server.admin('DELETE', `/hooks/${hook.body.id}`);
      }
    });

    test('a webhook delivery failed after its last attempt writes an entry (without the endpoint secret)', async () => {
      receiver.behave('/down', () => ({ status: 500 }));
      const down = await server.admin('POST', '/webhooks', { url: `${receiver.url}/down`, events: ['user.update'] });
      assert.equal(down.status, 201, JSON.stringify(down.body));
      try {
        const eve = (await server.admin('GET', '/users?email=eve@example.com')).body[0];
        assert.equal((await server.admin('PATCH', `/users/${eve.id}`, { given_name: 'Eve' })).status, 200);
        const entry = await waitForEntry('webhook.failed', (e) => e.details.endpoint_id === down.body.id);
        assert.equal(entry.details.event_type, 'user.update');
        assert.equal(entry.details.attempts, 2);
        assert.match(entry.details.error, /HTTP 500/);
        assert.match(entry.message, /failed after its last attempt: HTTP 500/);
        assert.ok(!JSON.stringify(entry).includes(down.body.secret.slice(6)), 'no secret in the entry');
        assert.equal(receiver.on('/down').length, 2);
      } finally {
        await server.admin('DELETE', `/webhooks/${down.body.id}`);
      }
    });

    test('a mail failed after its last attempt writes an entry naming the message, not its address or link', async () => {
      const invited = await server.admin('POST', '/invitations', { email: 'mallory@example.com', application: CLIENT_ID });
      assert.equal(invited.status, 201, JSON.stringify(invited.body));
      const entry = await waitForEntry('message.failed');
      assert.equal(entry.details.channel, 'email');
      assert.equal(entry.details.attempts, 2);
      assert.equal(typeof entry.details.message_id, 'string');
      assert.equal(typeof entry.details.error, 'string');
      const text = JSON.stringify(entry);
      assert.ok(!text.includes('mallory@example.com'), 'not the address');
      assert.ok(!/https?:\/\/[^"]*invitation/i.test(text), 'not the link');
    });

    test('rotating and retiring signing keys write entries (and jwt.public-key.update)', async () => {
      const rotated = await server.admin('POST', '/keys/rotate');
      assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
      const entry = await waitForEntry('key.rotated', (e) => e.details.kid === rotated.body.kid);
      assert.equal(entry.details.activates_at, rotated.body.activates_at);
      const older = (await server.admin('GET', '/keys')).body.find((k: { kid: string; retired_at: string | null }) => k.kid !== rotated.body.kid && !k.retired_at);
      assert.equal((await server.admin('POST', `/keys/${older.kid}/retire`)).status, 200);
      const retired = await waitForEntry('key.retired', (e) => e.details.kid === older.kid);
      assert.match(retired.message, new RegExp(`${older.kid} retired`));
      const events = await server.server.services.db('webhook_events').where({ type: 'jwt.public-key.update' }).select('data');
      const actions = events.map((row) => JSON.parse(String(row.data)));
      assert.ok(actions.some((d) => d.kid === rotated.body.kid && d.action === 'rotate'));
      assert.ok(actions.some((d) => d.kid === older.kid && d.action === 'retire'));
      assert.ok(!JSON.stringify(await entries()).includes('"d":'), 'no private key material');
    });

    test('the query filters by type, is bounded, refuses an unknown type (400 naming it) and needs the key', async () => {
      const all = await entries('?limit=500');
      assert.ok(all.length >= 5);
      const sorted = [...all].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      assert.deepEqual(
        all.map((e) => e.created_at),
        sorted.map((e) => e.created_at),
        'newest first',
      );
      assert.equal((await entries('?limit=1')).length, 1);
      for (const entry of await entries('?type=key.rotated')) assert.equal(entry.type, 'key.rotated');
      const bad = await server.admin('GET', '/event-log?type=nonsense');
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^type: must be one of /);
      assert.equal((await server.admin('GET', '/event-log?limit=0')).status, 400);
      assert.equal((await fetch(`${server.url}/admin/api/event-log`)).status, 401);
      assert.equal((await fetch(`${server.url}/admin/api/event-log`, { headers: { authorization: 'Bearer wrong-key' } })).status, 401);
    });

    test('the clean-up prunes entries older than EVENT_LOG_RETENTION_DAYS and keeps the rest', async () => {
      await webhooksSettled(server);
      const { db, config } = server.server.services;
      const [old, ...rest] = await entries('?limit=500');
      await db('event_log')
        .where({ id: old.id })
        .update({ created_at: Date.now() - (config.eventLogRetentionDays + 1) * 86_400_000 });
      await cleanUp(server.server.services);
      const left = (await entries('?limit=500')).map((e) => e.id);
      assert.ok(!left.includes(old.id), 'the old entry is gone');
      for (const entry of rest) assert.ok(left.includes(entry.id), 'the recent ones stay');
    });
  });
}
