// Accepting an invitation (CONTRACT §9). The mailed link opens /invitation/:token:
// - when the application has an initiate_login_uri, the browser keeps the link in a short-lived
//   cookie and goes there (OpenID Connect's third-party-initiated login, with login_hint); the
//   application starts a sign-in, whose identify page turns into "set your password", and once it is
//   set the journey goes on as after a password (second factor, profiling, after_login), so the user
//   lands signed in at the application;
// - otherwise the same form is shown on the link's own page, and then a way back to the application.
// before_registration (may deny) and after_registration run with `invited: true`; accepting is one
// transaction (identity/invitations.ts), so a second tab finds the link used.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ValidationError } from '../errors.ts';
import type { Invitation, OpenInvitation } from '../identity/invitations.ts';
import { assertPlainText, plainText } from '../identity/plain-text.ts';
import { publicUser, type User } from '../identity/users.ts';
import { hasChanges } from '../hooks/catalog/decisions.ts';
import type { Services } from '../services.ts';
import { renderMail, type RenderedMail } from '../views.ts';
import { DEFAULT_LOCALE, inLocale } from '../i18n/locales.ts';
import { passwordProved } from './journey.ts';
import { brandOf, field, FlowError, humanDuration, problemText, wayBack, type FlowKit, type Guard } from './kit.ts';
import { t } from './texts.ts';

/** Holds the link between the invitation page and the application's sign-in; HttpOnly, 15 minutes. */
const INVITATION_COOKIE = 'tessera.invitation';
const COOKIE_MAX_AGE_MS = 15 * 60 * 1000;

/** The fields' labels in messages, in the request's language. */
const labels = (): Record<string, string> => ({
  password: t('register.label.password'),
  given_name: t('register.label.given_name'),
  family_name: t('register.label.family_name'),
});

/** Mails the invitation link, in the application's name. */
export async function sendInvitationMail(services: Services, invitation: Invitation, user: User, link: string): Promise<void> {
  const app = await services.applications.find(invitation.application);
  const brand = app ? brandOf(app) : null;
  const appName = plainText(brand ? brand.name : 'Tessera');
  const locale = app?.default_locale ?? DEFAULT_LOCALE;
  let mail: RenderedMail;
  try {
    // In the application's language: the invitee has no request of theirs yet to ask for one.
    mail = inLocale(locale, () =>
      renderMail(
        'invitation',
        { issuer: services.config.issuer, appName, user, link, expiresIn: humanDuration(services.config.ttl.invitationSeconds) },
        { templatesDir: services.config.templatesDir, brand },
      ),
    );
  } catch (err) {
    services.log.error({ err, template: 'invitation' }, 'mail template failed');
    return;
  }
  // Through the courier, like every message: before_message_send, then the durable message queue.
  const ttlMs = services.config.ttl.invitationSeconds * 1000;
  await services.courier
    .send(
      {
        type: 'invitation',
        channel: 'email',
        to: user.email,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        link,
        expiresAt: Date.now() + ttlMs,
        user: publicUser(user),
        applicationId: invitation.application,
      },
      { applicationId: invitation.application, ip: null, userAgent: null, locale },
    )
    .catch((err: unknown) => {
      services.log.error({ err, template: 'invitation' }, 'mail could not be queued');
    });
}

/** Is this sign-in the one an invitation link started? Then its identify page is the invitation's. */
export async function invitationFor(ctx: Context, kit: FlowKit, details: Interaction): Promise<OpenInvitation | null> {
  const token = ctx.cookies.get(INVITATION_COOKIE, { signed: true });
  if (!token) return null;
  const opened = await kit.services.invitations.open(token);
  if (!opened.ok || opened.value.invitation.application !== kit.clientIdOf(details)) return null;
  return opened.value;
}

export function invitationRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { services } = kit;
  const { invitations, config } = services;

  const acceptPage = (ctx: Context, action: string, open: OpenInvitation, values: Record<string, string>, alert: string | null = null, status = 200, invalid: string | null = null) =>
    kit.render(
      ctx,
      'invitation',
      {
        title: t('invitation.title', { app: ctx.state.brand?.name ?? 'Tessera' }),
        action,
        email: open.user.email,
        values,
        alert,
        invalid,
        minLength: config.password.minLength,
      },
      status,
    );

  /** The link's invitation, or the page that says why it cannot be used, with a way back. */
  const openOrFail = async (ctx: Context, token: string): Promise<OpenInvitation> => {
    const opened = await invitations.open(token);
    if (opened.ok) {
      ctx.state.brand = await kit.brand(opened.value.invitation.application);
      return opened.value;
    }
    ctx.state.brand = await kit.brand(opened.clientId);
    const messages = { used: t('invitation.used'), expired: t('invitation.expired'), revoked: t('invitation.revoked'), unknown: t('invitation.unknown') };
    const message = messages[opened.status];
    throw new FlowError(opened.status === 'unknown' ? 404 : 410, t('invitation.unusable.title'), message, [], { wayBack: true });
  };

  /**
   * The form was sent: checks, before_registration, the one-transaction accept, after_registration.
   * Answers the active user, or null when it rendered the page again (a problem, a denial).
   */
  const accept = async (ctx: Context, token: string, open: OpenInvitation, action: string): Promise<User | null> => {
    const clientId = open.invitation.application;
    const values = { given_name: field(ctx, 'given_name', 400).trim(), family_name: field(ctx, 'family_name', 400).trim() };
    const password = field(ctx, 'password', 1024);
    try {
      for (const name of ['given_name', 'family_name'] as const) {
        assertPlainText(name, field(ctx, name, 400));
        if (values[name].length > 200) throw new ValidationError(name, 'must be at most 200 characters');
      }
      await services.users.checkPassword(password, { email: open.user.email, username: open.user.username });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      acceptPage(ctx, action, open, values, problemText(error, labels()), 400, error.field ?? null);
      return null;
    }
    const submitted = { email: open.user.email, given_name: values.given_name || null, family_name: values.family_name || null, attributes: {}, metadata: {} };
    const before = await kit.hook(ctx, 'before_registration', { user: submitted, invited: true }, clientId, { handleDenial: true });
    if (before.denied) {
      acceptPage(ctx, action, open, values, before.denied.message, 403);
      return null;
    }
    const changes = before.decision.changes;
    let user = await invitations.accept(token, password, { given_name: submitted.given_name, family_name: submitted.family_name }, changes.metadata, changes.attributes);
    if (!user) throw new FlowError(410, t('invitation.unusable.title'), t('invitation.used'), [], { wayBack: true });
    const after = await kit.hook(ctx, 'after_registration', { user: publicUser(user), invited: true }, clientId);
    const more = after.decision.changes;
    if (hasChanges(more)) user = await services.users.update(user.id, { metadata: more.metadata, attributes: more.attributes });
    return user;
  };

  // The mailed link.
  router.get('/invitation/:token', ...guard, async (ctx) => {
    const token = ctx.params.token ?? '';
    const open = await openOrFail(ctx, token);
    const app = await services.applications.find(open.invitation.application);
    if (app?.initiate_login_uri) {
      ctx.cookies.set(INVITATION_COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', secure: ctx.secure, signed: true, maxAge: COOKIE_MAX_AGE_MS, overwrite: true });
      const start = new URL(app.initiate_login_uri);
      start.searchParams.set('iss', kit.issuer);
      start.searchParams.set('login_hint', open.user.email);
      // A URI the application registered (checked when it was set), never one from the request.
      ctx.status = 303;
      ctx.redirect(start.toString());
      return;
    }
    acceptPage(ctx, `/invitation/${token}`, open, { given_name: open.user.given_name ?? '', family_name: open.user.family_name ?? '' });
  });

  // The form on the link's own page (an application with no initiate_login_uri).
  router.post('/invitation/:token', ...guard, async (ctx) => {
    const token = ctx.params.token ?? '';
    const open = await openOrFail(ctx, token);
    const user = await accept(ctx, token, open, `/invitation/${token}`);
    if (!user) return;
    kit.render(ctx, 'message', { title: t('invitation.done.title'), status: t('invitation.done', { app: ctx.state.brand?.name ?? 'Tessera' }), links: [wayBack(ctx.state.brand)] });
  });

  // Inside the application's sign-in.
  router.get('/interaction/:uid/invitation', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    const open = await invitationFor(ctx, kit, details);
    if (!open) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    acceptPage(ctx, `/interaction/${details.uid}/invitation`, open, { given_name: open.user.given_name ?? '', family_name: open.user.family_name ?? '' });
  });

  router.post('/interaction/:uid/invitation', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    const token = ctx.cookies.get(INVITATION_COOKIE, { signed: true }) ?? '';
    const open = await invitationFor(ctx, kit, details);
    if (!open) {
      // Used meanwhile (another tab) or expired: the page of the link says which.
      await openOrFail(ctx, token);
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    const user = await accept(ctx, token, open, `/interaction/${details.uid}/invitation`);
    if (!user) return;
    ctx.cookies.set(INVITATION_COOKIE, null, { path: '/', signed: true });
    await kit.updateState(details, { identifier: user.email }, { type: 'restart' });
    // The new password proved the user, as a password would: the application's rules follow.
    await passwordProved(ctx, kit, details, user, undefined);
  });
}
