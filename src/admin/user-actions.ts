// Admin API: POST /users/:id/actions {action: "lock"|"unlock", reason, duration_seconds?}. A lock
// refuses sign-in (and signs the account out everywhere) until unlocked or until its end; unlock also
// clears the account's failed-login budget (identity/lockout.ts). Both are user.action webhook events.
import type Router from '@koa/router';
import { ValidationError } from '../errors.ts';
import { MAX_LOCK_SECONDS } from '../identity/lockout.ts';
import type { Services } from '../services.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { objectBody } from './body.ts';

const ACTIONS = ['lock', 'unlock'] as const;
type UserAction = (typeof ACTIONS)[number];

interface ActionInput {
  action: UserAction;
  reason: string;
  /** null: until unlocked. */
  seconds: number | null;
}

function actionInput(body: JsonObject): ActionInput {
  onlyFields(body, ['action', 'reason', 'duration_seconds']);
  const { action, reason, duration_seconds: duration } = body as Record<string, unknown>;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    throw new ValidationError('action', 'must be "lock" or "unlock"');
  }
  if (typeof reason !== 'string' || reason.trim() === '') throw new ValidationError('reason', 'is required (a short text saying why)');
  if (reason.length > 500) throw new ValidationError('reason', 'must be at most 500 characters');
  if (reason.includes('\u0000')) throw new ValidationError('reason', 'must not contain a NUL character');
  let seconds: number | null = null;
  if (duration !== undefined && duration !== null) {
    if (action !== 'lock') throw new ValidationError('duration_seconds', 'is only for "lock"');
    if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 1 || duration > MAX_LOCK_SECONDS) {
      throw new ValidationError('duration_seconds', `must be a whole number of seconds from 1 to ${MAX_LOCK_SECONDS} (leave it out: until unlocked)`);
    }
    seconds = duration;
  }
  return { action: action as UserAction, reason: reason.trim(), seconds };
}

export function userActionRoutes(router: Router, services: Services): void {
  router.post('/users/:id/actions', async (ctx) => {
    const input = actionInput(objectBody(ctx));
    const user = await services.users.getById(ctx.params.id!);
    if (input.action === 'lock') {
      const lock = await services.locks.lock(user.id, input.reason, input.seconds);
      ctx.body = { user_id: user.id, action: input.action, locked: true, ...lock };
      return;
    }
    await services.locks.unlock(user.id, input.reason);
    (ctx.state.log ?? services.log).info({ user: user.id, reason: input.reason }, 'user unlocked by an operator');
    ctx.body = { user_id: user.id, action: input.action, locked: false, locked_at: null, locked_until: null, reason: input.reason };
  });
}
