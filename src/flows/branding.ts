// Per-application branding: a tiny stylesheet per application that sets the theme's custom
// properties (the CSP allows styles from 'self' only, so no inline style attributes are needed).
import type Router from '@koa/router';
import type { FlowKit } from './kit.ts';

function channel(hex: string, offset: number): number {
  const c = parseInt(hex.slice(offset, offset + 2), 16) / 255;
  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** Relative luminance (WCAG) of a #rrggbb colour. */
function luminance(hex: string): number {
  return 0.2126 * channel(hex, 1) + 0.7152 * channel(hex, 3) + 0.0722 * channel(hex, 5);
}

/** White or near-black text, whichever reads better on the colour. */
function contrastText(hex: string): string {
  const l = luminance(hex);
  const onWhite = 1.05 / (l + 0.05);
  const onBlack = (l + 0.05) / (luminance('#111418') + 0.05);
  return onWhite >= onBlack ? '#ffffff' : '#111418';
}

export function brandingRoutes(router: Router, kit: FlowKit): void {
  router.get('/assets/brand/:client_id/theme.css', async (ctx) => {
    const brand = await kit.brand(ctx.params.client_id ?? null);
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('cache-control', 'public, max-age=300');
    // primary_color was checked against #rrggbb when the application was saved, and again in brandOf.
    const color = brand?.primary_color;
    if (!color) {
      ctx.body = '/* no branding */\n';
      return;
    }
    let css = `:root{--brand:${color};--brand-text:${contrastText(color)};}\n`;
    // Links take the colour too where it is readable as text on the light background (WCAG AA).
    if (1.05 / (luminance(color) + 0.05) >= 4.5) css += `@media (prefers-color-scheme: light){:root{--link:${color};--focus:${color};}}\n`;
    ctx.body = css;
  });
}
