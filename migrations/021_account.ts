// The end user's account page (/account): its backend-for-frontend sessions (account_sessions: the
// browser holds only the session id in an HttpOnly cookie; the id is stored as its sha256, with when
// the user last proved who they are, for the step-up of sensitive changes), and a payload on one-time
// action tokens (the new address an email-change link confirms).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_sessions', (t) => {
    t.string('id_hash', 64).primary();
    t.string('user_id', 100).notNullable().index();
    t.text('id_token').nullable();
    t.bigInteger('auth_time').notNullable();
    t.string('amr', 200).notNullable();
    t.string('client_id', 100).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable().index();
  });
  await knex.schema.alterTable('action_tokens', (t) => {
    t.text('data').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('action_tokens', (t) => {
    t.dropColumn('data');
  });
  await knex.schema.dropTable('account_sessions');
}
