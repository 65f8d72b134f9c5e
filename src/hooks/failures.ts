// A hook that failed (threw, hit a limit) or whose circuit opened: the hook.failed webhook event and
// the event log's entry (src/event-log.ts), written together.
import type { Knex } from 'knex';
import { logEvent } from '../event-log.ts';
import { recordEvent } from '../webhooks/outbox.ts';

export interface HookFailure {
  hook_id: string;
  hook_name: string;
  event: string;
  outcome: string;
  error: string | null;
}

export async function hookFailed(db: Knex, failure: HookFailure): Promise<void> {
  await db.transaction(async (trx) => {
    await recordEvent(trx, 'hook.failed', { ...failure });
    const what = failure.outcome === 'skipped' ? 'was skipped' : `failed: ${failure.outcome}`;
    await logEvent(trx, 'hook.failed', `hook "${failure.hook_name}" (${failure.event}) ${what}${failure.error ? ` (${failure.error})` : ''}`, { ...failure });
  });
}
