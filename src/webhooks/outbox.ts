// The durable webhook outbox. Every state change other systems care about writes its event here,
// inside the same database transaction as the change, so an event exists if and only if the change
// committed. The dispatcher (dispatcher.ts, with fanout.ts) fans each event out into deliveries and sends them; it is
// woken as soon as the transaction commits, and polls for events written by other processes.
import { randomUUID } from 'node:crypto';
import { toJson } from '../db/knex.ts';
import type { Knex } from 'knex';
import { completeTwin, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './catalog.ts';

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
  await trx('webhook_events').insert({ id, type, data: json, created_at: now });
  if (accepted) await recordPassedDeliveries(trx, accepted);
  // The twin is dated when it is written (as the change commits), not when endpoints were asked.
  if (twin) await trx('webhook_events').insert({ id: newEventId(), type: twin, data: json, created_at: Math.max(now, Date.now()) });
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
