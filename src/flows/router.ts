// The hosted pages of the end user's journey (CONTRACT §3). Each flow module adds its routes; every
// route parses urlencoded forms (small bodies only) and checks the anti-CSRF token on POST.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type { Services } from '../services.ts';
import { accountRoutes } from '../account/routes.ts';
import { brandingRoutes } from './branding.ts';
import { csrfProtection } from './csrf.ts';
import { externalRoutes } from './external-login.ts';
import { FlowError, FlowKit, type Guard } from './kit.ts';
import { invitationRoutes } from './invitation.ts';
import { loginRoutes } from './login.ts';
import { mfaRoutes } from './mfa.ts';
import { profilingRoutes } from './profiling.ts';
import { recoveryRoutes } from './recovery.ts';
import { registrationRoutes } from './registration.ts';
import { t } from './texts.ts';

export function createFlowRouter(services: Services): Router {
  const kit = new FlowKit(services);
  const router = new Router();

  const pageErrors = async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof FlowError)) throw error;
      kit.renderError(ctx, error);
    }
  };
  const forms = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });
  const csrf = csrfProtection({
    db: services.db,
    refuse(ctx) {
      // The account page's forms lead back to it; a journey's page has its own way back (the browser's).
      const links = ctx.path.startsWith('/account') ? [{ href: '/account', text: t('account.back') }] : [];
      kit.render(ctx, 'message', { title: t('page.form-expired.title'), alert: t('page.form-expired'), links }, 403);
    },
  });
  const guard = [pageErrors, forms, csrf] as Guard;
  // An identity provider's way back carries no form token: its state is checked instead.
  const callbackGuard = [pageErrors, forms] as Guard;

  // First: its buttons middleware runs before the identify and registration pages.
  externalRoutes(router, kit, guard, callbackGuard);
  loginRoutes(router, kit, guard);
  registrationRoutes(router, kit, guard);
  recoveryRoutes(router, kit, guard);
  invitationRoutes(router, kit, guard);
  profilingRoutes(router, kit, guard);
  mfaRoutes(router, kit, guard);
  brandingRoutes(router, kit);
  // The end user's own page (/account): the same guard, branding and texts as the journeys.
  accountRoutes(router, kit, guard);
  return router;
}
