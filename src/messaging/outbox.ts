// The dev outbox: without SMTP_URL mail lands here, and with SMS_DEV_OUTBOX=true (and no
// SMS_WEBHOOK_URL) texts too, so a developer can read them through GET /admin/api/messages.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';

export interface StoredMessage {
  id: string;
  channel: 'email' | 'sms';
  to: string;
  subject: string | null;
  body: string;
  created_at: string;
}

export async function storeMessage(db: Db, message: Omit<StoredMessage, 'id' | 'created_at'>): Promise<void> {
  // Stored as listMessages looks it up: trimmed and lower-cased (emails are case-insensitive).
  await db('messages').insert({ id: randomUUID(), ...message, to: message.to.trim().toLowerCase(), created_at: Date.now() });
}

export async function listMessages(db: Db, to: string | null, limit = 50): Promise<StoredMessage[]> {
  const query = db('messages').orderBy('created_at', 'desc').limit(limit);
  if (to) query.where({ to: to.trim().toLowerCase() });
  const rows = await query;
  return rows.map((row) => ({
    id: row.id,
    channel: row.channel,
    to: row.to,
    subject: row.subject ?? null,
    body: row.body,
    created_at: new Date(Number(row.created_at)).toISOString(),
  }));
}

/** At start: a warning for each channel whose messages reach nobody but the dev outbox. */
export function announceDelivery(config: Pick<Config, 'smtpUrl' | 'smsWebhookUrl' | 'smsDevOutbox'>, log: Logger): void {
  if (!config.smtpUrl) {
    log.warn({ channel: 'email' }, 'SMTP_URL is not set: mail goes to the dev outbox (GET /admin/api/messages), not to its recipients');
  }
  if (!config.smsWebhookUrl && config.smsDevOutbox) {
    log.warn({ channel: 'sms' }, 'SMS_DEV_OUTBOX is on: texts go to the dev outbox (GET /admin/api/messages), not to their recipients');
  } else if (!config.smsWebhookUrl) {
    log.info({ channel: 'sms' }, 'SMS_WEBHOOK_URL is not set: SMS is not offered as a second factor');
  }
}
