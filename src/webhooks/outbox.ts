// The durable webhook outbox. Every state change other systems care about writes its event here,
// inside the same database transaction as the change, so an event exists if and only if the change
// committed. The dispatcher (dispatcher.ts, with fanout.ts) fans each event out into deliveries and sends them; it is
// woken as soon as the transaction commits, and polls for events written by other processes.
import { randomUUID } from 'node:crypto';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import type { Knex } from 'knex';
import { completeTwin, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './catalog.ts';
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

/**
 * An event that transactional endpoints accepted before its change committed (transactional.ts): it
 * is written with the id, time and body they got, and their deliveries as made, so the fan-out does
 * not send it to them again.
 */
export interface PassedEvent {
  id: string;
  type: WebhookEventType;
  createdAt: number;
  /** `data` as the endpoints got it (JSON). */
  data: string;
  deliveries: Array<{ endpointId: string; statusCode: number; latencyMs: number; response: string | null; at: number }>;
}

export function newEventId(): string {
  return `evt_${randomUUID().replaceAll('-', '')}`;
}

/**
 * Writes one event, and its `.complete` twin when the catalog gives it one (the same data, delivered
 * after the commit like every event); `trx` must be the transaction of the change itself. `passed`:
 * the event as transactional endpoints accepted it before the commit. Returns the event id.
 */
export async function recordEvent(trx: Knex | Knex.Transaction, type: WebhookEventType, data: Record<string, unknown>, passed?: PassedEvent | null): Promise<string> {
  const twin = completeTwin(type);
  if (twin && !(trx as Knex.Transaction).isTransaction) return (trx as Knex).transaction((tx) => recordEvent(tx, type, data, passed));
  const accepted = passed && passed.type === type ? passed : null;
  const id = accepted?.id ?? newEventId();
  const now = accepted?.createdAt ?? Date.now();
  const json = accepted?.data ?? toJson(data);
  const userId = userIdOf(data);
  await trx('webhook_events').insert({ id, type, data: json, user_id: userId, created_at: now });
  if (accepted) await recordPassedDeliveries(trx, accepted);
  // The twin is dated when it is written (as the change commits), not when endpoints were asked.
  if (twin) await trx('webhook_events').insert({ id: newEventId(), type: twin, data: json, user_id: userId, created_at: Math.max(now, Date.now()) });
  const transaction = trx as Knex.Transaction;
  if (transaction.isTransaction && transaction.executionPromise) {
    // Wake the dispatcher once the change is committed (nothing to deliver if it rolls back).
    transaction.executionPromise.then(
      () => {
        notifyOutbox('event', type);
        if (twin) notifyOutbox('event', twin);
      },
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
 * Writes an event of a type that has a `.complete` twin (CONTRACT §6: "the final state … is
 * persisted"): recordEvent writes both in the change's transaction, so the twin always follows the
 * commit. `passed`: the events transactional endpoints accepted before it. Returns the event's id.
 */
export function recordWithComplete(trx: Knex | Knex.Transaction, type: CompletableEventType, data: Record<string, unknown>, passed: ReadonlyArray<PassedEvent | null> = []): Promise<string> {
  return recordEvent(trx, type, data, passed.find((event) => event?.type === type) ?? null);
}

/** The deliveries transactional endpoints answered 2xx before the commit, as the dispatcher would log them. */
async function recordPassedDeliveries(trx: Knex | Knex.Transaction, passed: PassedEvent): Promise<void> {
  for (const delivery of passed.deliveries) {
    const deliveryId = `whd_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    await trx('webhook_deliveries').insert({
      id: deliveryId,
      event_id: passed.id,
      endpoint_id: delivery.endpointId,
      status: 'delivered',
      attempts: 1,
      max_attempts: 1,
      next_attempt_at: null,
      lease_until: null,
      lease_owner: null,
      last_status: delivery.statusCode,
      last_error: null,
      delivered_at: delivery.at,
      created_at: passed.createdAt,
      updated_at: delivery.at,
    });
    await trx('webhook_attempts').insert({
      delivery_id: deliveryId,
      endpoint_id: delivery.endpointId,
      attempt: 1,
      status_code: delivery.statusCode,
      latency_ms: delivery.latencyMs,
      response: delivery.response,
      error: null,
      next_attempt_at: null,
      created_at: delivery.at,
    });
  }
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
