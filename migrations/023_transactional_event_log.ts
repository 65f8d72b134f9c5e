// Transactional webhook endpoints (CONTRACT §6: `transactional: true` makes a change wait for the
// endpoint's 2xx before it commits) and the event log (GET /admin/api/event-log, CONTRACT §9): what
// the server itself reports, such as hook failures, failed deliveries and mail, key rotations, KICKSTART.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_endpoints', (t) => {
    t.boolean('transactional').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('event_log', (t) => {
    t.string('id', 40).primary();
    t.string('type', 60).notNullable();
    t.text('message').notNullable();
    t.text('details').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['created_at']);
    t.index(['type', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('event_log');
  await knex.schema.alterTable('webhook_endpoints', (t) => {
    t.dropColumn('transactional');
  });
}
