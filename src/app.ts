// Composes the koa app: logs, errors, security headers, health, admin API, hosted pages, provider.
import Koa, { type Middleware } from 'koa';
import mount from 'koa-mount';
import { adminApi } from './admin/router.ts';
import { consoleApp } from './admin/console-bff.ts';
import { createFlowRouter } from './flows/router.ts';
import { errorAnswers, notFound, requestLocale, requestLog, securityHeaders } from './http/middleware.ts';
import { staticAssets } from './http/assets.ts';
import { home } from './http/home.ts';
import { answerThrottled } from './admin/auth.ts';
import { canonicalPaths, zone } from './http/paths.ts';
import { sha256Hex } from './crypto.ts';
import type { Services } from './services.ts';
import type Provider from 'oidc-provider';

/** The provider's routes of every token request and of discovery, sent to it before the admin API and the flows match. */
const HOT_PROVIDER_ROUTES = ['token', 'userinfo', 'jwks', 'introspection', 'revocation'] as const;

/**
 * Token requests are most of the traffic: their paths go to the provider at once instead of through
 * every router before it. What it does not answer there (a wrong method) ends as our 404.
 */
function providerRoutesFirst(provider: Provider, mounted: Middleware, fallthrough: Middleware): Middleware {
  const paths = new Set<string>(['/.well-known/openid-configuration']);
  for (const name of HOT_PROVIDER_ROUTES) {
    try {
      paths.add(provider.pathFor(name));
    } catch {
      /* a feature turned off has no route */
    }
  }
  return (ctx, next) => (paths.has(ctx.path) ? mounted(ctx, () => fallthrough(ctx, async () => {})) : next());
}

/** GET /metrics needs METRICS_TOKEN or the admin key, throttled like the admin API. */
function metricsGuard(services: Services): Middleware {
  return async (ctx, next) => {
    const allowed = [await services.adminKey.hash(), ...(services.config.metricsToken ? [sha256Hex(services.config.metricsToken)] : [])];
    const verdict = await services.adminGuard.verdict(ctx, allowed);
    if (verdict === 'throttled') {
      answerThrottled(ctx, services.adminGuard);
      return;
    }
    if (verdict !== 'ok') {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Bearer');
      ctx.body = { error: 'unauthorized', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN or the admin API key>' };
      return;
    }
    ctx.set('cache-control', 'no-store');
    await next();
  };
}

export function createApp(services: Services): Koa {
  const app = new Koa();
  app.proxy = services.config.trustProxy;
  // The client's address is the one our proxy appended (the last of X-Forwarded-For); the entries
  // before it are whatever the client sent, and would let it pick its own address (and throttle key).
  app.maxIpsCount = 1;
  // The provider is mounted (koa-mount runs it on this app's context), so its signed cookies are
  // signed with THIS app's keys, while provider.interactionDetails() checks them with the provider's:
  // both must be the provider's cookie keys.
  app.keys = services.provider.keys;

  app.use(requestLocale());
  app.use(requestLog(services.log, services.metrics));
  app.use(securityHeaders(services.config.issuer.startsWith('https:')));
  app.use(errorAnswers());

  app.use(canonicalPaths());
  // Token requests are most of the traffic: their paths skip every guard and router after this one.
  const provider = mount(services.provider);
  app.use(providerRoutesFirst(services.provider, provider, notFound()));
  app.use(
    zone('/metrics', metricsGuard(services), async (ctx) => {
      if (ctx.path.toLowerCase() !== '/metrics' || !['GET', 'HEAD'].includes(ctx.method)) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
        return;
      }
      ctx.type = services.metrics.registry.contentType;
      ctx.body = await services.metrics.registry.metrics();
    }),
  );
  app.use(async (ctx, next) => {
    if (ctx.path === '/health' && ctx.method === 'GET') {
      // A database that does not answer makes this a 503 with Retry-After within the timeouts (errorAnswers).
      await services.db.raw('select 1');
      ctx.body = { status: 'ok' };
      return;
    }
    await next();
  });
  app.use(staticAssets());
  app.use(home(services.config.issuer));

  app.use(adminApi(services));
  app.use(consoleApp(services));

  const flows = createFlowRouter(services);
  app.use(flows.routes()).use(flows.allowedMethods({ throw: false }));

  app.use(provider);
  app.use(notFound());
  return app;
}
