// The end of a self-service sign-up: the account, its consents, after_registration and the
// activation mail, once the registration form and every profiling page have passed. An address that
// already has an account gets the same pages and the same end, while its owner is mailed a notice
// (or a fresh activation link when that account was never activated).
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import type { NewHookUser } from '../hooks/catalog/events.ts';
import { hasChanges } from '../hooks/catalog/decisions.ts';
import { insertRegistration } from '../identity/registrations.ts';
import { DuplicateLoginId, publicUser, recordDuplicateLoginId, type User } from '../identity/users.ts';
import { WebhookRefused } from '../webhooks/transactional.ts';
import type { SendResult } from '../messaging/courier.ts';
import { FlowError, humanDuration, type FlowKit } from './kit.ts';
import { t } from './texts.ts';
import type { PendingSignUp } from './steps.ts';
import { currentLocale } from '../i18n/locales.ts';

/** The sign-up as hooks see it before the account exists (no id). */
export function signUpUser(signUp: PendingSignUp): NewHookUser {
  return {
    email: signUp.email,
    given_name: signUp.given_name,
    family_name: signUp.family_name,
    ...signUp.profile,
    attributes: signUp.attributes,
    metadata: signUp.metadata,
  };
}

/** An application with `registration: "closed"` offers no sign-up: the page says so, with the way back to sign in. */
export function assertSignUpOpen(ctx: Context, uid: string): void {
  const brand = ctx.state.brand;
  if (!brand || brand.sign_up) return;
  throw new FlowError(403, t('register.closed.title'), t('register.closed', { app: brand.name }), [{ href: `/interaction/${uid}`, text: t('page.back-to-sign-in') }], { wayBack: true });
}

/** Mails an activation link to a pending user (again, with `resend`). */
export async function sendActivation(ctx: Context, kit: FlowKit, user: User, uid: string, resend = false): Promise<void> {
  const { config } = kit.services;
  // Every caller is on a page of the interaction, whose application kit.interaction has loaded.
  const token = await kit.tokens.issue('activation', user.id, { interactionUid: uid, clientId: ctx.state.brand?.client_id ?? null, locale: currentLocale() }, config.ttl.activationSeconds);
  const vars = { user, link: `${kit.issuer}/activate/${token}`, expiresIn: humanDuration(config.ttl.activationSeconds) };
  queuedOrFail(uid, await kit.mail(ctx, 'activation', user.email, vars, { type: resend ? 'activation.resend' : 'activation', ttlSeconds: config.ttl.activationSeconds }));
}

/** The page says "check your email" only once the mail is durably queued (or a hook took it over). */
function queuedOrFail(uid: string, sent: SendResult | null): void {
  if (sent === null) throw new FlowError(503, t('mail.not-queued.title'), t('mail.not-queued'), [{ href: `/interaction/${uid}`, text: t('page.back-to-sign-in') }]);
}

/** Tells the owner of an address that someone tried to register it again. */
export async function sendAlreadyRegistered(ctx: Context, kit: FlowKit, user: User, uid: string): Promise<void> {
  if (user.status === 'pending') {
    await sendActivation(ctx, kit, user, uid);
    return;
  }
  if (user.status === 'disabled') return;
  queuedOrFail(uid, await kit.mail(ctx, 'registration-exists', user.email, { user, signInLink: `${kit.issuer}/interaction/${uid}` }, { type: 'registration_exists' }));
}

/**
 * Creates the account (or, for a taken address, mails its owner) and sends the browser to "check
 * your email". A field the account refuses (a username taken meanwhile, a malformed phone number)
 * answers its error and writes nothing; the caller shows it.
 */
export async function completeSignUp(ctx: Context, kit: FlowKit, details: Interaction, signUp: PendingSignUp): Promise<ValidationError | ConflictError | null> {
  const { users } = kit.services;
  const clientId = kit.clientIdOf(details);
  // Closed since the form was sent (its profiling pages in between): still no account.
  assertSignUpOpen(ctx, details.uid);
  // Counted before the lookup, for a new and a taken address alike; when throttled the page is the
  // same and only the mail stays unsent (the address's owner is not told: that would be a mail).
  const mayMail = await kit.mayMail(ctx, signUp.email);
  if (!mayMail) ctx.state.log?.info('registration mail not sent: too many for this address or client address');
  let user: User | null = null;
  const answers = Object.entries(signUp.consents).map(([key, granted]) => ({ key, granted }));
  let consentsChanged: Array<{ key: string; granted: boolean }> = [];
  let owner = await users.findByEmail(signUp.email);
  if (owner) {
    // The page goes on as for a new address (no enumeration); only the webhook says it was taken.
    await recordDuplicateLoginId(kit.services.db, new DuplicateLoginId('email', owner.email, owner.id), { applicationId: clientId });
  } else {
    try {
      // The account, its registration with the application and its sign-up consents, together
      // (user.create, user.registration.create, user.consent.update), once transactional webhook
      // endpoints accepted the account.
      user = await users.create(
        {
          ...signUp.profile,
          email: signUp.email,
          prehashed_password: signUp.passwordHash,
          given_name: signUp.given_name,
          family_name: signUp.family_name,
          status: 'pending',
          attributes: signUp.attributes,
          metadata: signUp.metadata,
        },
        'registration',
        undefined,
        {
          applicationId: clientId,
          transactional: true,
          within: async (tx, created) => {
            if (clientId) await insertRegistration(tx, created, clientId);
            consentsChanged = answers.length > 0 ? await kit.consents.set(created.id, answers, tx, clientId) : [];
          },
        },
      );
    } catch (error) {
      // A transactional webhook endpoint refused the account: nothing was written, the page says so.
      if (error instanceof WebhookRefused) {
        ctx.state.log?.info({ endpoint: error.endpointId }, 'sign-up refused by a transactional webhook endpoint');
        throw new FlowError(409, t('page.refused.title'), t('signup.refused'), [{ href: `/interaction/${details.uid}`, text: t('page.back-to-sign-in') }]);
      }
      if (!(error instanceof ValidationError) && !(error instanceof ConflictError)) throw error;
      // Taken by a concurrent registration: the same end as a taken address; anything else is the field's problem.
      owner = await users.findByEmail(signUp.email);
      if (!owner) return error;
    }
  }

  if (user) {
    faultPoint('registration.user-created');
    const changed = consentsChanged;
    if (changed.length > 0) {
      await kit.hook(ctx, 'after_consent_update', { user: publicUser(user), consents: await kit.consentMap(user.id), changed: changed.map((c) => c.key) }, clientId);
    }
    const after = await kit.hook(ctx, 'after_registration', { user: publicUser(user), invited: false }, clientId);
    const more = after.decision.changes;
    if (hasChanges(more)) user = await users.update(user.id, { metadata: more.metadata, attributes: more.attributes });
    if (mayMail) await sendActivation(ctx, kit, user, details.uid);
  } else if (owner && mayMail) {
    await sendAlreadyRegistered(ctx, kit, owner, details.uid);
  }
  await kit.updateState(details, { identifier: signUp.email, activationEmail: signUp.email }, { type: 'restart' });
  kit.seeOther(ctx, `/interaction/${details.uid}/registered`);
  return null;
}
