// Durable outbound webhooks: the endpoints, one delivery per (event, endpoint) fanned out from the
// outbox (webhook_events, 001), and the log of every attempt. Portable types only, as in 001.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Set when the dispatcher has expanded the event into deliveries; null = still to fan out.
  await knex.schema.alterTable('webhook_events', (t) => {
    t.bigInteger('dispatched_at').nullable();
    t.index(['dispatched_at', 'created_at']);
  });

  await knex.schema.createTable('webhook_endpoints', (t) => {
    t.string('id', 40).primary();
    t.text('url').notNullable();
    t.string('description', 500).nullable();
    t.text('events').notNullable(); // JSON array of event types, or ["*"]
    t.text('secret_enc').notNullable(); // sealed whsec_ secret
    t.text('previous_secret_enc').nullable(); // the secret before the last rotation...
    t.bigInteger('previous_secret_expires_at').nullable(); // ...still signed with until then
    t.boolean('enabled').notNullable();
    t.string('disabled_reason', 500).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.string('id', 40).primary();
    t.string('event_id', 40).notNullable();
    t.string('endpoint_id', 40).notNullable();
    t.string('status', 10).notNullable(); // pending | delivered | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable();
    t.bigInteger('next_attempt_at').nullable();
    t.bigInteger('lease_until').nullable();
    t.string('lease_owner', 40).nullable();
    t.integer('last_status').nullable();
    t.text('last_error').nullable();
    t.bigInteger('delivered_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['event_id', 'endpoint_id']);
    t.index(['status', 'next_attempt_at']);
    t.index(['endpoint_id', 'created_at']);
  });

  await knex.schema.createTable('webhook_attempts', (t) => {
    t.bigIncrements('id').primary();
    t.string('delivery_id', 40).notNullable();
    t.string('endpoint_id', 40).notNullable();
    t.integer('attempt').notNullable();
    t.integer('status_code').nullable(); // null: no answer (timeout, connection refused, ...)
    t.integer('latency_ms').notNullable();
    t.text('response').nullable(); // the answer's body, truncated
    t.text('error').nullable();
    t.bigInteger('next_attempt_at').nullable(); // when a retry was scheduled
    t.bigInteger('created_at').notNullable();
    t.index(['delivery_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_attempts');
  await knex.schema.dropTableIfExists('webhook_deliveries');
  await knex.schema.dropTableIfExists('webhook_endpoints');
  await knex.schema.alterTable('webhook_events', (t) => {
    t.dropIndex(['dispatched_at', 'created_at']);
    t.dropColumn('dispatched_at');
  });
}
