// The audit log (GET /admin/api/audit-log): one row per change made through the admin API or the
// console, with the target before and after (secrets redacted).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_log', (t) => {
    t.string('id', 40).primary();
    t.string('actor', 100).notNullable();
    t.string('actor_role', 20).nullable();
    t.string('action', 200).notNullable();
    t.string('target_type', 50).notNullable();
    t.string('target_id', 200).nullable();
    t.text('before').notNullable();
    t.text('after').notNullable();
    t.integer('status').notNullable();
    t.string('address', 100).nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['created_at']);
    t.index(['target_id']);
    t.index(['actor', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_log');
}
