// The clean-up of expired rows, on a schedule shared by every instance of one database: each instance
// looks soon after its start and then regularly whether the clean-up is due (CLEANUP_INTERVAL since it
// last ran anywhere), and the one that takes the lease runs it (src/db/server-lease.ts). So the rows are
// pruned once per interval however many instances there are and however often they restart.
import { ServerLease } from './db/server-lease.ts';
import { deleteExpiredModels } from './oidc/adapter.ts';
import type { Services } from './services.ts';

/** The first look after start: soon, spread a little so instances started together do not all ask at once. */
const FIRST_LOOK_MS = 2000;
/** A clean-up taking longer than this is taken to have died with its process. */
const LEASE_MS = 10 * 60 * 1000;

/**
 * Deletes what has expired, each store its own rows: OIDC artifacts, one-time tokens, interaction
 * state, throttle windows, factors' codes and devices, the hook execution log and finished jobs, the
 * webhook delivery log.
 */
export async function cleanUp(services: Services): Promise<void> {
  const { config } = services;
  const now = Date.now();
  const models = await deleteExpiredModels(services.db, now);
  await services.tokens.prune(now);
  await services.flowStates.prune(now);
  await services.federation.pending.prune(now);
  await services.throttle.prune(now);
  await services.factors.prune(now);
  await services.passkeys.prune(now);
  await services.console.sessions.prune(now);
  await services.account.sessions.prune(now);
  await services.threats.prune(now);
  const executions = await services.executions.prune(config.hooks.executionMaxAgeDays * 86400_000, config.hooks.executionsPerHook, now);
  await services.hookJobs.prune(config.hooks.executionMaxAgeDays * 86400_000, now);
  const webhooks = await services.webhooks.prune(config.webhooks.retentionDays * 86400_000, now);
  await services.audit.prune(config.auditLogRetentionDays * 86400_000, now);
  await services.eventLog.prune(config.eventLogRetentionDays * 86400_000, now);
  await services.messageQueue.prune(config.messages.retentionDays * 86400_000, now);
  services.log.info({ models, executions, webhooks }, 'expired rows cleaned');
}

export class Housekeeping {
  readonly #services: Services;
  readonly #lease: ServerLease;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;

  constructor(services: Services) {
    this.#services = services;
    this.#everyMs = services.config.cluster.housekeepingIntervalMs;
    this.#lease = new ServerLease(services.db, 'housekeeping');
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(Math.min(this.#everyMs, FIRST_LOOK_MS) * (0.5 + Math.random() / 2));
  }

  /** Stops looking; a clean-up under way finishes first, and the lease is released either way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    await this.#lease.release().catch(() => {});
  }

  /** Runs the clean-up now if it is due and no other instance runs it. Answers whether this one ran it. */
  async runIfDue(): Promise<boolean> {
    if (!(await this.#lease.take(LEASE_MS, this.#everyMs))) return false;
    try {
      await cleanUp(this.#services);
      await this.#lease.done();
      return true;
    } catch (err) {
      await this.#lease.release().catch(() => {});
      throw err;
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.runIfDue()
        .then(
          () => {},
          (err) => this.#services.log.warn({ err }, 'clean-up failed'),
        )
        .finally(() => {
          this.#running = null;
          // Look again a tenth of the interval later (at most a minute): another instance's run, or this one's, moved the schedule.
          this.#schedule(Math.min(this.#everyMs / 10, 60_000));
        });
    }, delayMs);
    this.#timer.unref();
  }
}
