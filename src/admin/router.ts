// The admin API under /admin/api: bearer authentication, JSON bodies (parsed only here), and one
// small module per resource. Unknown paths answer a JSON 404, known paths with another method a
// JSON 405 with Allow; both only after authentication, so the API's shape is not shown to strangers.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../services.ts';
import { applicationRoutes } from './applications.ts';
import { factorRoutes } from './factors.ts';
import { authenticate, requireAdminKey } from './auth.ts';
import { hookRoutes } from './hooks.ts';
import { jsonBody } from './body.ts';
import { keyRoutes } from './keys.ts';
import { messageRoutes } from './messages.ts';
import { resourceServerRoutes } from './resource-servers.ts';
import { userRoutes } from './users.ts';
import { webhookRoutes } from './webhooks.ts';

export const ADMIN_PREFIX = '/admin/api';

/** A module of admin routes; later issues (hooks, webhooks, events) add theirs to the list below. */
export type AdminRoutes = (router: Router, services: Services) => void;

const MODULES: AdminRoutes[] = [applicationRoutes, userRoutes, resourceServerRoutes, messageRoutes, keyRoutes, hookRoutes, webhookRoutes, factorRoutes];

function isAdminPath(path: string): boolean {
  return path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`);
}

/** The methods that routes matching this path (but not this method) accept. */
function allowedMethods(ctx: Context): string[] {
  const matched = (ctx as Context & { matched?: Array<{ methods: string[] }> }).matched ?? [];
  return [...new Set(matched.flatMap((layer) => layer.methods))];
}

export function createAdminRouter(services: Services, modules: AdminRoutes[] = MODULES): Router {
  const router = new Router({ prefix: ADMIN_PREFIX });
  // Runs only for a matched route: authenticate first, then parse the body.
  router.use(requireAdminKey(() => services.adminKeyHash, services.adminGuard), jsonBody());
  // Path ids hold no NUL byte and are not huge; such an id is unknown without asking the database.
  for (const param of ['id', 'client_id', 'identifier', 'kid', 'delivery_id']) {
    router.param(param, (value, ctx, next) => {
      if (value.includes('\u0000') || value.length > 1000) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `${param}: no such ${param}` };
        return;
      }
      return next();
    });
  }
  for (const register of modules) register(router, services);

  router.on('not-found', async (ctx, next) => {
    if (!isAdminPath(ctx.path)) return next();
    if (!(await authenticate(ctx, services.adminKeyHash, services.adminGuard))) return;
    ctx.set('cache-control', 'no-store');
    const allowed = allowedMethods(ctx);
    if (allowed.length === 0) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', message: `no admin API route for ${ctx.method} ${ctx.path}` };
      return;
    }
    ctx.set('allow', allowed.join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    ctx.status = 405;
    ctx.body = { error: 'method_not_allowed', message: `${ctx.path} accepts ${allowed.join(', ')}, not ${ctx.method}` };
  });
  return router;
}
