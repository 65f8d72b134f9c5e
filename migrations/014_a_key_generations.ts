// Keys and instances (#18.1, 18.2, 18.7). keys.generation: the nth key of its kind, unique per kind, so
// instances starting at once on an empty database insert generation 1 and exactly one wins (the others'
// inserts do nothing and they load the winner's). keys.activates_at: a rotated key is published at once
// but signs only from then on, once every instance has had time to publish it. server_leases: a named
// lease one instance holds at a time (the shared clean-up schedule), with when its work last finished.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('keys', (t) => {
    t.integer('generation').nullable();
    t.bigInteger('activates_at').nullable();
  });
  // Existing keys: numbered per kind in creation order; they are active since they were created.
  await knex.raw(`UPDATE keys SET activates_at = created_at, generation = (
    SELECT COUNT(*) FROM keys k2 WHERE k2.kind = keys.kind
      AND (k2.created_at < keys.created_at OR (k2.created_at = keys.created_at AND k2.kid <= keys.kid)))`);
  await knex.schema.alterTable('keys', (t) => {
    t.unique(['kind', 'generation'], { indexName: 'keys_kind_generation_unique' });
  });

  await knex.schema.createTable('server_leases', (t) => {
    t.string('name', 100).primary();
    t.string('owner', 100).nullable();
    t.bigInteger('lease_until').nullable();
    t.bigInteger('last_done_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('server_leases');
  await knex.schema.alterTable('keys', (t) => {
    t.dropUnique(['kind', 'generation'], 'keys_kind_generation_unique');
    t.dropColumn('activates_at');
    t.dropColumn('generation');
  });
}
