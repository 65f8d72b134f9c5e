// Invitations (POST /admin/api/invitations): a pending user asked by an operator to join an
// application. The link's token is an action token (kind "invitation"); this row keeps what the
// operator sees: for whom, for which application, and whether it was accepted.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invitations', (t) => {
    t.string('id', 40).primary();
    t.string('user_id', 36).notNullable().index();
    t.string('client_id', 100).notNullable();
    t.string('email', 320).notNullable();
    t.text('roles').notNullable(); // JSON array, applied when registrations and roles exist
    t.string('status', 10).notNullable(); // pending | accepted | revoked
    // sha256 of the latest link's token: a withdrawn invitation's link says so, though its token (and
    // pending user) are gone.
    t.string('token_id', 64).nullable().index();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('accepted_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('invitations');
}
