// The lean token path (issue #12.5): jwt.refresh is written only while an endpoint subscribes to it,
// and then before the answer leaves; the prepared statements of SQLite's fast path never run inside
// another request's open transaction (nor does the batched write of hook runs); the provider's routes
// come first and still end in our 404.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { createAdapterFactory } from '../src/oidc/adapter.ts';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

for (const kind of databaseKinds()) {
  describe(`token path (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let rp: RelyingParty;
    let refreshToken: string;
    let seq = 0;

    before(async () => {
      receiver = await WebhookReceiver.start();
      // Every run recorded: the batch test below writes 160 successful runs of one hook at once.
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, HOOK_EXECUTIONS_PER_SECOND: 'all' } });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      assert.equal((await server.admin('POST', '/users', { email: 'ada@example.com', password: 'correct horse battery', email_verified: true })).status, 201);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(new Browser(server.url), start, 'ada@example.com', 'correct horse battery');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), done.html.slice(0, 300));
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.ok(tokens.refresh_token);
      refreshToken = tokens.refresh_token;
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    const refreshEvents = async () => (await server.server.services.db('webhook_events').where({ type: 'jwt.refresh' }).count({ n: '*' }))[0]!.n;

    /** A refresh grant; answers how many jwt.refresh events exist once its answer has arrived. */
    async function refreshAndCount(): Promise<number> {
      const refreshed = await oidc.refreshTokenGrant(rp.config, refreshToken);
      assert.ok(refreshed.id_token);
      if (refreshed.refresh_token) refreshToken = refreshed.refresh_token;
      return Number(await refreshEvents());
    }

    async function endpoint(events: string[], body: Record<string, unknown> = {}): Promise<{ id: string; path: string }> {
      const path = `/hook-${++seq}`;
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}${path}`, events, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id, path };
    }

    test('jwt.refresh is written only while an enabled endpoint subscribes to it, and then before the answer', async () => {
      assert.equal(await refreshAndCount(), 0, 'no endpoint: no row');
      const other = await endpoint(['user.create']);
      const disabled = await endpoint(['jwt.refresh'], { enabled: false });
      assert.equal(await refreshAndCount(), 0, 'an endpoint of other types, and a disabled one, want none');

      const wanted = await endpoint(['jwt.refresh']);
      // The row is there as soon as the answer is: it was written before the answer left.
      assert.equal(await refreshAndCount(), 1, 'a subscriber: the refresh is recorded before the answer');
      const [delivered] = await receiver.waitForCount(wanted.path, 1);
      assert.equal(delivered!.payload.type, 'jwt.refresh');
      assert.equal(delivered!.payload.data.application_id, rp.clientId);

      // Disabling the only subscriber stops the rows at once (a change in this process clears the cache).
      assert.equal((await server.admin('PATCH', `/webhooks/${wanted.id}`, { enabled: false })).status, 200);
      assert.equal(await refreshAndCount(), 1, 'no enabled subscriber left: no new row');
      const all = await endpoint(['*']);
      assert.equal(await refreshAndCount(), 2, '"*" subscribes to jwt.refresh too');
      await receiver.waitForCount(all.path, 1);
      for (const hook of [other, disabled, wanted, all]) assert.equal((await server.admin('DELETE', `/webhooks/${hook.id}`)).status, 204);
    });

    test('an artifact written while another request holds a transaction is not part of it', async () => {
      const { db, applications } = server.server.services;
      const Adapter = createAdapterFactory(db, applications);
      const sessions = new Adapter('Session');
      let written: Promise<void> | null = null;
      await assert.rejects(
        db.transaction(async (trx) => {
          await trx('oidc_models').insert({ model: 'Session', id: 'in-the-transaction', payload: '{}', expires_at: Date.now() + 60_000 });
          // Started while the transaction is open (on SQLite it holds the one connection).
          written = sessions.upsert('outside', { accountId: 'acc-1', kind: 'Session' }, 60);
          throw new Error('roll back');
        }),
        /roll back/,
      );
      await written;
      assert.deepEqual(await sessions.find('outside'), { accountId: 'acc-1', kind: 'Session' }, 'the write outside the transaction survives its rollback');
      assert.equal(await sessions.find('in-the-transaction'), undefined, 'the rolled-back row is gone');
      const stored = await db('oidc_models').where({ model: 'Session', id: 'outside' }).first();
      assert.equal(stored.account_id, 'acc-1');
      assert.ok(Number(stored.expires_at) > Date.now());
      await sessions.consume('outside');
      assert.ok((await sessions.find('outside'))!.consumed, 'consume marks it');
      await sessions.destroy('outside');
    });

    test('hook runs recorded while another request holds a transaction are written whole, and survive its rollback', async () => {
      const { db, executions } = server.server.services;
      const run = (i: number) => ({
        hookId: 'hk_batch',
        hookVersion: 1,
        eventId: `evt_batch_${i}`,
        event: 'before_id_token',
        mode: 'sync' as const,
        outcome: 'success',
        durationMs: 1,
        logs: [`[log] run ${i}`],
        actions: [],
      });
      // A batch written on the fast path (SQLite: one statement a row, in one transaction of its own).
      for (let i = 0; i < 150; i++) executions.record(run(i));
      await executions.flush();
      let flushed: Promise<void> | null = null;
      await assert.rejects(
        db.transaction(async (trx) => {
          await trx('hook_executions').insert({
            id: 'exe_in_the_transaction',
            hook_id: 'hk_batch',
            hook_version: 1,
            event_id: 'evt_rolled_back',
            event: 'before_id_token',
            mode: 'sync',
            outcome: 'success',
            duration_ms: 1,
            logs: '[]',
            actions: '[]',
            created_at: Date.now(),
          });
          // Recorded and flushed while the transaction holds SQLite's one connection.
          for (let i = 150; i < 160; i++) executions.record(run(i));
          flushed = executions.flush();
          // Its write starts meanwhile: on SQLite it must wait for the connection, not join this transaction.
          await trx.raw('select 1');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      await flushed;
      const rows = await db('hook_executions').where({ hook_id: 'hk_batch' }).select('event_id', 'logs');
      assert.equal(rows.length, 160, 'every recorded run is written, none of the rolled-back row');
      assert.ok(!rows.some((row) => row.event_id === 'evt_rolled_back'));
      assert.deepEqual(JSON.parse(rows.find((row) => row.event_id === 'evt_batch_155')!.logs), ['[log] run 155']);
      await db('hook_executions').where({ hook_id: 'hk_batch' }).delete();
    });

    test("the provider's client follows its application: one client while it is unchanged, a new one at once when it changes", async () => {
      const { provider } = server.server.services;
      const clientId = rp.config.clientMetadata().client_id;
      const first = await provider.Client.find(clientId);
      assert.ok(first);
      assert.equal(await provider.Client.find(clientId), first, 'the same client while the application is cached');
      const renamed = await server.admin('PATCH', `/applications/${clientId}`, { name: 'Notes, renamed' });
      assert.equal(renamed.status, 200);
      const after = await provider.Client.find(clientId);
      assert.notEqual(after, first);
      assert.equal(after?.clientName, 'Notes, renamed');
      assert.equal(await provider.Client.find('no-such-client'), undefined);
      // A refresh grant with the rebuilt client.
      assert.ok((await oidc.refreshTokenGrant(rp.config, refreshToken)).access_token);
    });

    test('a provider route asked with a method it does not answer ends in our 404', async () => {
      const response = await fetch(`${server.url}/token`);
      assert.equal(response.status, 404);
      assert.deepEqual(await response.json(), { error: 'not_found', message: 'no route for GET /token' });
      assert.equal((await fetch(`${server.url}/.well-known/openid-configuration`)).status, 200);
    });
  });
}
