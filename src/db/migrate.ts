// Runs the knex migrations at start. Several boxes starting at once are safe: knex takes a lock.
import type { Knex } from 'knex';
import { migrations, type Migration } from '../../migrations/index.ts';
import type { Db } from './knex.ts';

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

export async function migrateToLatest(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource: source });
}
