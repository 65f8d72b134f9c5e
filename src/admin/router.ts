// The admin API under /admin/api: bearer authentication in front of every path under the prefix
// (a zone, see src/http/paths.ts), JSON bodies (parsed only here), and one small module per resource.
// Unknown paths answer a JSON 404, known paths with another method a JSON 405 with Allow; both only
// after authentication, so the API's shape is not shown to strangers.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Services } from '../services.ts';
import { applicationRoutes } from './applications.ts';
import { previewRoutes } from './preview.ts';
import { auditChanges, auditRoutes } from './audit.ts';
import { eventLogRoutes } from './event-log.ts';
import { factorRoutes } from './factors.ts';
import { requireAdmin } from './console-auth.ts';
import { zone } from '../http/paths.ts';
import { groupRoutes } from './groups.ts';
import { hookRoutes } from './hooks.ts';
import { identityProviderRoutes } from './identity-providers.ts';
import { invitationRoutes } from './invitations.ts';
import { hookStatsRoutes } from './hook-stats.ts';
import { catalogRoutes } from './catalog-routes.ts';
import { openApiRoutes } from './openapi.ts';
import { IMPORT_BODY_LIMIT, jsonBody } from './body.ts';
import { keyRoutes } from './keys.ts';
import { messageRoutes } from './messages.ts';
import { registrationRoutes } from './registrations.ts';
import { resourceServerRoutes } from './resource-servers.ts';
import { userActionRoutes } from './user-actions.ts';
import { userRoutes } from './users.ts';
import { webhookRoutes } from './webhooks.ts';

const ADMIN_PREFIX = '/admin/api';
const IMPORT_PATH = /^\/admin\/api\/users\/import\/?$/i;

/** A module of admin routes; later issues (hooks, webhooks, events) add theirs to the list below. */
export type AdminRoutes = (router: Router, services: Services) => void;

const MODULES: AdminRoutes[] = [
  applicationRoutes,
  previewRoutes,
  userRoutes,
  registrationRoutes,
  groupRoutes,
  resourceServerRoutes,
  messageRoutes,
  keyRoutes,
  hookRoutes,
  webhookRoutes,
  factorRoutes,
  userActionRoutes,
  invitationRoutes,
  auditRoutes,
  eventLogRoutes,
  identityProviderRoutes,
  hookStatsRoutes,
  catalogRoutes,
  openApiRoutes,
];

/**
 * The admin API's routes, without their guard: serve them only through `adminApi`, which puts the
 * key check in front of every path under the prefix. (Tests list the routes from here.)
 */
export function createAdminRouter(services: Services, modules: AdminRoutes[] = MODULES): Router {
  const router = new Router({ prefix: ADMIN_PREFIX });
  // Path ids hold no NUL byte and are not huge; such an id is unknown without asking the database.
  for (const param of ['id', 'client_id', 'identifier', 'kid', 'delivery_id', 'user_id', 'execution_id']) {
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
  return router;
}

/** What answers a path under the prefix that no route took: 405 with Allow for a known path, else 404. */
function unmatched(router: Router): Middleware {
  return async (ctx: Context) => {
    const allowed = [...new Set(router.match(ctx.path, ctx.method).path.flatMap((layer) => layer.methods))];
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
  };
}

/**
 * The admin API as one zone: every request whose path is under /admin/api, in any case and any
 * method, is authenticated before a route can match it; then its JSON body is parsed, and a route
 * answers it, or a 404/405 that shows the API's shape only to key holders.
 */
export function adminApi(services: Services): Middleware {
  const router = createAdminRouter(services);
  const small = jsonBody();
  // Only the bulk import takes a large body (up to 10 000 users).
  const large = jsonBody(IMPORT_BODY_LIMIT);
  const body: Middleware = (ctx, next) => (IMPORT_PATH.test(ctx.path) ? large(ctx, next) : small(ctx, next));
  const routes = router.routes() as unknown as Middleware;
  const rest = unmatched(router);
  const audit = auditChanges(router, services);
  return zone(ADMIN_PREFIX, requireAdmin(services), (ctx, next) => body(ctx, () => audit(ctx, () => routes(ctx, () => rest(ctx, next)))));
}
