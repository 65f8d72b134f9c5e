// The audit log's store (GET /admin/api/audit-log): one row per change made through the admin API or
// the console, each also an audit-log.create webhook event written in the same transaction. What is
// recorded, and when, is src/admin/audit.ts.
import { randomUUID } from 'node:crypto';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { recordEvent } from '../webhooks/outbox.ts';

export interface AuditEntry {
  id: string;
  /** "admin-key", or "console:<user id>". */
  actor: string;
  actor_role: string | null;
  /** The route, e.g. "PATCH /users/:id". */
  action: string;
  target: { type: string; id: string | null };
  before: unknown;
  after: unknown;
  status: number;
  address: string | null;
  created_at: string;
}

export class AuditLog {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async record(entry: Omit<AuditEntry, 'id' | 'created_at'>, now = Date.now()): Promise<void> {
    const id = `aud_${randomUUID().replaceAll('-', '')}`;
    const row = {
      id,
      actor: entry.actor,
      actor_role: entry.actor_role,
      action: entry.action,
      target_type: entry.target.type,
      target_id: entry.target.id,
      before: toJson(entry.before ?? null),
      after: toJson(entry.after ?? null),
      status: entry.status,
      address: entry.address,
      created_at: now,
    };
    await this.#db.transaction(async (tx) => {
      await tx('audit_log').insert(row);
      await recordEvent(tx, 'audit-log.create', { audit: toEntry(row) });
    });
  }

  async list(options: { actor?: string; target?: string; action?: string; limit?: number; offset?: number } = {}): Promise<AuditEntry[]> {
    const query = this.#db('audit_log')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 50)
      .offset(options.offset ?? 0);
    if (options.actor) query.where({ actor: options.actor });
    if (options.target) query.where({ target_id: options.target });
    if (options.action) query.where({ action: options.action });
    return (await query).map(toEntry);
  }

  /** Deletes entries older than `maxAgeMs`. */
  prune(maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.#db('audit_log')
      .where('created_at', '<', now - maxAgeMs)
      .delete();
  }
}

function toEntry(row: Record<string, unknown>): AuditEntry {
  return {
    id: String(row.id),
    actor: String(row.actor),
    actor_role: (row.actor_role as string | null) ?? null,
    action: String(row.action),
    target: { type: String(row.target_type), id: (row.target_id as string | null) ?? null },
    before: fromJson<unknown>(row.before, null),
    after: fromJson<unknown>(row.after, null),
    status: Number(row.status),
    address: (row.address as string | null) ?? null,
    created_at: new Date(Number(row.created_at)).toISOString(),
  };
}
