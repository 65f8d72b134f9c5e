// Admin API: users. Answers never carry password hashes (the User type has none, only has_password).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ValidationError } from '../errors.ts';
import { changeWithHooks, run } from '../hooks/change.ts';
import type { LifecycleContext } from '../hooks/lifecycle.ts';
import { ImportRefused, UserImporter } from '../identity/import.ts';
import { publicUser, userInput, userPatch } from '../identity/users.ts';
import type { Services } from '../services.ts';
import { objectBody, queryInt, queryString } from './body.ts';

function lifecycleContext(ctx: Context): LifecycleContext {
  return { applicationId: null, ip: ctx.ip || null, userAgent: ctx.get('user-agent') || null, locale: null };
}

export function userRoutes(router: Router, services: Services): void {
  const users = services.users;

  router.post('/users', async (ctx) => {
    const user = await users.create(userInput(objectBody(ctx)), 'admin', undefined, { transactional: true });
    ctx.status = 201;
    ctx.set('location', `/admin/api/users/${user.id}`);
    ctx.body = publicUser(user);
  });

  // Bulk import (CONTRACT §9): all or none; a refused call answers 400 with every bad index.
  router.post('/users/import', async (ctx) => {
    try {
      ctx.body = await new UserImporter(services.db, users).import(objectBody(ctx));
    } catch (error) {
      if (!(error instanceof ImportRefused)) throw error;
      ctx.status = 400;
      ctx.body = { error: error.code, message: error.message, created: 0, errors: error.errors };
    }
  });

  router.get('/users', async (ctx) => {
    const email = queryString(ctx, 'email');
    if (email !== undefined && email.trim() === '') throw new ValidationError('email', 'must not be empty');
    const q = queryString(ctx, 'q', 200)?.trim();
    const limit = queryInt(ctx, 'limit', 50, 1, 200);
    const offset = queryInt(ctx, 'offset', 0, 0, 1_000_000);
    ctx.body = (await users.list({ email, q: q || undefined, limit, offset })).map(publicUser);
  });

  router.get('/users/:id', async (ctx) => {
    ctx.body = publicUser(await users.getById(ctx.params.id!));
  });

  router.patch('/users/:id', async (ctx) => {
    const patch = userPatch(objectBody(ctx));
    ctx.body = publicUser(await users.update(ctx.params.id!, patch, 'user.update', { transactional: true }));
  });

  // Deleting and disabling wait for their sync hooks, which see the change before it commits and may
  // refuse it (409 hook_denied) or enrich the user (hooks/change.ts). Creating, changing and deleting
  // wait for transactional webhook endpoints too (409 webhook_refused, webhooks/transactional.ts).
  router.delete('/users/:id', async (ctx) => {
    const user = await users.getById(ctx.params.id!);
    const webhook = { type: 'user.delete' as const, data: { user: publicUser(user) } };
    await changeWithHooks(
      services,
      [run('after_account_deleted', { user: publicUser(user) })],
      lifecycleContext(ctx),
      async (trx, changes, passed) => {
        if (passed) await users.assertUnchanged(trx, user);
        await users.enrich(trx, user.id, changes, false);
        return users.delete(user.id, trx, passed);
      },
      webhook,
    );
    ctx.status = 204;
  });

  router.post('/users/:id/disable', async (ctx) => {
    const before = await users.getById(ctx.params.id!);
    if (before.status === 'disabled') {
      ctx.body = publicUser(before);
      return;
    }
    const runs = [run('after_account_disabled', { user: publicUser({ ...before, status: 'disabled' }) })];
    const user = await changeWithHooks(services, runs, lifecycleContext(ctx), async (trx, changes) => {
      const enriched = await users.enrich(trx, before.id, changes, false);
      return users.setStatus(before.id, 'disabled', { trx, current: { ...enriched, status: before.status } });
    });
    ctx.body = publicUser(user);
  });

  // Sign out everywhere: every session, grant, code and token of the account goes (the account stays).
  router.delete('/users/:id/sessions', async (ctx) => {
    await users.signOutEverywhere(ctx.params.id!);
    ctx.status = 204;
  });

  // The consents the user gave or refused on the hosted pages (progressive profiling, consent updates).
  router.get('/users/:id/consents', async (ctx) => {
    await users.getById(ctx.params.id!);
    ctx.body = await services.consents.list(ctx.params.id!);
  });

  // The applications the user granted access to, and revoking one (its grants and tokens go).
  router.get('/users/:id/applications', async (ctx) => {
    ctx.body = await services.access.list(ctx.params.id!);
  });

  router.delete('/users/:id/applications/:client_id', async (ctx) => {
    await services.access.revoke(ctx.params.id!, ctx.params.client_id!, 'operator');
    ctx.status = 204;
  });

  // Enabling lets the user sign in again; on a pending account it also skips the activation mail.
  router.post('/users/:id/enable', async (ctx) => {
    ctx.body = publicUser(await users.setStatus(ctx.params.id!, 'active'));
  });
}
