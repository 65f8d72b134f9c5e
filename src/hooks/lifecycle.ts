// The one entry point flows call at each lifecycle point: `lifecycle.run(event, payload, ctx)`, typed
// by the catalog: the payload must be the event's (EventPayloads[E]) and the outcome carries the
// event's typed decision (catalog/events.ts). The hook runner (runner.ts) implements it.
import type { Knex } from 'knex';
import type { ActionOf } from './catalog/actions.ts';
import type { GeoLocation } from '../geo/locator.ts';
import type { AllowedAction, EventDecision, EventName, EventPayloads } from './catalog/events.ts';

export interface LifecycleContext {
  applicationId: string | null;
  ip: string | null;
  userAgent: string | null;
  locale: string | null;
  /** The client's location (src/geo/), for events a person's request raised; absent: null. */
  location?: GeoLocation | null;
}

/** What the sync hooks decided, merged: a denial (with the message to show), the actions and their decision. */
export interface LifecycleOutcome<E extends EventName> {
  denied: { message: string } | null;
  /** The validated actions of the hooks that ran, in order. */
  actions: ReadonlyArray<ActionOf<AllowedAction<E>>>;
  /** The actions read into what the flow applies (see each event's decide()). */
  decision: EventDecision<E>;
  /** True when a hook with on_error "fail" threw or hit a limit (denied then holds a generic message). */
  failed?: boolean;
}

/** The sync hooks' outcome of an after_* change not committed yet, and its async hooks still to queue. */
export interface PendingChange<E extends EventName> {
  outcome: LifecycleOutcome<E>;
  /** Queues the async hooks inside the change's own transaction (they hear of it only if it commits). */
  queueAsync(trx: Knex.Transaction): Promise<void>;
}

export interface Lifecycle {
  run<E extends EventName>(event: E, payload: EventPayloads[E], ctx: LifecycleContext): Promise<LifecycleOutcome<E>>;
  /** Like run, for a change that commits after its sync hooks (hooks/change.ts): async hooks are queued by the change. */
  runBeforeChange<E extends EventName>(event: E, payload: EventPayloads[E], ctx: LifecycleContext): Promise<PendingChange<E>>;
  /** Whether any enabled hook would run for the event and application (a caller skips building a payload no one reads). */
  hasHooks(event: EventName, applicationId: string | null): Promise<boolean>;
  /** The same when the answer is at hand (the hook store's cache), without a promise; undefined when it is not. */
  hasHooksNow(event: EventName, applicationId: string | null): boolean | undefined;
}
