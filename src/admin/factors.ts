// Admin API: a user's second factors, passkeys among them (type "passkey", with a `passkey` object:
// name, transports, device type, backup state, counter, use). Listing never shows a secret (no TOTP key, no code or hash);
// removing one, or all (a reset, e.g. after a lost phone), announces each removed factor to webhooks
// (user.two-factor.method.remove, written with the change) and to after_mfa_change hooks, whose sync
// ones run before the removal commits and may refuse it (409 hook_denied).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Knex } from 'knex';
import { NotFoundError } from '../errors.ts';
import { removeFactorsWithHooks } from '../flows/factor-removal.ts';
import type { Factor } from '../identity/factors.ts';
import type { Passkey } from '../identity/passkeys.ts';
import type { User } from '../identity/users.ts';
import type { Services } from '../services.ts';

function lifecycleContext(ctx: Context) {
  return { applicationId: null, ip: ctx.ip || null, userAgent: ctx.get('user-agent') || null, locale: null };
}

/**
 * A factor as the admin API answers it: what it is and where codes go, never its secret. An SMS
 * factor says whether texts can reach it (`deliverable`: false when no SMS messenger is configured).
 */
function factorView(factor: Factor, smsConfigured = true, passkey?: Passkey): Record<string, unknown> {
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
    ...(passkey ? { passkey: passkeyView(passkey) } : {}),
  };
}

/** A passkey's details beside its factor: never its public key (nothing to do with it outside). */
function passkeyView(passkey: Passkey): Record<string, unknown> {
  return {
    name: passkey.name,
    credential_id: passkey.credential_id,
    transports: passkey.transports,
    device_type: passkey.device_type,
    backed_up: passkey.backed_up,
    aaguid: passkey.aaguid,
    counter: passkey.counter,
    created_at: passkey.created_at,
    last_used_at: passkey.last_used_at,
  };
}

export function factorRoutes(router: Router, services: Services): void {
  const { users, factors } = services;
  // after_mfa_change's sync hooks see each removal first (src/flows/factor-removal.ts).

  const removeWithHooks = (ctx: Context, user: User, announced: Factor[], remove: (trx: Knex.Transaction) => Promise<Factor[]>) =>
    removeFactorsWithHooks(services, lifecycleContext(ctx), user, announced, remove);

  router.get('/users/:id/factors', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    ctx.set('cache-control', 'no-store');
    const passkeys = new Map((await services.passkeys.list(user.id)).map((p) => [p.id, p]));
    ctx.body = (await factors.list(user.id)).map((factor) => factorView(factor, services.courier.smsAvailable, passkeys.get(factor.id)));
  });

  router.delete('/users/:id/factors/:factor_id', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    const factor = await factors.find(user.id, ctx.params.factor_id!);
    if (!factor) throw new NotFoundError('factor');
    await removeWithHooks(ctx, user, factor.status === 'active' ? [factor] : [], (trx) => factors.remove(user.id, factor.id, trx));
    ctx.status = 204;
  });

  // A reset: every factor, the recovery codes and the remembered devices.
  router.delete('/users/:id/factors', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    const active = (await factors.list(user.id)).filter((f) => f.status === 'active' && f.type !== 'recovery_codes');
    await removeWithHooks(ctx, user, active, (trx) => factors.removeAll(user.id, trx));
    ctx.status = 204;
  });
}
