// A refused step of a login or a registration, told the same way everywhere: the user.login.failed
// webhook (logins only), then the at_failed_authentication point, whose hooks may choose the message
// (api.error.setMessage) or send the user elsewhere (api.redirect); then the step's own page with
// the message in role="alert".
import type { Context } from 'koa';
import { publicUser, type User } from '../identity/users.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import type { FlowKit } from './kit.ts';

type FailureReason = 'invalid_credentials' | 'throttled' | 'denied' | 'not_activated' | 'disabled' | 'locked' | 'registration_failed';

interface Failure {
  user: User | null;
  identifier: string | null;
  reason: FailureReason;
  flow?: 'login' | 'registration';
}

/** Reports a failure: the webhook event and at_failed_authentication, with what its hooks chose. */
async function reportFailure(ctx: Context, kit: FlowKit, clientId: string | null, failure: Failure): Promise<{ message: string | null; redirect: string | null }> {
  const flow = failure.flow ?? 'login';
  if (flow === 'login') {
    await kit.services.db.transaction((tx) =>
      recordEvent(tx, 'user.login.failed', {
        user_id: failure.user?.id ?? null,
        application_id: clientId,
        reason: failure.reason,
      }),
    );
  }
  const outcome = await kit.hook(
    ctx,
    'at_failed_authentication',
    {
      flow,
      user: failure.user ? publicUser(failure.user) : null,
      identifier: failure.identifier,
      reason: failure.reason,
    },
    clientId,
  );
  return outcome.decision;
}

/**
 * Reports the failure now and answers the answer to send: the hook's redirect, or `show` with the
 * hook's message (else `fallback`). For a step whose answer waits (the identify step's equal time).
 */
export async function denial(
  ctx: Context,
  kit: FlowKit,
  clientId: string | null,
  failure: Failure,
  fallback: string | null,
  show: (alert: string | null) => void | Promise<void>,
): Promise<() => void | Promise<void>> {
  const reported = await reportFailure(ctx, kit, clientId, failure);
  if (reported.redirect) return () => redirectAway(ctx, reported.redirect!);
  return () => show(reported.message ?? fallback);
}

/** A refused step, answered at once (see denial). */
export async function deny(ctx: Context, kit: FlowKit, clientId: string | null, failure: Failure, fallback: string | null, show: (alert: string | null) => void | Promise<void>): Promise<void> {
  await (await denial(ctx, kit, clientId, failure, fallback, show))();
}

/** Sends the browser to a URL a hook chose (api.redirect), never one taken from the request. */
function redirectAway(ctx: Context, target: string): void {
  ctx.status = 303;
  ctx.redirect(target);
}
