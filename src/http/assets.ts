// Serves the few static files of the hosted pages (the stylesheet, the passkey script) from public/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Next } from 'koa';
import { PUBLIC_DIR } from '../paths.ts';

const FILES: Record<string, string> = { '/assets/style.css': 'text/css; charset=utf-8', '/assets/passkeys.js': 'text/javascript; charset=utf-8' };

export function staticAssets() {
  const cache = new Map<string, Buffer>();
  return async (ctx: Context, next: Next) => {
    const type = FILES[ctx.path];
    if (!type || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    let body = cache.get(ctx.path);
    if (!body) {
      body = readFileSync(join(PUBLIC_DIR, ctx.path.replace('/assets/', '')));
      cache.set(ctx.path, body);
    }
    ctx.type = type;
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.body = body;
  };
}
