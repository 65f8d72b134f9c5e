// Webhook endpoints (where events go) and their delivery log: the one place that reads and writes
// webhook_endpoints for the admin API and KICKSTART. Secrets are sealed at rest and answered only when
// created or rotated. A URL must pass the webhook address policy (targets.ts) when it is set. The
// dispatcher reads the same rows through activeEndpoints().
import { randomUUID, type KeyObject } from 'node:crypto';
import type { Knex } from 'knex';
import type { SecretBox } from '../crypto.ts';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { ClientError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { notifyOutbox } from './outbox.ts';
import { generateSecret, secretKey, secretProblem } from './signing.ts';
import { dataForLog, type Subscription, validApplications, validEventPatterns } from './subscriptions.ts';
import type { WebhookTargets } from './targets.ts';
import { fieldsOf, WebhookBody } from '../api-schema/types.ts';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  /** The applications (client ids) whose events it gets; null for every application. */
  applications: string[] | null;
  /** With `applications`: also the events that concern no application. */
  include_unscoped: boolean;
  /**
   * The changes behind its transactional events (a type with a `.complete` twin) wait for its 2xx
   * before they commit, and a non-2xx or a timeout refuses them (transactional.ts).
   */
  transactional: boolean;
  enabled: boolean;
  /** Why the endpoint stopped receiving (e.g. it answered 410 Gone); null while enabled. */
  disabled_reason: string | null;
  /** During a rotation window, until when the previous secret still signs too. */
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointInput {
  url?: unknown;
  events?: unknown;
  secret?: unknown;
  enabled?: unknown;
  description?: unknown;
  applications?: unknown;
  include_unscoped?: unknown;
  transactional?: unknown;
}

const WEBHOOK_FIELDS = fieldsOf(WebhookBody);
const WEBHOOK_READ_ONLY = ['id', 'disabled_reason', 'previous_secret_expires_at', 'created_at', 'updated_at'];

/** The body of POST and PATCH /webhooks (also a KICKSTART entry): only known fields. */
export function webhookInput(body: JsonObject): EndpointInput {
  return onlyFields(body, WEBHOOK_FIELDS, WEBHOOK_READ_ONLY) as EndpointInput;
}

export interface DeliveryAttempt {
  attempt: number;
  /** The HTTP status answered; null when there was no answer (timeout, refused connection). */
  status_code: number | null;
  latency_ms: number;
  /** The answer's body, truncated. */
  response: string | null;
  error: string | null;
  /** When the next attempt was scheduled after this one; null when none was. */
  next_attempt_at: string | null;
  created_at: string;
}

export interface WebhookDelivery {
  id: string;
  endpoint_id: string;
  event: { id: string; type: string; created_at: string | null; data?: unknown };
  status: DeliveryStatus;
  attempts: number;
  max_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  updated_at: string;
  log: DeliveryAttempt[];
}

/** An enabled endpoint as the dispatcher needs it: where, which events, and the signing keys. */
export interface ActiveEndpoint extends Subscription {
  id: string;
  url: string;
  createdAt: number;
  updatedAt: number;
  /** The current key first, then the previous one while the rotation window lasts. */
  keys: KeyObject[];
  transactional: boolean;
}

type Row = Record<string, unknown>;

const URL_MAX = 2048;
/** How long a new URL's name may take to resolve; past it (or if it does not resolve) it is accepted, and checked at delivery. */
const RESOLVE_TIMEOUT_MS = 5000;
const DESCRIPTION_MAX = 500;

function iso(ms: unknown): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

function validUrl(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ValidationError('url', 'is required: an http(s) URL');
  if (value.length > URL_MAX) throw new ValidationError('url', `must be at most ${URL_MAX} characters`);
  let parsed: URL;
  try {
    parsed = new URL(value.trim());
  } catch {
    throw new ValidationError('url', 'must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ValidationError('url', 'must use http or https');
  if (parsed.username || parsed.password) throw new ValidationError('url', 'must not contain credentials: receivers check the signature instead');
  if (!parsed.hostname) throw new ValidationError('url', 'must name a host');
  parsed.hash = '';
  return parsed.toString();
}

function validSecret(value: unknown): string {
  const problem = secretProblem(value);
  if (problem) throw new ValidationError('secret', problem);
  return value as string;
}

function validDescription(value: unknown): string | null {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw new ValidationError('description', 'must be a string');
  if (value.length > DESCRIPTION_MAX) throw new ValidationError('description', `must be at most ${DESCRIPTION_MAX} characters`);
  return value;
}

function validEnabled(value: unknown): boolean {
  return validFlag('enabled', value);
}

function validFlag(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
  return value;
}

function toEndpoint(row: Row, now = Date.now()): WebhookEndpoint {
  const previousUntil = row.previous_secret_expires_at === null ? null : Number(row.previous_secret_expires_at);
  return {
    id: String(row.id),
    url: String(row.url),
    description: (row.description as string | null) ?? null,
    events: fromJson<string[]>(row.events, []),
    applications: fromJson<string[] | null>(row.applications, null),
    include_unscoped: toBool(row.include_unscoped),
    transactional: toBool(row.transactional),
    enabled: toBool(row.enabled),
    disabled_reason: (row.disabled_reason as string | null) ?? null,
    previous_secret_expires_at: previousUntil !== null && previousUntil > now ? iso(previousUntil) : null,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

function toAttempt(row: Row): DeliveryAttempt {
  return {
    attempt: Number(row.attempt),
    status_code: row.status_code === null ? null : Number(row.status_code),
    latency_ms: Number(row.latency_ms),
    response: (row.response as string | null) ?? null,
    error: (row.error as string | null) ?? null,
    next_attempt_at: iso(row.next_attempt_at),
    created_at: iso(row.created_at)!,
  };
}

export interface EndpointStoreOptions {
  rotationWindowMs: number;
  /** Where URLs may go (WEBHOOK_ALLOWED_HOSTS and the address policy). */
  targets: WebhookTargets;
  /** Called after every change of an endpoint (the dispatcher drops its cache). */
  changed?: () => void;
}

export class WebhookEndpointStore {
  readonly #db: Db | Knex.Transaction;
  readonly #box: SecretBox;
  readonly #options: EndpointStoreOptions;
  readonly #changed: () => void;
  /** Decrypted signing keys per endpoint, valid while its updated_at and rotation state hold. */
  readonly #keys = new Map<string, { stamp: string; keys: KeyObject[] }>();

  constructor(db: Db | Knex.Transaction, box: SecretBox, options: EndpointStoreOptions) {
    this.#db = db;
    this.#box = box;
    this.#options = options;
    this.#changed = options.changed ?? (() => {});
  }

  /** The same store working inside `trx` (KICKSTART applies its file in one transaction). */
  transacting(trx: Knex.Transaction): WebhookEndpointStore {
    return new WebhookEndpointStore(trx, this.#box, this.#options);
  }

  /** Creates an endpoint; answers it with its secret (generated when none was given), the only time besides rotation. */
  async create(input: EndpointInput): Promise<WebhookEndpoint & { secret: string }> {
    const url = validUrl(input.url);
    const events = validEventPatterns(input.events);
    const applications = input.applications === undefined ? null : await this.#validApplications(input.applications);
    const includeUnscoped = input.include_unscoped === undefined ? false : validFlag('include_unscoped', input.include_unscoped);
    const transactional = input.transactional === undefined ? false : validFlag('transactional', input.transactional);
    const secret = input.secret === undefined || input.secret === null ? generateSecret() : validSecret(input.secret);
    const enabled = input.enabled === undefined ? true : validEnabled(input.enabled);
    const description = input.description === undefined ? null : validDescription(input.description);
    await this.#checkTarget(url);
    const now = Date.now();
    const row = {
      id: `wh_${randomUUID().replaceAll('-', '')}`,
      url,
      description,
      events: toJson(events),
      applications: applications === null ? null : toJson(applications),
      include_unscoped: includeUnscoped,
      transactional,
      secret_enc: this.#box.seal(secret),
      previous_secret_enc: null,
      previous_secret_expires_at: null,
      enabled,
      disabled_reason: enabled ? null : 'disabled by an administrator',
      created_at: now,
      updated_at: now,
    };
    await this.#db('webhook_endpoints').insert(row);
    this.#changed();
    notifyOutbox('endpoint');
    return { ...toEndpoint(row), secret };
  }

  async list(): Promise<WebhookEndpoint[]> {
    const rows = await this.#db('webhook_endpoints').orderBy('created_at', 'asc').orderBy('id', 'asc');
    return rows.map((row) => toEndpoint(row));
  }

  async get(id: string): Promise<WebhookEndpoint> {
    return toEndpoint(await this.#row(id));
  }

  async update(id: string, patch: EndpointInput): Promise<WebhookEndpoint> {
    if (patch.secret !== undefined) {
      throw new ValidationError('secret', 'cannot be changed here: use POST /webhooks/:id/rotate-secret, which keeps the old one signing during the rotation window');
    }
    const current = await this.#row(id);
    const changes: Row = {};
    if (patch.url !== undefined) changes.url = validUrl(patch.url);
    if (patch.events !== undefined) changes.events = toJson(validEventPatterns(patch.events));
    if (patch.applications !== undefined) {
      const applications = await this.#validApplications(patch.applications);
      changes.applications = applications === null ? null : toJson(applications);
    }
    if (patch.include_unscoped !== undefined) changes.include_unscoped = validFlag('include_unscoped', patch.include_unscoped);
    if (patch.transactional !== undefined) changes.transactional = validFlag('transactional', patch.transactional);
    if (patch.description !== undefined) changes.description = validDescription(patch.description);
    if (patch.enabled !== undefined) {
      const enabled = validEnabled(patch.enabled);
      if (enabled !== toBool(current.enabled)) {
        changes.enabled = enabled;
        changes.disabled_reason = enabled ? null : 'disabled by an administrator';
      }
    }
    // A URL left as it is is not checked again here: delivery checks it every time.
    if (changes.url !== undefined && changes.url !== current.url) await this.#checkTarget(String(changes.url));
    if (Object.keys(changes).length === 0) return toEndpoint(current);
    changes.updated_at = Date.now();
    await this.#db('webhook_endpoints').where({ id }).update(changes);
    this.#changed();
    // Re-enabling resumes the deliveries that waited while the endpoint was disabled.
    notifyOutbox(changes.enabled === true ? 'delivery' : 'endpoint');
    return this.get(id);
  }

  /** Deletes the endpoint with its deliveries and their log. */
  async delete(id: string): Promise<void> {
    await this.#row(id);
    const remove = async (trx: Knex.Transaction) => {
      await trx('webhook_attempts')
        .whereIn('delivery_id', trx('webhook_deliveries').where({ endpoint_id: id }).select('id'))
        .delete();
      await trx('webhook_deliveries').where({ endpoint_id: id }).delete();
      await trx('webhook_endpoints').where({ id }).delete();
    };
    await ((this.#db as Knex.Transaction).isTransaction ? remove(this.#db as Knex.Transaction) : (this.#db as Db).transaction(remove));
    this.#changed();
  }

  /**
   * A new secret (given or generated). The previous one keeps signing, next to the new one, for the
   * rotation window, so receivers can switch without losing an event.
   */
  async rotateSecret(id: string, input: { secret?: unknown } = {}): Promise<WebhookEndpoint & { secret: string }> {
    const current = await this.#row(id);
    const secret = input.secret === undefined || input.secret === null ? generateSecret() : validSecret(input.secret);
    const now = Date.now();
    await this.#db('webhook_endpoints')
      .where({ id })
      .update({
        secret_enc: this.#box.seal(secret),
        previous_secret_enc: this.#options.rotationWindowMs > 0 ? current.secret_enc : null,
        previous_secret_expires_at: this.#options.rotationWindowMs > 0 ? now + this.#options.rotationWindowMs : null,
        updated_at: now,
      });
    this.#changed();
    return { ...(await this.get(id)), secret };
  }

  /** The enabled endpoints with their keys, for the dispatcher. */
  async activeEndpoints(now = Date.now(), db: Knex | Knex.Transaction = this.#db): Promise<ActiveEndpoint[]> {
    const rows = await db('webhook_endpoints').where({ enabled: true });
    if (this.#keys.size > rows.length * 2 + 100) this.#keys.clear();
    return rows.map((row) => {
      const previousUntil = row.previous_secret_expires_at === null ? null : Number(row.previous_secret_expires_at);
      const rotating = Boolean(row.previous_secret_enc) && previousUntil !== null && previousUntil > now;
      const stamp = `${row.updated_at}:${rotating}`;
      let keys = this.#keys.get(String(row.id))?.stamp === stamp ? this.#keys.get(String(row.id))!.keys : null;
      if (!keys) {
        keys = [secretKey(this.#box.open(String(row.secret_enc)))];
        if (rotating) keys.push(secretKey(this.#box.open(String(row.previous_secret_enc))));
        this.#keys.set(String(row.id), { stamp, keys });
      }
      return {
        id: String(row.id),
        url: String(row.url),
        events: new Set(fromJson<string[]>(row.events, [])),
        applications: row.applications === null || row.applications === undefined ? null : new Set(fromJson<string[]>(row.applications, [])),
        includeUnscoped: toBool(row.include_unscoped),
        transactional: toBool(row.transactional),
        createdAt: Number(row.created_at),
        updatedAt: Number(row.updated_at),
        keys,
      };
    });
  }

  /** The delivery log of one endpoint, newest first. */
  async deliveries(endpointId: string, options: { status?: DeliveryStatus; eventType?: string; limit?: number; offset?: number } = {}): Promise<WebhookDelivery[]> {
    await this.#row(endpointId);
    const query = this.#db('webhook_deliveries as d')
      .leftJoin('webhook_events as e', 'e.id', 'd.event_id')
      .where('d.endpoint_id', endpointId)
      .select('d.*', 'e.type as event_type', 'e.created_at as event_created_at')
      .orderBy('d.created_at', 'desc')
      .orderBy('d.id', 'desc')
      .limit(Math.min(options.limit ?? 50, 500))
      .offset(options.offset ?? 0);
    if (options.status) query.where('d.status', options.status);
    if (options.eventType) query.where('e.type', options.eventType);
    const rows = await query;
    const attempts = await this.#attempts(rows.map((row) => String(row.id)));
    return rows.map((row) => this.#toDelivery(row, attempts.get(String(row.id)) ?? []));
  }

  /** One delivery with its event's payload. */
  async delivery(endpointId: string, deliveryId: string): Promise<WebhookDelivery> {
    const row = await this.#db('webhook_deliveries as d')
      .leftJoin('webhook_events as e', 'e.id', 'd.event_id')
      .where({ 'd.id': deliveryId, 'd.endpoint_id': endpointId })
      .select('d.*', 'e.type as event_type', 'e.created_at as event_created_at', 'e.data as event_data')
      .first();
    if (!row) throw new NotFoundError('delivery');
    const delivery = this.#toDelivery(row, (await this.#attempts([deliveryId])).get(deliveryId) ?? []);
    delivery.event.data = dataForLog(String(row.event_type), fromJson<unknown>(row.event_data, null));
    return delivery;
  }

  /**
   * Manual retry (of a failed delivery, or a resend of a delivered one): one more attempt, now. If it
   * fails, the delivery is failed again (its log keeps every attempt).
   */
  async retry(endpointId: string, deliveryId: string): Promise<WebhookDelivery> {
    const endpoint = await this.#row(endpointId);
    const row = await this.#db('webhook_deliveries').where({ id: deliveryId, endpoint_id: endpointId }).first();
    if (!row) throw new NotFoundError('delivery');
    if (!toBool(endpoint.enabled)) throw new ClientError(409, 'conflict', 'enabled: the endpoint is disabled; enable it (PATCH {"enabled": true}) before retrying', 'enabled');
    if (row.status === 'pending') throw new ConflictError('status', 'the delivery is pending already; it will be attempted at next_attempt_at');
    const now = Date.now();
    const count = await this.#db('webhook_deliveries')
      .where({ id: deliveryId })
      .whereNot({ status: 'pending' })
      .update({
        status: 'pending',
        max_attempts: Number(row.attempts) + 1,
        next_attempt_at: now,
        lease_until: null,
        lease_owner: null,
        updated_at: now,
      });
    if (count !== 1) throw new ConflictError('status', 'the delivery is pending already');
    notifyOutbox('delivery');
    return this.delivery(endpointId, deliveryId);
  }

  /**
   * Deletes what is older than `maxAgeMs`: finished (delivered or failed) deliveries with their log,
   * and dispatched events no delivery refers to any more. Pending deliveries are never pruned.
   */
  async prune(maxAgeMs: number, now = Date.now()): Promise<{ deliveries: number; events: number }> {
    const db = this.#db;
    const cutoff = now - maxAgeMs;
    const finished = () => db('webhook_deliveries').whereIn('status', ['delivered', 'failed']).where('updated_at', '<', cutoff);
    await db('webhook_attempts').whereIn('delivery_id', finished().select('id')).delete();
    const deliveries = await finished().delete();
    const events = await db('webhook_events')
      .whereNotNull('dispatched_at')
      .where('created_at', '<', cutoff)
      .whereNotExists(db('webhook_deliveries').select(db.raw('1')).whereRaw('webhook_deliveries.event_id = webhook_events.id'))
      .delete();
    return { deliveries, events };
  }

  /**
   * Refuses a URL whose host is, or resolves to, an address the policy refuses (400 naming it). The
   * other fields are validated first, so a bad body never costs a DNS lookup. A name that does not
   * resolve (yet) is accepted: delivery checks again and retries.
   */
  async #checkTarget(url: string): Promise<void> {
    const check = await this.#options.targets.check(new URL(url), AbortSignal.timeout(RESOLVE_TIMEOUT_MS)).catch(() => null);
    if (check && !check.ok && check.kind === 'refused') throw new ValidationError('url', check.message);
  }

  /** `applications` of a body: client ids that exist (an unknown one is a 400 naming it). */
  #validApplications(value: unknown): Promise<string[] | null> {
    return validApplications(value, async (ids) => {
      const rows = await this.#db('applications').whereIn('client_id', ids).select('client_id');
      return new Set(rows.map((row) => String(row.client_id)));
    });
  }

  async #row(id: string): Promise<Row> {
    const row = typeof id === 'string' && id.length <= 40 ? await this.#db('webhook_endpoints').where({ id }).first() : undefined;
    if (!row) throw new NotFoundError('webhook');
    return row;
  }

  async #attempts(deliveryIds: string[]): Promise<Map<string, DeliveryAttempt[]>> {
    const out = new Map<string, DeliveryAttempt[]>();
    if (deliveryIds.length === 0) return out;
    const rows = await this.#db('webhook_attempts').whereIn('delivery_id', deliveryIds).orderBy('attempt', 'asc').orderBy('id', 'asc');
    for (const row of rows) {
      const key = String(row.delivery_id);
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push(toAttempt(row));
    }
    return out;
  }

  #toDelivery(row: Row, log: DeliveryAttempt[]): WebhookDelivery {
    return {
      id: String(row.id),
      endpoint_id: String(row.endpoint_id),
      event: { id: String(row.event_id), type: (row.event_type as string | null) ?? 'unknown', created_at: iso(row.event_created_at) },
      status: row.status as DeliveryStatus,
      attempts: Number(row.attempts),
      max_attempts: Number(row.max_attempts),
      next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
      last_status_code: row.last_status === null ? null : Number(row.last_status),
      last_error: (row.last_error as string | null) ?? null,
      delivered_at: iso(row.delivered_at),
      created_at: iso(row.created_at)!,
      updated_at: iso(row.updated_at)!,
      log,
    };
  }
}
