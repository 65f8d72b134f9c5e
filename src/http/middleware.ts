// Cross-cutting HTTP middleware: request ids and access logs, error answers, security headers.
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from '../db/unavailable.ts';
import { ClientError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { renderPage } from '../views.ts';
import { DEFAULT_POLICY, finishPolicy } from './csp.ts';
import { inZone } from './paths.ts';
import { withLocaleChoice } from '../i18n/locales.ts';
import { t } from '../flows/texts.ts';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
  }
}

// The one-time links mailed to users carry their secret in the path: logs show the route, not it.
const SECRET_IN_PATH = /^\/(activate|reset-password)\/[^/]+/;

/** The request path as it may be logged. */
export function loggablePath(path: string): string {
  return path.replace(SECRET_IN_PATH, '/$1/[redacted]');
}

/**
 * The request's language choice (i18n/locales.ts), starting from its Accept-Language (read only when a
 * text is needed); the flows add the interaction's ui_locales and the application's default.
 */
export function requestLocale() {
  return (ctx: Context, next: Next) =>
    withLocaleChoice(
      {
        get accepted() {
          return ctx.acceptsLanguages();
        },
      },
      next,
    );
}

export function requestLog(log: Logger, metrics?: Metrics) {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    // The request's child logger is made when first used: most requests (token grants) log only the
    // access line below, and a pino child costs more than the whole routing of a token request.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= log.child({ request_id: requestId })), enumerable: true, configurable: true });
    ctx.set('x-request-id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      metrics?.httpRequests.observe({ method: ctx.method, status: String(ctx.status) }, ms / 1000);
      if (log.isLevelEnabled('info'))
        (child ?? log).info({ ...(child ? {} : { request_id: requestId }), method: ctx.method, path: loggablePath(ctx.path), status: ctx.status, ms: Math.round(ms) }, 'request');
    }
  };
}

function wantsJson(ctx: Context): boolean {
  return inZone(ctx.path, '/admin/api') || ctx.path === '/health' || !ctx.accepts('html') || ctx.accepts('json', 'html') === 'json';
}

/** PostgreSQL's "invalid byte sequence for encoding UTF8: 0x00" and "untranslatable character". */
function isUnstorableText(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}

/** Turns thrown errors into answers: ClientErrors say what is wrong, anything else is a generic 500. */
export function errorAnswers() {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      const err = error as Error & { status?: number; expose?: boolean; type?: string };
      let status = 500;
      let code = 'server_error';
      let message = 'Something went wrong on our side. Please try again.';
      if (err instanceof ClientError) {
        ({ status, code, message } = err);
      } else if (isUnstorableText(err)) {
        // PostgreSQL refuses NUL bytes (and invalid UTF-8) in text: the input was bad, not the server.
        status = 400;
        code = 'invalid_request';
        message = 'the request contains characters that cannot be accepted (a NUL byte)';
      } else if (isDatabaseUnavailable(err)) {
        // The database does not answer (or is busy or full): the client may try again soon.
        status = 503;
        code = 'temporarily_unavailable';
        message = 'The service is briefly unavailable. Please try again in a few seconds.';
        ctx.set('retry-after', String(RETRY_AFTER_SECONDS));
        ctx.state.log?.warn({ err }, 'database unavailable');
      } else if (err.status && err.status >= 400 && err.status < 500) {
        status = err.status;
        code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
        message = status === 413 ? 'the request body is too large' : err.type === 'entity.parse.failed' ? 'body: is not valid JSON' : err.expose ? err.message : 'the request is invalid';
      } else {
        ctx.state.log?.error({ err }, 'unhandled error');
      }
      ctx.status = status;
      if (wantsJson(ctx)) {
        ctx.body = { error: code, message };
      } else {
        ctx.type = 'html';
        ctx.body = renderPage('error', { title: status >= 500 ? t('ui.error.title') : t('page.unknown-prompt.title'), error: code, description: message });
      }
    }
  };
}

/** A JSON 404 for any path nobody answered. */
export function notFound() {
  return async (ctx: Context) => {
    ctx.status = 404;
    ctx.body = { error: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
  };
}

export function securityHeaders(https: boolean) {
  return async (ctx: Context, next: Next) => {
    // Set before the routes run, so that oidc-provider's form_post page finds it and adds the hash of
    // its auto-submit script (see csp.ts); a route that sets a policy of its own replaces it.
    ctx.set('content-security-policy', DEFAULT_POLICY);
    await next();
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('referrer-policy', 'no-referrer');
    const policy = ctx.response.get('content-security-policy');
    // ctx.response.is('html') without its media-type parser (it runs on every answer).
    if (ctx.response.type.trim().toLowerCase() === 'text/html') {
      // A page that may be framed says so itself (the console's preview of a brand: SAMEORIGIN).
      if (!ctx.response.get('x-frame-options')) ctx.set('x-frame-options', 'DENY');
      ctx.set('content-security-policy', finishPolicy(policy || DEFAULT_POLICY));
    } else if (policy === DEFAULT_POLICY) {
      ctx.remove('content-security-policy');
    }
    if (https) ctx.set('strict-transport-security', 'max-age=31536000; includeSubDomains');
  };
}
