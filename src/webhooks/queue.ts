// The delivery queue (webhook_deliveries) as the dispatcher works it: due deliveries leased to this
// process with their events (src/db/leases.ts), and the attempts' results written back, each only by
// the lease's holder, with the delivery log (webhook_attempts).
import type { Knex } from 'knex';
import { isPostgres, type Db } from '../db/knex.ts';
import { LeaseQueue, type Row } from '../db/leases.ts';
import type { OutcomeKind } from './retry.ts';

const INSERT_CHUNK = 200;
const UPDATE_CHUNK = 500;

/** A delivery leased to this process. */
export interface Claimed {
  id: string;
  eventId: string;
  endpointId: string;
  attempts: number;
  maxAttempts: number;
  /** The event row (id, type, data, created_at); undefined when it no longer exists. */
  event: Row | undefined;
  /** Until when this process holds it. */
  leaseUntil: number;
}

/** A judged attempt, waiting to be written. */
export interface Outcome {
  delivery: Claimed;
  kind: OutcomeKind;
  statusCode: number | null;
  latencyMs: number;
  response: string | null;
  error: string | null;
  nextAttemptAt: number | null;
  at: number;
  eventCreatedAt: number | null;
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class DeliveryQueue {
  readonly #db: Db;
  readonly #pg: boolean;
  readonly leases: LeaseQueue;

  constructor(db: Db, leaseMs: number) {
    this.#db = db;
    this.#pg = isPostgres(db);
    this.leases = new LeaseQueue(db, { table: 'webhook_deliveries', until: 'lease_until', owner: 'lease_owner' }, leaseMs);
  }

  /** SQLite: one dispatcher per database, so any lease left is from a process that died. Frees them. */
  releaseLeftovers(): Promise<number> {
    return this.leases.releaseAll({ status: 'pending' });
  }

  /** Leases up to `limit` due deliveries of enabled endpoints to this process, with their events. */
  async claim(limit: number): Promise<Claimed[]> {
    const now = Date.now();
    const { rows, until } = await this.leases.claim(
      {
        join: 'JOIN webhook_endpoints e ON e.id = q.endpoint_id',
        where: `q.status = 'pending' AND q.next_attempt_at <= ? AND e.enabled = ?`,
        bindings: [now, this.#pg ? true : 1],
        recheck: `status = 'pending'`,
        orderBy: 'q.next_attempt_at',
        limit,
        returning: ['id', 'event_id', 'endpoint_id', 'attempts', 'max_attempts'],
      },
      now,
    );
    if (rows.length === 0) return [];
    const events = new Map<string, Row>();
    for (const ids of chunks([...new Set(rows.map((row) => String(row.event_id)))], UPDATE_CHUNK)) {
      for (const row of await this.#db('webhook_events').whereIn('id', ids).select('id', 'type', 'data', 'created_at')) events.set(String(row.id), row);
    }
    return rows.map((row) => ({
      id: String(row.id),
      eventId: String(row.event_id),
      endpointId: String(row.endpoint_id),
      attempts: Number(row.attempts),
      maxAttempts: Number(row.max_attempts),
      event: events.get(String(row.event_id)),
      leaseUntil: until,
    }));
  }

  /**
   * Writes a batch of results inside `trx`: released leases freed, every attempt logged, deliveries
   * delivered (grouped into a few UPDATEs), retried, failed; an endpoint that answered 410 disabled.
   * Answers the endpoints disabled.
   */
  async record(trx: Knex.Transaction, batch: readonly Outcome[]): Promise<string[]> {
    const attempts: Row[] = [];
    const gone: string[] = [];
    const delivered = new Map<string, Outcome[]>();
    for (const outcome of batch) {
      const { delivery } = outcome;
      if (outcome.kind === 'released') {
        await this.leases.settle(trx, delivery.id);
        continue;
      }
      const attempt = delivery.attempts + 1;
      attempts.push({
        delivery_id: delivery.id,
        endpoint_id: delivery.endpointId,
        attempt,
        status_code: outcome.statusCode,
        latency_ms: outcome.latencyMs,
        response: outcome.response,
        error: outcome.error,
        next_attempt_at: outcome.nextAttemptAt,
        created_at: outcome.at,
      });
      if (outcome.kind === 'delivered') {
        const key = String(outcome.statusCode);
        if (!delivered.has(key)) delivered.set(key, []);
        delivered.get(key)!.push(outcome);
        continue;
      }
      await this.leases.settle(trx, delivery.id, {
        status: outcome.kind === 'retry' ? 'pending' : 'failed',
        attempts: attempt,
        next_attempt_at: outcome.nextAttemptAt,
        last_status: outcome.statusCode,
        last_error: outcome.error,
        updated_at: outcome.at,
      });
      if (outcome.kind === 'gone') {
        await trx('webhook_endpoints')
          .where({ id: delivery.endpointId, enabled: true })
          .update({
            enabled: false,
            disabled_reason: `answered 410 Gone on ${new Date(outcome.at).toISOString()}`,
            updated_at: outcome.at,
          });
        gone.push(delivery.endpointId);
      }
    }
    for (const group of delivered.values()) {
      const first = group[0]!;
      const at = Math.max(...group.map((o) => o.at));
      for (const ids of chunks(
        group.map((o) => o.delivery.id),
        UPDATE_CHUNK,
      )) {
        await this.leases.settle(trx, ids, {
          status: 'delivered',
          attempts: trx.raw('attempts + 1'),
          next_attempt_at: null,
          last_status: first.statusCode,
          last_error: null,
          delivered_at: at,
          updated_at: at,
        });
      }
    }
    for (const chunk of chunks(attempts, INSERT_CHUNK)) await trx('webhook_attempts').insert(chunk);
    return gone;
  }
}
