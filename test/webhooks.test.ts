// Outbound webhooks (CONTRACT §4, §6): the admin API, Standard Webhooks signatures checked by the
// standardwebhooks package (not our code), retries with the same webhook-id, the dead letter and its
// manual retry, timeouts, redirects, Retry-After, 410 Gone, secret rotation, the delivery log and its
// pruning, and every event type produced by a real action and filtered by type and "*".
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import * as oidc from 'openid-client';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { WEBHOOK_CATALOG } from '../src/webhooks/catalog.ts';
import { accountSignIn } from './support/account.ts';
import { WEBHOOK_EVENT_TYPES } from '../src/webhooks/outbox.ts';
import { alertText, Browser } from './support/browser.ts';
import { createTestDatabase, databaseKinds } from './support/databases.ts';
import { advanceClock } from './support/clock.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { enrolTotp, recoveryCodesOf, totp } from './support/mfa.ts';
import { waitForMailCount } from './support/hosted-pages.ts';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { FederatedBrowser, startUpstreamOidc, upstreamLogin } from './support/upstream.ts';
import { verifyWebhook, WebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SECRET_A = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const SECRET_B = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
// Produced by the MFA issue (not built yet): every other §6 type is produced below.

for (const kind of databaseKinds()) {
  describe(`webhooks (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let smtp: SmtpReceiver;
    let seq = 0;
    /** Where an upstream OpenID provider will listen (the link / unlink events). */
    let upstreamPort = 0;

    before(async () => {
      receiver = await WebhookReceiver.start();
      smtp = await startSmtpReceiver();
      upstreamPort = await freePort();
      // Two far-apart places for an impossible travel (user.login.suspicious), forwarded by a trusted proxy.
      const geoip = writeMmdb([
        { cidr: '192.0.2.0/24', record: cityRecord('DE', { city: 'Berlin', latitude: 52.52, longitude: 13.405 }) },
        { cidr: '203.0.113.0/24', record: cityRecord('US', { city: 'Boston', latitude: 42.36, longitude: -71.06 }) },
      ]);
      server = await startTestServer(kind, {
        env: {
          GEOIP_DB: geoip,
          TRUST_PROXY: 'true',
          IDENTITY_PROVIDER_ALLOWED_HOSTS: `localhost:${upstreamPort}`,
          SMTP_URL: smtp.url,
          WEBHOOK_RETRY_SCHEDULE: '0.2s,0.4s',
          WEBHOOK_TIMEOUT: '1s',
          WEBHOOK_LEASE: '5s',
          WEBHOOK_SECRET_ROTATION_WINDOW: '1500ms',
          WEBHOOK_ALLOWED_HOSTS: receiver.hostPort,
        },
      });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await smtp?.close();
    });

    /** An endpoint at a fresh path of the receiver; answers its id, secret and path. */
    async function endpoint(events: string[], body: Record<string, unknown> = {}): Promise<{ id: string; secret: string; path: string }> {
      const path = `/hook-${++seq}`;
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}${path}`, events, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id, secret: created.body.secret, path };
    }

    /** A user.create event, through the admin API. */
    async function createUser(email = `u${++seq}@example.com`): Promise<string> {
      const created = await server.admin('POST', '/users', { email });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.id;
    }

    async function deliveries(id: string, query = ''): Promise<any[]> {
      const listed = await server.admin('GET', `/webhooks/${id}/deliveries${query}`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body;
    }

    async function waitForDelivery(id: string, status: string, timeoutMs = 8000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = (await deliveries(id)).find((d) => d.status === status);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${status} delivery on ${id}: ${JSON.stringify(await deliveries(id))}`);
        await sleep(50);
      }
    }

    test('admin API: create, read, update, delete; the secret only at creation and rotation; 400 naming the field', async () => {
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}/crud`, events: ['user.create', 'user.delete'], description: 'CRM' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.id, /^wh_/);
      assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
      assert.equal(Buffer.from(created.body.secret.slice(6), 'base64').length, 32);
      assert.deepEqual(created.body.events, ['user.create', 'user.delete']);
      assert.equal(created.body.enabled, true);
      const id = created.body.id;

      const given = await server.admin('POST', '/webhooks', { url: `${receiver.url}/crud2`, events: ['*'], secret: SECRET_A });
      assert.equal(given.status, 201);
      assert.equal(given.body.secret, SECRET_A);

      const read = await server.admin('GET', `/webhooks/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.url, `${receiver.url}/crud`);
      assert.equal(read.body.description, 'CRM');
      const listed = await server.admin('GET', '/webhooks');
      assert.equal(listed.status, 200);
      assert.ok(listed.body.some((w: { id: string }) => w.id === id));
      for (const body of [read.body, ...listed.body]) assert.equal(body.secret, undefined, 'a secret is never listed or read back');
      assert.ok(!JSON.stringify(listed.body).includes(SECRET_A.slice(6)));

      const patched = await server.admin('PATCH', `/webhooks/${id}`, { events: ['*'], url: `${receiver.url}/crud-moved`, enabled: false });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body.events, ['*']);
      assert.equal(patched.body.url, `${receiver.url}/crud-moved`);
      assert.equal(patched.body.enabled, false);
      assert.equal(patched.body.secret, undefined);
      const enabled = await server.admin('PATCH', `/webhooks/${id}`, { enabled: true });
      assert.equal(enabled.body.enabled, true);
      assert.equal(enabled.body.disabled_reason, null);

      const cases: Array<[string, string, unknown, RegExp]> = [
        ['POST', '/webhooks', { events: ['*'] }, /^url: /],
        ['POST', '/webhooks', { url: 'ftp://example.com/x', events: ['*'] }, /^url: .*http/],
        ['POST', '/webhooks', { url: 'not a url', events: ['*'] }, /^url: /],
        ['POST', '/webhooks', { url: 'https://user:pw@example.com/', events: ['*'] }, /^url: /],
        ['POST', '/webhooks', { url: 'https://example.com/' }, /^events: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: [] }, /^events: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: 'user.create' }, /^events: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: ['user.create', 'user.nope'] }, /^events\[1\]: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: ['*', 'user.create'] }, /^events: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: ['*'], secret: 'hunter2' }, /^secret: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: ['*'], secret: 'whsec_c2hvcnQ=' }, /^secret: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: ['*'], enabled: 'yes' }, /^enabled: /],
        ['POST', '/webhooks', { url: 'https://example.com/', events: ['*'], colour: 'red' }, /^colour: /],
        ['POST', '/webhooks', ['not', 'an', 'object'], /^body: /],
        ['PATCH', `/webhooks/${id}`, { secret: SECRET_B }, /^secret: .*rotate-secret/],
        ['PATCH', `/webhooks/${id}`, { events: ['nope'] }, /^events\[0\]: /],
        ['PATCH', `/webhooks/${id}`, { id: 'wh_other' }, /^id: .*read-only/],
        ['POST', `/webhooks/${id}/rotate-secret`, { secret: 'nope' }, /^secret: /],
        ['GET', `/webhooks/${id}/deliveries?status=lost`, undefined, /^status: /],
      ];
      for (const [method, path, body, message] of cases) {
        const answer = await server.admin(method, path, body);
        assert.equal(answer.status, 400, `${method} ${path} ${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error, 'invalid_request');
        assert.match(answer.body.message, message, `${method} ${path} ${JSON.stringify(body)}`);
      }

      for (const [method, path] of [
        ['GET', '/webhooks/wh_nope'],
        ['PATCH', '/webhooks/wh_nope'],
        ['DELETE', '/webhooks/wh_nope'],
        ['GET', '/webhooks/wh_nope/deliveries'],
        ['POST', '/webhooks/wh_nope/rotate-secret'],
        ['POST', `/webhooks/${id}/deliveries/whd_nope/retry`],
      ] as const) {
        const answer = await server.admin(method, path, method === 'PATCH' ? { enabled: true } : undefined);
        assert.equal(answer.status, 404, `${method} ${path}`);
      }
      const anonymous = await fetch(`${server.url}/admin/api/webhooks`);
      assert.equal(anonymous.status, 401);

      const removed = await server.admin('DELETE', `/webhooks/${id}`);
      assert.equal(removed.status, 204);
      assert.equal((await server.admin('GET', `/webhooks/${id}`)).status, 404);
      assert.equal((await server.admin('DELETE', `/webhooks/${given.body.id}`)).status, 204);
    });

    test('events are POSTed as {id, type, created_at, data}, signed per Standard Webhooks (checked by the standardwebhooks package)', async () => {
      const hook = await endpoint(['user.create']);
      const userId = await createUser('signed@example.com');
      const [request] = await receiver.waitForCount(hook.path, 1);
      assert.equal(request!.headers['content-type'], 'application/json');
      const payload = verifyWebhook(hook.secret, request!) as ReceivedWebhook['payload'];
      assert.deepEqual(Object.keys(payload).sort(), ['created_at', 'data', 'id', 'type']);
      assert.equal(payload.type, 'user.create');
      assert.equal(payload.id, request!.headers['webhook-id']);
      assert.match(payload.id, /^evt_/);
      assert.equal(payload.data.user.id, userId);
      assert.equal(payload.data.user.email, 'signed@example.com');
      assert.equal(payload.data.user.password_hash, undefined);
      assert.ok(Math.abs(Number(request!.headers['webhook-timestamp']) - Date.now() / 1000) < 30);
      assert.match(request!.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]+=*$/);
      // The verifier really checks: another secret, or one changed byte, is refused.
      assert.throws(() => verifyWebhook(SECRET_B, request!), /signature/i);
      assert.throws(() => verifyWebhook(hook.secret, { ...request!, body: request!.body.replace('signed@', 'signeD@') }), /signature/i);
      await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('a receiver that fails twice gets the event on the third attempt, with the same webhook-id; the log shows every attempt', async () => {
      const hook = await endpoint(['user.create']);
      receiver.behave(hook.path, (_req, n) => (n === 1 ? { status: 500, body: 'x'.repeat(5000) } : n === 2 ? { status: 503, body: 'busy' } : { status: 200, body: 'thanks' }));
      await createUser();
      const requests = await receiver.waitForCount(hook.path, 3);
      const delivery = await waitForDelivery(hook.id, 'delivered'); // final: no attempt comes after it
      assert.equal(receiver.on(hook.path).length, 3, 'delivered on the third attempt, then no more');
      const ids = new Set(requests.map((r) => r.headers['webhook-id']));
      assert.equal(ids.size, 1, 'every attempt carries the same webhook-id');
      for (const request of requests) verifyWebhook(hook.secret, request);
      // Growing delays: 0.2 s then 0.4 s (plus jitter).
      assert.ok(requests[1]!.at - requests[0]!.at >= 190, `first retry after ${requests[1]!.at - requests[0]!.at} ms`);
      assert.ok(requests[2]!.at - requests[1]!.at >= 390, `second retry after ${requests[2]!.at - requests[1]!.at} ms`);

      assert.equal(delivery.event.id, [...ids][0]);
      assert.equal(delivery.event.type, 'user.create');
      assert.equal(delivery.attempts, 3);
      assert.equal(delivery.last_status_code, 200);
      assert.equal(delivery.next_attempt_at, null);
      assert.deepEqual(
        delivery.log.map((a: any) => [a.attempt, a.status_code]),
        [
          [1, 500],
          [2, 503],
          [3, 200],
        ],
      );
      for (const attempt of delivery.log) assert.equal(typeof attempt.latency_ms, 'number');
      assert.ok(delivery.log[0].response.length <= 1025, 'the response is truncated');
      assert.ok(delivery.log[0].response.startsWith('xxxx'));
      assert.equal(delivery.log[1].response, 'busy');
      assert.ok(delivery.log[0].next_attempt_at && delivery.log[1].next_attempt_at, 'the log says when the next attempt was due');
      assert.equal(delivery.log[2].next_attempt_at, null);
      const one = await server.admin('GET', `/webhooks/${hook.id}/deliveries/${delivery.id}`);
      assert.equal(one.status, 200);
      assert.equal(one.body.event.data.user.id, requests[0]!.payload.data.user.id);
      await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('after the last attempt the delivery is failed (dead letter); a manual retry delivers it with the same webhook-id', async () => {
      const hook = await endpoint(['user.create']);
      let up = false;
      receiver.behave(hook.path, () => (up ? { status: 204, delayMs: 300 } : { status: 500 }));
      await createUser();
      const failed = await waitForDelivery(hook.id, 'failed');
      assert.equal(failed.attempts, 3, 'one attempt and the two retries of the schedule');
      assert.equal(failed.next_attempt_at, null);
      assert.match(failed.last_error, /500/);
      assert.equal(receiver.on(hook.path).length, 3);
      assert.deepEqual(
        (await deliveries(hook.id, '?status=failed')).map((d) => d.id),
        [failed.id],
      );
      assert.deepEqual(await deliveries(hook.id, '?status=pending'), []);

      up = true;
      const retried = await server.admin('POST', `/webhooks/${hook.id}/deliveries/${failed.id}/retry`);
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal(retried.body.status, 'pending');
      const again = await server.admin('POST', `/webhooks/${hook.id}/deliveries/${failed.id}/retry`);
      assert.equal(again.status, 409, 'a pending delivery (here: being sent) is not queued twice');
      const delivered = await waitForDelivery(hook.id, 'delivered');
      assert.equal(delivered.id, failed.id);
      assert.equal(delivered.attempts, 4);
      assert.deepEqual(
        delivered.log.map((a: any) => a.status_code),
        [500, 500, 500, 204],
      );
      const requests = receiver.on(hook.path);
      assert.equal(requests.length, 4);
      assert.equal(new Set(requests.map((r) => r.headers['webhook-id'])).size, 1);
      verifyWebhook(hook.secret, requests[3]!);
      await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('timeouts are retried, redirects are not followed, Retry-After is honoured', async () => {
      const slow = await endpoint(['user.create']);
      receiver.behave(slow.path, (_req, n) => (n === 1 ? { delayMs: 2500 } : {}));
      const redirect = await endpoint(['user.create']);
      receiver.behave(redirect.path, () => ({ status: 302, headers: { location: `${receiver.url}/elsewhere` } }));
      const busy = await endpoint(['user.create']);
      receiver.behave(busy.path, (_req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : {}));
      await createUser();

      const timedOut = await waitForDelivery(slow.id, 'delivered');
      assert.equal(timedOut.log[0].status_code, null);
      assert.match(timedOut.log[0].error, /timeout/);
      assert.ok(timedOut.log[0].latency_ms >= 900 && timedOut.log[0].latency_ms < 2400, `timed out after ${timedOut.log[0].latency_ms} ms`);
      assert.equal(timedOut.log[1].status_code, 200);

      const redirected = await waitForDelivery(redirect.id, 'failed');
      assert.deepEqual(
        redirected.log.map((a: any) => a.status_code),
        [302, 302, 302],
      );
      assert.match(redirected.log[0].error, /redirect not followed/);
      assert.equal(receiver.on('/elsewhere').length, 0, 'the redirect target is never called');

      const [first, second] = await receiver.waitForCount(busy.path, 2, 6000);
      assert.ok(second!.at - first!.at >= 1900, `Retry-After: 2 waited ${second!.at - first!.at} ms (the schedule alone says 0.2 s)`);
      const honoured = await waitForDelivery(busy.id, 'delivered');
      assert.equal(honoured.log[0].status_code, 429);
      for (const hook of [slow, redirect, busy]) await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('410 Gone disables the endpoint: nothing more is sent until it is enabled again', async () => {
      const hook = await endpoint(['user.create']);
      receiver.behave(hook.path, () => ({ status: 410, body: 'gone' }));
      await createUser();
      const gone = await waitForDelivery(hook.id, 'failed');
      assert.equal(gone.attempts, 1, 'no retry after 410');
      assert.equal(gone.last_status_code, 410);
      const disabled = await server.admin('GET', `/webhooks/${hook.id}`);
      assert.equal(disabled.body.enabled, false);
      assert.match(disabled.body.disabled_reason, /410/);

      await createUser();
      await webhooksSettled(server);
      assert.equal(receiver.on(hook.path).length, 1, 'a disabled endpoint gets nothing');
      const retry = await server.admin('POST', `/webhooks/${hook.id}/deliveries/${gone.id}/retry`);
      assert.equal(retry.status, 409);
      assert.match(retry.body.message, /^enabled: /);

      receiver.behave(hook.path, () => ({ status: 200 }));
      const enabled = await server.admin('PATCH', `/webhooks/${hook.id}`, { enabled: true });
      assert.equal(enabled.body.enabled, true);
      assert.equal(enabled.body.disabled_reason, null);
      const email = `back${++seq}@example.com`;
      await createUser(email);
      await receiver.waitFor('the event after re-enabling', () => receiver.on(hook.path).some((r) => r.payload.data.user?.email === email));
      await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('secret rotation: old and new signatures both sent during the window, then only the new one', async () => {
      const hook = await endpoint(['user.create'], { secret: SECRET_A });
      const rotated = await server.admin('POST', `/webhooks/${hook.id}/rotate-secret`);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const newSecret = rotated.body.secret as string;
      assert.match(newSecret, /^whsec_/);
      assert.notEqual(newSecret, SECRET_A);
      assert.ok(rotated.body.previous_secret_expires_at);
      assert.equal((await server.admin('GET', `/webhooks/${hook.id}`)).body.secret, undefined);

      await createUser();
      const [during] = await receiver.waitForCount(hook.path, 1);
      assert.equal(during!.headers['webhook-signature']!.split(' ').length, 2, 'both signatures, space-separated');
      verifyWebhook(newSecret, during!);
      verifyWebhook(SECRET_A, during!);

      advanceClock(1600); // the rotation window (WEBHOOK_SECRET_ROTATION_WINDOW=1500ms) is over
      assert.equal((await server.admin('GET', `/webhooks/${hook.id}`)).body.previous_secret_expires_at, null);
      await createUser();
      const [, afterWindow] = await receiver.waitForCount(hook.path, 2);
      assert.equal(afterWindow!.headers['webhook-signature']!.split(' ').length, 1);
      verifyWebhook(newSecret, afterWindow!);
      assert.throws(() => verifyWebhook(SECRET_A, afterWindow!), /signature/i);

      const chosen = await server.admin('POST', `/webhooks/${hook.id}/rotate-secret`, { secret: SECRET_B });
      assert.equal(chosen.status, 200);
      assert.equal(chosen.body.secret, SECRET_B);
      await createUser();
      const [, , third] = await receiver.waitForCount(hook.path, 3);
      verifyWebhook(SECRET_B, third!);
      verifyWebhook(newSecret, third!);
      await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('an endpoint gets the events that happen after it is created, not older ones', async () => {
      const first = await endpoint(['user.create']);
      const older = `older${++seq}@example.com`;
      await createUser(older);
      await receiver.waitForCount(first.path, 1);
      const second = await endpoint(['user.create']);
      const newer = `newer${++seq}@example.com`;
      await createUser(newer);
      await receiver.waitForCount(first.path, 2);
      await receiver.waitForCount(second.path, 1);
      await webhooksSettled(server);
      assert.deepEqual(
        receiver.on(second.path).map((r) => r.payload.data.user.email),
        [newer],
      );
      assert.deepEqual(
        receiver.on(first.path).map((r) => r.payload.data.user.email),
        [older, newer],
      );
      for (const hook of [first, second]) await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('the delivery log is pruned by age: finished deliveries and their events go, pending ones stay', async () => {
      const hook = await endpoint(['user.create']);
      const stuck = await endpoint(['user.create']);
      receiver.behave(stuck.path, () => ({ status: 500 }));
      await createUser();
      const delivered = await waitForDelivery(hook.id, 'delivered');
      await receiver.waitForCount(stuck.path, 1);
      const { db, webhooks } = server.server.services;
      assert.ok(await db('webhook_events').where({ id: delivered.event.id }).first());
      advanceClock(20); // older than the 10 ms the prune keeps
      const pruned = await webhooks.prune(10);
      assert.ok(pruned.deliveries >= 1, JSON.stringify(pruned));
      assert.deepEqual(await deliveries(hook.id), []);
      assert.equal((await db('webhook_attempts').where({ delivery_id: delivered.id })).length, 0);
      // The event is still referred to by the stuck endpoint's pending delivery: it stays until that ends.
      assert.ok(await db('webhook_events').where({ id: delivered.event.id }).first());
      assert.equal((await deliveries(stuck.id, '?status=pending')).length + (await deliveries(stuck.id, '?status=failed')).length, 1);
      await server.admin('DELETE', `/webhooks/${stuck.id}`);
      await webhooks.prune(10);
      assert.equal(await db('webhook_events').where({ id: delivered.event.id }).first(), undefined, 'no delivery refers to it any more');
      await server.admin('DELETE', `/webhooks/${hook.id}`);
    });

    test('KICKSTART creates webhook endpoints (same bodies as the admin API); a bad entry names its field', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-kickstart-webhooks-'));
      const file = join(dir, 'kickstart.json');
      const path = `/kickstart-${++seq}`;
      writeFileSync(
        file,
        JSON.stringify({
          applications: [{ name: 'App', redirect_uris: [CALLBACK], client_id: 'kick-app' }],
          webhooks: [
            { url: `${receiver.url}${path}`, events: ['user.create'], secret: SECRET_A, description: 'from the file' },
            { url: `${receiver.url}${path}-tx`, events: ['user.update'], transactional: true, description: 'transactional' },
          ],
          users: [{ email: 'kicked@example.com' }],
        }),
      );
      const kicked = await startTestServer(kind, { env: { KICKSTART: file, WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
      try {
        const listed = await kicked.admin('GET', '/webhooks');
        assert.equal(listed.body.length, 2);
        const fromFile = listed.body.find((w: { description: string }) => w.description === 'from the file');
        assert.equal(fromFile.secret, undefined);
        assert.equal(fromFile.transactional, false);
        assert.equal(listed.body.find((w: { description: string }) => w.description === 'transactional').transactional, true);
        // Events are sent to it, signed with the secret from the file.
        await kicked.admin('POST', '/users', { email: 'after-kickstart@example.com' });
        await receiver.waitFor('the event after start-up', () => receiver.on(path).some((r) => r.payload.data.user?.email === 'after-kickstart@example.com'));
        for (const request of receiver.on(path)) verifyWebhook(SECRET_A, request);
      } finally {
        await kicked.close();
      }
      writeFileSync(file, JSON.stringify({ applications: [{ name: 'App', redirect_uris: [CALLBACK] }], webhooks: [{ url: 'ftp://x', events: ['*'] }] }));
      const database = await createTestDatabase(kind);
      try {
        await assert.rejects(startServer(loadConfig({ ...kicked.env, DATABASE_URL: database.url, KICKSTART: file }), { announce: () => {} }), /webhooks\[0\]\.url: /);
      } finally {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('every §6 event type is produced by a real action; endpoints filter by type and "*"', async () => {
      const all = await endpoint(['*']);
      const byType = new Map<string, { id: string; secret: string; path: string }>();
      for (const type of WEBHOOK_EVENT_TYPES) if (type !== 'kickstart.success') byType.set(type, await endpoint([type]));
      const pair = await endpoint(['user.login.success', 'user.login.failed']);

      // An application that gets refresh tokens, and two hooks: one asks for a consent at login (for
      // one user), one always throws (hook.failed; on_error "continue" lets the login go on).
      const app = await server.admin('POST', '/applications', {
        name: 'Webhook RP',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const rp: RelyingParty = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const consentHook = await server.admin('POST', '/hooks', {
        name: 'ask for news consent',
        event: 'before_progressive_profiling',
        mode: 'sync',
        code: `export default async function (event, api) {
  if (event.flow === 'login' && event.user.email === 'carol@example.com') api.form.requireConsents([{ key: 'newsletter', label: 'Send me news' }]);
}`,
      });
      assert.equal(consentHook.status, 201, JSON.stringify(consentHook.body));
      const failingHook = await server.admin('POST', '/hooks', {
        name: 'always fails',
        event: 'after_login',
        mode: 'sync',
        on_error: 'continue',
        code: 'export default async function () { throw new Error("boom"); }',
      });
      assert.equal(failingHook.status, 201, JSON.stringify(failingHook.body));

      // Registration through the hosted pages, then the mailed activation link.
      const browser = new Browser(server.url);
      const identify = await browser.get((await authorizationUrl(rp)).url.toString());
      const registerHref = identify.doc.querySelector('a[href$="/register"]')?.getAttribute('href');
      assert.ok(registerHref, 'the identify page links to registration');
      const registered = await browser.submit(await browser.get(registerHref), {
        email: 'reggie@example.com',
        password: 'reggies password 1',
        given_name: 'Reggie',
        family_name: 'Reg',
      });
      assert.equal(registered.status, 200, alertText(registered) ?? '');
      // The "check your email" page sends the activation again (message.activation.resend).
      const resent = await browser.submit(registered, {}, 'form[action$="/resend-activation"]');
      assert.equal(resent.status, 200, alertText(resent) ?? '');
      await waitForMailCount(smtp, 'reggie@example.com', 2);
      const activation = linkIn(await smtp.waitFor('reggie@example.com', /activate/i), `${server.url}/activate/`);
      assert.equal((await browser.get(activation)).status, 200);

      // Admin changes.
      const carol = await server.admin('POST', '/users', { email: 'carol@example.com', password: 'carols password 1', email_verified: true });
      assert.equal(carol.status, 201);
      assert.equal((await server.admin('PATCH', `/users/${carol.body.id}`, { given_name: 'Carol' })).status, 200);
      assert.equal((await server.admin('PATCH', `/users/${carol.body.id}`, { password: 'carols password 2' })).status, 200);
      // An address changed (user.email.update), then a change to and a creation with a taken address
      // (user.loginId.duplicate.update / .create): refused, and told to the webhooks only.
      const erin = await server.admin('POST', '/users', { email: 'erin@example.com' });
      assert.equal(erin.status, 201);
      assert.equal((await server.admin('PATCH', `/users/${erin.body.id}`, { email: 'erin.new@example.com' })).status, 200);
      const takenUpdate = await server.admin('PATCH', `/users/${erin.body.id}`, { email: 'carol@example.com' });
      assert.equal(takenUpdate.status, 409, JSON.stringify(takenUpdate.body));
      const takenCreate = await server.admin('POST', '/users', { email: 'carol@example.com' });
      assert.equal(takenCreate.status, 409, JSON.stringify(takenCreate.body));

      // Registrations and groups (user.registration.create/update/delete and their twins; the sign-up
      // above made reggie's registration, its activation link verified it): an operator registers
      // carol with an application's role, changes and removes the registration; a group, its member.
      const roled = await server.admin('POST', '/applications', { name: 'Roles RP', redirect_uris: [CALLBACK], roles: [{ name: 'editor' }] });
      assert.equal(roled.status, 201, JSON.stringify(roled.body));
      const registration = `/users/${carol.body.id}/registrations`;
      assert.equal((await server.admin('POST', registration, { application: roled.body.client_id, roles: ['editor'] })).status, 201);
      assert.equal((await server.admin('PATCH', `${registration}/${roled.body.client_id}`, { roles: [] })).status, 200);
      assert.equal((await server.admin('DELETE', `${registration}/${roled.body.client_id}`)).status, 204);
      const group = await server.admin('POST', '/groups', { name: 'Webhook editors', roles: { [roled.body.client_id]: ['editor'] } });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      assert.equal((await server.admin('PATCH', `/groups/${group.body.id}`, { description: 'edits' })).status, 200);
      const membership = `/groups/${group.body.id}/members/${carol.body.id}`;
      assert.equal((await server.admin('PUT', membership)).status, 201);
      assert.equal((await server.admin('PUT', membership, { data: { lead: true } })).status, 200);
      assert.equal((await server.admin('DELETE', membership)).status, 204);
      assert.equal((await server.admin('DELETE', `/groups/${group.body.id}`)).status, 204);

      // A failed login, then a login that asks for the consent, then a refresh.
      const failedLogin = await signIn(new Browser(server.url), await authorizationUrl(rp), 'carol@example.com', 'wrong password 0');
      assert.equal(failedLogin.redirectedTo, null);
      const carolBrowser = new Browser(server.url);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const profile = await signIn(carolBrowser, start, 'carol@example.com', 'carols password 2');
      assert.ok(profile.doc.querySelector('input[name="consent:newsletter"]'), `the hook's consent is asked: ${alertText(profile) ?? profile.html.slice(0, 300)}`);
      const done = await carolBrowser.submit(profile, { 'consent:newsletter': 'yes' });
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `login completes: ${done.status} ${alertText(done) ?? ''}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token);
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token);
      assert.ok(refreshed.access_token);
      // An operator revokes the application's access (user.access.revoke).
      assert.equal((await server.admin('DELETE', `/users/${carol.body.id}/applications/${rp.clientId}`)).status, 204);

      // Threat signals: an import (user.bulk.create) whose old password is breached, signed in from
      // Berlin (user.login.new-device, user.password.breach), then from Boston at once (user.login.suspicious).
      const imported = await server.admin('POST', '/users/import', {
        users: [{ email: 'ivy@example.com', email_verified: true, password_hash: { algorithm: 'bcrypt', hash: bcrypt.hashSync('password123', 4) } }],
      });
      assert.deepEqual(imported.body, { created: 1, errors: [] });
      for (const ip of ['192.0.2.10', '203.0.113.30']) {
        const start = await authorizationUrl(rp);
        const signedIn = await signIn(new Browser(server.url, { 'x-forwarded-for': ip }), start, 'ivy@example.com', 'password123');
        assert.ok(signedIn.redirectedTo?.startsWith(CALLBACK), `ivy signs in from ${ip}: ${alertText(signedIn) ?? ''}`);
      }

      // Forgot password and the mailed reset link.
      const resetStart = await browser.get((await authorizationUrl(rp)).url.toString());
      const forgotHref = resetStart.doc.querySelector('a[href$="/forgot-password"]')?.getAttribute('href');
      assert.ok(forgotHref);
      await browser.submit(await browser.get(forgotHref), { identifier: 'carol@example.com' });
      const resetLink = linkIn(await smtp.waitFor('carol@example.com', /reset/i), `${server.url}/reset-password/`);
      const reset = await browser.submit(await browser.get(resetLink), { password: 'carols password 3' });
      assert.equal(reset.status, 200, alertText(reset) ?? '');
      // Forgot username (message.username) and an invitation (message.invitation).
      const usernameStart = await browser.get((await authorizationUrl(rp)).url.toString());
      const forgotUsername = usernameStart.doc.querySelector('a[href$="/forgot-username"]')?.getAttribute('href');
      assert.ok(forgotUsername);
      await browser.submit(await browser.get(forgotUsername), { email: 'carol@example.com' });
      await smtp.waitFor('carol@example.com', /username/i);
      assert.equal((await server.admin('POST', '/invitations', { email: 'iris@example.com', application: rp.clientId })).status, 201);
      await smtp.waitFor('iris@example.com', /invit/i);

      // MFA: a factor enrolled at login (user.two-factor.method.add), then removed by an operator
      // (user.two-factor.method.remove).
      const mfaApp = await server.admin('POST', '/applications', { name: 'MFA RP', redirect_uris: [CALLBACK], mfa: 'required' });
      assert.equal(mfaApp.status, 201, JSON.stringify(mfaApp.body));
      const mfaRp = await discoverClient(server.url, mfaApp.body.client_id, mfaApp.body.client_secret);
      const dave = await server.admin('POST', '/users', { email: 'dave@example.com', password: 'daves password 1', email_verified: true });
      assert.equal(dave.status, 201);
      const daveBrowser = new Browser(server.url);
      const { page: codePage, secret } = await enrolTotp(daveBrowser, await signIn(daveBrowser, await authorizationUrl(mfaRp), 'dave@example.com', 'daves password 1'));
      const enrolled = await daveBrowser.submit(codePage, { code: totp(secret) });
      assert.equal(recoveryCodesOf(enrolled).length, 10, alertText(enrolled) ?? enrolled.html.slice(0, 300));
      assert.equal((await server.admin('DELETE', `/users/${dave.body.id}/factors`)).status, 204);

      // The user changes their address on the account page; the link mailed to the new one confirms it (user.email.update).
      await server.admin('POST', '/users', { email: 'ella@example.com', password: 'ellas password 1', email_verified: true });
      const ella = await accountSignIn(server, 'ella@example.com', 'ellas password 1');
      await ella.browser.submit(ella.page, { email: 'ella.new@example.com' }, '#email-form');
      const emailLink = linkIn(await smtp.waitFor('ella.new@example.com', /confirm/i), `${server.url}/account/email/`);
      assert.equal((await ella.browser.submit(await ella.browser.get(emailLink), {}, '#email-confirm')).status, 200);

      // A sign-in through an upstream OpenID provider links a new user (user.identity-provider.link);
      // an operator removes the link (user.identity-provider.unlink).
      const upstream = await startUpstreamOidc({
        port: upstreamPort,
        clients: [{ client_id: 'tessera', client_secret: 'upstream-secret-0123456789', redirect_uris: [`${server.url}/external/callback`] }],
        accounts: { fed: { email: 'fed@upstream.test' } },
      });
      try {
        const idp = await server.admin('POST', '/identity-providers', { name: 'Upstream', type: 'oidc', issuer: upstream.url, client_id: 'tessera', client_secret: 'upstream-secret-0123456789' });
        assert.equal(idp.status, 201, JSON.stringify(idp.body));
        const fedBrowser = new FederatedBrowser(server.url, upstream.url);
        const fedStart = await authorizationUrl(rp);
        const identify = await fedBrowser.get(fedStart.url.toString());
        const button = identify.doc.querySelector(`a[href$="/external/${idp.body.id}"]`)?.getAttribute('href');
        assert.ok(button, 'a "Continue with Upstream" link');
        const fedDone = await upstreamLogin(fedBrowser, await fedBrowser.get(new URL(button, server.url).toString()), 'fed');
        assert.ok(fedDone.redirectedTo?.startsWith(CALLBACK), alertText(fedDone) ?? fedDone.html.slice(0, 300));
        const fedUser = (await exchangeCode(rp, fedStart, fedDone.redirectedTo!)).claims()!.sub;
        assert.equal((await server.admin('DELETE', `/users/${fedUser}/links/${idp.body.id}`)).status, 204);
      } finally {
        await upstream.close();
      }

      // An operator's lock and unlock (user.action), then disable, enable, delete.
      assert.equal((await server.admin('POST', `/users/${carol.body.id}/actions`, { action: 'lock', reason: 'review' })).status, 200);
      assert.equal((await server.admin('POST', `/users/${carol.body.id}/actions`, { action: 'unlock', reason: 'done' })).status, 200);
      assert.equal((await server.admin('POST', `/users/${carol.body.id}/disable`)).status, 200);
      assert.equal((await server.admin('POST', `/users/${carol.body.id}/enable`)).status, 200);
      assert.equal((await server.admin('DELETE', `/users/${carol.body.id}`)).status, 204);
      // A signing key rotation (jwt.public-key.update, and the event log's entry: event-log.create).
      assert.equal((await server.admin('POST', '/keys/rotate')).status, 201);

      // kickstart.success happens once per database, at its first start: test/kickstart.test.ts shows it.
      const expected = WEBHOOK_EVENT_TYPES.filter((type) => type !== 'kickstart.success');
      // "*" takes every type but the transactional messages (they carry links: named on their own).
      const expectedAtAll = expected.filter((type) => !type.startsWith('message.'));
      const typesAt = (path: string) => new Set(receiver.on(path).map((r) => r.payload.type));
      await receiver.waitFor('every produced type at the "*" endpoint', () => expectedAtAll.every((type) => typesAt(all.path).has(type)));
      for (const type of expected) await receiver.waitForCount(byType.get(type)!.path, 1);
      await webhooksSettled(server); // every delivery has been made: anything misrouted has arrived

      assert.deepEqual([...typesAt(all.path)].sort(), [...expectedAtAll].sort(), 'the "*" endpoint got every type produced but message.*');
      for (const [type, hook] of byType) {
        const got = receiver.on(hook.path);
        assert.ok(
          got.every((r) => r.payload.type === type),
          `${type} endpoint got only ${type}: ${[...typesAt(hook.path)].join(', ')}`,
        );
        for (const request of got) verifyWebhook(hook.secret, request);
      }
      assert.deepEqual([...typesAt(pair.path)].sort(), ['user.login.failed', 'user.login.success']);
      for (const request of receiver.on(all.path)) verifyWebhook(all.secret, request);

      // Every type that concerns an application carries its application_id, as the catalog says.
      for (const request of [...receiver.on(all.path), ...[...byType.values()].flatMap((hook) => receiver.on(hook.path))]) {
        const { type, data } = request.payload;
        const scope = WEBHOOK_CATALOG[type as keyof typeof WEBHOOK_CATALOG].application;
        if (scope === 'always') assert.equal(typeof data.application_id, 'string', `${type} carries application_id: ${JSON.stringify(data)}`);
        if (scope === 'when') assert.ok('application_id' in data, `${type} says which application (or null): ${JSON.stringify(data)}`);
        // The documented sample is what a receiver gets: every key it shows is there.
        for (const key of Object.keys(WEBHOOK_CATALOG[type as keyof typeof WEBHOOK_CATALOG].sample)) assert.ok(key in data, `${type} has ${key}: ${JSON.stringify(data)}`);
      }

      // Payloads carry the ids a receiver filters on.
      const first = (type: string) => receiver.on(all.path).find((r) => r.payload.type === type)!.payload.data;
      assert.equal(first('user.registration.create').user.email, 'reggie@example.com');
      assert.equal(first('user.registration.create').application_id, rp.clientId);
      assert.equal(first('user.registration.create').registration.application, rp.clientId, 'the sign-up registered reggie with the application');
      assert.equal(first('user.registration.verified').user.email, 'reggie@example.com', 'the activation link verified it');
      assert.deepEqual(first('user.registration.update').previous.roles, ['editor']);
      assert.equal(first('group.member.update').members[0].user_id, carol.body.id);
      // Changes made on the hosted pages name their application; an operator's change names none.
      assert.equal(first('user.email.verified').application_id, rp.clientId);
      assert.equal(first('user.consent.update').application_id, rp.clientId);
      assert.equal(first('user.password.reset.success').application_id, rp.clientId);
      assert.equal(first('user.password.update').application_id, null, "the first password change was the operator's");
      assert.equal(first('user.two-factor.method.add').application_id, mfaApp.body.client_id);
      assert.equal(first('user.login.success').user_id, carol.body.id);
      assert.equal(first('user.login.success').application_id, rp.clientId);
      assert.equal(first('user.login.failed').user_id, carol.body.id);
      assert.equal(first('jwt.refresh').user_id, carol.body.id);
      assert.equal(first('jwt.refresh').application_id, rp.clientId);
      assert.deepEqual(first('user.consent.update').consents, [{ key: 'newsletter', granted: true }]);
      assert.equal(first('user.password.reset.start').user_id, carol.body.id);
      assert.equal(first('hook.failed').hook_id, failingHook.body.id);
      const only = (type: string) => receiver.on(byType.get(type)!.path)[0]!.payload.data;
      assert.ok(only('message.activation').link.startsWith(`${server.url}/activate/`));
      assert.equal(only('message.activation.resend').to, 'reggie@example.com');
      assert.equal(only('message.password_reset').user_id, carol.body.id);
      assert.equal(only('message.password_reset').delivery, 'tessera', 'Tessera sent it too');
      assert.equal(only('message.invitation').to, 'iris@example.com');
      assert.equal(only('message.username').application_id, rp.clientId);
      assert.equal(only('message.email_change').to, 'ella.new@example.com', 'the link goes to the new address');
      assert.ok(only('message.email_change').link.startsWith(`${server.url}/account/email/`));
      assert.equal(receiver.on(byType.get('message.email_change')!.path).length, 1, 'the notice to the old address is not a message.email_change');
      assert.deepEqual(first('user.access.revoke'), { user_id: carol.body.id, application_id: rp.clientId, by: 'operator' });
      assert.equal(first('user.delete').user.id, carol.body.id);
      assert.equal(first('user.delete.complete').user.id, carol.body.id);
      assert.equal(first('user.create.complete').user.id, first('user.create').user.id, 'the twin carries the data of its event');
      assert.deepEqual(first('user.update.complete'), first('user.update'));
      assert.deepEqual(
        { previous: first('user.email.update').previous_email, email: first('user.email.update').email, user: first('user.email.update').user.id, app: first('user.email.update').application_id },
        { previous: 'erin@example.com', email: 'erin.new@example.com', user: erin.body.id, app: null },
      );
      assert.deepEqual(first('user.loginId.duplicate.update'), { user_id: erin.body.id, login_id: 'carol@example.com', login_id_type: 'email', existing_user_id: carol.body.id, application_id: null });
      assert.deepEqual(first('user.loginId.duplicate.create'), { login_id: 'carol@example.com', login_id_type: 'email', existing_user_id: carol.body.id, application_id: null });
      assert.deepEqual(first('user.password.reset.send'), { user_id: carol.body.id, application_id: rp.clientId });
      assert.deepEqual(first('jwt.refresh-token.revoke'), { user_id: carol.body.id, application_id: rp.clientId, count: 1, reason: 'access_revoked' });
      assert.equal(first('jwt.public-key.update').action, 'rotate');
      assert.equal(first('event-log.create').event_log.type, 'hook.failed');

      for (const hookId of [consentHook.body.id, failingHook.body.id]) await server.admin('DELETE', `/hooks/${hookId}`);
      for (const hook of [all, pair, ...byType.values()]) await server.admin('DELETE', `/webhooks/${hook.id}`);
    });
  });
}
