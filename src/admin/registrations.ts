// Admin API: a user's registrations with applications and their roles (CONTRACT §9). Unknown roles
// are refused naming the role; each change writes its user.registration.* event and `.complete` twin.
import type Router from '@koa/router';
import { registrationInput, registrationPatch } from '../identity/registrations.ts';
import type { Services } from '../services.ts';
import { objectBody } from './body.ts';

export function registrationRoutes(router: Router, services: Services): void {
  const registrations = services.registrations;

  router.post('/users/:id/registrations', async (ctx) => {
    const created = await registrations.create(ctx.params.id!, registrationInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/users/${ctx.params.id}/registrations/${encodeURIComponent(created.application)}`);
    ctx.body = created;
  });

  router.get('/users/:id/registrations', async (ctx) => {
    ctx.body = await registrations.list(ctx.params.id!);
  });

  router.get('/users/:id/registrations/:client_id', async (ctx) => {
    ctx.body = await registrations.get(ctx.params.id!, ctx.params.client_id!);
  });

  router.patch('/users/:id/registrations/:client_id', async (ctx) => {
    ctx.body = await registrations.update(ctx.params.id!, ctx.params.client_id!, registrationPatch(objectBody(ctx)));
  });

  router.delete('/users/:id/registrations/:client_id', async (ctx) => {
    await registrations.delete(ctx.params.id!, ctx.params.client_id!);
    ctx.status = 204;
  });
}
