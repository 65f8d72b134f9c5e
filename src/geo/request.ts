// The location of a request's client, looked up at most once per request however many lifecycle
// points the request passes (a login runs several events): the answer is kept beside the request.
import type { Context } from 'koa';
import type { GeoLocation, Locator } from './locator.ts';

const located = new WeakMap<object, GeoLocation | null>();

/** The client's location (ctx.ip: the socket's address, or X-Forwarded-For's last entry under TRUST_PROXY). */
export function requestLocation(ctx: Context, locator: Locator): GeoLocation | null {
  // The node request outlives koa's context objects (oidc-provider builds its own around it).
  const key = ctx.req;
  if (located.has(key)) return located.get(key) ?? null;
  const location = locator.locate(ctx.ip || null);
  located.set(key, location);
  return location;
}
