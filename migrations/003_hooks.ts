// Hooks (brand scripts), their execution log, and the durable queue of async runs.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('hooks', (t) => {
    t.string('id', 40).primary();
    t.string('name', 200).notNullable();
    t.string('event', 60).notNullable();
    t.string('mode', 10).notNullable(); // sync | async
    t.text('code').notNullable();
    t.integer('version').notNullable();
    t.text('applications').nullable(); // JSON array of client_ids; null = every application
    t.boolean('enabled').notNullable();
    t.integer('order').notNullable();
    t.text('secrets_enc').nullable(); // sealed JSON object
    t.text('allowed_hosts').notNullable(); // JSON array
    t.integer('timeout_ms').notNullable();
    t.string('on_error', 10).notNullable(); // fail | continue
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['event', 'enabled']);
  });

  await knex.schema.createTable('hook_executions', (t) => {
    t.string('id', 40).primary();
    t.string('hook_id', 40).notNullable();
    t.integer('hook_version').notNullable();
    t.string('event_id', 60).notNullable();
    t.string('event', 60).notNullable();
    t.string('mode', 10).notNullable();
    t.string('outcome', 20).notNullable(); // success | error | timeout | memory | invalid_action
    t.integer('duration_ms').notNullable();
    t.text('logs').notNullable();
    t.text('actions').notNullable();
    t.text('error').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['hook_id', 'created_at']);
    t.index(['created_at']);
  });

  await knex.schema.createTable('hook_jobs', (t) => {
    t.string('id', 40).primary();
    t.string('hook_id', 40).notNullable();
    t.string('event_id', 60).notNullable();
    t.text('event').notNullable(); // the event without secrets; they are injected at run time
    t.string('status', 10).notNullable(); // pending | done | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('run_after').notNullable();
    t.bigInteger('locked_until').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['status', 'run_after']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('hook_jobs');
  await knex.schema.dropTableIfExists('hook_executions');
  await knex.schema.dropTableIfExists('hooks');
}
