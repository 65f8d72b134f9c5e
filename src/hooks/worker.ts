// Runs the queued async hook jobs. Jobs live in the database, so a restart loses none; a job is
// leased (jobs.ts, src/db/leases.ts), so several server processes never run one twice at the same
// time. Failed runs are retried after the delays of HOOK_ASYNC_RETRY_SCHEDULE, then marked failed.
import type { Config } from '../config.ts';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { hookFailed } from './failures.ts';
import { eventSpec } from './catalog/events.ts';
import type { HookJobQueue, HookJob } from './jobs.ts';
import type { HookRunner } from './runner.ts';
import type { HookStore } from './store.ts';

/** A job whose hook fair sharing skipped is tried again this much later (its attempts unchanged). */
const SKIPPED_RETRY_MS = 5000;

export interface WorkerDeps {
  db: Db;
  store: HookStore;
  /** Runs the jobs' hooks within their fair share (executeShared), and records them. */
  runner: HookRunner;
  log: Logger;
  /** The queue the runner writes to (its lease length is HOOK_ASYNC_LEASE). */
  jobs: HookJobQueue;
  settings: Pick<Config['hooks'], 'asyncRetryScheduleMs' | 'asyncPollMs' | 'asyncConcurrency'>;
}

export class HookWorker {
  readonly #deps: WorkerDeps;
  readonly #jobs: HookJobQueue;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = true;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
    this.#jobs = deps.jobs;
  }

  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.kick(), this.#deps.settings.asyncPollMs);
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
    this.#running = this.#drain()
      .catch((err) => this.#deps.log.error({ err }, 'hook worker failed'))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const jobs = await this.#jobs.claim(this.#deps.settings.asyncConcurrency);
      if (jobs.length === 0) return;
      await Promise.all(jobs.map((job) => this.#runJob(job)));
    }
  }

  async #runJob(job: HookJob): Promise<void> {
    const { db, store, runner, log, settings } = this.#deps;
    const { event } = job;
    const spec = eventSpec(String(event.type));
    let hook;
    try {
      hook = await store.runnable(job.hookId);
    } catch {
      await this.#jobs.settle(job, { status: 'failed' });
      return;
    }
    if (!spec || !hook.enabled) {
      await this.#jobs.settle(job, { status: 'done' });
      return;
    }
    const result = await runner.executeShared(spec, hook, event);
    if (result.outcome === 'skipped') {
      // Fair sharing held the hook back (its circuit is open, its CPU budget spent): not an attempt.
      runner.record(hook, event, 'async', result);
      await this.#jobs.settle(job, { run_after: Date.now() + SKIPPED_RETRY_MS });
      return;
    }
    if (result.outcome === 'success' && result.actions.length) {
      // An async hook cannot steer a journey that has moved on: its actions are refused and logged.
      result.logs.push(`[tessera] ${result.actions.length} action(s) refused: ${spec.name} ran async, the journey did not wait`);
      result.actions = [];
    }
    runner.record(hook, event, 'async', result);
    if (result.outcome !== 'success') {
      await hookFailed(db, { hook_id: hook.id, hook_name: hook.name, event: spec.name, outcome: result.outcome, error: result.error ?? null });
    }
    const attempts = job.attempts + 1;
    const schedule = settings.asyncRetryScheduleMs;
    if (result.outcome === 'success') {
      await this.#jobs.settle(job, { status: 'done', attempts });
    } else if (attempts <= schedule.length) {
      await this.#jobs.settle(job, { attempts, run_after: Date.now() + schedule[attempts - 1]! });
    } else {
      await this.#jobs.settle(job, { status: 'failed', attempts });
      log.warn({ hook_id: hook.id, job_id: job.id }, 'async hook failed for good');
    }
  }
}
