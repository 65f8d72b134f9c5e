// Per-application branding: a tiny stylesheet per application that sets the theme's custom
// properties (src/flows/theme.ts). The CSP allows styles from 'self' only, so no inline style is
// needed: the page links /assets/brand/<client_id>/theme.css?v=<digest of the stylesheet>.
import type Router from '@koa/router';
import type { FlowKit } from './kit.ts';
import { themeCss } from './theme.ts';

export function brandingRoutes(router: Router, kit: FlowKit): void {
  router.get('/assets/brand/:client_id/theme.css', async (ctx) => {
    const app = await kit.services.applications.find(ctx.params.client_id ?? '');
    ctx.type = 'text/css; charset=utf-8';
    // The page asks for it by the digest of its content (?v=), so a changed theme is a new URL.
    ctx.set('cache-control', 'public, max-age=300');
    ctx.body = (app && themeCss(app.branding)) ?? '/* no branding */\n';
  });
}
