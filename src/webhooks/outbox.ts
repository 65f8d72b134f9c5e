// The durable webhook outbox. Every state change other systems care about writes its event here,
// inside the same database transaction as the change, so an event exists if and only if the change
// committed. The dispatcher (dispatcher.ts, with fanout.ts) fans each event out into deliveries and sends them; it is
// woken as soon as the transaction commits, and polls for events written by other processes.
import { randomUUID } from 'node:crypto';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import type { Knex } from 'knex';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './catalog.ts';
import { userIdOf } from '../hooks/redact.ts';

export { WEBHOOK_EVENT_TYPES, type WebhookEventType };

/**
 * What woke the dispatcher: a new event (of `type`), a delivery made due by hand (manual retry,
 * re-enable), or an endpoint that changed.
 */
export type OutboxWake = 'event' | 'delivery' | 'endpoint';
export type OutboxListener = (wake: OutboxWake, type?: string) => void;

const listeners = new Set<OutboxListener>();

/** Calls `listener` whenever an event was committed in this process, or a delivery or endpoint changed. */
export function onOutboxWrite(listener: OutboxListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Wakes the dispatchers of this process. */
export function notifyOutbox(wake: OutboxWake, type?: string): void {
  for (const listener of listeners) {
    try {
      listener(wake, type);
    } catch {
      /* a listener never breaks the writer */
    }
  }
}

/** Writes one event; `trx` must be the transaction of the change itself. Returns the event id. */
export async function recordEvent(trx: Knex | Knex.Transaction, type: WebhookEventType, data: Record<string, unknown>): Promise<string> {
  const id = `evt_${randomUUID().replaceAll('-', '')}`;
  await trx('webhook_events').insert({ id, type, data: toJson(data), user_id: userIdOf(data), created_at: Date.now() });
  const transaction = trx as Knex.Transaction;
  if (transaction.isTransaction && transaction.executionPromise) {
    // Wake the dispatcher once the change is committed (nothing to deliver if it rolls back).
    transaction.executionPromise.then(
      () => notifyOutbox('event', type),
      () => {},
    );
  } else {
    notifyOutbox('event', type);
  }
  return id;
}

/** The types that have a `.complete` twin in the catalog. */
export type CompletableEventType = {
  [K in WebhookEventType]: `${K}.complete` extends WebhookEventType ? K : never;
}[WebhookEventType];

/**
 * Writes an event and its `.complete` twin (CONTRACT §6: "the final state … is persisted"), both in
 * the change's transaction: the outbox delivers only what committed, so the twin always follows the
 * commit. Returns the event's id.
 */
export async function recordWithComplete(trx: Knex | Knex.Transaction, type: CompletableEventType, data: Record<string, unknown>): Promise<string> {
  const id = await recordEvent(trx, type, data);
  await recordEvent(trx, `${type}.complete` as WebhookEventType, data);
  return id;
}

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/** One outbox event, as GET /admin/api/webhook-events answers it. */
export interface WebhookEventView {
  id: string;
  type: string;
  user_id: string | null;
  data: Record<string, unknown>;
  created_at: string;
  /** When it was fanned out into deliveries (null: not yet). */
  dispatched_at: string | null;
}

/** The newest events, optionally of one user (events written before the user was kept have none) and one type. */
export async function listWebhookEvents(db: Db, options: { userId?: string; type?: string; limit: number; offset: number }): Promise<WebhookEventView[]> {
  const query = db('webhook_events').orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).offset(options.offset);
  if (options.userId) query.where({ user_id: options.userId });
  if (options.type) query.where({ type: options.type });
  return (await query).map((row) => ({
    id: String(row.id),
    type: String(row.type),
    user_id: row.user_id ? String(row.user_id) : null,
    data: fromJson<Record<string, unknown>>(row.data, {}),
    created_at: new Date(Number(row.created_at)).toISOString(),
    dispatched_at: row.dispatched_at == null ? null : new Date(Number(row.dispatched_at)).toISOString(),
  }));
}
