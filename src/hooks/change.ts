// A change that an after_* event reports, with the event's sync hooks in front of its commit
// (CONTRACT §5, docs/hooks.md): the caller prepares (reads what the change is about), the hooks run
// while no transaction is open (SQLite's one writer keeps serving everyone else), then the change
// commits in one transaction that applies the hooks' enrich actions, queues the async hooks and
// checks that what it is about did not change meanwhile. A denial, or a failure of a hook with
// on_error "fail", writes nothing: HookDenied, 409 hook_denied on the admin API, the message on a page.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { ClientError } from '../errors.ts';
import type { UserChanges } from './catalog/decisions.ts';
import type { EventPayloads } from './catalog/events.ts';
import type { Lifecycle, LifecycleContext } from './lifecycle.ts';
import type { PassedEvent, WebhookEventType } from '../webhooks/outbox.ts';
import type { TransactionalWebhooks } from '../webhooks/transactional.ts';

/** The after_* events whose sync hooks can enrich the user, and refuse the change (catalog `refusal`). */
export type ChangeEvent = 'after_account_activation' | 'after_mfa_change' | 'after_password_reset' | 'after_consent_update' | 'after_account_disabled' | 'after_account_deleted';

/** A sync hook refused the change (api.deny), or failed under on_error "fail" (`failed`, a generic message). */
export class HookDenied extends ClientError {
  readonly failed: boolean;

  constructor(message: string, failed: boolean) {
    super(409, 'hook_denied', message);
    this.failed = failed;
  }
}

export interface ChangeRun<E extends ChangeEvent = ChangeEvent> {
  event: E;
  payload: EventPayloads[E];
}

/** One run of an event, typed by the event: `run('after_account_disabled', { user })`. */
export function run<E extends ChangeEvent>(event: E, payload: EventPayloads[E]): ChangeRun {
  return { event, payload } as unknown as ChangeRun;
}

/**
 * Runs the sync hooks of each run in order (several: one per factor removed), then `commit` in one
 * transaction with their enrich actions merged (the last value of a key wins). `commit` writes the
 * change and throws when what it is about changed meanwhile; the async hooks are queued in the same
 * transaction. Throws HookDenied, having written nothing, when a hook refused.
 * `webhook`: the change's transactional event (one with a `.complete` twin): once the hooks let the
 * change through, transactional webhook endpoints get it, still with no transaction open, and may
 * refuse it (WebhookRefused); `commit` gets what they accepted, to record with the change.
 */
export async function changeWithHooks<T>(
  deps: { db: Db; lifecycle: Lifecycle; transactional?: Pick<TransactionalWebhooks, 'pass'> },
  runs: ChangeRun[],
  ctx: LifecycleContext,
  commit: (trx: Knex.Transaction, changes: UserChanges, passed: PassedEvent | null) => Promise<T>,
  webhook?: { type: WebhookEventType; data: Record<string, unknown> },
): Promise<T> {
  const changes: UserChanges = { attributes: {}, metadata: {} };
  const queues: Array<(trx: Knex.Transaction) => Promise<void>> = [];
  for (const { event, payload } of runs) {
    const pending = await deps.lifecycle.runBeforeChange(event, payload, ctx);
    if (pending.outcome.denied) throw new HookDenied(pending.outcome.denied.message, pending.outcome.failed === true);
    const decided = (pending.outcome.decision as { changes: UserChanges }).changes;
    Object.assign(changes.attributes, decided.attributes);
    Object.assign(changes.metadata, decided.metadata);
    queues.push(pending.queueAsync);
  }
  const passed = webhook && deps.transactional ? await deps.transactional.pass(webhook.type, webhook.data) : null;
  return deps.db.transaction(async (trx) => {
    const value = await commit(trx, changes, passed);
    for (const queue of queues) await queue(trx);
    return value;
  });
}
