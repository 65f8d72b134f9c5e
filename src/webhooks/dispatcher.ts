// The webhook dispatcher: expands outbox events into deliveries (one per matching enabled endpoint)
// and sends them, signed, at least once.
//
// Work goes in rounds (at most one every ROUND_GAP_MS; woken as soon as a change commits in this
// process, and by a poll for the others'), each one database transaction that writes the results
// gathered since the last round and fans out new events:
// - Fan-out: pending events (webhook_events.dispatched_at null) become webhook_deliveries rows, and
//   the events are marked dispatched; the (event, endpoint) unique key makes a second fan-out of the
//   same event harmless. An endpoint only gets events created after it was. New deliveries are
//   leased to this process in the same INSERT and sent at once.
// - Claim: due deliveries no one holds (retries, manual retries, a dead process's leftovers) are
//   leased with one conditional UPDATE ... RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL, so several
//   processes never block on or take the same rows). A delivery is sent only by the process holding
//   its lease, and only if the lease outlasts the request, so no row is sent twice within a lease. A
//   process that dies leaves its leases to run out (on SQLite, where one dispatcher runs per database,
//   the next start releases them at once).
// - Send: POST with a timeout, no redirects followed, bounded concurrency, keep-alive connections.
//   Leases are taken a few per free slot ahead, so a slot that frees is refilled at once. Before each
//   attempt the endpoint's host is resolved and checked against the address policy (targets.ts); a
//   refused address is the attempt's error, retried like any failure (an operator who lists the host
//   in WEBHOOK_ALLOWED_HOSTS, or a name that resolves outside again, lets the retries through), and
//   nothing is connected. New connections are pinned to the addresses checked.
// - Record: delivered; retried later (growing delays with jitter, or the receiver's Retry-After);
//   failed after the last attempt (the dead letter, retried by hand through the admin API); 410 Gone
//   disables the endpoint. Every attempt goes to the delivery log.
// An event no enabled endpoint wants does not wake the dispatcher: the next poll marks it dispatched.
import { randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { isPostgres, type Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { matchesEvent, type ActiveEndpoint, type WebhookEndpointStore } from './endpoints.ts';
import { onOutboxWrite } from './outbox.ts';
import { signatureHeaders } from './signing.ts';
import { WebhookTargets, type TargetCheck } from './targets.ts';
import { bareHostname } from '../net/address-policy.ts';
import { pinnedLookup } from '../net/resolve-target.ts';

const FANOUT_BATCH = 500;
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
const INSERT_CHUNK = 200;
const RESPONSE_READ_MAX = 64 * 1024;
const RESPONSE_LOG_MAX = 1024;
const ERROR_LOG_MAX = 500;
const RETRY_AFTER_MAX_MS = 86_400_000;
const JITTER = 0.2;
const USER_AGENT = 'Tessera-Webhooks/1.0';

export interface DispatcherDeps {
  db: Db;
  store: WebhookEndpointStore;
  log: Logger;
  settings: Config['webhooks'];
  metrics?: Metrics;
  /** Where URLs may go; by default built from settings.allowedHosts with the system resolver. */
  targets?: WebhookTargets;
}

/** An endpoint URL, parsed once: its request options, and whether its host is an IP literal (no DNS). */
interface Target {
  url: URL;
  secure: boolean;
  literal: boolean;
  options: http.RequestOptions & { hostname: string };
}

interface Claimed {
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

type OutcomeKind = 'delivered' | 'retry' | 'failed' | 'gone' | 'released';

interface Outcome {
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

interface Answer {
  statusCode: number | null;
  retryAfterMs: number | null;
  response: string | null;
  error: string | null;
  released: boolean;
}

type Row = Record<string, unknown>;

/** Retry-After: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, RETRY_AFTER_MAX_MS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.min(Math.max(0, date - now), RETRY_AFTER_MAX_MS);
}

/** The delay before the retry after attempt `attempt` (1-based): the schedule's entry, plus 0-20 % jitter. */
export function retryDelay(schedule: number[], attempt: number, random = Math.random): number {
  const base = schedule[Math.min(attempt - 1, schedule.length - 1)] ?? 0;
  return Math.round(base * (1 + JITTER * random()));
}

function cleanText(text: string, max: number): string {
  // PostgreSQL text holds no NUL character.
  return (text.length > max ? `${text.slice(0, max)}…` : text).replaceAll('\u0000', '\uFFFD');
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Deletes what is older than `maxAgeMs`: finished (delivered or failed) deliveries with their log,
 * and dispatched events no delivery refers to any more. Pending deliveries are never pruned.
 */
export async function pruneWebhooks(db: Db, maxAgeMs: number): Promise<{ deliveries: number; events: number }> {
  const cutoff = Date.now() - maxAgeMs;
  const finished = () => db('webhook_deliveries').whereIn('status', ['delivered', 'failed']).where('updated_at', '<', cutoff);
  await db('webhook_attempts').whereIn('delivery_id', finished().select('id')).delete();
  const deliveries = await finished().delete();
  const events = await db('webhook_events').whereNotNull('dispatched_at').where('created_at', '<', cutoff)
    .whereNotExists(db('webhook_deliveries').select(db.raw('1')).whereRaw('webhook_deliveries.event_id = webhook_events.id'))
    .delete();
  return { deliveries, events };
}

export class WebhookDispatcher {
  readonly #deps: DispatcherDeps;
  readonly #pg: boolean;
  /** The lease owner of this dispatcher: a row is written back only by the process that leased it. */
  readonly #owner = `d_${randomBytes(8).toString('hex')}`;
  #endpoints = new Map<string, ActiveEndpoint>();
  /** The event types the enabled endpoints want, as of the last round; null before the first. */
  #wanted: { all: boolean; types: Set<string> } | null = null;
  /** Leased to this process, waiting for a free slot. */
  #ready: Claimed[] = [];
  readonly #inflight = new Map<string, { abort: () => void; done: Promise<void> }>();
  /** Request options per endpoint URL, parsed once. */
  #targets = new Map<string, Target>();
  readonly #policy: WebhookTargets;
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
  readonly #agents: { http: http.Agent; https: https.Agent };

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#pg = isPostgres(deps.db);
    this.#policy = deps.targets ?? new WebhookTargets(deps.settings.allowedHosts);
    const agentOptions = { keepAlive: true, maxSockets: deps.settings.concurrency, maxFreeSockets: Math.min(deps.settings.concurrency, 64), scheduling: 'lifo' as const };
    this.#agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  }

  /** Starts delivering: woken by every outbox write of this process, and polling for the others'. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (!this.#pg) {
      // SQLite: one dispatcher per database, so any lease left is from a process that died.
      const released = await this.#deps.db('webhook_deliveries').where({ status: 'pending' }).whereNotNull('lease_owner')
        .update({ lease_until: null, lease_owner: null });
      if (released) this.#deps.log.info({ released }, 'webhook deliveries of a previous run released');
    }
    this.#unsubscribe = onOutboxWrite((wake, type) => {
      // An event no enabled endpoint wants waits for the next poll round, which marks it dispatched:
      // recording it costs the change one INSERT and nothing more. (An endpoint created by another
      // process is learnt at that round too; the events it wants are still there to fan out.)
      if (wake === 'event' && type && this.#wanted && !this.#wanted.all && !this.#wanted.types.has(type)) return;
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
    for (const delivery of this.#ready.splice(0)) {
      this.#outcomes.push(this.#outcome(delivery, null, 0, { statusCode: null, retryAfterMs: null, response: null, error: null, released: true }));
    }
    const pending = [...this.#inflight.values()].map((f) => f.done);
    if (pending.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(pending), new Promise((resolve) => { timer = setTimeout(resolve, graceMs); })]);
      clearTimeout(timer);
      for (const flight of this.#inflight.values()) flight.abort();
      await Promise.allSettled([...this.#inflight.values()].map((f) => f.done));
    }
    await this.#writeOutcomes();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
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

  /** See pruneWebhooks. */
  prune(maxAgeMs: number): Promise<{ deliveries: number; events: number }> {
    return pruneWebhooks(this.#deps.db, maxAgeMs);
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
          if (outcomes.length) await this.#record(trx, outcomes);
          return this.#fanOut(trx, room);
        });
      } catch (err) {
        this.#outcomes.unshift(...outcomes);
        throw err;
      }
      if (outcomes.length) this.#observe(outcomes);
      this.#enqueue(round.leased);
      room -= round.leased.length;
      if (this.#backlog && room > 0) {
        const claimed = await this.#claim(room);
        this.#backlog = claimed.length === room;
        this.#enqueue(claimed);
      }
      // Round again while events or results are left; completions and new events wake us otherwise.
      if (round.taken < FANOUT_BATCH && this.#outcomes.length < OUTCOME_BATCH) return;
    }
  }

  /**
   * Expands pending events into deliveries and marks them dispatched (inside the round's
   * transaction). Up to `room` of the new deliveries are leased to this process at once and answered,
   * with their event, to be sent right away; the others wait for a claim.
   */
  async #fanOut(trx: Knex.Transaction, room: number): Promise<{ taken: number; leased: Claimed[] }> {
    const { store, settings } = this.#deps;
    const now = Date.now();
    const endpoints = await store.activeEndpoints(now, trx);
    this.#endpoints = new Map(endpoints.map((e) => [e.id, e]));
    this.#wanted = { all: endpoints.some((e) => e.events.has('*')), types: new Set(endpoints.flatMap((e) => [...e.events])) };
    if (endpoints.length === 0) {
      // Nothing to fan out to: mark what happened so far dispatched in one statement (an endpoint
      // created from now on only gets later events anyway).
      await trx('webhook_events').whereNull('dispatched_at').andWhere('created_at', '<=', now).update({ dispatched_at: now });
      return { taken: 0, leased: [] };
    }
    const query = trx('webhook_events').whereNull('dispatched_at').andWhere('created_at', '<=', now)
      .orderBy('created_at').limit(FANOUT_BATCH).select('id', 'type', 'data', 'created_at');
    if (this.#pg) query.forUpdate().skipLocked();
    const events = await query;
    if (events.length === 0) return { taken: 0, leased: [] };
    const rows: Row[] = [];
    const leased: Claimed[] = [];
    const maxAttempts = settings.retryScheduleMs.length + 1;
    for (const event of events) {
      const createdAt = Number(event.created_at);
      for (const endpoint of endpoints) {
        // An endpoint gets the events that happened after it was created.
        if (endpoint.createdAt > createdAt || !matchesEvent(endpoint.events, String(event.type))) continue;
        const id = `whd_${randomBytes(12).toString('hex')}`;
        const lease = leased.length < room;
        rows.push({
          id, event_id: event.id, endpoint_id: endpoint.id, status: 'pending', attempts: 0, max_attempts: maxAttempts,
          next_attempt_at: now, lease_until: lease ? now + settings.leaseMs : null, lease_owner: lease ? this.#owner : null,
          last_status: null, last_error: null, delivered_at: null, created_at: now, updated_at: now,
        });
        if (lease) leased.push({ id, eventId: String(event.id), endpointId: endpoint.id, attempts: 0, maxAttempts, event, leaseUntil: now + settings.leaseMs });
        else this.#backlog = true;
      }
    }
    const inserted = new Set<string>();
    for (const chunk of chunks(rows, INSERT_CHUNK)) {
      const result = await trx('webhook_deliveries').insert(chunk).onConflict(['event_id', 'endpoint_id']).ignore().returning('id');
      for (const row of result as Array<{ id: string } | string>) inserted.add(typeof row === 'string' ? row : row.id);
    }
    await trx('webhook_events').whereIn('id', events.map((e) => String(e.id))).update({ dispatched_at: now });
    // A delivery that existed already (the event was fanned out before) is not ours to send.
    return { taken: events.length, leased: leased.filter((d) => inserted.has(d.id)) };
  }

  /** Leases up to `limit` due deliveries of enabled endpoints to this process, with their events. */
  async #claim(limit: number): Promise<Claimed[]> {
    const { db, settings } = this.#deps;
    const now = Date.now();
    const lock = this.#pg ? 'FOR UPDATE OF d SKIP LOCKED' : '';
    // The conditions are repeated outside the sub-select: a row another process leased meanwhile
    // no longer matches them, so it is never taken twice.
    const sql = `UPDATE webhook_deliveries SET lease_until = ?, lease_owner = ?
      WHERE id IN (
        SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?) AND e.enabled = ?
        ORDER BY d.next_attempt_at LIMIT ? ${lock}
      ) AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)
      RETURNING id, event_id, endpoint_id, attempts, max_attempts`;
    const result = await db.raw(sql, [now + settings.leaseMs, this.#owner, now, now, this.#pg ? true : 1, limit, now]);
    const rows: Row[] = Array.isArray(result) ? result : (result as { rows: Row[] }).rows;
    if (rows.length === 0) return [];
    const events = new Map<string, Row>();
    for (const ids of chunks([...new Set(rows.map((row) => String(row.event_id)))], 500)) {
      for (const row of await db('webhook_events').whereIn('id', ids).select('id', 'type', 'data', 'created_at')) events.set(String(row.id), row);
    }
    if (rows.some((row) => !this.#endpoints.has(String(row.endpoint_id)))) {
      // Fanned out by another process to an endpoint this one has not loaded yet.
      this.#endpoints = new Map((await this.#deps.store.activeEndpoints()).map((e) => [e.id, e]));
    }
    return rows.map((row) => ({
      id: String(row.id), eventId: String(row.event_id), endpointId: String(row.endpoint_id),
      attempts: Number(row.attempts), maxAttempts: Number(row.max_attempts), event: events.get(String(row.event_id)),
      leaseUntil: now + settings.leaseMs,
    }));
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
        this.#outcomes.push(this.#outcome(delivery, null, 0, { statusCode: null, retryAfterMs: null, response: null, error: null, released: true }));
        this.#backlog = true;
        continue;
      }
      const endpoint = this.#endpoints.get(delivery.endpointId);
      const flight = { abort: () => {}, done: Promise.resolve() };
      flight.done = this.#attempt(delivery, endpoint, flight)
        .catch((err): Outcome => {
          this.#deps.log.error({ err, delivery_id: delivery.id }, 'webhook attempt crashed');
          return this.#outcome(delivery, null, 0, { statusCode: null, retryAfterMs: null, response: null, error: 'internal error', released: false });
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

  async #attempt(delivery: Claimed, endpoint: ActiveEndpoint | undefined, flight: { abort: () => void }): Promise<Outcome> {
    const { event } = delivery;
    if (!event) {
      return { ...this.#outcome(delivery, null, 0, { statusCode: null, retryAfterMs: null, response: null, error: 'the event no longer exists', released: false }), kind: 'failed', nextAttemptAt: null };
    }
    const eventCreatedAt = Number(event.created_at);
    if (!endpoint) {
      // Disabled or deleted since the claim: leave the row as it is (the claim skips disabled endpoints).
      return this.#outcome(delivery, eventCreatedAt, 0, { statusCode: null, retryAfterMs: null, response: null, error: null, released: true });
    }
    const body = `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"created_at":${JSON.stringify(new Date(eventCreatedAt).toISOString())},"data":${String(event.data)}}`;
    const started = performance.now();
    const route = await this.#route(endpoint.url, flight);
    const answer = 'answer' in route ? route.answer
      : await this.#post(endpoint.url, route.addresses, body, signatureHeaders(endpoint.keys, String(event.id), body), flight, started);
    const latencyMs = Math.round(performance.now() - started);
    return this.#outcome(delivery, eventCreatedAt, latencyMs, answer);
  }

  #target(url: string): Target {
    let target = this.#targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      const secure = parsed.protocol === 'https:';
      const hostname = bareHostname(parsed.hostname);
      target = {
        url: parsed,
        secure,
        literal: isIP(hostname) !== 0,
        options: {
          protocol: parsed.protocol,
          hostname,
          port: parsed.port || (secure ? 443 : 80),
          path: `${parsed.pathname}${parsed.search}`,
          agent: secure ? this.#agents.https : this.#agents.http,
        },
      };
      if (this.#targets.size > 10_000) this.#targets.clear();
      this.#targets.set(url, target);
    }
    return target;
  }

  /**
   * Resolves the endpoint's host and checks every address before an attempt (within the attempt's
   * time). A refusal or a name that does not resolve is the attempt's answer; nothing is connected.
   */
  async #route(url: string, flight: { abort: () => void }): Promise<{ addresses: LookupAddress[] } | { answer: Answer }> {
    const target = this.#target(url);
    const failure = (error: string): { answer: Answer } => ({ answer: { statusCode: null, retryAfterMs: null, response: null, error: cleanText(error, ERROR_LOG_MAX), released: false } });
    const judge = (check: TargetCheck) => check.ok ? { addresses: check.addresses }
      : failure(check.kind === 'refused' ? `refused (not connected): ${check.message}` : check.message);
    // An IP literal needs no DNS: no timer, no abort.
    if (target.literal) return judge(await this.#policy.check(target.url));
    const { timeoutMs } = this.#deps.settings;
    const controller = new AbortController();
    let stopping = false;
    flight.abort = () => {
      stopping = true;
      controller.abort();
    };
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      return judge(await this.#policy.check(target.url, controller.signal));
    } catch (err) {
      if (!controller.signal.aborted) throw err;
      if (stopping) return { answer: { statusCode: null, retryAfterMs: null, response: null, error: null, released: true } };
      return failure(`timeout: ${target.options.hostname} was not resolved within ${timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Classifies an answer: delivered, retried (when and why), failed for good, or endpoint gone. */
  #outcome(delivery: Claimed, eventCreatedAt: number | null, latencyMs: number, answer: Answer): Outcome {
    const now = Date.now();
    const base = { delivery, statusCode: answer.statusCode, latencyMs, response: answer.response, error: answer.error, at: now, eventCreatedAt };
    if (answer.released) return { ...base, kind: 'released', nextAttemptAt: null };
    const code = answer.statusCode;
    if (code !== null && code >= 200 && code < 300) return { ...base, kind: 'delivered', nextAttemptAt: null };
    if (code === 410) return { ...base, kind: 'gone', nextAttemptAt: null, error: answer.error ?? 'the endpoint answered 410 Gone: it is disabled' };
    const attempt = delivery.attempts + 1;
    if (attempt >= delivery.maxAttempts) return { ...base, kind: 'failed', nextAttemptAt: null };
    const delay = answer.retryAfterMs ?? retryDelay(this.#deps.settings.retryScheduleMs, attempt);
    return { ...base, kind: 'retry', nextAttemptAt: now + delay };
  }

  /**
   * One POST: no redirects followed, a wall-time limit (counted from `started`, so the DNS step is
   * inside it), the answer's body read up to a bound. A new connection goes to `addresses`, the ones
   * checked; a kept-alive one was opened to addresses checked under the same policy.
   */
  #post(url: string, addresses: LookupAddress[], body: string, signature: Record<string, string>, flight: { abort: () => void }, started: number): Promise<Answer> {
    const { timeoutMs } = this.#deps.settings;
    const { secure, literal, options } = this.#target(url);
    return new Promise<Answer>((resolve) => {
      let settled = false;
      let timedOut = false;
      let released = false;
      const finish = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const failure = (err: Error): Answer => {
        if (released) return { statusCode: null, retryAfterMs: null, response: null, error: null, released: true };
        const error = timedOut ? `timeout: no complete answer within ${timeoutMs} ms` : `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`;
        return { statusCode: null, retryAfterMs: null, response: null, error: cleanText(error, ERROR_LOG_MAX), released: false };
      };
      const request = (secure ? https : http).request({
        ...options,
        ...(literal ? {} : { lookup: pinnedLookup(addresses) as never }),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': USER_AGENT,
          ...signature,
        },
      }, (response) => {
        const parts: Buffer[] = [];
        let size = 0;
        const end = () => {
          const statusCode = response.statusCode ?? null;
          const text = Buffer.concat(parts).toString('utf8');
          let error: string | null = null;
          if (statusCode !== null && statusCode >= 300 && statusCode < 400) {
            error = cleanText(`redirect not followed (location: ${response.headers.location ?? 'none'})`, ERROR_LOG_MAX);
          } else if (statusCode !== null && (statusCode < 200 || statusCode >= 300)) {
            error = `HTTP ${statusCode}`;
          }
          finish({
            statusCode,
            retryAfterMs: parseRetryAfter(response.headers['retry-after'] as string | undefined),
            response: text ? cleanText(text, RESPONSE_LOG_MAX) : null,
            error,
            released: false,
          });
        };
        response.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_READ_MAX) parts.push(chunk);
          size += chunk.length;
          if (size > RESPONSE_READ_MAX && !settled) {
            end(); // enough of a huge answer; the connection is dropped
            response.destroy();
          }
        });
        response.on('end', end);
        response.on('error', (err) => finish(failure(err)));
        response.on('aborted', () => finish(failure(new Error('the answer was cut short'))));
      });
      const timer = setTimeout(() => {
        timedOut = true;
        request.destroy(new Error('timeout'));
      }, Math.max(0, timeoutMs - (performance.now() - started)));
      flight.abort = () => {
        released = true;
        request.destroy(new Error('the dispatcher is stopping'));
      };
      request.on('error', (err) => finish(failure(err)));
      request.end(body);
    });
  }

  /** Writes the results gathered so far (used on stop; rounds write them otherwise). */
  async #writeOutcomes(): Promise<void> {
    while (this.#outcomes.length) {
      const batch = this.#outcomes.splice(0, OUTCOME_BATCH);
      try {
        await this.#deps.db.transaction((trx) => this.#record(trx, batch));
      } catch (err) {
        // The leases run out and the deliveries are attempted again: a duplicate, never a loss.
        this.#deps.log.error({ err, count: batch.length }, 'webhook results could not be written');
        return;
      }
      this.#observe(batch);
    }
  }

  async #record(trx: Knex.Transaction, batch: Outcome[]): Promise<void> {
    const attempts: Row[] = [];
    // Delivered ones are grouped into a few UPDATEs; the rest are written one by one.
    const delivered = new Map<string, Outcome[]>();
    for (const outcome of batch) {
      const { delivery } = outcome;
      if (outcome.kind === 'released') {
        await trx('webhook_deliveries').where({ id: delivery.id, lease_owner: this.#owner }).update({ lease_until: null, lease_owner: null });
        continue;
      }
      const attempt = delivery.attempts + 1;
      attempts.push({
        delivery_id: delivery.id, endpoint_id: delivery.endpointId, attempt, status_code: outcome.statusCode, latency_ms: outcome.latencyMs,
        response: outcome.response, error: outcome.error, next_attempt_at: outcome.nextAttemptAt, created_at: outcome.at,
      });
      if (outcome.kind === 'delivered') {
        const key = String(outcome.statusCode);
        if (!delivered.has(key)) delivered.set(key, []);
        delivered.get(key)!.push(outcome);
        continue;
      }
      await trx('webhook_deliveries').where({ id: delivery.id, lease_owner: this.#owner }).update({
        status: outcome.kind === 'retry' ? 'pending' : 'failed',
        attempts: attempt,
        next_attempt_at: outcome.nextAttemptAt,
        lease_until: null,
        lease_owner: null,
        last_status: outcome.statusCode,
        last_error: outcome.error,
        updated_at: outcome.at,
      });
      if (outcome.kind === 'gone') {
        await trx('webhook_endpoints').where({ id: delivery.endpointId, enabled: true }).update({
          enabled: false, disabled_reason: `answered 410 Gone on ${new Date(outcome.at).toISOString()}`, updated_at: outcome.at,
        });
        this.#endpoints.delete(delivery.endpointId);
        this.#deps.log.warn({ endpoint_id: delivery.endpointId }, 'webhook endpoint answered 410 Gone: disabled');
      }
    }
    for (const group of delivered.values()) {
      const first = group[0]!;
      const at = Math.max(...group.map((o) => o.at));
      for (const ids of chunks(group.map((o) => o.delivery.id), 500)) {
        await trx('webhook_deliveries').whereIn('id', ids).where({ lease_owner: this.#owner }).update({
          status: 'delivered', attempts: trx.raw('attempts + 1'), next_attempt_at: null, lease_until: null, lease_owner: null,
          last_status: first.statusCode, last_error: null, delivered_at: at, updated_at: at,
        });
      }
    }
    for (const chunk of chunks(attempts, INSERT_CHUNK)) await trx('webhook_attempts').insert(chunk);
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
      }
    }
    if (wake !== Infinity) this.#scheduleWake(wake);
  }

  /** Wakes at a retry's time (the poll would find it too, later). */
  #scheduleWake(at: number): void {
    if (this.#stopped || at >= this.#wakeAt) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = null;
      this.#wakeAt = Infinity;
      this.kick();
    }, Math.max(0, at - Date.now()) + 5);
    this.#wakeTimer.unref();
  }
}

