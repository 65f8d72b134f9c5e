// The lease helper (src/db/leases.ts) on a real database, both kinds: the async hook job queue
// (hook_jobs, no owner column) and the webhook delivery queue (owner column) claim through it.
// Time is passed in (`now`), never waited for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Db } from '../src/db/knex.ts';
import { LeaseQueue } from '../src/db/leases.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { HookJobQueue } from '../src/hooks/jobs.ts';
import { DeliveryQueue } from '../src/webhooks/queue.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';

const T0 = 1_800_000_000_000;
const LEASE = 30_000;

for (const kind of databaseKinds()) {
  describe(`leases (${kind})`, () => {
    let database: TestDatabase;
    let db: Db;
    let seq = 0;

    before(async () => {
      database = await createTestDatabase(kind);
      db = openDatabase(database.url);
      await migrateToLatest(db);
    });
    after(async () => {
      await db.destroy();
      await database.drop();
    });

    /** Queues `count` pending jobs due at `runAfter` (plus i ms, so their order is known). */
    async function jobs(count: number, runAfter = T0): Promise<string[]> {
      const ids = Array.from({ length: count }, () => `job_lease_${++seq}`);
      await db('hook_jobs').insert(
        ids.map((id, i) => ({
          id,
          hook_id: 'hk_none',
          event_id: `evt_${id}`,
          event: JSON.stringify({ type: 'after_login', n: i }),
          status: 'pending',
          attempts: 0,
          run_after: runAfter + i,
          locked_until: null,
          created_at: runAfter,
        })),
      );
      return ids;
    }

    test('a claim takes due jobs no one holds, oldest first, up to the limit; a held job waits for its lease to end', async () => {
      await db('hook_jobs').delete();
      const ids = await jobs(5);
      const notYet = await jobs(1, T0 + 60_000);
      const a = new HookJobQueue(db, LEASE);
      const b = new HookJobQueue(db, LEASE);
      const first = await a.claim(3, T0 + 10);
      assert.deepEqual(
        first.map((j) => j.id),
        ids.slice(0, 3),
      );
      assert.deepEqual(
        first.map((j) => j.event.n),
        [0, 1, 2],
        'each job comes with its event',
      );
      assert.ok(first.every((j) => j.leaseUntil === T0 + 10 + LEASE));
      // Another process gets only what is left and due.
      assert.deepEqual(
        (await b.claim(10, T0 + 20)).map((j) => j.id),
        ids.slice(3),
      );
      assert.deepEqual(await b.claim(10, T0 + 30), [], 'all due jobs are held');
      // Past the leases (a process that died), the jobs are claimed again, the later one too now it is due.
      const again = await b.claim(10, T0 + 60_100);
      assert.deepEqual(new Set(again.map((j) => j.id)), new Set([...ids, ...notYet]));
    });

    test('only the holder of a lease writes the job back: a lease that ran out and was taken over is lost', async () => {
      await db('hook_jobs').delete();
      const [id] = await jobs(1);
      const slow = new HookJobQueue(db, LEASE);
      const other = new HookJobQueue(db, LEASE);
      const [mine] = await slow.claim(1, T0);
      const [theirs] = await other.claim(1, T0 + LEASE + 1);
      assert.equal(theirs!.id, id);
      await slow.settle(mine!, { status: 'done', attempts: 1 });
      let row = await db('hook_jobs').where({ id }).first();
      assert.equal(row.status, 'pending', 'the stale holder wrote nothing');
      assert.equal(Number(row.locked_until), T0 + LEASE + 1 + LEASE);
      await other.settle(theirs!, { attempts: 1, run_after: T0 + 99_000 });
      row = await db('hook_jobs').where({ id }).first();
      assert.deepEqual([row.status, Number(row.attempts), Number(row.run_after), row.locked_until], ['pending', 1, T0 + 99_000, null]);
      assert.deepEqual(await other.claim(1, T0 + 98_999), [], 'a retry waits for its time');
      assert.equal((await other.claim(1, T0 + 99_000)).length, 1);
    });

    test('with an owner column: fresh rows leased at insert, settle by owner, release of leftovers', async () => {
      await db('webhook_deliveries').delete();
      const columns = { table: 'webhook_deliveries', until: 'lease_until', owner: 'lease_owner' };
      const mine = new LeaseQueue(db, columns, LEASE);
      const theirs = new LeaseQueue(db, columns, LEASE);
      const row = (id: string, leased: LeaseQueue | null) => ({
        id,
        event_id: `evt_${id}`,
        endpoint_id: 'whe_x',
        status: 'pending',
        attempts: 0,
        max_attempts: 3,
        next_attempt_at: T0,
        ...(leased ? leased.fresh(T0) : mine.fresh(T0, false)),
        created_at: T0,
        updated_at: T0,
      });
      await db('webhook_deliveries').insert([row('whd_a', mine), row('whd_b', null), row('whd_c', null)]);
      assert.equal((await db('webhook_deliveries').where({ id: 'whd_a' }).first()).lease_owner, mine.owner);
      const spec = { where: `q.status = 'pending' AND q.next_attempt_at <= ?`, bindings: [T0], recheck: `status = 'pending'`, orderBy: 'q.id', limit: 10, returning: ['id'] };
      const claimed = await theirs.claim(spec, T0 + 1);
      assert.deepEqual(
        claimed.rows.map((r) => r.id),
        ['whd_b', 'whd_c'],
        'the row leased at insert is not claimable',
      );
      assert.equal(await mine.settle(db, ['whd_a', 'whd_b'], { status: 'delivered' }), 1, 'only the row it holds');
      assert.equal((await db('webhook_deliveries').where({ id: 'whd_b' }).first()).status, 'pending');
      assert.equal(await theirs.settle(db, 'whd_b'), 1, 'released unchanged');
      const b = await db('webhook_deliveries').where({ id: 'whd_b' }).first();
      assert.deepEqual([b.status, b.lease_until, b.lease_owner], ['pending', null, null]);
      assert.equal(await mine.releaseAll({ status: 'pending' }), 1, 'whd_c, still held by the other');
      assert.equal((await mine.claim(spec, T0 + 2)).rows.length, 2);
    });

    test('parallel claimers never take the same job', async () => {
      await db('hook_jobs').delete();
      const ids = await jobs(60);
      // PostgreSQL: separate connection pools, as separate processes would have.
      const dbs = kind === 'postgres' ? [openDatabase(database.url), openDatabase(database.url)] : [db, db];
      try {
        const queues = [...dbs, ...dbs].map((d) => new HookJobQueue(d, LEASE));
        const taken: string[] = [];
        await Promise.all(
          queues.map(async (queue) => {
            for (;;) {
              const batch = await queue.claim(4, T0 + 100);
              if (batch.length === 0) return;
              taken.push(...batch.map((j) => j.id));
            }
          }),
        );
        assert.equal(taken.length, ids.length, 'no job taken twice');
        assert.deepEqual(new Set(taken), new Set(ids));
      } finally {
        if (kind === 'postgres') await Promise.all(dbs.map((d) => d.destroy()));
      }
    });

    test('the webhook delivery queue claims at most its limit, of enabled endpoints only, with the events', async () => {
      await db('webhook_deliveries').delete();
      const now = Date.now();
      const endpoint = (id: string, enabled: boolean) => ({ id, url: 'https://example.com/hook', events: '["*"]', secret_enc: 'x', enabled, created_at: now, updated_at: now });
      await db('webhook_endpoints').insert([endpoint('whe_on', true), endpoint('whe_off', false)]);
      const events = Array.from({ length: 12 }, (_, i) => ({ id: `evt_q${i}`, type: 'user.create', data: JSON.stringify({ i }), created_at: now - 1000 + i }));
      await db('webhook_events').insert(events);
      const delivery = (event: { id: string }, endpointId: string, i: number) => ({
        id: `whd_q_${endpointId}_${i}`,
        event_id: event.id,
        endpoint_id: endpointId,
        status: 'pending',
        attempts: 0,
        max_attempts: 3,
        next_attempt_at: now - 1000 + i,
        lease_until: null,
        lease_owner: null,
        created_at: now,
        updated_at: now,
      });
      await db('webhook_deliveries').insert([...events.map((e, i) => delivery(e, 'whe_on', i)), ...events.map((e, i) => delivery(e, 'whe_off', i))]);
      const queue = new DeliveryQueue(db, LEASE);
      const first = await queue.claim(5);
      assert.deepEqual(
        first.map((d) => d.id),
        events.slice(0, 5).map((_, i) => `whd_q_whe_on_${i}`),
        'the five due first, no more',
      );
      assert.deepEqual(
        first.map((d) => d.event?.id),
        events.slice(0, 5).map((e) => e.id),
      );
      const rest = await new DeliveryQueue(db, LEASE).claim(100);
      assert.equal(rest.length, 7, "the disabled endpoint's deliveries are never claimed");
      await db('webhook_deliveries').delete();
      await db('webhook_events')
        .whereIn(
          'id',
          events.map((e) => e.id),
        )
        .delete();
      await db('webhook_endpoints').whereIn('id', ['whe_on', 'whe_off']).delete();
    });

    if (kind === 'postgres') {
      // The timeout turns a claim that waits (no SKIP LOCKED) into a failure instead of a hang.
      test('PostgreSQL: a row another transaction has locked is skipped, not waited for (SKIP LOCKED)', { timeout: 20_000 }, async () => {
        await db('hook_jobs').delete();
        const ids = await jobs(3);
        const other = openDatabase(database.url);
        const trx = await other.transaction();
        try {
          await trx('hook_jobs').where({ id: ids[0] }).forUpdate().first();
          // Without SKIP LOCKED this claim would wait for trx, which ends only after it: the test would hang.
          const claimed = await new HookJobQueue(db, LEASE).claim(10, T0 + 10);
          assert.deepEqual(
            claimed.map((j) => j.id),
            ids.slice(1),
          );
        } finally {
          await trx.rollback();
          await other.destroy();
        }
      });
    }
  });
}
