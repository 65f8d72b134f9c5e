// Multi-factor authentication: each application's MFA policy, the users' factors (TOTP, email and
// SMS codes, recovery codes), the one-time codes sent by email or SMS, and the remembered devices.
// Nothing secret is stored in the clear: the TOTP secret is sealed, codes are stored as keyed hashes.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.string('mfa', 10).notNullable().defaultTo('optional'); // off | optional | required
    t.integer('remember_device_days').notNullable().defaultTo(0); // 0: "remember this device" not offered
  });

  await knex.schema.createTable('mfa_factors', (t) => {
    t.string('id', 40).primary();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('type', 20).notNullable(); // totp | email | sms | recovery_codes
    t.string('status', 10).notNullable(); // pending (enrolment not confirmed) | active
    t.string('target', 320).nullable(); // the address or number codes go to (email, sms)
    t.text('secret_enc').nullable(); // the sealed TOTP secret
    t.bigInteger('last_used_step').nullable(); // the last TOTP time step accepted: no replay
    t.bigInteger('created_at').notNullable();
    t.bigInteger('confirmed_at').nullable();
    t.bigInteger('last_used_at').nullable();
    t.index(['user_id', 'status']);
  });

  await knex.schema.createTable('mfa_recovery_codes', (t) => {
    t.string('id', 40).primary();
    t.string('factor_id', 40).notNullable().references('id').inTable('mfa_factors').onDelete('CASCADE');
    t.string('user_id', 36).notNullable();
    t.string('code_hash', 64).notNullable();
    t.bigInteger('used_at').nullable();
    t.index(['user_id']);
  });

  await knex.schema.createTable('mfa_codes', (t) => {
    t.string('id', 40).primary();
    t.string('factor_id', 40).notNullable().references('id').inTable('mfa_factors').onDelete('CASCADE');
    t.string('code_hash', 64).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['factor_id', 'created_at']);
  });

  await knex.schema.createTable('mfa_remembered_devices', (t) => {
    t.string('id', 64).primary(); // sha256 of the token in the browser's signed cookie
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['user_id']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('mfa_remembered_devices');
  await knex.schema.dropTableIfExists('mfa_codes');
  await knex.schema.dropTableIfExists('mfa_recovery_codes');
  await knex.schema.dropTableIfExists('mfa_factors');
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('remember_device_days');
    t.dropColumn('mfa');
  });
}
