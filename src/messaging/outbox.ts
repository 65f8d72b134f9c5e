// The dev outbox: when no SMTP server or SMS messenger is configured, messages land here (and in the
// log) so a developer can read them through GET /admin/api/messages.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/knex.ts';

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
    id: row.id, channel: row.channel, to: row.to, subject: row.subject ?? null, body: row.body,
    created_at: new Date(Number(row.created_at)).toISOString(),
  }));
}
