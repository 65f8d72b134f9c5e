// External providers (issue 14): the upstream identity providers, the links between a user and an
// identity at a provider, the sign-ins in flight to a provider (state, nonce, PKCE verifier), and
// the result of an identity verification per user. JSON is text, times are epoch milliseconds.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('identity_providers', (t) => {
    t.string('id', 36).primary();
    t.string('name', 200).notNullable();
    t.string('type', 10).notNullable(); // oidc | oauth2
    t.string('preset', 20).nullable();
    t.string('purpose', 20).notNullable(); // login | verification
    t.text('settings').notNullable(); // JSON: endpoints, scopes, claims, linking, applications, …
    t.text('client_secret_enc').nullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  // One identity at a provider belongs to one user; a user has at most one identity per provider.
  await knex.schema.createTable('user_links', (t) => {
    t.string('provider_id', 36).notNullable().references('id').inTable('identity_providers').onDelete('CASCADE');
    t.string('subject', 255).notNullable();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('email', 320).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_login_at').nullable();
    t.primary(['provider_id', 'subject']);
    t.unique(['user_id', 'provider_id']);
  });

  // A sign-in sent to a provider and not back yet: found by its state on the way back, used once.
  await knex.schema.createTable('external_logins', (t) => {
    t.string('state_hash', 64).primary();
    t.string('interaction_uid', 100).notNullable();
    t.string('provider_id', 36).notNullable();
    t.text('data').notNullable(); // JSON: nonce, PKCE verifier, purpose, the provider's answer once back
    t.string('status', 20).notNullable(); // sent | returned | used
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at']);
  });

  await knex.schema.alterTable('applications', (t) => {
    t.string('identity_verification', 10).notNullable().defaultTo('off'); // off | required
  });

  await knex.schema.createTable('identity_verifications', (t) => {
    t.string('user_id', 36).primary().references('id').inTable('users').onDelete('CASCADE');
    t.string('status', 20).notNullable(); // verified | failed
    t.string('provider_id', 36).nullable();
    t.text('verified_claims').notNullable();
    t.bigInteger('verified_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('identity_verifications');
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('identity_verification');
  });
  await knex.schema.dropTable('external_logins');
  await knex.schema.dropTable('user_links');
  await knex.schema.dropTable('identity_providers');
}
