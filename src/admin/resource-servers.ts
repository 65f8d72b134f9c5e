// Admin API: resource servers (APIs that receive JWT access tokens). The identifier is a URL, so in
// the path it is URL-encoded: /resource-servers/https%3A%2F%2Fapi.example.com
import type Router from '@koa/router';
import { NotFoundError } from '../errors.ts';
import { resourceServerInput } from '../oidc/resource-servers.ts';
import type { Services } from '../services.ts';
import { objectBody } from './body.ts';

export function resourceServerRoutes(router: Router, services: Services): void {
  const servers = services.resourceServers;

  router.post('/resource-servers', async (ctx) => {
    const created = await servers.create(resourceServerInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/resource-servers/${encodeURIComponent(created.identifier)}`);
    ctx.body = created;
  });

  router.get('/resource-servers', async (ctx) => {
    ctx.body = await servers.list();
  });

  router.get('/resource-servers/:identifier', async (ctx) => {
    const server = await servers.find(ctx.params.identifier!);
    if (!server) throw new NotFoundError('resource server');
    ctx.body = server;
  });

  router.patch('/resource-servers/:identifier', async (ctx) => {
    ctx.body = await servers.update(ctx.params.identifier!, resourceServerInput(objectBody(ctx)));
  });

  router.delete('/resource-servers/:identifier', async (ctx) => {
    await servers.delete(ctx.params.identifier!);
    ctx.status = 204;
  });
}
