// Admin API: applications (the OIDC clients). The client secret is answered once: at creation, and
// when PATCH generates a new one ("client_secret": "rotate", or a public client made confidential).
import type Router from '@koa/router';
import { applicationInput } from '../oidc/applications.ts';
import type { Services } from '../services.ts';
import { objectBody } from './body.ts';

export function applicationRoutes(router: Router, services: Services): void {
  const apps = services.applications;

  router.post('/applications', async (ctx) => {
    const created = await apps.create(applicationInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/applications/${encodeURIComponent(created.client_id)}`);
    ctx.body = created;
  });

  router.get('/applications', async (ctx) => {
    ctx.body = await apps.list();
  });

  router.get('/applications/:client_id', async (ctx) => {
    ctx.body = await apps.get(ctx.params.client_id!);
  });

  router.patch('/applications/:client_id', async (ctx) => {
    const input = applicationInput(objectBody(ctx));
    const updated = await apps.update(ctx.params.client_id!, input);
    // A secret the caller chose is not echoed back; a generated one is answered, once.
    const generated = input.client_secret === undefined || input.client_secret === 'rotate';
    if (!generated) delete updated.client_secret;
    ctx.body = updated;
  });

  router.delete('/applications/:client_id', async (ctx) => {
    await apps.delete(ctx.params.client_id!);
    ctx.status = 204;
  });
}
