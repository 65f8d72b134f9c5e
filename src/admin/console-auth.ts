// Who may call the admin API: the holder of the admin key (src/admin/auth.ts), or a console admin:
// through the console's session cookie (with the session's CSRF token in a header on every request
// that is not a read), or with an access token issued to the console's client. A `viewer` reads
// only: any other method answers 403. Whatever the way in, the zone guard of /admin/api runs it first.
import type { Context, Middleware, Next } from 'koa';
import { constantTimeEqual, sha256Hex } from '../crypto.ts';
import type { Services } from '../services.ts';
import { requireAdminKey } from './auth.ts';
import type { ConsoleRole } from '../identity/console-access.ts';
import { CSRF_HEADER, currentSession, SESSION_COOKIE } from './console-bff.ts';
import { CONSOLE_CLIENT_ID } from './console-client.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,1000})[ \t]*$/i;

/** Who made an admin API request (ctx.state.admin): the key, or a console user with a role. */
export type AdminActor = { kind: 'key' } | { kind: 'console'; userId: string; role: ConsoleRole; via: 'session' | 'token' };

/** The admin key's name wherever a change is attributed (audit log, hook versions). */
export const ADMIN_KEY_ACTOR = 'admin-key';

/** How the audit log and the hook versions name who made a request: `console:<user id>` (with the role), or the key. */
export function actorName(ctx: { state: Record<string, unknown> }): { actor: string; role: ConsoleRole | null } {
  const admin = ctx.state.admin as AdminActor | undefined;
  return admin?.kind === 'console' ? { actor: `console:${admin.userId}`, role: admin.role } : { actor: ADMIN_KEY_ACTOR, role: null };
}

function forbidden(ctx: Context, error: string, message: string): void {
  ctx.status = 403;
  ctx.set('cache-control', 'no-store');
  ctx.body = { error, message };
}

/** The console user behind a bearer access token issued to the console's client, or null. */
async function consoleTokenActor(services: Services, token: string): Promise<AdminActor | null> {
  const found = await services.provider.AccessToken.find(token).catch(() => undefined);
  if (!found || found.clientId !== CONSOLE_CLIENT_ID || !found.accountId || found.isExpired) return null;
  const [role, user] = await Promise.all([services.console.access.roleOf(found.accountId), services.users.findById(found.accountId)]);
  if (!role || !user || user.status !== 'active') return null;
  return { kind: 'console', userId: user.id, role, via: 'token' };
}

async function enter(ctx: Context, next: Next, actor: AdminActor): Promise<void> {
  if (actor.kind === 'console' && actor.role === 'viewer' && !READS.has(ctx.method)) {
    return forbidden(ctx, 'forbidden', 'role: a viewer may only read; ask an admin to change this');
  }
  ctx.state.admin = actor;
  ctx.set('cache-control', 'no-store');
  await next();
}

export function requireAdmin(services: Services): Middleware {
  const keyOnly = requireAdminKey(() => services.adminKey.hash(), services.adminGuard);
  return async (ctx: Context, next: Next) => {
    const authorization = ctx.get('authorization');
    if (!authorization && ctx.cookies.get(SESSION_COOKIE)) {
      const found = await currentSession(ctx, services);
      if (found) {
        if (!READS.has(ctx.method) && !constantTimeEqual(ctx.get(CSRF_HEADER), found.session.csrf)) {
          return forbidden(ctx, 'csrf', `${CSRF_HEADER}: send the console session's CSRF token (GET /admin/session) with every change`);
        }
        return enter(ctx, next, { kind: 'console', userId: found.user.id, role: found.role, via: 'session' });
      }
    }
    const bearer = BEARER.exec(authorization)?.[1];
    if (bearer && !constantTimeEqual(sha256Hex(bearer), await services.adminKey.hash())) {
      const actor = await consoleTokenActor(services, bearer);
      if (actor) return enter(ctx, next, actor);
    }
    // The admin key, or the 401/429 answers of the key check (a wrong bearer counts as a wrong key).
    return keyOnly(ctx, () => enter(ctx, next, { kind: 'key' }));
  };
}
