// The hook execution log (hook_executions): every run the runner and the worker make, written in
// small batches off the journey's path; read by the admin API (GET /hooks/:id/executions); pruned by
// age and by count per hook. Recording a run costs about 20 µs of CPU (measured on SQLite, 5000
// runs a batch: mostly the insert), plus the redacted copy of its event kept for a replay
// (redact.ts, made at once so that nothing changed later leaks in: a walk and a JSON.stringify,
// under 2× a plain JSON.stringify of the event); its id is a per-process random prefix and a counter
// rather than a UUID per run. Failed and denied runs are all recorded, successful ones as sampled
// under load (run-sampling.ts).
import { randomBytes } from 'node:crypto';
import type { SQLInputValue } from 'node:sqlite';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { preparedStatements, type PreparedStatements } from '../db/prepared.ts';
import type { Logger } from '../log.ts';
import { redactEvent, userIdOf } from './redact.ts';
import { RunSampler } from './run-sampling.ts';

/** How long a run waits to be written with the ones that follow it. */
const BATCH_DELAY_MS = 50;
const INSERT_CHUNK = 100;
/** Ids: `exe_` + 16 random hex digits of this process + a counter (unique, no UUID per run). */
const ID_PREFIX = `exe_${randomBytes(8).toString('hex')}`;
let idCounter = 0;
const EMPTY_LIST = '[]';
const FAILED = new Set(['error', 'timeout', 'memory', 'invalid_action']);
const isDenial = (action: unknown) => (action as { type?: unknown } | null)?.type === 'deny';

/** One run, as it is recorded. */
export interface ExecutionEntry {
  hookId: string;
  hookVersion: number;
  eventId: string;
  event: string;
  mode: 'sync' | 'async';
  outcome: string;
  durationMs: number;
  logs: string[];
  actions: unknown[];
  error?: string;
  /** The event the hook got (its secrets not included): kept redacted, with the user it is about. */
  payload?: Record<string, unknown>;
}

/** One run, as the admin API answers it. */
export interface Execution {
  id: string;
  hook_id: string;
  /** The user the event was about (null: none, or a run recorded before this was kept). */
  user_id: string | null;
  /** Its event was kept (redacted) and can be replayed in a test run. */
  has_event: boolean;
  event: string;
  event_id: string;
  hook_version: number;
  mode: string;
  outcome: string;
  duration_ms: number;
  logs: string[];
  actions: unknown[];
  error?: string;
  created_at: string;
}

/** The columns a run is written with, in the order of INSERT_SQL's values. */
const WRITTEN = ['id', 'hook_id', 'hook_version', 'event_id', 'event', 'user_id', 'event_payload', 'mode', 'outcome', 'duration_ms', 'logs', 'actions', 'error', 'created_at'] as const;
type WrittenRow = Record<(typeof WRITTEN)[number], SQLInputValue>;
const INSERT_SQL = `insert into hook_executions (${WRITTEN.map((c) => `"${c}"`).join(', ')}) values (${WRITTEN.map(() => '?').join(', ')})`;

const COLUMNS = ['id', 'hook_id', 'user_id', 'hook_version', 'event_id', 'event', 'mode', 'outcome', 'duration_ms', 'logs', 'actions', 'error', 'created_at'];

function toExecution(row: Record<string, unknown>): Execution {
  return {
    id: String(row.id),
    hook_id: String(row.hook_id),
    user_id: row.user_id ? String(row.user_id) : null,
    has_event: Number(row.has_event) === 1,
    event: String(row.event),
    event_id: String(row.event_id),
    hook_version: Number(row.hook_version),
    mode: String(row.mode),
    outcome: String(row.outcome),
    duration_ms: Number(row.duration_ms),
    logs: fromJson<string[]>(row.logs, []),
    actions: fromJson<unknown[]>(row.actions, []),
    ...(row.error ? { error: String(row.error) } : {}),
    created_at: new Date(Number(row.created_at)).toISOString(),
  };
}

export class ExecutionLog {
  readonly #db: Db;
  readonly #log: Logger;
  /** SQLite's fast path for the batch (null on PostgreSQL, where knex's multi-row insert is one round trip). */
  readonly #prepared: PreparedStatements | null;
  #pending: WrittenRow[] = [];
  #flushing: Promise<void> | null = null;
  #writing: Promise<void> = Promise.resolve();

  readonly #sampler: RunSampler;

  /** `runsPerSecond`: see RunSampler (HOOK_EXECUTIONS_PER_SECOND; default here: every run recorded). */
  constructor(db: Db, log: Logger, runsPerSecond = Number.POSITIVE_INFINITY) {
    this.#db = db;
    this.#log = log;
    this.#prepared = preparedStatements(db);
    this.#sampler = new RunSampler(runsPerSecond);
  }

  /**
   * Records a run; it is written with the others of the next few milliseconds. A failed or denied run
   * always is; a successful (or skipped) one when its hook's sample has room (run-sampling.ts).
   */
  record(entry: ExecutionEntry): void {
    if (!FAILED.has(entry.outcome) && !entry.actions.some(isDenial) && !this.#sampler.keep(entry.hookId)) return;
    const kept = entry.payload ? redactEvent(entry.payload) : null;
    // What the event's redaction took out does not come back through what the hook logged or did.
    const scrub = kept?.redacted ? kept.scrub : null;
    const logs = scrub ? entry.logs.map(scrub) : entry.logs;
    const actions = entry.actions.length === 0 ? EMPTY_LIST : toJson(scrub ? kept!.scrubValue(entry.actions) : entry.actions);
    this.#pending.push({
      id: `${ID_PREFIX}${(idCounter++).toString(36).padStart(8, '0')}`,
      hook_id: entry.hookId,
      hook_version: entry.hookVersion,
      event_id: entry.eventId,
      event: entry.event,
      user_id: entry.payload ? userIdOf(entry.payload) : null,
      event_payload: kept?.json ?? null,
      mode: entry.mode,
      outcome: entry.outcome,
      duration_ms: Math.round(entry.durationMs),
      logs: logs.length === 0 ? EMPTY_LIST : toJson(logs),
      actions,
      error: entry.error === undefined ? null : scrub ? scrub(entry.error) : entry.error,
      created_at: Date.now(),
    });
    if (!this.#flushing) this.#flushing = new Promise((resolve) => setTimeout(resolve, BATCH_DELAY_MS)).then(() => this.flush());
  }

  /** Writes the pending records now; resolves once every run recorded so far is written. */
  flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    this.#flushing = null;
    // Writes are chained, so a flush never returns while an earlier batch (the timer's) is still
    // being written: a read, which flushes first, then sees every finished run.
    this.#writing = this.#writing.then(async () => {
      if (batch.length === 0) return;
      try {
        if (
          this.#prepared?.runMany(
            INSERT_SQL,
            batch.map((row) => WRITTEN.map((column) => row[column])),
          )
        )
          return;
        await this.#db.batchInsert('hook_executions', batch, INSERT_CHUNK);
      } catch (err) {
        this.#log.error({ err, count: batch.length }, 'could not record hook executions');
      }
    });
    return this.#writing;
  }

  /** The newest `limit` runs of a hook, every finished run included. */
  async list(hookId: string, limit: number): Promise<Execution[]> {
    await this.flush();
    return (await this.#select().where({ hook_id: hookId }).orderBy('created_at', 'desc').limit(limit)).map(toExecution);
  }

  /** The newest `limit` runs of any hook for one user's events. */
  async listForUser(userId: string, limit: number): Promise<Execution[]> {
    await this.flush();
    return (await this.#select().where({ user_id: userId }).orderBy('created_at', 'desc').limit(limit)).map(toExecution);
  }

  /** The event a run of this hook got, redacted as it was kept; undefined for no such run, null when it was not kept. */
  async event(hookId: string, executionId: string): Promise<Record<string, unknown> | null | undefined> {
    await this.flush();
    const row = await this.#db('hook_executions').where({ hook_id: hookId, id: executionId }).first('event_payload');
    if (!row) return undefined;
    return row.event_payload ? fromJson<Record<string, unknown>>(row.event_payload, {}) : null;
  }

  #select() {
    return this.#db('hook_executions').select(COLUMNS).select(this.#db.raw('case when event_payload is null then 0 else 1 end as has_event'));
  }

  /** Deletes runs older than `maxAgeMs`, and beyond the newest `keepPerHook` of each hook. */
  async prune(maxAgeMs: number, keepPerHook: number, now = Date.now()): Promise<number> {
    const db = this.#db;
    let removed = await db('hook_executions')
      .where('created_at', '<', now - maxAgeMs)
      .delete();
    const crowded: Array<{ hook_id: string }> = await db('hook_executions').select('hook_id').groupBy('hook_id').havingRaw('count(*) > ?', [keepPerHook]);
    for (const { hook_id: hookId } of crowded) {
      const cutoff = await db('hook_executions')
        .where({ hook_id: hookId })
        .orderBy('created_at', 'desc')
        .offset(keepPerHook - 1)
        .first('created_at');
      if (cutoff) removed += await db('hook_executions').where({ hook_id: hookId }).andWhere('created_at', '<', cutoff.created_at).delete();
    }
    return removed;
  }
}
