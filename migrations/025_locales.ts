// The language an application's hosted pages and mails fall back to when neither the authorization
// request's ui_locales nor the browser's Accept-Language names one Tessera speaks (src/i18n); and the
// language a mailed link was written in, which its page falls back to before the application's.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.string('default_locale', 16).notNullable().defaultTo('en');
  });
  await knex.schema.alterTable('action_tokens', (t) => {
    t.string('locale', 16).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('action_tokens', (t) => {
    t.dropColumn('locale');
  });
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('default_locale');
  });
}
