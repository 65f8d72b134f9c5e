// The message queue: every transactional mail and text is a row here until it is handed over (SMTP, the
// SMS messenger, or the dev outbox), retried with growing delays while the transport fails, leased
// like webhook deliveries (src/db/leases.ts). The content is sealed and dropped once it is sent; rows
// the brand took over (before_message_send suppressed or denied them) keep no content at all.
// Not to be confused with `messages` (001), the dev outbox that GET /admin/api/messages reads.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('message_queue', (t) => {
    t.string('id', 40).primary();
    t.string('type', 40).notNullable(); // activation, password_reset, mfa_code, ...
    t.string('channel', 10).notNullable(); // email | sms
    t.string('to', 320).notNullable();
    t.string('status', 12).notNullable(); // pending | sent | failed | expired | suppressed | denied
    t.text('content_enc').nullable(); // sealed {subject, text}; null once sent or given up
    t.string('user_id', 40).nullable();
    t.string('application_id', 100).nullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable();
    t.bigInteger('next_attempt_at').nullable();
    t.bigInteger('expires_at').nullable(); // a link or code past this is not worth sending
    t.bigInteger('lease_until').nullable();
    t.string('lease_owner', 40).nullable();
    t.text('last_error').nullable();
    t.bigInteger('sent_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['status', 'next_attempt_at']);
    t.index(['to', 'created_at']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('message_queue');
}
