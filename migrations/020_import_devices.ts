// Threat signals (CONTRACT §9): the devices a user signed in from (a device cookie, stored as its
// SHA-256) and the last sign-in whose location had coordinates (impossible travel). Bulk import
// (POST /admin/api/users/import) needs no table: imported hashes go into users.password_hash as
// self-describing strings (src/identity/password-formats.ts).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('user_devices', (t) => {
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('device_hash', 64).notNullable();
    t.bigInteger('first_seen_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
    t.primary(['user_id', 'device_hash']);
  });
  await knex.schema.createTable('user_sign_in_locations', (t) => {
    t.string('user_id', 36).primary().references('id').inTable('users').onDelete('CASCADE');
    t.bigInteger('signed_in_at').notNullable();
    t.string('country', 2).notNullable();
    t.string('city', 200).nullable();
    t.double('latitude').notNullable();
    t.double('longitude').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('user_sign_in_locations');
  await knex.schema.dropTableIfExists('user_devices');
}
