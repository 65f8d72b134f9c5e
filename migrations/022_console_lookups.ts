// What the console looks up by user and replays (#19): each hook run keeps the user it ran for and
// its event with passwords, secrets and tokens redacted (a test run on a recorded event), and each
// webhook event the user it is about (a user's recent hook runs and webhook events). Rows written
// before this migration have neither: they are simply not found by user, and have no event to replay.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('hook_executions', (t) => {
    t.string('user_id', 60).nullable();
    t.text('event_payload').nullable(); // the event, redacted (src/hooks/redact.ts); null: too large to keep
    t.index(['user_id', 'created_at']);
  });
  await knex.schema.alterTable('webhook_events', (t) => {
    t.string('user_id', 60).nullable();
    t.index(['user_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_events', (t) => {
    t.dropIndex(['user_id', 'created_at']);
    t.dropColumn('user_id');
  });
  await knex.schema.alterTable('hook_executions', (t) => {
    t.dropIndex(['user_id', 'created_at']);
    t.dropColumn('event_payload');
    t.dropColumn('user_id');
  });
}
