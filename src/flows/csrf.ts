// Anti-CSRF for the hosted pages. Each browser gets a random secret in an httpOnly, SameSite=Lax
// cookie; every form carries token = HMAC(server key, secret) in a hidden input named `csrf`. A POST
// whose token does not match its cookie's secret is refused with a 403 page, before anything runs.
// The server key is generated once and stored in the settings table, so every box agrees on it.
import { createHmac, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { constantTimeEqual } from '../crypto.ts';
import { getOrCreateSetting } from '../db/settings.ts';
import { loggablePath } from '../http/middleware.ts';
import type { Db } from '../db/knex.ts';

const CSRF_FIELD = 'csrf';
const CSRF_COOKIE = 'tessera.csrf';
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

declare module 'koa' {
  interface DefaultState {
    /** The token to put in this page's forms. */
    csrf?: string;
  }
}

export interface CsrfOptions {
  db: Db;
  /** Renders the refusal page (status already set to 403). */
  refuse(ctx: Context): void;
}

export function csrfProtection(options: CsrfOptions) {
  let key: Promise<Buffer> | null = null;
  const serverKey = () => {
    key ??= getOrCreateSetting(options.db, 'csrf_hmac_key', () => randomBytes(32).toString('base64'))
      .then(({ value }) => Buffer.from(value, 'base64'))
      .catch((error: unknown) => {
        key = null;
        throw error;
      });
    return key;
  };
  const tokenFor = async (secret: string) =>
    createHmac('sha256', await serverKey())
      .update(`csrf:${secret}`)
      .digest('base64url');

  return async function csrf(ctx: Context, next: Next) {
    const cookie = ctx.cookies.get(CSRF_COOKIE);
    const secret = cookie && SECRET_SHAPE.test(cookie) ? cookie : null;

    if (ctx.method === 'POST') {
      const body = (ctx.request as { body?: unknown }).body;
      const sent = body && typeof body === 'object' ? (body as Record<string, unknown>)[CSRF_FIELD] : undefined;
      if (!secret || typeof sent !== 'string' || !constantTimeEqual(sent, await tokenFor(secret))) {
        ctx.state.log?.info({ path: loggablePath(ctx.path), reason: secret ? 'token mismatch' : 'no cookie' }, 'csrf check failed');
        ctx.status = 403;
        ctx.state.csrf = secret ? await tokenFor(secret) : undefined;
        options.refuse(ctx);
        return;
      }
      ctx.state.csrf = sent;
      return next();
    }

    let current = secret;
    if (!current) {
      current = randomBytes(32).toString('base64url');
      ctx.cookies.set(CSRF_COOKIE, current, { httpOnly: true, sameSite: 'lax', path: '/', secure: ctx.secure, signed: false, overwrite: true });
    }
    ctx.state.csrf = await tokenFor(current);
    return next();
  };
}
