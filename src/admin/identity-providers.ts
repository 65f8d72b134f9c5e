// Admin API: upstream identity providers (CONTRACT §8), a user's links to them, and the user's
// identity verification. The client secret is write-only: never answered.
import type Router from '@koa/router';
import { NotFoundError } from '../errors.ts';
import type { Services } from '../services.ts';
import { objectBody } from './body.ts';

export function identityProviderRoutes(router: Router, services: Services): void {
  const { providers, links, verifications } = services.federation;

  router.post('/identity-providers', async (ctx) => {
    const created = await providers.create(objectBody(ctx));
    ctx.status = 201;
    ctx.set('location', `/admin/api/identity-providers/${created.id}`);
    ctx.body = created;
  });

  router.get('/identity-providers', async (ctx) => {
    ctx.body = await providers.list();
  });

  router.get('/identity-providers/:id', async (ctx) => {
    ctx.body = await providers.get(ctx.params.id!);
  });

  router.patch('/identity-providers/:id', async (ctx) => {
    ctx.body = await providers.update(ctx.params.id!, objectBody(ctx));
  });

  router.delete('/identity-providers/:id', async (ctx) => {
    await providers.delete(ctx.params.id!);
    ctx.status = 204;
  });

  router.get('/users/:id/links', async (ctx) => {
    const user = await services.users.getById(ctx.params.id!);
    ctx.body = await links.listForUser(user.id);
  });

  router.delete('/users/:id/links/:provider_id', async (ctx) => {
    const user = await services.users.getById(ctx.params.id!);
    const providerId = ctx.params.provider_id ?? '';
    if (providerId.length > 36) throw new NotFoundError('link');
    await links.unlink(user.id, providerId);
    ctx.status = 204;
  });

  router.get('/users/:id/identity-verification', async (ctx) => {
    const user = await services.users.getById(ctx.params.id!);
    const result = await verifications.get(user.id);
    if (!result) throw new NotFoundError('identity verification');
    ctx.body = result;
  });
}
