// Per-application webhook subscriptions: an endpoint may be limited to the events of some
// applications (`applications`, a JSON array of client_ids, null for all), and then takes the
// events of no application only with `include_unscoped`.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_endpoints', (t) => {
    t.text('applications').nullable();
    t.boolean('include_unscoped').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_endpoints', (t) => {
    t.dropColumn('include_unscoped');
    t.dropColumn('applications');
  });
}
