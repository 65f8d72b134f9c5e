// The hook runner: picks the hooks of an event (by application and `enabled`, in `order`), runs
// the sync ones in the sandbox and merges their validated actions for the flow, queues the async
// ones durably, and records every run. Flows reach it only through Lifecycle.run.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { hookFailed } from './failures.ts';
import { actionProblem, type ActionOf, type ActionType, type RecordedAction } from './catalog/actions.ts';
import { decide, eventSpec, type EventName, type EventPayloads, type EventSpec } from './catalog/events.ts';
import type { ExecutionLog } from './executions.ts';
import type { HookJobQueue } from './jobs.ts';
import { DEFAULT_FAIR_SHARE, FairShare, type FairShareSettings, type SkipReason } from './fair-share.ts';
import type { Lifecycle, LifecycleContext, LifecycleOutcome, PendingChange } from './lifecycle.ts';
import type { HookStore, RunnableHook } from './store.ts';

/** `skipped`: fair sharing did not run it (its circuit is open, its CPU budget spent, no free run). */
export type ExecutionOutcome = 'success' | 'error' | 'timeout' | 'memory' | 'invalid_action' | 'skipped';

export interface ExecutionResult {
  outcome: ExecutionOutcome;
  actions: RecordedAction[];
  logs: string[];
  duration_ms: number;
  /** The isolate's CPU time, when the sandbox measured it (fair sharing charges it). */
  cpu_ms?: number;
  error?: string;
}

function skipped(reason: SkipReason): ExecutionResult {
  return { outcome: 'skipped', actions: [], logs: [], duration_ms: 0, error: `skipped: ${reason}` };
}

/** Runs one hook's code on one event in the sandbox. */
export interface HookExecutor {
  execute(hook: RunnableHook, event: Record<string, unknown>): Promise<ExecutionResult>;
}

const NO_JOBS = async (): Promise<void> => {};

export const GENERIC_HOOK_FAILURE = 'We could not complete this step right now. Please try again later.';

/** The outcome of an event no sync hook changed: one per event, built once (the common case costs nothing). */
const EMPTY = new Map<EventName, LifecycleOutcome<EventName>>();
function emptyOutcome<E extends EventName>(name: E): LifecycleOutcome<E> {
  let empty = EMPTY.get(name);
  if (empty === undefined) {
    empty = deepFreeze({ denied: null, actions: [], decision: decide(name, []) });
    EMPTY.set(name, empty);
  }
  return empty as LifecycleOutcome<E>;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

function outcomeOf<E extends EventName>(name: E, denied: { message: string } | null, actions: RecordedAction[]): LifecycleOutcome<E> {
  // executeChecked validated every action against the event's catalog entry: they are its typed actions.
  const valid = actions as unknown as Array<ActionOf<ActionType>>;
  return { denied, actions: valid as unknown as LifecycleOutcome<E>['actions'], decision: decide(name, valid) };
}

export interface RunnerDeps {
  db: Db;
  store: HookStore;
  executor: HookExecutor;
  /** Where every run is recorded. */
  executions: ExecutionLog;
  /** Where async runs are queued (the worker works it). */
  jobs: HookJobQueue;
  log: Logger;
  applicationName: (clientId: string) => Promise<string | null>;
  metrics?: Metrics;
  /** Called after async jobs are queued, so the worker need not wait for its next poll. */
  onQueued?: () => void;
  /** Per-hook concurrency, CPU budget and circuit breaker (defaults: DEFAULT_FAIR_SHARE). */
  fairShare?: FairShareSettings;
}

/** Builds the event a hook receives (without secrets and hook identity, added per hook). */
export async function buildEvent(spec: EventSpec, payload: object, ctx: LifecycleContext, applicationName: RunnerDeps['applicationName']): Promise<Record<string, unknown>> {
  const name = ctx.applicationId ? await applicationName(ctx.applicationId) : null;
  const { event_id: givenId, ...fields } = payload as Record<string, unknown>;
  return {
    id: typeof givenId === 'string' ? givenId : `evt_${randomUUID().replaceAll('-', '')}`,
    type: spec.name,
    application: ctx.applicationId ? { client_id: ctx.applicationId, name } : null,
    user: null,
    request: { ip: ctx.ip, user_agent: ctx.userAgent, locale: ctx.locale, location: ctx.location ?? null },
    created_at: new Date().toISOString(),
    ...fields,
  };
}

export function withHook(event: Record<string, unknown>, hook: RunnableHook): Record<string, unknown> {
  return { ...event, hook: { id: hook.id, name: hook.name }, secrets: hook.secrets };
}

/** Runs a hook and checks its actions against the catalog; an invalid action voids the whole run. */
export async function executeChecked(executor: HookExecutor, spec: EventSpec, hook: RunnableHook, event: Record<string, unknown>): Promise<ExecutionResult> {
  const result = await executor.execute(hook, withHook(event, hook));
  if (result.outcome !== 'success') return result;
  const problem = actionProblem(spec, result.actions);
  if (problem) return { ...result, outcome: 'invalid_action', error: problem };
  return result;
}

export class HookRunner implements Lifecycle {
  readonly #deps: RunnerDeps;
  readonly #share: FairShare<RunnableHook>;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    const { log, metrics, db } = deps;
    this.#share = new FairShare(deps.fairShare ?? DEFAULT_FAIR_SHARE, {
      opened: (hook, failures, until) => {
        const cooldownMs = until - Date.now();
        log.warn(
          { hook_id: hook.id, hook_version: hook.version, failures, until: new Date(until).toISOString() },
          'hook circuit open: its runs are skipped under its on_error until the cool-down ends',
        );
        metrics?.hookCircuitChanges.inc({ hook_id: hook.id, state: 'open' });
        const error = `circuit open for ${Math.round(cooldownMs / 1000)} s after ${failures} consecutive failed runs`;
        hookFailed(db, { hook_id: hook.id, hook_name: hook.name, event: hook.event, outcome: 'skipped', error }).catch((err) =>
          log.error({ err, hook_id: hook.id }, 'hook.failed (circuit open) could not be recorded'),
        );
      },
      closed: (hook) => {
        log.info({ hook_id: hook.id, hook_version: hook.version }, 'hook circuit closed: a trial run succeeded');
        metrics?.hookCircuitChanges.inc({ hook_id: hook.id, state: 'closed' });
      },
    });
  }

  /** Fair sharing's view of a hook (breaker state, runs, CPU budget left), for tests and operators. */
  shareOf(hookId: string): ReturnType<FairShare<RunnableHook>['state']> {
    return this.#share.state(hookId);
  }

  /**
   * Runs a hook within its fair share: it may wait for one of its runs to end, or be skipped (an
   * outcome `skipped`, not run at all). The sync runs and the async worker both come through here.
   */
  async executeShared(spec: EventSpec, hook: RunnableHook, event: Record<string, unknown>): Promise<ExecutionResult> {
    const admission = await this.#share.admit(hook);
    if (!admission.admitted) {
      this.#deps.metrics?.hookSkips.inc({ event: spec.name, reason: admission.reason });
      return skipped(admission.reason);
    }
    let result: ExecutionResult = { outcome: 'error', actions: [], logs: [], duration_ms: 0 };
    try {
      result = await executeChecked(this.#deps.executor, spec, admission.timeoutMs < hook.timeout_ms ? { ...hook, timeout_ms: admission.timeoutMs } : hook, event);
      return result;
    } finally {
      admission.done(result);
    }
  }

  async hasHooks(eventName: EventName, applicationId: string | null): Promise<boolean> {
    return (this.#deps.store.forEventNow(eventName, applicationId) ?? (await this.#deps.store.forEvent(eventName, applicationId))).length > 0;
  }

  hasHooksNow(eventName: EventName, applicationId: string | null): boolean | undefined {
    const hooks = this.#deps.store.forEventNow(eventName, applicationId);
    return hooks === undefined ? undefined : hooks.length > 0;
  }

  async run<E extends EventName>(eventName: E, payload: EventPayloads[E], ctx: LifecycleContext): Promise<LifecycleOutcome<E>> {
    return (await this.#run(eventName, payload, ctx, false)).outcome;
  }

  async runBeforeChange<E extends EventName>(eventName: E, payload: EventPayloads[E], ctx: LifecycleContext): Promise<PendingChange<E>> {
    return this.#run(eventName, payload, ctx, true);
  }

  async #run<E extends EventName>(eventName: E, payload: EventPayloads[E], ctx: LifecycleContext, deferAsync: boolean): Promise<PendingChange<E>> {
    const spec = eventSpec(eventName);
    if (!spec) throw new Error(`unknown lifecycle event ${eventName}`);
    const hooks = this.#deps.store.forEventNow(eventName, ctx.applicationId) ?? (await this.#deps.store.forEvent(eventName, ctx.applicationId));
    if (hooks.length === 0) return { outcome: emptyOutcome(eventName), queueAsync: NO_JOBS };

    const event = await buildEvent(spec, payload, ctx, this.#deps.applicationName);
    const asyncHooks = hooks.filter((h) => h.mode === 'async');
    // An after_* change queues its async hooks in its own transaction: they hear of it only if it commits.
    const queueAsync = asyncHooks.length ? (trx: Knex.Transaction) => this.#queue(asyncHooks, event, trx) : NO_JOBS;
    if (!deferAsync && asyncHooks.length) await this.#queue(asyncHooks, event);
    return { outcome: await this.#runSync(eventName, spec, hooks, event), queueAsync: deferAsync ? queueAsync : NO_JOBS };
  }

  async #runSync<E extends EventName>(eventName: E, spec: EventSpec, hooks: RunnableHook[], event: Record<string, unknown>): Promise<LifecycleOutcome<E>> {
    const actions: RecordedAction[] = [];
    for (const hook of hooks) {
      if (hook.mode !== 'sync') continue;
      const result = await this.executeShared(spec, hook, event);
      this.record(hook, event, 'sync', result);
      if (result.outcome !== 'success') {
        // A skipped run is not another failure: the breaker's opening said so once (log, hook.failed, metric).
        if (result.outcome !== 'skipped') {
          this.#deps.log.warn({ hook_id: hook.id, event: eventName, outcome: result.outcome }, 'hook failed');
          await hookFailed(this.#deps.db, { hook_id: hook.id, hook_name: hook.name, event: eventName, outcome: result.outcome, error: result.error ?? null });
        }
        if (hook.on_error === 'fail') return { ...emptyOutcome(eventName), denied: { message: GENERIC_HOOK_FAILURE }, failed: true };
        continue;
      }
      const deny = result.actions.find((a) => a.type === 'deny');
      if (deny) return outcomeOf(eventName, { message: String(deny.message) }, [...actions, ...result.actions.filter((a) => a.type !== 'deny')]);
      actions.push(...result.actions);
    }
    return outcomeOf(eventName, null, actions);
  }

  /** Logs a run (the execution log writes it in small batches, off the journey's path). */
  record(hook: RunnableHook, event: Record<string, unknown>, mode: 'sync' | 'async', result: ExecutionResult): void {
    this.#deps.metrics?.hookRuns.inc({ event: hook.event, mode, outcome: result.outcome });
    this.#deps.metrics?.hookDuration.observe({ event: hook.event, mode }, result.duration_ms / 1000);
    this.#deps.executions.record({
      hookId: hook.id,
      hookVersion: hook.version,
      eventId: String(event.id),
      event: String(event.type),
      mode,
      outcome: result.outcome,
      durationMs: result.duration_ms,
      logs: result.logs,
      actions: result.actions,
      error: result.error,
      payload: event,
    });
  }

  async #queue(hooks: RunnableHook[], event: Record<string, unknown>, trx?: Knex.Transaction): Promise<void> {
    await this.#deps.jobs.enqueue(
      trx ?? this.#deps.db,
      hooks.map((hook) => hook.id),
      event,
    );
    if (trx)
      trx.executionPromise.then(
        () => this.#deps.onQueued?.(),
        () => {},
      );
    else this.#deps.onQueued?.();
  }
}
