// The webhook dispatcher's loop: expands outbox events into deliveries and sends them, signed, at
// least once. Its parts: fanout.ts (events → deliveries), queue.ts (leasing deliveries and writing
// results back, through src/db/leases.ts), transport.ts (the address check and the POST), retry.ts
// (judging an answer, the retry delays).
//
// Work goes in rounds (at most one every ROUND_GAP_MS; woken as soon as a change commits in this
// process, and by a poll for the others'), each one database transaction that writes the results
// gathered since the last round and fans out new events; new deliveries are leased in the same
// INSERT and sent at once. Due deliveries no one holds (retries, manual retries, a dead process's
// leftovers) are then claimed. A delivery is sent only by the process holding its lease, and only if
// the lease outlasts the request, so no row is sent twice within a lease. A process that dies leaves
// its leases to run out (on SQLite, where one dispatcher runs per database, the next start releases
// them at once).
// Sends run with bounded concurrency; leases are taken a few per free slot ahead, so a slot that
// frees is refilled at once. A refused address is the attempt's error, retried like any failure (an
// operator who lists the host in WEBHOOK_ALLOWED_HOSTS, or a name that resolves outside again, lets
// the retries through). Results: delivered; retried later (growing delays with jitter, or the
// receiver's Retry-After); failed after the last attempt (the dead letter, retried by hand through
// the admin API); 410 Gone disables the endpoint. Every attempt goes to the delivery log.
// An event no enabled endpoint wants does not wake the dispatcher: the next poll marks it dispatched.
import type { Config } from '../config.ts';
import { isPostgres, type Db } from '../db/knex.ts';
import { logEvent } from '../event-log.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { ActiveEndpoint, WebhookEndpointStore } from './endpoints.ts';
import { fanOut, FANOUT_BATCH } from './fanout.ts';
import { onOutboxWrite } from './outbox.ts';
import { DeliveryQueue, type Claimed, type Outcome } from './queue.ts';
import { classify, noAnswer, RELEASED, type Answer } from './retry.ts';
import { signatureHeaders } from './signing.ts';
import { matchesType } from './subscriptions.ts';
import { WebhookTargets } from './targets.ts';
import { WebhookTransport, type Flight } from './transport.ts';

const OUTCOME_BATCH = 1000;
/** Deliveries leased per free slot: the ready queue refills slots between rounds. */
const LEASE_AHEAD = 4;
/** A queued delivery is sent only if its lease outlasts the request by this much. */
const LEASE_MARGIN_MS = 1000;
/**
 * Rounds (write the results gathered, fan out new events, claim) start at most this often, so changes
 * made close together travel together and a busy SQLite connection is not flooded with small writes.
 */
const ROUND_GAP_MS = 10;

export interface DispatcherDeps {
  db: Db;
  store: WebhookEndpointStore;
  log: Logger;
  settings: Config['webhooks'];
  metrics?: Metrics;
  /** Where URLs may go; by default built from settings.allowedHosts with the system resolver. */
  targets?: WebhookTargets;
}

export class WebhookDispatcher {
  readonly #deps: DispatcherDeps;
  readonly #pg: boolean;
  /** Leases and results; a row is written back only by the process that leased it. */
  readonly #queue: DeliveryQueue;
  readonly #transport: WebhookTransport;
  #endpoints = new Map<string, ActiveEndpoint>();
  /** The event patterns the enabled endpoints want, as of the last round; null before the first. */
  #wanted: Set<string> | null = null;
  /** Leased to this process, waiting for a free slot. */
  #ready: Claimed[] = [];
  readonly #inflight = new Map<string, Flight & { done: Promise<void> }>();
  #outcomes: Outcome[] = [];
  #pumping: Promise<void> | null = null;
  #pumpAgain = false;
  #roundTimer: NodeJS.Timeout | null = null;
  #lastRound = 0;
  /** There may be due deliveries no one holds (retries, another process's leftovers): claim some. */
  #backlog = true;
  #pollTimer: NodeJS.Timeout | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #wakeAt = Infinity;
  #unsubscribe: (() => void) | null = null;
  #stopped = true;
  /** Event log entries of failed deliveries being written (stop waits for them). */
  readonly #logging = new Set<Promise<void>>();

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#pg = isPostgres(deps.db);
    this.#queue = new DeliveryQueue(deps.db, deps.settings.leaseMs);
    this.#transport = new WebhookTransport(deps.settings, deps.targets ?? new WebhookTargets(deps.settings.allowedHosts));
  }

  /** Starts delivering: woken by every outbox write of this process, and polling for the others'. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (!this.#pg) {
      const released = await this.#queue.releaseLeftovers();
      if (released) this.#deps.log.info({ released }, 'webhook deliveries of a previous run released');
    }
    this.#unsubscribe = onOutboxWrite((wake, type) => {
      // An event no enabled endpoint wants waits for the next poll round, which marks it dispatched:
      // recording it costs the change one INSERT and nothing more. (An endpoint created by another
      // process is learnt at that round too; the events it wants are still there to fan out.)
      if (wake === 'event' && type && this.#wanted && !matchesType(this.#wanted, type)) return;
      this.kick(wake !== 'event');
    });
    this.#pollTimer = setInterval(() => this.kick(true), this.#deps.settings.pollMs);
    this.#pollTimer.unref();
    this.kick(true);
  }

  /**
   * Stops: no new claims; deliveries in flight get `graceMs` to finish, the rest are aborted and their
   * leases released (the receiver may have had them: a duplicate, never a loss); results are written.
   */
  async stop(graceMs = 1000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    if (this.#roundTimer) clearTimeout(this.#roundTimer);
    await this.#pumping;
    for (const delivery of this.#ready.splice(0)) this.#outcomes.push(this.#outcome(delivery, null, 0, RELEASED));
    const pending = [...this.#inflight.values()].map((f) => f.done);
    if (pending.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(pending),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const flight of this.#inflight.values()) flight.abort();
      await Promise.allSettled([...this.#inflight.values()].map((f) => f.done));
    }
    await this.#writeOutcomes();
    await Promise.allSettled([...this.#logging]);
    this.#transport.close();
  }

  /**
   * Looks for work: new events at once (rounds at most every ROUND_GAP_MS, so changes made close
   * together travel in one batch); with `claim`, also due deliveries no one holds.
   */
  kick(claim = false): void {
    if (claim) this.#backlog = true;
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (this.#roundTimer) return;
    const wait = this.#lastRound + ROUND_GAP_MS - Date.now();
    if (wait > 0) {
      this.#roundTimer = setTimeout(() => {
        this.#roundTimer = null;
        this.kick();
      }, wait);
      return;
    }
    this.#pumping = this.#pump()
      .catch((err) => {
        this.#backlog = true;
        this.#deps.log.error({ err }, 'webhook dispatcher failed; retrying at the next poll');
      })
      .finally(() => {
        this.#pumping = null;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.kick();
        }
      });
  }

  /** Deliveries in flight in this process. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  async #pump(): Promise<void> {
    const { concurrency } = this.#deps.settings;
    while (!this.#stopped) {
      this.#lastRound = Date.now();
      const outcomes = this.#outcomes.splice(0, OUTCOME_BATCH);
      // Leases are taken ahead of the free slots: a slot that frees is refilled from the ready queue
      // at once, without waiting for a round (rounds wait their turn on a busy database).
      let room = concurrency * LEASE_AHEAD - this.#inflight.size - this.#ready.length;
      let round: { taken: number; leased: Claimed[] };
      try {
        round = await this.#deps.db.transaction(async (trx) => {
          if (outcomes.length) this.#forget(await this.#queue.record(trx, outcomes));
          const now = Date.now();
          const endpoints = await this.#deps.store.activeEndpoints(now, trx);
          this.#endpoints = new Map(endpoints.map((e) => [e.id, e]));
          this.#wanted = new Set(endpoints.flatMap((e) => [...e.events]));
          const result = await fanOut(trx, {
            endpoints,
            queue: this.#queue,
            room,
            maxAttempts: this.#deps.settings.retryScheduleMs.length + 1,
            skipLocked: this.#pg,
            now,
          });
          if (result.unleased) this.#backlog = true;
          return result;
        });
      } catch (err) {
        this.#outcomes.unshift(...outcomes);
        throw err;
      }
      if (outcomes.length) this.#observe(outcomes);
      this.#enqueue(round.leased);
      room -= round.leased.length;
      if (this.#backlog && room > 0) {
        const claimed = await this.#queue.claim(room);
        this.#backlog = claimed.length === room;
        if (claimed.some((delivery) => !this.#endpoints.has(delivery.endpointId))) {
          // Fanned out by another process to an endpoint this one has not loaded yet.
          this.#endpoints = new Map((await this.#deps.store.activeEndpoints()).map((e) => [e.id, e]));
        }
        this.#enqueue(claimed);
      }
      // Round again while events or results are left; completions and new events wake us otherwise.
      if (round.taken < FANOUT_BATCH && this.#outcomes.length < OUTCOME_BATCH) return;
    }
  }

  /** Queues leased deliveries and starts as many as there are free slots. */
  #enqueue(batch: Claimed[]): void {
    this.#ready.push(...batch);
    this.#launchReady();
  }

  /** Fills the free slots from the ready queue; each result is queued for the next round to write. */
  #launchReady(): void {
    const { concurrency, timeoutMs } = this.#deps.settings;
    while (this.#inflight.size < concurrency && this.#ready.length && !this.#stopped) {
      const delivery = this.#ready.shift()!;
      if (Date.now() + timeoutMs + LEASE_MARGIN_MS > delivery.leaseUntil) {
        // Its lease could run out mid-request, and another process take it: give it back unsent.
        this.#outcomes.push(this.#outcome(delivery, null, 0, RELEASED));
        this.#backlog = true;
        continue;
      }
      const endpoint = this.#endpoints.get(delivery.endpointId);
      const flight = { abort: () => {}, done: Promise.resolve() };
      flight.done = this.#attempt(delivery, endpoint, flight)
        .catch((err): Outcome => {
          this.#deps.log.error({ err, delivery_id: delivery.id }, 'webhook attempt crashed');
          return this.#outcome(delivery, null, 0, noAnswer('internal error'));
        })
        .then((outcome) => {
          this.#inflight.delete(delivery.id);
          this.#outcomes.push(outcome);
          this.#launchReady();
          this.kick(); // the next round writes the result
        });
      this.#inflight.set(delivery.id, flight);
    }
  }

  async #attempt(delivery: Claimed, endpoint: ActiveEndpoint | undefined, flight: Flight): Promise<Outcome> {
    const { event } = delivery;
    if (!event) return { ...this.#outcome(delivery, null, 0, noAnswer('the event no longer exists')), kind: 'failed', nextAttemptAt: null };
    const eventCreatedAt = Number(event.created_at);
    // Disabled or deleted since the claim: leave the row as it is (the claim skips disabled endpoints).
    if (!endpoint) return this.#outcome(delivery, eventCreatedAt, 0, RELEASED);
    const body = `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"created_at":${JSON.stringify(new Date(eventCreatedAt).toISOString())},"data":${String(event.data)}}`;
    const started = performance.now();
    const answer = await this.#transport.send(endpoint.url, body, signatureHeaders(endpoint.keys, String(event.id), body), flight, started);
    return this.#outcome(delivery, eventCreatedAt, Math.round(performance.now() - started), answer);
  }

  /** The answer judged (retry.ts), ready to be written. */
  #outcome(delivery: Claimed, eventCreatedAt: number | null, latencyMs: number, answer: Answer): Outcome {
    const now = Date.now();
    const verdict = classify(answer, delivery, this.#deps.settings.retryScheduleMs, now);
    return {
      delivery,
      kind: verdict.kind,
      statusCode: answer.statusCode,
      latencyMs,
      response: answer.response,
      error: verdict.error,
      nextAttemptAt: verdict.nextAttemptAt,
      at: now,
      eventCreatedAt,
    };
  }

  /** Endpoints disabled by a 410 Gone leave the cache at once. */
  #forget(gone: string[]): void {
    for (const id of gone) {
      this.#endpoints.delete(id);
      this.#deps.log.warn({ endpoint_id: id }, 'webhook endpoint answered 410 Gone: disabled');
    }
  }

  /** Writes the results gathered so far (used on stop; rounds write them otherwise). */
  async #writeOutcomes(): Promise<void> {
    while (this.#outcomes.length) {
      const batch = this.#outcomes.splice(0, OUTCOME_BATCH);
      try {
        this.#forget(await this.#deps.db.transaction((trx) => this.#queue.record(trx, batch)));
      } catch (err) {
        // The leases run out and the deliveries are attempted again: a duplicate, never a loss.
        this.#deps.log.error({ err, count: batch.length }, 'webhook results could not be written');
        return;
      }
      this.#observe(batch);
    }
  }

  #observe(batch: Outcome[]): void {
    const { metrics, log } = this.#deps;
    let wake = Infinity;
    for (const outcome of batch) {
      if (outcome.kind === 'released') continue;
      metrics?.webhookAttempts.inc({ outcome: outcome.kind });
      metrics?.webhookAttemptDuration.observe(outcome.latencyMs / 1000);
      if (outcome.kind === 'delivered' && outcome.eventCreatedAt !== null) metrics?.webhookLag.observe((outcome.at - outcome.eventCreatedAt) / 1000);
      if (outcome.kind === 'retry' && outcome.nextAttemptAt !== null) wake = Math.min(wake, outcome.nextAttemptAt);
      if (outcome.kind === 'failed') {
        log.warn({ delivery_id: outcome.delivery.id, endpoint_id: outcome.delivery.endpointId, error: outcome.error }, 'webhook delivery failed for good (dead letter)');
        this.#logFailed(outcome);
      }
    }
    if (wake !== Infinity) this.#scheduleWake(wake);
  }

  /**
   * The event log's entry for a delivery failed after its last attempt. A failed event-log.create is
   * not logged again: its entry would be another event-log.create to the same endpoint, and so on.
   */
  #logFailed(outcome: Outcome): void {
    const { delivery } = outcome;
    const type = delivery.event ? String(delivery.event.type) : null;
    if (type === 'event-log.create') return;
    const details = { delivery_id: delivery.id, endpoint_id: delivery.endpointId, event_id: delivery.eventId, event_type: type, attempts: delivery.attempts + 1, error: outcome.error };
    const message = `webhook delivery ${delivery.id} (${type ?? 'unknown event'}) to ${delivery.endpointId} failed after its last attempt: ${outcome.error ?? 'no answer'}`;
    const writing: Promise<void> = logEvent(this.#deps.db, 'webhook.failed', message, details).then(
      () => {},
      (err) => this.#deps.log.error({ err, delivery_id: delivery.id }, 'the event log entry of a failed delivery could not be written'),
    );
    this.#logging.add(writing);
    writing.finally(() => this.#logging.delete(writing));
  }

  /** Wakes at a retry's time (the poll would find it too, later). */
  #scheduleWake(at: number): void {
    if (this.#stopped || at >= this.#wakeAt) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeTimer = null;
        this.#wakeAt = Infinity;
        this.kick();
      },
      Math.max(0, at - Date.now()) + 5,
    );
    this.#wakeTimer.unref();
  }
}
