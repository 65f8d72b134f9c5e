// The async hook job queue (hook_jobs) as the worker works it: due jobs leased to this process
// (src/db/leases.ts), each written back only while this process holds it, and old finished jobs
// pruned. The runner queues the jobs (runner.ts). A job's event is sealed at rest: it can carry a
// user's profile and, for before_message_send, the link or code of the message.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import { fromJson } from '../db/knex.ts';
import { LeaseQueue, type Row } from '../db/leases.ts';

/** A job leased to this process. */
export interface HookJob {
  id: string;
  hookId: string;
  event: Record<string, unknown>;
  /** Runs made so far. */
  attempts: number;
  /** The lease's end: the token that lets this process write the job back (hook_jobs has no owner column). */
  leaseUntil: number;
}

export class HookJobQueue {
  readonly #db: Db;
  readonly #leases: LeaseQueue;
  readonly #box: SecretBox | null;

  /** Without `box` events are stored as plain JSON (tests of the queue alone). */
  constructor(db: Db, leaseMs: number, box: SecretBox | null = null) {
    this.#db = db;
    this.#leases = new LeaseQueue(db, { table: 'hook_jobs', until: 'locked_until' }, leaseMs);
    this.#box = box;
  }

  /** Queues one job per hook for `event`, in `trx` when the event belongs to a change being written. */
  async enqueue(trx: Knex, hookIds: string[], event: Record<string, unknown>, now = Date.now()): Promise<void> {
    const json = JSON.stringify(event);
    const stored = this.#box ? this.#box.seal(json) : json;
    await trx('hook_jobs').insert(
      hookIds.map((hookId) => ({
        id: `job_${randomUUID().replaceAll('-', '')}`,
        hook_id: hookId,
        event_id: String(event.id),
        event: stored,
        status: 'pending',
        attempts: 0,
        run_after: now,
        locked_until: null,
        created_at: now,
      })),
    );
  }

  /** A stored event: sealed (v1.…), or plain JSON from before events were sealed. */
  #open(stored: unknown): Record<string, unknown> {
    if (typeof stored === 'string' && stored.startsWith('v1.') && this.#box) return JSON.parse(this.#box.open(stored)) as Record<string, unknown>;
    return fromJson<Record<string, unknown>>(stored, {});
  }

  /** SQLite: one server per database, so any lease left is from a process that died. Frees them. */
  releaseLeftovers(): Promise<number> {
    return this.#leases.releaseAll({ status: 'pending' });
  }

  /** Leases up to `limit` due pending jobs no one holds, oldest due first. */
  async claim(limit: number, now = Date.now()): Promise<HookJob[]> {
    const { rows, until } = await this.#leases.claim(
      {
        where: `q.status = 'pending' AND q.run_after <= ?`,
        bindings: [now],
        recheck: `status = 'pending'`,
        orderBy: 'q.run_after',
        limit,
        returning: ['id', 'hook_id', 'event', 'attempts'],
      },
      now,
    );
    return rows.map((row) => ({
      id: String(row.id),
      hookId: String(row.hook_id),
      event: this.#open(row.event),
      attempts: Number(row.attempts),
      leaseUntil: until,
    }));
  }

  /** Finishes a job (done or failed), or schedules its retry, releasing the lease; a no-op if the lease was lost. */
  async settle(job: HookJob, changes: { status?: 'done' | 'failed'; attempts?: number; run_after?: number }): Promise<void> {
    await this.#leases.settle(this.#db, job.id, changes as Row, job.leaseUntil);
  }

  /** Deletes finished (done or failed) jobs queued before `maxAgeMs` ago; pending ones stay. */
  prune(maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.#db('hook_jobs')
      .whereIn('status', ['done', 'failed'])
      .andWhere('created_at', '<', now - maxAgeMs)
      .delete();
  }
}
