// Runs the knex migrations at start. Several instances starting at once on one database take turns:
// on PostgreSQL an advisory lock admits one migrator at a time (the others wait, and then find nothing
// to do); knex's own lock (knex_migrations_lock) is waited for too, as is SQLite's write lock. The
// wait is bounded (MIGRATION_LOCK_TIMEOUT): past it the start fails with a message saying what to check.
import type { Knex } from 'knex';
import { migrations, type Migration } from '../../migrations/index.ts';
import { isPostgres, type Db } from './knex.ts';

const source: Knex.MigrationSource<[string, Migration]> = {
  async getMigrations() {
    return migrations;
  },
  getMigrationName([name]) {
    return name;
  },
  async getMigration([, migration]) {
    return migration;
  },
};

/** Any 64-bit number of our own: the advisory lock that one migrator at a time holds. */
const MIGRATION_LOCK_ID = 7_215_040_118;
const RETRY_MS = 200;

export class MigrationLockTimeout extends Error {}

export interface MigrateOptions {
  /** How long to wait for other instances' migrations (default 2 min). */
  lockTimeoutMs?: number;
  /** Told once when the start waits for another instance. */
  onWait?: (reason: string) => void;
}

/** Two instances met on the way in: knex's lock is held, or both created its tables at once. */
function isContention(err: unknown): boolean {
  const { name, code, errcode, message } = (err ?? {}) as { name?: string; code?: string; errcode?: number; message?: string };
  if (name === 'MigrationLocked') return true;
  // PostgreSQL: duplicate table or type (two CREATE TABLE knex_migrations at once); SQLite: busy.
  if (code === '42P07' || code === '23505' || code === '42710') return true;
  if (code === 'ERR_SQLITE_ERROR' && (errcode === 5 || errcode === 6)) return true;
  return typeof message === 'string' && /already exists/.test(message) && /knex_migrations/.test(message);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function migrateToLatest(db: Db, options: MigrateOptions = {}): Promise<void> {
  const lockTimeoutMs = options.lockTimeoutMs ?? 120_000;
  const deadline = Date.now() + lockTimeoutMs;
  let told = false;
  const wait = async (reason: string) => {
    if (Date.now() > deadline) {
      throw new MigrationLockTimeout(
        `migrations: waited ${Math.round(lockTimeoutMs / 1000)} s (MIGRATION_LOCK_TIMEOUT) for ${reason}. If no other instance is starting, one that crashed while migrating left knex's lock set: check the table knex_migrations_lock (is_locked = 1) and set it to 0.`,
      );
    }
    if (!told) options.onWait?.(reason);
    told = true;
    await sleep(RETRY_MS + Math.random() * RETRY_MS);
  };
  const migrate = async () => {
    for (;;) {
      try {
        await db.migrate.latest({ migrationSource: source });
        return;
      } catch (err) {
        if (!isContention(err)) throw err;
        await wait("another instance's migrations (knex's migration lock)");
      }
    }
  };
  if (!isPostgres(db)) return migrate();
  // The advisory lock lives as long as this transaction's connection: a migrator that dies frees it.
  await db.transaction(async (trx) => {
    for (;;) {
      const { rows } = await trx.raw('SELECT pg_try_advisory_xact_lock(?) AS locked', [MIGRATION_LOCK_ID]);
      if (rows[0].locked) break;
      await wait("another instance's migrations (the migration lock)");
    }
    await migrate();
  });
}
