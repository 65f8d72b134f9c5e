// oidc_models.account_id: which account a session, grant, code or token belongs to, so that all of
// them can be revoked at once (a password reset signs the account out everywhere). Filled from the
// payloads already stored.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_models', (t) => {
    t.string('account_id', 255).nullable();
    t.index(['account_id']);
  });
  let after = { model: '', id: '' };
  for (;;) {
    const rows: Array<{ model: string; id: string; payload: string }> = await knex('oidc_models')
      .where((q) => q.where('model', '>', after.model).orWhere((r) => r.where('model', after.model).andWhere('id', '>', after.id)))
      .orderBy([{ column: 'model' }, { column: 'id' }])
      .limit(1000)
      .select('model', 'id', 'payload');
    if (rows.length === 0) break;
    for (const row of rows) {
      let accountId: unknown;
      try {
        accountId = (JSON.parse(row.payload) as { accountId?: unknown }).accountId;
      } catch {
        accountId = undefined;
      }
      if (typeof accountId === 'string') await knex('oidc_models').where({ model: row.model, id: row.id }).update({ account_id: accountId });
    }
    const last = rows[rows.length - 1]!;
    after = { model: last.model, id: last.id };
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_models', (t) => {
    t.dropIndex(['account_id']);
    t.dropColumn('account_id');
  });
}
