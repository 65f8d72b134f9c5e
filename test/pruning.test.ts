// Each store prunes its own expiring rows (server.ts's clean-up calls these), on both databases:
// what has expired goes, what has not stays. Time is passed in, never waited for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Db } from '../src/db/knex.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { FlowStates } from '../src/flows/state.ts';
import { ExecutionLog } from '../src/hooks/executions.ts';
import { HookJobQueue } from '../src/hooks/jobs.ts';
import { ActionTokens } from '../src/identity/action-tokens.ts';
import { Throttle } from '../src/identity/throttle.ts';
import { createLogger } from '../src/log.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';

const DAY = 86_400_000;

for (const kind of databaseKinds()) {
  describe(`pruning, store by store (${kind})`, () => {
    let database: TestDatabase;
    let db: Db;

    before(async () => {
      database = await createTestDatabase(kind);
      db = openDatabase(database.url);
      await migrateToLatest(db);
      const now = Date.now();
      await db('users').insert({
        id: 'u-prune',
        email: 'prune@example.com',
        email_verified: false,
        phone_number_verified: false,
        status: 'active',
        source: 'admin',
        attributes: '{}',
        metadata: '{}',
        login_count: 0,
        created_at: now,
        updated_at: now,
      });
    });
    after(async () => {
      await db.destroy();
      await database.drop();
    });

    test('action tokens: kept a day past their expiry (to say "expired"), then deleted', async () => {
      const tokens = new ActionTokens(db);
      const token = await tokens.issue('activation', 'u-prune', { interactionUid: null, clientId: null }, 60);
      const expiresAt = Date.now() + 60_000;
      assert.equal(await tokens.prune(expiresAt + DAY - 1000), 0);
      assert.equal((await tokens.inspect('activation', token)).status, 'valid');
      assert.equal(await tokens.prune(expiresAt + DAY + 1000), 1);
      assert.equal((await tokens.inspect('activation', token)).status, 'unknown');
    });

    test('interaction states: deleted once the interaction expired', async () => {
      const states = new FlowStates(db);
      const now = Date.now();
      await states.update('uid-old', now + 1000, {});
      await states.update('uid-new', now + 60_000, {});
      assert.equal(await states.prune(now + 2000), 1);
      assert.deepEqual(
        (await db('interaction_states').select('uid')).map((r) => r.uid),
        ['uid-new'],
      );
    });

    test('throttle windows: deleted once the window is over', async () => {
      const throttle = new Throttle(db, 60);
      await throttle.hit('prune:a', 5);
      const now = Date.now();
      assert.equal(await throttle.prune(now + 59_000), 0);
      assert.equal(await throttle.allows('prune:a', 0), false, 'still counted');
      assert.equal(await throttle.prune(now + 61_000), 1);
      assert.equal(await db('login_throttle').where({ key: 'prune:a' }).first(), undefined);
    });

    test('hook execution log: by age, and beyond the newest runs per hook', async () => {
      const log = new ExecutionLog(db, createLogger('silent'));
      for (let i = 0; i < 5; i += 1) {
        log.record({ hookId: 'hk_prune', hookVersion: 1, eventId: `evt_${i}`, event: 'after_login', mode: 'sync', outcome: 'success', durationMs: 1, logs: [], actions: [] });
      }
      await log.flush();
      const rows = await db('hook_executions').where({ hook_id: 'hk_prune' });
      // Distinct times, so "the newest" is well defined.
      for (const [i, row] of rows.entries())
        await db('hook_executions')
          .where({ id: row.id })
          .update({ created_at: 1_000 + i });
      const listed = await log.list('hk_prune', 10);
      assert.equal(listed.length, 5);
      assert.equal(await log.prune(DAY, 3, 1_000 + DAY - 1), 2, 'beyond the newest 3');
      assert.deepEqual(
        (await log.list('hk_prune', 10)).map((e) => e.id),
        listed.slice(0, 3).map((e) => e.id),
      );
      assert.equal(await log.prune(DAY, 3, 1_000 + DAY + 10), 3, 'past the age');
      assert.deepEqual(await log.list('hk_prune', 10), []);
    });

    test('async hook jobs: finished ones past the age go, pending ones stay', async () => {
      const jobs = new HookJobQueue(db, 30_000);
      const row = (id: string, status: string) => ({ id, hook_id: 'hk_x', event_id: 'evt_x', event: '{}', status, attempts: 0, run_after: 1_000, locked_until: null, created_at: 1_000 });
      await db('hook_jobs').insert([row('job_p_done', 'done'), row('job_p_failed', 'failed'), row('job_p_pending', 'pending')]);
      assert.equal(await jobs.prune(DAY, 1_000 + DAY - 1), 0);
      assert.equal(await jobs.prune(DAY, 1_000 + DAY + 1), 2);
      assert.deepEqual(
        (await db('hook_jobs').where('id', 'like', 'job_p_%').select('id')).map((r) => r.id),
        ['job_p_pending'],
      );
    });
  });
}
