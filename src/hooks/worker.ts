// Runs the queued async hook jobs. Jobs live in the database, so a restart loses none; a job is
// claimed with a conditional UPDATE (a lease), so several server processes never run one twice
// at the same time. Failed runs are retried with growing delays, then marked failed.
import type { Db } from '../db/knex.ts';
import { fromJson } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import { eventSpec } from './catalog/events.ts';
import { executeChecked, type HookExecutor, type HookRunner } from './runner.ts';
import type { HookStore } from './store.ts';

const RETRY_DELAYS_MS = [5_000, 30_000, 120_000];
const LEASE_MS = 30_000;
const BATCH = 10;

export interface WorkerDeps {
  db: Db;
  store: HookStore;
  executor: HookExecutor;
  runner: HookRunner;
  log: Logger;
  pollMs?: number;
}

export class HookWorker {
  readonly #deps: WorkerDeps;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = true;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.kick(), this.#deps.pollMs ?? 500);
    this.#timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  /** Looks for work now (called when a job is queued). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().catch((err) => this.#deps.log.error({ err }, 'hook worker failed')).finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const jobs = await this.#claim();
      if (jobs.length === 0) return;
      await Promise.all(jobs.map((job) => this.#runJob(job)));
    }
  }

  async #claim(): Promise<Array<Record<string, unknown>>> {
    const { db } = this.#deps;
    const now = Date.now();
    const candidates = await db('hook_jobs')
      .where({ status: 'pending' }).andWhere('run_after', '<=', now)
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<', now))
      .orderBy('run_after').limit(BATCH);
    const claimed: Array<Record<string, unknown>> = [];
    for (const job of candidates) {
      const count = await db('hook_jobs')
        .where({ id: job.id, status: 'pending' })
        .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<', now))
        .update({ locked_until: now + LEASE_MS });
      if (count === 1) claimed.push(job);
    }
    return claimed;
  }

  async #runJob(job: Record<string, unknown>): Promise<void> {
    const { db, store, executor, runner, log } = this.#deps;
    const event = fromJson<Record<string, unknown>>(job.event, {});
    const spec = eventSpec(String(event.type));
    let hook;
    try {
      hook = await store.runnable(String(job.hook_id));
    } catch {
      await db('hook_jobs').where({ id: job.id }).update({ status: 'failed', locked_until: null });
      return;
    }
    if (!spec || !hook.enabled) {
      await db('hook_jobs').where({ id: job.id }).update({ status: 'done', locked_until: null });
      return;
    }
    const result = await executeChecked(executor, spec, hook, event);
    if (result.outcome === 'success' && result.actions.length) {
      // An async hook cannot steer a journey that has moved on: its actions are refused and logged.
      result.logs.push(`[tessera] ${result.actions.length} action(s) refused: ${spec.name} ran async, the journey did not wait`);
      result.actions = [];
    }
    runner.record(hook, event, 'async', result);
    if (result.outcome !== 'success') {
      await recordEvent(db, 'hook.failed', { hook_id: hook.id, hook_name: hook.name, event: spec.name, outcome: result.outcome, error: result.error ?? null });
    }
    const attempts = Number(job.attempts) + 1;
    if (result.outcome === 'success') {
      await db('hook_jobs').where({ id: job.id }).update({ status: 'done', attempts, locked_until: null });
    } else if (attempts <= RETRY_DELAYS_MS.length) {
      await db('hook_jobs').where({ id: job.id }).update({ attempts, run_after: Date.now() + RETRY_DELAYS_MS[attempts - 1]!, locked_until: null });
    } else {
      await db('hook_jobs').where({ id: job.id }).update({ status: 'failed', attempts, locked_until: null });
      log.warn({ hook_id: hook.id, job_id: job.id }, 'async hook failed for good');
    }
  }
}
