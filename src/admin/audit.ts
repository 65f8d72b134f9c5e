// The audit log (CONTRACT §9, GET /admin/api/audit-log): every change made through the admin API (and
// so through the console, which uses it) is recorded once it succeeded: who (the admin key or a
// console user), what (the route), which target, the target before and after with secrets redacted,
// the client address and the time. The store is audit-log.ts.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { publicUser } from '../identity/users.ts';
import type { Services } from '../services.ts';
import { queryInt, queryString } from './body.ts';
import { actorName } from './console-auth.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** POST routes that change nothing (a preview renders an unsaved branding): not changes, not recorded. */
const POST_READS = new Set(['/applications/:client_id/preview']);
/** Keys whose values are never written to the log (a hook's `secrets`, a client secret, a password…). */
const SECRET_KEY = /secret|password|token|^key$|_key$|^code_verifier$/i;
const MAX_DEPTH = 8;

/** Replaces every secret-looking value with "[redacted]", at any depth. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // A flag such as has_password says nothing secret.
    out[key] = SECRET_KEY.test(key) && typeof item !== 'boolean' && item !== null ? '[redacted]' : redact(item, depth + 1);
  }
  return out;
}

type Reader = (services: Services, id: string) => Promise<unknown>;

/** How each kind of target is read, for its before and after (the same view GET answers). */
const READERS: Partial<Record<string, Reader>> = {
  users: async (s, id) => {
    const user = await s.users.findById(id);
    return user ? publicUser(user) : null;
  },
  applications: (s, id) => s.applications.find(id),
  hooks: (s, id) => s.hooks.get(id).catch(() => null),
  webhooks: (s, id) => s.webhooks.get(id).catch(() => null),
  'resource-servers': (s, id) => s.resourceServers.find(id),
  invitations: (s, id) => s.invitations.get(id).catch(() => null),
  groups: (s, id) => s.groups.get(id).catch(() => null),
};

/** Routes whose target is better read another way than their first segment's (by route path). */
const ROUTE_READERS: Partial<Record<string, (services: Services, params: Record<string, string>) => Promise<unknown>>> = {
  // A registration change: the user's registrations before and after.
  '/users/:id/registrations': (s, p) => s.registrations.list(p.id!).catch(() => null),
  '/users/:id/registrations/:client_id': (s, p) => s.registrations.list(p.id!).catch(() => null),
  // A membership change: the group and that member.
  '/groups/:id/members/:user_id': async (s, p) => {
    const group = await s.groups.get(p.id!).catch(() => null);
    return group ? { group, member: await s.groups.member(p.id!, p.user_id!) } : null;
  },
};

/** The route a request will take, with its parameters, before it runs. */
function routeOf(router: Router, ctx: Context): { path: string; params: Record<string, string> } | null {
  const layer = router.match(ctx.path, ctx.method).pathAndMethod.at(-1);
  if (!layer) return null;
  const params = layer.params(ctx.path, layer.captures(ctx.path), {}) as Record<string, string>;
  return { path: String(layer.path).replace(/^\/admin\/api/, ''), params };
}

/**
 * Wraps the admin routes: a change that succeeds (2xx) is recorded with its target before and after.
 * Reads are not recorded. A failure to write the entry is logged and does not undo the answer.
 */
export function auditChanges(router: Router, services: Services) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (READS.has(ctx.method)) return next();
    const route = routeOf(router, ctx);
    if (!route || POST_READS.has(route.path)) return next();
    const kind = route.path.split('/')[1] ?? '';
    const paramId = route.params.id ?? route.params.client_id ?? route.params.identifier ?? null;
    const routeReader = ROUTE_READERS[route.path];
    const read: Reader | undefined = routeReader ? (s) => routeReader(s, route.params) : READERS[kind];
    const before = read && paramId ? await read(services, paramId).catch(() => null) : null;
    await next();
    if (ctx.status < 200 || ctx.status >= 300) return;
    const body = ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) ? (ctx.body as Record<string, unknown>) : null;
    const createdId = typeof body?.id === 'string' ? body.id : typeof body?.client_id === 'string' ? body.client_id : null;
    const targetId = paramId ?? createdId;
    const after = read && targetId ? await read(services, targetId).catch(() => null) : body;
    const { actor, role } = actorName(ctx);
    try {
      await services.audit.record({
        actor,
        actor_role: role,
        action: `${ctx.method} ${route.path}`,
        target: { type: kind || 'admin', id: targetId },
        before: redact(before),
        after: redact(after),
        status: ctx.status,
        address: ctx.ip || null,
      });
    } catch (err) {
      ctx.state.log?.error({ err, action: `${ctx.method} ${route.path}` }, 'the audit log entry could not be written');
    }
  };
}

export function auditRoutes(router: Router, services: Services): void {
  router.get('/audit-log', async (ctx) => {
    ctx.body = await services.audit.list({
      actor: queryString(ctx, 'actor', 200),
      target: queryString(ctx, 'target', 200),
      action: queryString(ctx, 'action', 200),
      limit: queryInt(ctx, 'limit', 50, 1, 500),
      offset: queryInt(ctx, 'offset', 0, 0, 1_000_000),
    });
  });
}
