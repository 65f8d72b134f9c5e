// Application settings of the second review: where a page with no pending sign-in sends the user
// back to (initiate_login_uri), which claims an ID token carries (id_token_claims), the resource
// servers (APIs) and scopes an application may get tokens for, and which application a mailed link
// (activation, password reset) was asked from, so its pages keep that application's branding after
// the sign-in that sent it has gone.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.string('initiate_login_uri', 2000).nullable();
    t.string('id_token_claims', 10).notNullable().defaultTo('scopes'); // scopes | strict
  });

  // One row per (application, API) allowed; deleting either side deletes the permission, so an API
  // deleted and registered again does not hand its old applications their access back.
  await knex.schema.createTable('application_resource_servers', (t) => {
    t.string('client_id', 100).notNullable().references('client_id').inTable('applications').onDelete('CASCADE');
    t.string('identifier', 500).notNullable().references('identifier').inTable('resource_servers').onDelete('CASCADE');
    t.text('scopes_allowed').notNullable(); // JSON array, a subset of the resource server's scopes
    t.primary(['client_id', 'identifier']);
    t.index(['identifier']);
  });

  await knex.schema.alterTable('action_tokens', (t) => {
    t.string('client_id', 100).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('action_tokens', (t) => {
    t.dropColumn('client_id');
  });
  await knex.schema.dropTable('application_resource_servers');
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('id_token_claims');
    t.dropColumn('initiate_login_uri');
  });
}
