// One form for every request path, and "zones": path prefixes whose guard runs before anything in
// them can match. The admin API was once reachable without its key as /Admin/api/…: its guard was a
// router middleware, matched case-sensitively, while the routes behind it matched case-insensitively.
// Now a path is normalized once, at the edge (RFC 3986 §6.2.2: percent-encoded unreserved characters
// decoded, dot segments removed, and runs of slashes folded), and a zone is entered through its guard
// whatever the case of the prefix, so no form of a path reaches a handler without the guard.
import type { Context, Middleware, Next } from 'koa';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decodes %XX escapes of unreserved characters (%61 → a) and upper-cases the hex of the others. */
function decodeUnreserved(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (sequence, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : sequence.toUpperCase();
  });
}

/** RFC 3986 §5.2.4 on a path whose slashes are already folded: "." and ".." segments resolved. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      if (last) out.push(''); // "/a/b/.." is "/a/", as a browser resolves it
      continue;
    }
    out.push(segment);
  }
  return `/${out.join('/')}`;
}

// What canonicalPath could change: an escape, a run of slashes, a "." or ".." segment.
const NOT_CANONICAL = /%|\/\/|\/\.\.?(?:\/|$)/;

/** The canonical form of a request path (not a URL: no query, no fragment). */
export function canonicalPath(path: string): string {
  // Most paths are canonical already (every token request): one test instead of the rewrite.
  if (path.startsWith('/') && !NOT_CANONICAL.test(path)) return path;
  return rewritePath(path);
}

/** The rewrite itself, on any path (canonicalPath skips it where it would change nothing). */
export function rewritePath(path: string): string {
  const decoded = decodeUnreserved(path.startsWith('/') ? path : `/${path}`);
  return removeDotSegments(decoded.replace(/\/{2,}/g, '/'));
}

/** Rewrites the request's path to its canonical form before any router or the provider sees it. */
export function canonicalPaths(): Middleware {
  return async (ctx: Context, next: Next) => {
    const canonical = canonicalPath(ctx.path);
    if (canonical !== ctx.path) ctx.path = canonical;
    await next();
  };
}

/** Whether a canonical path is `prefix` or below it, in any case (`/Admin/API/x` is under `/admin/api`). */
export function inZone(path: string, prefix: string): boolean {
  const lower = path.toLowerCase();
  return lower === prefix || lower.startsWith(`${prefix}/`);
}

/**
 * A zone: for every path under `prefix` (any case), `guard` runs first and `inside` only if the guard
 * calls next; paths outside the zone pass on untouched. The zone ends inside: what nothing inside
 * answered does not fall through to the rest of the app.
 */
export function zone(prefix: string, guard: Middleware, inside: Middleware): Middleware {
  return async (ctx: Context, next: Next) => {
    if (!inZone(ctx.path, prefix)) return next();
    await guard(ctx, () => inside(ctx, async () => {}));
  };
}
