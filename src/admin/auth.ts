// Bearer authentication of the admin API: the presented key is hashed and compared in constant time
// with the stored sha256 of ADMIN_API_KEY, so the key itself is never kept in memory or the database.
import type { Context, Next } from 'koa';
import { constantTimeEqual, sha256Hex } from '../crypto.ts';

const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,1000})[ \t]*$/i;

export type AdminKeyCheck = 'ok' | 'missing' | 'invalid';

export function checkAdminKey(authorization: string, keyHash: string): AdminKeyCheck {
  if (!authorization) return 'missing';
  const match = BEARER.exec(authorization);
  if (!match) return 'invalid';
  return constantTimeEqual(sha256Hex(match[1]!), keyHash) ? 'ok' : 'invalid';
}

/** Answers 401 (with WWW-Authenticate) unless the request carries the admin key; returns whether it did. */
export function authenticate(ctx: Context, keyHash: string): boolean {
  const check = checkAdminKey(ctx.get('authorization'), keyHash);
  if (check === 'ok') return true;
  ctx.status = 401;
  ctx.set('www-authenticate', check === 'missing' ? 'Bearer realm="tessera-admin"' : 'Bearer realm="tessera-admin", error="invalid_token"');
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    error: 'unauthorized',
    message: check === 'missing'
      ? 'authorization: send the admin API key as "Authorization: Bearer <ADMIN_API_KEY>"'
      : 'authorization: the admin API key is not valid',
  };
  return false;
}

export function requireAdminKey(keyHash: () => string) {
  return async (ctx: Context, next: Next) => {
    if (!authenticate(ctx, keyHash())) return;
    ctx.set('cache-control', 'no-store');
    await next();
  };
}
