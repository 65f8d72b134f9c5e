// The administration console's backend-for-frontend, under /admin (outside the /admin/api zone):
// the single-page app (built by Vite into console/dist at install) under a strict CSP, and the
// sign-in. The console is an OIDC client of this server (code + PKCE, acr loa:2 asked for and the
// ID token's amr checked for a second factor); the code is exchanged here, tokens stay here, and the
// browser gets only an HttpOnly session cookie plus a CSRF token it must send back as a header.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Middleware, Next } from 'koa';
import * as oidc from 'openid-client';
import { PROJECT_ROOT } from '../paths.ts';
import type { Services } from '../services.ts';
import { renderPage } from '../views.ts';
import { CONSOLE_CLIENT_ID, ensureConsoleClient } from './console-client.ts';
import { authorizationRequestUrl, exchangeCallbackCode, newLoginState, takeLoginState, writeLoginState } from '../oidc/first-party-clients.ts';

export const CONSOLE_DIST = join(PROJECT_ROOT, 'console', 'dist');
export const SESSION_COOKIE = 'tessera.console';
const LOGIN_COOKIE = 'tessera.console_login';
export const CSRF_HEADER = 'x-csrf-token';
const LOGIN_TTL_MS = 10 * 60 * 1000;
const ASSET = /^\/admin\/assets\/([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|svg|png|woff2))$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml', png: 'image/png', woff2: 'font/woff2' };

/** The console page's policy: only our own scripts, our styles plus those CodeMirror adds with the page's nonce. */
export function consolePolicy(nonce: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' https: data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
  ].join('; ');
}

const LOGIN = { name: LOGIN_COOKIE, path: '/admin/callback', ttlMs: LOGIN_TTL_MS };

function errorPage(ctx: Context, status: number, description: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = renderPage('error', { title: 'Console sign-in failed', error: 'console', description, back: { href: '/admin/', text: 'Back to the console' } });
}

function cookieOptions(ctx: Context, path: string, maxAge: number, sameSite: 'strict' | 'lax') {
  return { path, maxAge, httpOnly: true, sameSite, secure: ctx.secure, overwrite: true } as const;
}

export function consoleApp(services: Services): Middleware {
  const { config, db, box, applications, log } = services;
  let discovered: Promise<oidc.Configuration> | null = null;
  // The client is checked at each sign-in (cheap, cached by the applications service), so a console
  // application deleted or changed through the API is put back before it is used.
  const configuration = async () => {
    const credentials = await ensureConsoleClient(db, box, applications, config.issuer);
    discovered ??= oidc
      .discovery(new URL(config.issuer), CONSOLE_CLIENT_ID, undefined, oidc.ClientSecretBasic(credentials.clientSecret), {
        execute: config.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error) => {
        discovered = null;
        throw error;
      });
    return { oidcConfig: await discovered, credentials };
  };
  let indexHtml: string | null = null;
  const index = (): string | null => {
    if (indexHtml) return indexHtml;
    const file = join(CONSOLE_DIST, 'index.html');
    if (!existsSync(file)) return null;
    indexHtml = readFileSync(file, 'utf8');
    return indexHtml;
  };
  const assets = new Map<string, Buffer>();

  const servePage = (ctx: Context) => {
    const html = index();
    if (!html) {
      ctx.status = 503;
      ctx.type = 'html';
      ctx.body = renderPage('error', { title: 'The console is not built', error: 'console', description: 'Run npm run build (npm install does it) to build the console.' });
      return;
    }
    const nonce = randomBytes(16).toString('base64');
    ctx.set('content-security-policy', consolePolicy(nonce));
    ctx.set('cache-control', 'no-store');
    ctx.type = 'html';
    ctx.body = html.replaceAll('__CSP_NONCE__', nonce);
  };

  const login = async (ctx: Context) => {
    const { oidcConfig, credentials } = await configuration();
    const state = newLoginState();
    writeLoginState(ctx, LOGIN, state);
    const url = await authorizationRequestUrl(oidcConfig, credentials.redirectUri, state, { acr_values: 'urn:tessera:loa:2' });
    ctx.set('cache-control', 'no-store');
    ctx.redirect(url.toString());
  };

  const callback = async (ctx: Context) => {
    const state = takeLoginState(ctx, LOGIN);
    if (!state) return errorPage(ctx, 400, 'This sign-in has expired or was started in another browser. Start again.');
    if (typeof ctx.query.error === 'string') return errorPage(ctx, 400, `The sign-in did not finish (${ctx.query.error}).`);
    const { oidcConfig, credentials } = await configuration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await exchangeCallbackCode(oidcConfig, credentials.redirectUri, ctx.querystring, state);
    } catch (error) {
      log.info({ err: error }, 'console sign-in: the code exchange failed');
      return errorPage(ctx, 400, 'The sign-in could not be completed. Start again.');
    }
    const claims = tokens.claims()!;
    const amr = Array.isArray(claims.amr) ? (claims.amr as string[]) : [];
    if (!amr.includes('mfa')) return errorPage(ctx, 403, 'The console needs a second factor: sign in again with your one-time code.');
    const userId = claims.sub;
    const role = await services.console.access.roleOf(userId);
    if (!role) return errorPage(ctx, 403, 'This account has no console access. An operator can grant it with: npx tessera admin grant <email>.');
    const session = await services.console.sessions.open(userId, tokens.id_token ?? null);
    ctx.cookies.set(SESSION_COOKIE, session.id, cookieOptions(ctx, '/admin', session.expiresAt - Date.now(), 'strict'));
    log.info({ user_id: userId, role }, 'console sign-in');
    ctx.set('cache-control', 'no-store');
    ctx.redirect('/admin/');
  };

  const sessionInfo = async (ctx: Context) => {
    ctx.set('cache-control', 'no-store');
    const found = await currentSession(ctx, services);
    if (!found) {
      ctx.status = 401;
      ctx.body = { error: 'unauthorized', message: 'session: sign in at /admin/login' };
      return;
    }
    const { session, role, user } = found;
    ctx.body = {
      user: { id: user.id, email: user.email, name: [user.given_name, user.family_name].filter(Boolean).join(' ') || null },
      role,
      csrf_token: session.csrf,
      expires_at: new Date(session.expiresAt).toISOString(),
    };
  };

  const logout = async (ctx: Context) => {
    ctx.set('cache-control', 'no-store');
    const found = await currentSession(ctx, services);
    if (found && ctx.get(CSRF_HEADER) !== found.session.csrf) {
      ctx.status = 403;
      ctx.body = { error: 'csrf', message: `${CSRF_HEADER}: send the session's CSRF token` };
      return;
    }
    const id = ctx.cookies.get(SESSION_COOKIE);
    if (id) await services.console.sessions.close(id);
    ctx.cookies.set(SESSION_COOKIE, null, { path: '/admin' });
    // Ends the provider's session too (RP-initiated logout), so the next sign-in asks again.
    const credentials = await configuration().catch(() => null);
    const endSession =
      credentials && found?.session.idToken
        ? oidc.buildEndSessionUrl(credentials.oidcConfig, { id_token_hint: found.session.idToken, post_logout_redirect_uri: credentials.credentials.postLogoutRedirectUri }).toString()
        : '/admin/signed-out';
    ctx.body = { end_session_url: endSession };
  };

  const asset = (ctx: Context, file: string, ext: string) => {
    let body = assets.get(file);
    if (!body) {
      const path = join(CONSOLE_DIST, 'assets', file);
      if (!existsSync(path)) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `no console asset ${file}` };
        return;
      }
      body = readFileSync(path);
      assets.set(file, body);
    }
    ctx.type = TYPES[ext]!;
    // The file names carry a hash of the content.
    ctx.set('cache-control', 'public, max-age=31536000, immutable');
    ctx.body = body;
  };

  return async (ctx: Context, next: Next) => {
    const path = ctx.path;
    if (path !== '/admin' && !path.startsWith('/admin/')) return next();
    const read = ctx.method === 'GET' || ctx.method === 'HEAD';
    const assetMatch = ASSET.exec(path);
    if (assetMatch && read) return asset(ctx, assetMatch[1]!, assetMatch[2]!);
    if (path === '/admin/login' && read) return login(ctx);
    if (path === '/admin/callback' && read) return callback(ctx);
    if (path === '/admin/session' && read) return sessionInfo(ctx);
    if (path === '/admin/logout' && ctx.method === 'POST') return logout(ctx);
    if (read && !path.startsWith('/admin/assets/')) return servePage(ctx);
    return next();
  };
}

/** The console session of the request's cookie, with the user (still active) and their role; null otherwise. */
export async function currentSession(ctx: Context, services: Services) {
  const id = ctx.cookies.get(SESSION_COOKIE);
  if (!id) return null;
  const session = await services.console.sessions.find(id);
  if (!session) return null;
  const [role, user] = await Promise.all([services.console.access.roleOf(session.userId), services.users.findById(session.userId)]);
  if (!role || !user || user.status !== 'active') return null;
  return { session, role, user };
}
