// Waits for a test server's background work to finish, so that a check that something did NOT
// happen (no mail, no webhook, no second hook run) is made once it could no longer happen, rather
// than after a sleep that a slow machine outruns. Each waits on the work's own record of itself.
import type { TestServer } from './server.ts';

async function until(what: string, done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const count = async (query: PromiseLike<Array<Record<string, unknown>>>) => Number(Object.values((await query)[0] ?? {})[0] ?? 0);

/**
 * Every mail and text the server has started sending so far has passed its hooks and been handed
 * to its transport (or failed, or waits for a retry that is not due yet).
 */
export function mailsSent(server: TestServer): Promise<void> {
  return server.server.services.courier.idle();
}

/**
 * The hook's async queue is empty: no job of it is pending (due or waiting for a retry), so every run
 * queued so far has ended, its calls made. A job is queued before the answer of the request that
 * caused it, so after that answer this is the point past which no run of it is still to come.
 */
export async function hookJobsDone(server: TestServer, hookId: string, timeoutMs = 10_000): Promise<void> {
  const { db } = server.server.services;
  await until(`the async jobs of hook ${hookId} to finish`, async () => (await count(db('hook_jobs').where({ hook_id: hookId, status: 'pending' }).count({ n: '*' }))) === 0, timeoutMs);
}

/**
 * The webhook outbox is settled: every event is fanned out to its endpoints and no delivery is
 * pending, so every request a delivery will make has been made (a receiver records a request before
 * it answers, and a delivery ends only after the answer).
 */
export async function webhooksSettled(server: TestServer, timeoutMs = 10_000): Promise<void> {
  const { db } = server.server.services;
  await until(
    'the webhook outbox to settle',
    async () => (await count(db('webhook_events').whereNull('dispatched_at').count({ n: '*' }))) === 0 && (await count(db('webhook_deliveries').where({ status: 'pending' }).count({ n: '*' }))) === 0,
    timeoutMs,
  );
}

/** The hook's async job failed `attempts` time(s) and waits for its retry (pending, not running). */
export async function hookRetryScheduled(server: TestServer, hookId: string, attempts = 1, timeoutMs = 10_000): Promise<void> {
  const { db } = server.server.services;
  await until(
    `a retry of hook ${hookId}`,
    async () => (await count(db('hook_jobs').where({ hook_id: hookId, status: 'pending' }).whereNull('locked_until').andWhere('attempts', '>=', attempts).count({ n: '*' }))) > 0,
    timeoutMs,
  );
}
