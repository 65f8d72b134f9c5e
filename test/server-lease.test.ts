// The named lease behind the shared clean-up schedule (src/db/server-lease.ts), on both databases: one
// holder at a time, the work not due again before its interval whoever did it, a released lease taken
// at once, a dead holder's lease taken once it ran out. Time is passed in, never waited for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Db } from '../src/db/knex.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { ServerLease } from '../src/db/server-lease.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';

const T0 = 1_800_000_000_000;
const LEASE = 60_000;
const EVERY = 600_000;

for (const kind of databaseKinds()) {
  describe(`server leases (${kind})`, () => {
    let database: TestDatabase;
    let db: Db;
    before(async () => {
      database = await createTestDatabase(kind);
      db = openDatabase(database.url);
      await migrateToLatest(db);
    });
    after(async () => {
      await db.destroy();
      await database.drop();
    });

    test('one holder at a time; done moves the shared schedule; release frees the lease at once', async () => {
      const a = new ServerLease(db, 'work-1');
      const b = new ServerLease(db, 'work-1');
      assert.equal(await a.take(LEASE, EVERY, T0), true, 'never done: due');
      assert.equal(await b.take(LEASE, EVERY, T0 + 1), false, 'held by a');
      await a.done(T0 + 10);
      assert.equal(await a.lastDoneAt(), T0 + 10);
      assert.equal(await b.take(LEASE, EVERY, T0 + 20), false, 'done by a: not due for b either');
      assert.equal(await b.take(LEASE, EVERY, T0 + 10 + EVERY), true, 'due again after the interval');
      // b stops (shutdown) without finishing: the lease is free at once, the work still due.
      await b.release();
      assert.equal(await a.take(LEASE, EVERY, T0 + 11 + EVERY), true);
      assert.equal(await a.lastDoneAt(), T0 + 10);
    });

    test('a holder that died: its lease is taken once it has run out, not before', async () => {
      const dead = new ServerLease(db, 'work-2');
      const next = new ServerLease(db, 'work-2');
      assert.equal(await dead.take(LEASE, EVERY, T0), true);
      assert.equal(await next.take(LEASE, EVERY, T0 + LEASE - 1), false);
      assert.equal(await next.take(LEASE, EVERY, T0 + LEASE + 1), true);
      // The dead holder's late writes change nothing.
      await dead.done(T0 + LEASE + 2);
      assert.equal(await next.lastDoneAt(), null);
    });
  });
}
