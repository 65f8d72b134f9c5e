// The administration console: who may sign in to it (console_admins, granted by `tessera admin
// grant` or KICKSTART) and its backend-for-frontend sessions (console_sessions: the browser holds
// only the session id in an HttpOnly cookie; the id is stored as its sha256).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_admins', (t) => {
    t.string('user_id', 100).primary();
    t.string('role', 20).notNullable(); // admin | viewer
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
  await knex.schema.createTable('console_sessions', (t) => {
    t.string('id_hash', 64).primary();
    t.string('user_id', 100).notNullable().index();
    t.string('csrf', 100).notNullable();
    t.text('id_token').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('console_sessions');
  await knex.schema.dropTable('console_admins');
}
