// Admin API: GET /openapi.json, the OpenAPI 3.1 document of this API (src/api-schema/openapi.ts),
// built once from the router's own route list, so a route cannot be missing from it.
import type Router from '@koa/router';
import { openApiDocument } from '../api-schema/openapi.ts';
import type { Services } from '../services.ts';

const VERSION = '0.1.0';

export function openApiRoutes(router: Router, _services: Services): void {
  let document: Record<string, unknown> | null = null;
  router.get('/openapi.json', async (ctx) => {
    document ??= openApiDocument(
      router.opts.prefix ?? '',
      router.stack.filter((layer) => layer.methods.length > 0).map((layer) => ({ path: String(layer.path), methods: layer.methods })),
      VERSION,
    );
    ctx.body = document;
  });
}
