// Admin API: the preview of an application's hosted pages, as the console shows it. GET answers the
// page with the application's saved branding; POST (or GET with ?branding=<JSON>) with an unsaved
// `branding` merged over it, validated like PATCH /applications/:client_id would (a bad value is a 400
// naming the field). The page is rendered as a sign-in would render it, with a placeholder
// interaction: it is a picture, not a way in. Its policy makes it inert: a sandbox, no script, no
// form submission; its theme is an inline stylesheet allowed by its hash alone; only the console (same
// origin) may frame it.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.ts';
import { brandOf } from '../flows/kit.ts';
import { t } from '../flows/texts.ts';
import { themeCss } from '../flows/theme.ts';
import { branding as brandingInput, type Application } from '../oidc/applications.ts';
import type { Services } from '../services.ts';
import { renderPage } from '../views.ts';
import { objectBody } from './body.ts';
import { fieldsOf, PreviewBody } from '../api-schema/types.ts';
import { onlyFields } from '../input.ts';

const PREVIEW_FIELDS = fieldsOf(PreviewBody);

/** The pages a preview can show, with the variables their templates expect (placeholders). */
const PAGES: Record<string, (services: Services) => { view: string; vars: Record<string, unknown> }> = {
  identify: () => ({ view: 'identify', vars: { title: t('login.identify.title'), identifier: '' } }),
  password: () => ({ view: 'password', vars: { title: t('login.password.title'), identifier: 'jane@example.com' } }),
  register: (services) => ({ view: 'register', vars: { title: t('register.title'), values: {}, minLength: services.config.password.minLength } }),
};

export const PREVIEW_PAGES = Object.keys(PAGES);

function previewPolicy(styleHash: string | null): string {
  return [
    "default-src 'none'",
    "img-src 'self' https: data:",
    `style-src 'self'${styleHash ? ` '${styleHash}'` : ''}`,
    "script-src 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
    "base-uri 'none'",
    'sandbox',
  ].join('; ');
}

/** The unsaved branding of a GET (?branding=<JSON>), or undefined. */
function queryBranding(ctx: Context): unknown {
  const raw = ctx.query.branding;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length > 10_000) throw new ValidationError('branding', 'must be one JSON object of at most 10000 characters');
  try {
    return JSON.parse(raw);
  } catch {
    throw new ValidationError('branding', 'must be a JSON object');
  }
}

function render(ctx: Context, services: Services, app: Application, unsaved: unknown): void {
  const pageName = typeof ctx.query.page === 'string' ? ctx.query.page : 'identify';
  const page = Object.hasOwn(PAGES, pageName) ? PAGES[pageName]!(services) : null;
  if (!page) throw new ValidationError('page', `must be one of ${PREVIEW_PAGES.join(', ')}`);
  const merged = unsaved === undefined ? app.branding : brandingInput(unsaved, app.branding);
  const brand = brandOf({ ...app, branding: merged });
  const css = themeCss(merged);
  const hash = css ? `sha256-${createHash('sha256').update(css).digest('base64')}` : null;
  ctx.status = 200;
  ctx.type = 'html';
  ctx.set('content-security-policy', previewPolicy(hash));
  ctx.set('x-frame-options', 'SAMEORIGIN');
  ctx.body = renderPage(page.view, { csrf: 'preview', brand, externalProviders: [], uid: 'preview', preview: true, themeCss: css, ...page.vars });
}

export function previewRoutes(router: Router, services: Services): void {
  router.get('/applications/:client_id/preview', async (ctx) => {
    const app = await services.applications.get(ctx.params.client_id!);
    render(ctx, services, app, queryBranding(ctx));
  });

  router.post('/applications/:client_id/preview', async (ctx) => {
    const app = await services.applications.get(ctx.params.client_id!);
    const body = onlyFields(objectBody(ctx), PREVIEW_FIELDS);
    render(ctx, services, app, body.branding ?? {});
  });
}
