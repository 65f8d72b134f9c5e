// Operator locks (POST /admin/api/users/:id/actions {"action": "lock"}): while a user is locked,
// sign-in is refused. locked_until null with locked_at set means "until an operator unlocks".
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.bigInteger('locked_at').nullable();
    t.bigInteger('locked_until').nullable();
    t.string('lock_reason', 500).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('lock_reason');
    t.dropColumn('locked_until');
    t.dropColumn('locked_at');
  });
}
