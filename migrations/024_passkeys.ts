// Passkeys (WebAuthn credentials). Each passkey is also a second factor of its user: a row of
// mfa_factors (type "passkey", removed with it through the foreign key), so that the MFA rule, the
// factor list, removals and their events treat it like any other factor. Beside it, the challenges
// of the ceremonies: one use each, bound to what asked for them (an interaction, a session).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('passkey_credentials', (t) => {
    t.string('factor_id', 40).primary().references('id').inTable('mfa_factors').onDelete('CASCADE');
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('credential_id', 1400).notNullable().unique(); // base64url, as the authenticator gave it
    t.text('public_key').notNullable(); // COSE public key, base64url
    t.bigInteger('counter').notNullable().defaultTo(0); // the last signature counter seen
    t.string('transports', 200).nullable(); // comma-separated (usb, nfc, ble, internal, hybrid)
    t.string('device_type', 20).notNullable(); // singleDevice | multiDevice (backup eligible)
    t.boolean('backed_up').notNullable().defaultTo(false);
    t.string('aaguid', 36).nullable();
    t.string('name', 100).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_used_at').nullable();
    t.index(['user_id']);
  });

  await knex.schema.createTable('passkey_challenges', (t) => {
    t.string('challenge', 100).primary(); // base64url, random
    t.string('purpose', 20).notNullable(); // register | mfa | passwordless
    t.string('binding', 200).notNullable(); // what asked for it, e.g. interaction:<uid>
    t.string('user_id', 36).nullable(); // the user it is for (none for a passwordless sign-in)
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('passkey_challenges');
  await knex.schema.dropTableIfExists('passkey_credentials');
}
