// Hook versions: every saved `code` of a hook is a numbered row here. hooks.code and hooks.version
// stay what runs (the deployed version); a draft is a row that is not deployed yet. Existing hooks
// get their current code as their first recorded version.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('hook_versions', (t) => {
    t.string('hook_id', 40).notNullable();
    t.integer('version').notNullable();
    t.text('code').notNullable();
    t.string('created_by', 200).notNullable(); // "admin-api", "kickstart", a console admin later
    t.bigInteger('created_at').notNullable();
    t.string('deployed_by', 200).nullable(); // the last deploy of this version (null: never deployed)
    t.bigInteger('deployed_at').nullable();
    t.primary(['hook_id', 'version']);
  });
  const hooks = await knex('hooks').select('id', 'code', 'version', 'created_at', 'updated_at');
  for (const hook of hooks) {
    await knex('hook_versions').insert({
      hook_id: hook.id,
      version: hook.version,
      code: hook.code,
      created_by: 'admin-api',
      created_at: hook.updated_at,
      deployed_by: 'admin-api',
      deployed_at: hook.updated_at,
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('hook_versions');
}
