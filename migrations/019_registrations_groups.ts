// Registrations, roles and groups (CONTRACT §9, FusionAuth's model): an application declares its
// roles and whether anyone may sign up for it (registration open | closed); a user is registered with
// an application, holding some of its roles; a group holds roles per application, and its members
// hold them too. Deleting a user, an application or a group deletes what hangs from it (foreign keys
// with ON DELETE CASCADE), so nothing is left pointing at what is gone.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.text('roles').notNullable().defaultTo('[]'); // JSON array of {name, description}
    t.string('registration', 10).notNullable().defaultTo('open'); // open | closed
  });

  await knex.schema.createTable('user_registrations', (t) => {
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('client_id', 100).notNullable().references('client_id').inTable('applications').onDelete('CASCADE');
    t.text('roles').notNullable(); // JSON array of role names, each one of the application's roles
    t.boolean('verified').notNullable().defaultTo(false);
    t.bigInteger('verified_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['user_id', 'client_id']);
    t.index(['client_id']);
  });

  await knex.schema.createTable('groups', (t) => {
    t.string('id', 40).primary();
    t.string('name', 200).notNullable().unique();
    t.text('description').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  // One row per (group, application, role): an application or a group that goes takes its rows along.
  await knex.schema.createTable('group_roles', (t) => {
    t.string('group_id', 40).notNullable().references('id').inTable('groups').onDelete('CASCADE');
    t.string('client_id', 100).notNullable().references('client_id').inTable('applications').onDelete('CASCADE');
    t.string('role', 100).notNullable();
    t.primary(['group_id', 'client_id', 'role']);
    t.index(['client_id']);
  });

  await knex.schema.createTable('group_members', (t) => {
    t.string('group_id', 40).notNullable().references('id').inTable('groups').onDelete('CASCADE');
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('data').notNullable().defaultTo('{}'); // the membership's own JSON (FusionAuth's member data)
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['group_id', 'user_id']);
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('group_members');
  await knex.schema.dropTableIfExists('group_roles');
  await knex.schema.dropTableIfExists('groups');
  await knex.schema.dropTableIfExists('user_registrations');
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('registration');
    t.dropColumn('roles');
  });
}
