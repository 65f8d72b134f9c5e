// Admin API: a user's second factors. Listing never shows a secret (no TOTP key, no code or hash);
// removing one, or all (a reset, e.g. after a lost phone), announces each removed factor to webhooks
// (user.two-factor.method.remove, written with the change) and to after_mfa_change hooks.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Factor } from '../identity/factors.ts';
import { publicUser, type User } from '../identity/users.ts';
import type { Services } from '../services.ts';

function lifecycleContext(ctx: Context) {
  return { applicationId: null, ip: ctx.ip || null, userAgent: ctx.get('user-agent') || null, locale: null };
}

/**
 * A factor as the admin API answers it: what it is and where codes go, never its secret. An SMS
 * factor says whether texts can reach it (`deliverable`: false when no SMS messenger is configured).
 */
function factorView(factor: Factor, smsConfigured = true): Record<string, unknown> {
  return {
    id: factor.id,
    type: factor.type,
    status: factor.status,
    target: factor.target,
    created_at: factor.created_at,
    confirmed_at: factor.confirmed_at,
    last_used_at: factor.last_used_at,
    ...(factor.remaining_codes === undefined ? {} : { remaining_codes: factor.remaining_codes }),
    ...(factor.type === 'sms' ? { deliverable: smsConfigured } : {}),
  };
}

export function factorRoutes(router: Router, services: Services): void {
  const { users, factors } = services;

  const announce = async (ctx: Context, user: User, removed: Factor[]) => {
    for (const factor of removed) {
      await services.lifecycle.run(
        'after_mfa_change',
        {
          user: publicUser(user),
          change: 'removed',
          factor: { id: factor.id, type: factor.type },
        },
        lifecycleContext(ctx),
      );
    }
  };

  router.get('/users/:id/factors', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    ctx.set('cache-control', 'no-store');
    ctx.body = (await factors.list(user.id)).map((factor) => factorView(factor, services.sms !== null));
  });

  router.delete('/users/:id/factors/:factor_id', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    const removed = await factors.remove(user.id, ctx.params.factor_id!);
    await announce(ctx, user, removed);
    ctx.status = 204;
  });

  // A reset: every factor, the recovery codes and the remembered devices.
  router.delete('/users/:id/factors', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    const removed = await factors.removeAll(user.id);
    await announce(ctx, user, removed);
    ctx.status = 204;
  });
}
