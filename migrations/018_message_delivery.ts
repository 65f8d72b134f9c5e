// Who sends each transactional message of an application (CONTRACT §9 `message_delivery`): a JSON
// object {<message type>: "tessera" | "brand"}; empty means Tessera sends them all.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.text('message_delivery').notNullable().defaultTo('{}');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('message_delivery');
  });
}
