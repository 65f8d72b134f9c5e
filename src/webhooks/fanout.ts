// Fan-out: pending outbox events (webhook_events.dispatched_at null) become one delivery per matching
// enabled endpoint, and are marked dispatched, in the caller's transaction. The (event, endpoint)
// unique key makes a second fan-out of the same event harmless. An endpoint only gets events created
// after it was. Some new deliveries are leased to this process in the same INSERT, to be sent at once.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Row } from '../db/leases.ts';
import { fromJson } from '../db/knex.ts';
import type { ActiveEndpoint } from './endpoints.ts';
import { chunks, type Claimed, type DeliveryQueue } from './queue.ts';
import { eventApplication, wantsEvent } from './subscriptions.ts';

/** Events taken per fan-out; a full batch means more may be waiting. */
export const FANOUT_BATCH = 500;
const INSERT_CHUNK = 200;

export interface FanOutInput {
  /** The enabled endpoints, as of this transaction. */
  endpoints: readonly ActiveEndpoint[];
  queue: DeliveryQueue;
  /** How many of the new deliveries to lease to this process. */
  room: number;
  maxAttempts: number;
  /** PostgreSQL: events another process is fanning out are skipped (FOR UPDATE SKIP LOCKED). */
  skipLocked: boolean;
  now: number;
}

export interface FanOutResult {
  /** Events taken (dispatched). */
  taken: number;
  /** New deliveries leased to this process, with their events. */
  leased: Claimed[];
  /** Some new deliveries were left for a claim (no room to lease them). */
  unleased: boolean;
}

export async function fanOut(trx: Knex.Transaction, input: FanOutInput): Promise<FanOutResult> {
  const { endpoints, queue, room, maxAttempts, now } = input;
  if (endpoints.length === 0) {
    // Nothing to fan out to: mark what happened so far dispatched in one statement (an endpoint
    // created from now on only gets later events anyway).
    await trx('webhook_events').whereNull('dispatched_at').andWhere('created_at', '<=', now).update({ dispatched_at: now });
    return { taken: 0, leased: [], unleased: false };
  }
  const query = trx('webhook_events').whereNull('dispatched_at').andWhere('created_at', '<=', now).orderBy('created_at').limit(FANOUT_BATCH).select('id', 'type', 'data', 'created_at');
  if (input.skipLocked) query.forUpdate().skipLocked();
  const events: Row[] = await query;
  if (events.length === 0) return { taken: 0, leased: [], unleased: false };
  const rows: Row[] = [];
  const leased: Claimed[] = [];
  let unleased = false;
  // The event's application is read from its data only when some endpoint filters by application.
  const byApplication = endpoints.some((endpoint) => endpoint.applications !== null);
  for (const event of events) {
    const createdAt = Number(event.created_at);
    const applicationId = byApplication ? eventApplication(fromJson<unknown>(event.data, null)) : null;
    for (const endpoint of endpoints) {
      // An endpoint gets the events that happened after it was created.
      if (endpoint.createdAt > createdAt || !wantsEvent(endpoint, String(event.type), applicationId)) continue;
      const id = `whd_${randomBytes(12).toString('hex')}`;
      const lease = leased.length < room;
      const held = queue.leases.fresh(now, lease);
      rows.push({
        id,
        event_id: event.id,
        endpoint_id: endpoint.id,
        status: 'pending',
        attempts: 0,
        max_attempts: maxAttempts,
        next_attempt_at: now,
        ...held,
        last_status: null,
        last_error: null,
        delivered_at: null,
        created_at: now,
        updated_at: now,
      });
      if (lease) leased.push({ id, eventId: String(event.id), endpointId: endpoint.id, attempts: 0, maxAttempts, event, leaseUntil: now + queue.leases.leaseMs });
      else unleased = true;
    }
  }
  const inserted = new Set<string>();
  for (const chunk of chunks(rows, INSERT_CHUNK)) {
    const result = await trx('webhook_deliveries').insert(chunk).onConflict(['event_id', 'endpoint_id']).ignore().returning('id');
    for (const row of result as Array<{ id: string } | string>) inserted.add(typeof row === 'string' ? row : row.id);
  }
  await trx('webhook_events')
    .whereIn(
      'id',
      events.map((e) => String(e.id)),
    )
    .update({ dispatched_at: now });
  // A delivery that existed already (the event was fanned out before) is not ours to send.
  return { taken: events.length, leased: leased.filter((d) => inserted.has(d.id)), unleased };
}
