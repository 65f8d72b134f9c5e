// The event log (CONTRACT §9, GET /admin/api/event-log): what the server itself reports, as opposed to
// the audit log's changes made by people. Its writers: hook failures (src/hooks/runner.ts, worker.ts),
// webhook deliveries failed after their last attempt (src/webhooks/dispatcher.ts), mail and texts
// failed after theirs (src/messaging/dispatcher.ts), signing-key rotations and retirements
// (src/oidc/keys.ts), KICKSTART (src/kickstart.ts). Each entry is also an event-log.create webhook
// event, written in the same transaction. Details never hold secrets: each writer chooses them.
// Pruned by age by the housekeeping (EVENT_LOG_RETENTION_DAYS).
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { fromJson, toJson } from './db/knex.ts';
import { recordEvent } from './webhooks/outbox.ts';

export const EVENT_LOG_TYPES = ['hook.failed', 'webhook.failed', 'message.failed', 'key.rotated', 'key.retired', 'kickstart.applied'] as const;
export type EventLogType = (typeof EVENT_LOG_TYPES)[number];

export interface EventLogEntry {
  id: string;
  type: EventLogType;
  message: string;
  details: Record<string, unknown>;
  created_at: string;
}

const MESSAGE_MAX = 2000;

function toEntry(row: Record<string, unknown>): EventLogEntry {
  return {
    id: String(row.id),
    type: row.type as EventLogType,
    message: String(row.message),
    details: fromJson<Record<string, unknown>>(row.details, {}),
    created_at: new Date(Number(row.created_at)).toISOString(),
  };
}

/**
 * Writes an entry and its event-log.create event; inside `db` when it is a transaction (the entry then
 * exists if and only if what it reports committed), in a transaction of its own otherwise.
 */
export async function logEvent(db: Knex | Knex.Transaction, type: EventLogType, message: string, details: Record<string, unknown> = {}): Promise<EventLogEntry> {
  if (!(db as Knex.Transaction).isTransaction) return (db as Knex).transaction((trx) => logEvent(trx, type, message, details));
  const row = {
    id: `evl_${randomUUID().replaceAll('-', '')}`,
    type,
    message: message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX)}…` : message,
    details: toJson(details),
    created_at: Date.now(),
  };
  await db('event_log').insert(row);
  const entry = toEntry(row);
  await recordEvent(db, 'event-log.create', { event_log: entry });
  return entry;
}

export class EventLog {
  readonly #db: Knex;

  constructor(db: Knex) {
    this.#db = db;
  }

  /** Newest first; `type` one of EVENT_LOG_TYPES. */
  async list(options: { type?: EventLogType; limit?: number; offset?: number } = {}): Promise<EventLogEntry[]> {
    const query = this.#db('event_log')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 50)
      .offset(options.offset ?? 0);
    if (options.type) query.where({ type: options.type });
    return (await query).map(toEntry);
  }

  /** Deletes entries older than `maxAgeMs`. */
  prune(maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.#db('event_log')
      .where('created_at', '<', now - maxAgeMs)
      .delete();
  }
}
