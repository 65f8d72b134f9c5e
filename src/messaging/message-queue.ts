// The message queue (message_queue): every mail and text the courier accepts is a row here until a
// transport has taken it (SMTP, the SMS messenger, or the dev outbox), so a transport that is down
// for a while delays messages and loses none. Rows are leased like webhook deliveries
// (src/db/leases.ts): only the holder of a row's lease hands it over or writes its result. The
// content (which holds links and codes) is sealed at rest and dropped once the row is settled.
// Not the dev outbox (outbox.ts, the `messages` table): that is one of the transports.
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto.ts';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { LeaseQueue, type Row } from '../db/leases.ts';
import type { MessageType } from '../hooks/catalog/events.ts';

export type Channel = 'email' | 'sms';

/**
 * pending: to be handed over (now or at next_attempt_at); sent: a transport took it; failed: every
 * attempt failed; expired: its link or code ran out before it could be sent; suppressed: a
 * before_message_send hook sends it itself; brand: the application leaves it to the brand (the
 * `message.*` webhook); denied: a hook stopped it.
 */
export type QueueStatus = 'pending' | 'sent' | 'failed' | 'expired' | 'suppressed' | 'brand' | 'denied';

export interface MessageContent {
  subject: string | null;
  text: string;
  /** Mail only: the HTML alternative (absent in rows queued before it existed, and for texts). */
  html?: string;
}

/** A message as the courier hands it to the queue. */
export interface QueuedMessage {
  type: MessageType;
  channel: Channel;
  to: string;
  userId: string | null;
  applicationId: string | null;
  /** When its link or code stops working (epoch ms): it is not sent after that. */
  expiresAt: number | null;
}

/** A row leased to this process, its content opened. */
export interface ClaimedMessage extends QueuedMessage {
  id: string;
  attempts: number;
  maxAttempts: number;
  content: MessageContent | null;
  leaseUntil: number;
}

/** A queue entry as the admin API answers it (GET /admin/api/message-queue): never the content. */
export interface QueueEntry {
  id: string;
  type: string;
  channel: Channel;
  to: string;
  status: QueueStatus;
  user_id: string | null;
  application_id: string | null;
  attempts: number;
  max_attempts: number;
  next_attempt_at: string | null;
  expires_at: string | null;
  last_error: string | null;
  sent_at: string | null;
  created_at: string;
  updated_at: string;
}

const STATUSES: readonly QueueStatus[] = ['pending', 'sent', 'failed', 'expired', 'suppressed', 'brand', 'denied'];
const iso = (value: unknown) => (value === null || value === undefined ? null : new Date(Number(value)).toISOString());

export class MessageQueue {
  readonly #db: Db;
  readonly #box: SecretBox;
  readonly leases: LeaseQueue;

  constructor(db: Db, box: SecretBox, leaseMs: number) {
    this.#db = db;
    this.#box = box;
    this.leases = new LeaseQueue(db, { table: 'message_queue', until: 'lease_until', owner: 'lease_owner' }, leaseMs);
  }

  static isStatus(value: string): value is QueueStatus {
    return (STATUSES as readonly string[]).includes(value);
  }

  /**
   * Writes a pending message, leased to this process so that it can hand it over at once (the
   * caller does, and settles it); if this process dies first, the lease runs out and any process
   * sends it. Answers the claimed row.
   */
  async enqueue(message: QueuedMessage, content: MessageContent, maxAttempts: number, trx: Knex = this.#db, now = Date.now()): Promise<ClaimedMessage> {
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    const lease = this.leases.fresh(now);
    await trx('message_queue').insert({
      id,
      ...this.#columns(message),
      status: 'pending',
      content_enc: this.#box.seal(JSON.stringify(content)),
      attempts: 0,
      max_attempts: maxAttempts,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
      ...lease,
    });
    return { id, ...message, attempts: 0, maxAttempts, content, leaseUntil: Number(lease.lease_until) };
  }

  /** Records a message a hook or the brand took over, or a hook stopped: listed like the others, with no content. */
  async recordSettled(message: QueuedMessage, status: 'suppressed' | 'brand' | 'denied', note: string | null, trx: Knex = this.#db, now = Date.now()): Promise<string> {
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    await trx('message_queue').insert({
      id,
      ...this.#columns(message),
      status,
      content_enc: null,
      attempts: 0,
      max_attempts: 0,
      next_attempt_at: null,
      last_error: note,
      created_at: now,
      updated_at: now,
    });
    return id;
  }

  /** SQLite: one process per database, so any lease left is a dead process's. Frees them. */
  releaseLeftovers(): Promise<number> {
    return this.leases.releaseAll({ status: 'pending' });
  }

  /** Leases up to `limit` pending messages that are due and no one holds. */
  async claim(limit: number, now = Date.now()): Promise<ClaimedMessage[]> {
    const { rows, until } = await this.leases.claim(
      {
        where: `q.status = 'pending' AND q.next_attempt_at <= ?`,
        bindings: [now],
        recheck: `status = 'pending'`,
        orderBy: 'q.next_attempt_at',
        limit,
        returning: ['id', 'type', 'channel', '"to"', 'user_id', 'application_id', 'expires_at', 'attempts', 'max_attempts', 'content_enc'],
      },
      now,
    );
    return rows.map((row) => this.#claimed(row, until));
  }

  /** Writes the result of an attempt (only while this process still holds the lease). */
  async settle(message: ClaimedMessage, result: { status: QueueStatus; error: string | null; nextAttemptAt: number | null; attempted: boolean }, now = Date.now()): Promise<number> {
    const done = result.status !== 'pending';
    return this.leases.settle(this.#db, message.id, {
      status: result.status,
      attempts: message.attempts + (result.attempted ? 1 : 0),
      next_attempt_at: result.nextAttemptAt,
      last_error: result.error,
      updated_at: now,
      ...(result.status === 'sent' ? { sent_at: now } : {}),
      // A settled message no longer needs its links and codes.
      ...(done ? { content_enc: null } : {}),
    });
  }

  /** Pending messages that are due now (or held by a lease): the work still to do. */
  async dueCount(now = Date.now()): Promise<number> {
    const row = await this.#db('message_queue').where({ status: 'pending' }).where('next_attempt_at', '<=', now).count({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  /** The newest entries first, optionally for one recipient or in one status. */
  async list(filter: { to?: string | null; status?: QueueStatus | null; limit: number }): Promise<QueueEntry[]> {
    const query = this.#db('message_queue')
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id' }])
      .limit(filter.limit);
    if (filter.to) query.whereRaw('lower("to") = ?', [filter.to.trim().toLowerCase()]);
    if (filter.status) query.where({ status: filter.status });
    return (await query).map((row: Row) => ({
      id: String(row.id),
      type: String(row.type),
      channel: row.channel as Channel,
      to: String(row.to),
      status: row.status as QueueStatus,
      user_id: (row.user_id as string | null) ?? null,
      application_id: (row.application_id as string | null) ?? null,
      attempts: Number(row.attempts),
      max_attempts: Number(row.max_attempts),
      next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
      expires_at: iso(row.expires_at),
      last_error: (row.last_error as string | null) ?? null,
      sent_at: iso(row.sent_at),
      created_at: iso(row.created_at)!,
      updated_at: iso(row.updated_at)!,
    }));
  }

  /** Settled entries older than `maxAgeMs` go; pending ones never do. */
  async prune(maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.#db('message_queue')
      .whereNot({ status: 'pending' })
      .where('updated_at', '<', now - maxAgeMs)
      .delete();
  }

  #columns(message: QueuedMessage): Row {
    return {
      type: message.type,
      channel: message.channel,
      to: message.to,
      user_id: message.userId,
      application_id: message.applicationId,
      expires_at: message.expiresAt,
    };
  }

  #claimed(row: Row, until: number): ClaimedMessage {
    let content: MessageContent | null = null;
    try {
      content = row.content_enc ? (JSON.parse(this.#box.open(String(row.content_enc))) as MessageContent) : null;
    } catch {
      content = null; // sealed with a key this server no longer has: reported as a failure by the sender
    }
    return {
      id: String(row.id),
      type: row.type as MessageType,
      channel: row.channel as Channel,
      to: String(row.to),
      userId: (row.user_id as string | null) ?? null,
      applicationId: (row.application_id as string | null) ?? null,
      expiresAt: row.expires_at === null || row.expires_at === undefined ? null : Number(row.expires_at),
      attempts: Number(row.attempts),
      maxAttempts: Number(row.max_attempts),
      content,
      leaseUntil: until,
    };
  }
}
