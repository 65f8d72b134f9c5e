// "Remember this device": after a passed second factor, a signed cookie lets this browser skip what
// the application's MFA policy asks (never a step-up) for as many days as the application allows.
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import type { User } from '../identity/users.ts';
import { REMEMBER_DEVICE_COOKIE } from '../oidc/acr.ts';
import type { Application } from '../oidc/applications.ts';
import type { FlowKit } from './kit.ts';

/** Whether this browser carries the user's remembered-device cookie for the application (a passed second factor). */
export async function rememberedHere(ctx: Context, kit: FlowKit, userId: string, app: Application): Promise<boolean> {
  if (app.remember_device_days <= 0) return false;
  const token = ctx.cookies.get(REMEMBER_DEVICE_COOKIE, { signed: true });
  return kit.services.factors.isRemembered(userId, token, app.remember_device_days);
}

/** Sets the cookie, for as many days as the application allows (none: nothing to remember). */
export async function rememberDevice(ctx: Context, kit: FlowKit, details: Interaction, user: User): Promise<void> {
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await kit.services.applications.find(clientId) : null;
  if (!app || app.remember_device_days <= 0) return;
  const token = await kit.services.factors.rememberDevice(user.id, app.remember_device_days);
  ctx.cookies.set(REMEMBER_DEVICE_COOKIE, token, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    path: '/',
    overwrite: true,
    maxAge: app.remember_device_days * 86400_000,
  });
}
