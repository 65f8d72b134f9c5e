// Core schema: users, applications, OIDC artifacts, keys, one-time tokens, throttling, dev outbox and
// the webhook outbox. Only portable column types: JSON is text, times are epoch milliseconds.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settings', (t) => {
    t.string('key', 100).primary();
    t.text('value').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('keys', (t) => {
    t.string('kid', 100).primary();
    t.string('kind', 20).notNullable(); // signing | cookie
    t.text('material').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('retired_at').nullable();
    t.index(['kind', 'created_at']);
  });

  await knex.schema.createTable('applications', (t) => {
    t.string('client_id', 100).primary();
    t.string('name', 200).notNullable();
    t.text('client_secret_enc').nullable();
    t.text('metadata').notNullable();
    t.boolean('third_party').notNullable().defaultTo(false);
    t.text('branding').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('resource_servers', (t) => {
    t.string('identifier', 500).primary();
    t.string('name', 200).notNullable();
    t.text('scopes').notNullable();
    t.integer('access_token_ttl').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('users', (t) => {
    t.string('id', 36).primary();
    t.string('email', 320).notNullable().unique();
    t.string('username', 64).nullable().unique();
    t.text('password_hash').nullable();
    t.string('given_name', 200).nullable();
    t.string('family_name', 200).nullable();
    t.string('phone_number', 32).nullable();
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.boolean('phone_number_verified').notNullable().defaultTo(false);
    t.string('status', 20).notNullable(); // active | pending | disabled
    t.string('source', 20).notNullable(); // registration | admin | migration | kickstart
    t.text('attributes').notNullable();
    t.text('metadata').notNullable();
    t.integer('login_count').notNullable().defaultTo(0);
    t.bigInteger('last_login_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('consents', (t) => {
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('key', 100).notNullable();
    t.boolean('granted').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['user_id', 'key']);
  });

  await knex.schema.createTable('oidc_models', (t) => {
    t.string('model', 40).notNullable();
    t.string('id', 255).notNullable();
    t.text('payload').notNullable();
    t.string('grant_id', 255).nullable();
    t.string('user_code', 255).nullable();
    t.string('uid', 255).nullable();
    t.bigInteger('expires_at').nullable();
    t.bigInteger('consumed_at').nullable();
    t.primary(['model', 'id']);
    t.index(['grant_id']);
    t.index(['uid']);
    t.index(['user_code']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('action_tokens', (t) => {
    t.string('id', 64).primary(); // sha256 of the token; the token itself is only mailed
    t.string('kind', 30).notNullable(); // activation | password_reset
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('interaction_uid', 255).nullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['user_id', 'kind']);
  });

  await knex.schema.createTable('login_throttle', (t) => {
    t.string('key', 400).primary();
    t.integer('failures').notNullable();
    t.bigInteger('window_started_at').notNullable();
  });

  await knex.schema.createTable('interaction_states', (t) => {
    t.string('uid', 255).primary();
    t.text('state').notNullable();
    t.bigInteger('expires_at').notNullable();
  });

  await knex.schema.createTable('messages', (t) => {
    t.string('id', 36).primary();
    t.string('channel', 10).notNullable(); // email | sms
    t.string('to', 320).notNullable();
    t.text('subject').nullable();
    t.text('body').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['to', 'created_at']);
  });

  // The webhook outbox: written in the same transaction as the change it reports.
  await knex.schema.createTable('webhook_events', (t) => {
    t.string('id', 40).primary();
    t.string('type', 60).notNullable();
    t.text('data').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'webhook_events',
    'messages',
    'interaction_states',
    'login_throttle',
    'action_tokens',
    'oidc_models',
    'consents',
    'users',
    'resource_servers',
    'applications',
    'keys',
    'settings',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
