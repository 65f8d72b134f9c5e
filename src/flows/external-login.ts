// Sign-in through an upstream identity provider (CONTRACT §8): "Continue with …" sends the browser
// to the provider with a state, a nonce and a PKCE challenge kept server-side (providers/pending.ts);
// the provider returns to /external/callback, which only records its answer, once, and sends the
// browser on to the interaction it came from; there, in the browser holding that interaction's
// cookie, the code is redeemed and the ID token checked (providers/client.ts). Then the identity is
// matched: a linked user signs in; a verified address of a local account links only after the user
// proves that account (its password, or a mailed link) unless the provider is trusted for the
// address's domain; an unknown identity goes through at_failed_identification (a hook may create
// or refuse it) and the self-service registration rules. after_external_login runs, then MFA,
// profiling and after_login as after a password (flows/journey.ts), with amr "fed".
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import type { HookExternalIdentity, HookProvider } from '../hooks/catalog/events.ts';
import { accountBudgetKey } from '../identity/lockout.ts';
import { insertRegistration } from '../identity/registrations.ts';
import { Throttle } from '../identity/throttle.ts';
import { publicUser, type User } from '../identity/users.ts';
import { interactionClientId } from '../oidc/adapter.ts';
import type { Application } from '../oidc/applications.ts';
import { ProviderAnswerError, type ExternalProfile } from '../providers/client.ts';
import type { IdentityProvider } from '../providers/store.ts';
import { deny } from './denial.ts';
import { passwordProved, resumeLogin } from './journey.ts';
import { assertPrompt, field, FlowError, humanDuration, type FlowKit, type Guard } from './kit.ts';
import { answerProblem, backToSignIn, sendToProvider } from './external-redirect.ts';
import { verificationAnswered } from './identity-verification.ts';
import type { ExternalLinkFact } from './state.ts';
import { t } from './texts.ts';
import { currentLocale } from '../i18n/locales.ts';

/** The pages that show "Continue with …" buttons. */
const BUTTON_PAGES = /^\/interaction\/([^/]+)(?:\/identify|\/register)?$/;

export function hookProvider(provider: IdentityProvider): HookProvider {
  return { id: provider.id, name: provider.name, preset: provider.preset };
}

function hookIdentity(provider: IdentityProvider, profile: ExternalProfile): HookExternalIdentity {
  return { provider: hookProvider(provider), subject: profile.subject, email: profile.email, email_verified: profile.email_verified, profile: profile.claims };
}

/** Whether the provider may link a verified address of this domain without the local account's proof. */
function trustedFor(provider: IdentityProvider, email: string): boolean {
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return provider.trusted_domains.includes(domain);
}

/** The application's self-service registration setting (CONTRACT §9), open unless it says closed. */
function registrationClosed(app: Application | null): boolean {
  return app?.registration === 'closed';
}

/** A path segment decoded, or null when it is malformed or could not be an interaction's uid. */
function safeDecode(segment: string): string | null {
  try {
    const value = decodeURIComponent(segment);
    return value.length <= 100 && !value.includes('\u0000') ? value : null;
  } catch {
    return null;
  }
}

/** Only the string parameters of a callback (query or form body), bounded. */
function answerParams(source: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!source || typeof source !== 'object') return out;
  for (const [key, value] of Object.entries(source)) {
    if (typeof value === 'string' && key.length <= 100 && value.length <= 8192 && !value.includes('\u0000')) out[key] = value;
    if (Object.keys(out).length >= 30) break;
  }
  return out;
}

export function externalRoutes(router: Router, kit: FlowKit, guard: Guard, callbackGuard: Guard): void {
  const { services } = kit;
  const { users } = services;
  const federation = services.federation;

  // The buttons of the identify and registration pages: the login providers this application offers.
  router.use(async (ctx: Context, next: Next) => {
    const page = ctx.method === 'GET' || ctx.method === 'POST' ? BUTTON_PAGES.exec(ctx.path) : null;
    const uid = page ? safeDecode(page[1]!) : null;
    if (uid) {
      const clientId = await interactionClientId(services.db, uid);
      const providers = clientId ? await federation.providers.forApplication(clientId, 'login') : [];
      ctx.state.externalProviders = providers.map((p) => ({
        href: `/interaction/${encodeURIComponent(uid)}/external/${p.id}`,
        label: t('external.continue-with', { provider: p.name }),
        preset: p.preset,
      }));
    }
    return next();
  });

  // The provider's way back (a redirect, or Apple's form_post). No anti-CSRF token can come back
  // from a provider: the state is the proof, and it only records the answer, once; the code is
  // redeemed by the browser that holds the interaction (below).
  const callback = async (ctx: Context) => {
    const answer = answerParams(ctx.method === 'POST' ? (ctx.request as { body?: unknown }).body : ctx.query);
    const result = await federation.pending.returned(answer.state ?? '', answer);
    if (!result.ok) {
      ctx.state.log?.info({ reason: result.reason }, 'external callback refused');
      if (result.reason === 'unknown') throw new FlowError(400, t('external.bad-answer.title'), t('external.bad-answer'), [], { wayBack: true });
      throw new FlowError(400, t('external.used.title'), t('external.used'), [], { wayBack: true });
    }
    ctx.state.brand = await kit.brand(await interactionClientId(services.db, result.interactionUid));
    kit.seeOther(ctx, `/interaction/${encodeURIComponent(result.interactionUid)}/external/return/${result.ref}`);
  };
  router.get('/external/callback', ...callbackGuard, callback);
  router.post('/external/callback', ...callbackGuard, callback);

  router.get('/interaction/:uid/external/return/:ref', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const pending = await federation.pending.take(ctx.params.ref ?? '', details.uid);
    if (!pending?.answer) throw new FlowError(400, t('external.used.title'), t('external.used'), [backToSignIn(details.uid)]);
    const provider = await federation.providers.find(pending.providerId);
    if (!provider?.enabled) throw new FlowError(404, t('external.unknown.title'), t('external.unknown'), [backToSignIn(details.uid)]);
    let profile: ExternalProfile;
    try {
      profile = await federation.clients.finish(provider, pending.answer, pending.checks);
    } catch (error) {
      if (!(error instanceof ProviderAnswerError)) throw error;
      ctx.state.log?.warn({ provider: provider.id, kind: error.kind, reason: error.message }, 'external sign-in failed');
      throw answerProblem(error, provider, details.uid);
    }
    if (pending.purpose === 'verification') {
      const verified = await verificationAnswered(ctx, kit, details, provider, profile);
      if (verified) await resumeLogin(ctx, kit, details, verified.user, verified.amr);
      return;
    }
    await externalSignIn(ctx, kit, details, provider, profile);
  });

  // ---- proving the local account before a link

  const linkPage = async (ctx: Context, details: Interaction, link: ExternalLinkFact, vars: Record<string, unknown> = {}, status = 200) => {
    const user = await users.findById(link.userId);
    const provider = await federation.providers.find(link.providerId);
    if (!user || !provider) throw kit.expired();
    kit.render(ctx, 'external-link', { title: t('external.link.title'), uid: details.uid, email: user.email, providerName: provider.name, hasPassword: user.has_password, ...vars }, status);
  };

  router.get('/interaction/:uid/external/link', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    const { externalLink } = await kit.state(details);
    if (details.prompt.name !== 'login' || !externalLink) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    await linkPage(ctx, details, externalLink);
  });

  router.post('/interaction/:uid/external/link', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const { externalLink } = await kit.state(details);
    if (!externalLink) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    const user = await users.findById(externalLink.userId);
    if (!user) throw kit.expired();
    const clientId = kit.clientIdOf(details);
    if (field(ctx, 'method', 20) === 'email') {
      if (await kit.mayMail(ctx, user.email)) {
        const provider = await federation.providers.find(externalLink.providerId);
        const ttl = services.config.federation.pendingSeconds;
        const token = await kit.tokens.issue('external_link', user.id, { interactionUid: details.uid, clientId, locale: currentLocale() }, ttl);
        kit.mail(
          ctx,
          'external-link',
          user.email,
          {
            user,
            providerName: provider?.name ?? '',
            link: `${kit.issuer}/interaction/${details.uid}/external/link/${token}`,
            expiresIn: humanDuration(ttl),
          },
          { type: 'external_link', ttlSeconds: ttl },
        );
      }
      await linkPage(ctx, details, externalLink, { status: t('external.link.sent', { email: user.email }) });
      return;
    }
    // The password, counted against the account's and the address's budgets as on the password page.
    const { maxFailuresPerAccount, maxFailuresPerIp } = services.config.throttle;
    const ipKey = Throttle.key('ip', ctx.ip || 'unknown');
    const accountKey = accountBudgetKey(user.id);
    const show = (alert: string | null) => linkPage(ctx, details, externalLink, { alert }, 400);
    if (!(await kit.throttle.hit(ipKey, maxFailuresPerIp)) || !(await kit.throttle.hit(accountKey, maxFailuresPerAccount))) {
      await deny(ctx, kit, clientId, { user, identifier: user.email, reason: 'throttled' }, t('login.throttled'), show);
      return;
    }
    if (!(await users.verifyPassword(user, field(ctx, 'password', 1024)))) {
      await deny(ctx, kit, clientId, { user, identifier: user.email, reason: 'invalid_credentials' }, t('external.link.wrong-password'), show);
      return;
    }
    await kit.throttle.reset(accountKey);
    await kit.throttle.undo(ipKey);
    await linkProved(ctx, kit, details, externalLink);
  });

  // The mailed link: opened in the browser of the sign-in it was asked from.
  router.get('/interaction/:uid/external/link/:token', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const { externalLink } = await kit.state(details);
    const unusable = new FlowError(400, t('external.link.title'), t('external.link.unusable'), [backToSignIn(details.uid)]);
    if (!externalLink) throw unusable;
    const found = await kit.inspectToken('external_link', ctx.params.token ?? '');
    if (found.status !== 'valid' || found.token.userId !== externalLink.userId || found.token.interactionUid !== details.uid) throw unusable;
    if (!(await kit.tokens.consume('external_link', ctx.params.token ?? ''))) throw unusable;
    await linkProved(ctx, kit, details, externalLink);
  });

  // "Continue with …": after the link routes, whose paths it would match too.
  router.get('/interaction/:uid/external/:id', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const provider = (await federation.providers.forApplication(kit.clientIdOf(details), 'login')).find((p) => p.id === ctx.params.id);
    if (!provider) throw new FlowError(404, t('external.unknown.title'), t('external.unknown'), [backToSignIn(details.uid)]);
    await sendToProvider(ctx, kit, details, provider, 'login');
  });
}

/** The provider signed an identity in: find its user (linked, linkable, or new), then go on. */
async function externalSignIn(ctx: Context, kit: FlowKit, details: Interaction, provider: IdentityProvider, profile: ExternalProfile): Promise<void> {
  const { users, federation } = kit.services;
  const clientId = kit.clientIdOf(details);
  const link = await federation.links.find(provider.id, profile.subject);
  const linked = link ? await users.findById(link.user_id) : null;
  if (linked) return signedIn(ctx, kit, details, provider, profile, linked, false);

  const local = profile.email ? await users.findByEmail(profile.email) : null;
  if (local) {
    // A verified address of a local account: linked only once that account is proved (or trusted).
    if (provider.linking === 'verified_email' && profile.email_verified && profile.email) {
      if (trustedFor(provider, profile.email)) {
        await federation.links.link({ providerId: provider.id, subject: profile.subject, userId: local.id, email: profile.email, applicationId: clientId });
        return signedIn(ctx, kit, details, provider, profile, local, false);
      }
      const fact: ExternalLinkFact = { providerId: provider.id, subject: profile.subject, userId: local.id, email: profile.email, profile: profile as unknown as Record<string, unknown> };
      await kit.updateState(details, { externalLink: fact });
      kit.seeOther(ctx, `/interaction/${details.uid}/external/link`);
      return;
    }
    throw new FlowError(409, t('external.refused.title'), t('external.taken', { provider: provider.name }), [backToSignIn(details.uid)]);
  }

  const created = await newExternalUser(ctx, kit, details, provider, profile);
  if (created) await signedIn(ctx, kit, details, provider, profile, created, true);
}

/** The local account was proved: link the identity that waited for it and sign in. */
async function linkProved(ctx: Context, kit: FlowKit, details: Interaction, fact: ExternalLinkFact): Promise<void> {
  const { users, federation } = kit.services;
  const provider = await federation.providers.find(fact.providerId);
  const user = await users.findById(fact.userId);
  if (!provider || !user) throw kit.expired();
  await federation.links.link({ providerId: provider.id, subject: fact.subject, userId: user.id, email: fact.email, applicationId: kit.clientIdOf(details) });
  await kit.updateState(details, { externalLink: undefined });
  await signedIn(ctx, kit, details, provider, fact.profile as unknown as ExternalProfile, user, false);
}

/**
 * An identity no user has: at_failed_identification first (a hook may create the user, as a lazy
 * migration, or refuse), else a self-service sign-up under the application's rules. Answers the
 * user, or null when a page was answered instead.
 */
async function newExternalUser(ctx: Context, kit: FlowKit, details: Interaction, provider: IdentityProvider, profile: ExternalProfile): Promise<User | null> {
  const { users, federation, applications, db } = kit.services;
  const clientId = kit.clientIdOf(details);
  const refuse = (alert: string | null) => kit.render(ctx, 'message', { title: t('login.refused.title'), alert, links: [backToSignIn(details.uid)] }, 403);
  const failed = await kit.hook(ctx, 'at_failed_identification', { user: null, identifier: profile.email ?? profile.subject, external: hookIdentity(provider, profile) }, clientId, {
    handleDenial: true,
  });
  if (failed.denied) {
    await deny(ctx, kit, clientId, { user: null, identifier: profile.email, reason: 'denied' }, failed.denied.message, refuse);
    return null;
  }
  const link = (userId: string, tx?: Parameters<typeof federation.links.link>[1]) =>
    federation.links.link({ providerId: provider.id, subject: profile.subject, userId, email: profile.email, applicationId: clientId }, tx);
  const legacy = failed.decision.migrationUser;
  if (legacy) {
    try {
      return await db.transaction(async (tx) => {
        const user = await users.create({ ...legacy, status: 'active' }, 'migration', tx);
        await link(user.id, tx);
        return user;
      });
    } catch (error) {
      if (!(error instanceof ValidationError) && !(error instanceof ConflictError)) throw error;
      ctx.state.log?.warn({ err: error }, 'a hook asked to create a user for an external identity that cannot be created');
    }
  }

  const app = clientId ? await applications.find(clientId) : null;
  if (registrationClosed(app)) {
    await deny(ctx, kit, clientId, { user: null, identifier: profile.email, reason: 'registration_failed', flow: 'registration' }, t('external.closed'), refuse);
    return null;
  }
  if (!profile.email) throw new FlowError(400, t('login.refused.title'), t('external.no-email', { provider: provider.name }), [backToSignIn(details.uid)]);
  const submitted = { email: profile.email, given_name: profile.given_name, family_name: profile.family_name, attributes: {}, metadata: {} };
  const before = await kit.hook(ctx, 'before_registration', { user: submitted, invited: false }, clientId, { handleDenial: true });
  if (before.denied) {
    await deny(ctx, kit, clientId, { user: null, identifier: profile.email, reason: 'denied', flow: 'registration' }, before.denied.message, refuse);
    return null;
  }
  const { attributes, metadata } = before.decision.changes;
  let user: User;
  try {
    user = await db.transaction(async (tx) => {
      const created = await users.create(
        { email: profile.email!, given_name: profile.given_name, family_name: profile.family_name, email_verified: profile.email_verified, status: 'active', attributes, metadata },
        'external',
        tx,
        { applicationId: clientId },
      );
      // A first sign-in through a provider is a self-service sign-up: the user is registered with the application.
      // Verified when the provider vouched for the address, as the account's email is.
      if (clientId) await insertRegistration(tx, created, clientId, { verified: created.email_verified });
      await link(created.id, tx);
      return created;
    });
  } catch (error) {
    if (!(error instanceof ValidationError) && !(error instanceof ConflictError)) throw error;
    ctx.state.log?.info({ err: error }, 'an external identity could not be signed up');
    throw new FlowError(409, t('login.refused.title'), t('external.taken', { provider: provider.name }), [backToSignIn(details.uid)]);
  }
  if (before.decision.verificationRequired) await kit.updateState(details, { verificationRequired: true });
  const after = await kit.hook(ctx, 'after_registration', { user: publicUser(user), invited: false }, clientId);
  const more = after.decision.changes;
  if (Object.keys(more.metadata).length > 0) user = await users.update(user.id, { metadata: more.metadata });
  return user;
}

/** The user of an external identity is known: its status, after_external_login, then as after a password. */
async function signedIn(ctx: Context, kit: FlowKit, details: Interaction, provider: IdentityProvider, profile: ExternalProfile, found: User, isNew: boolean): Promise<void> {
  const { users, federation, locks } = kit.services;
  const clientId = kit.clientIdOf(details);
  let user = found;
  const refused = (title: string) => (alert: string | null) => kit.render(ctx, 'message', { title, alert, links: [backToSignIn(details.uid)] }, 403);
  if (user.status === 'pending' && profile.email_verified && profile.email && profile.email.toLowerCase() === user.email.toLowerCase()) {
    // The provider vouches for the address the activation mail would have verified.
    user = await users.verifyEmail(user.id);
  }
  if (user.status === 'disabled') return deny(ctx, kit, clientId, { user, identifier: null, reason: 'disabled' }, t('login.disabled'), refused(t('login.disabled.title')));
  if (user.status === 'pending') return deny(ctx, kit, clientId, { user, identifier: null, reason: 'not_activated' }, t('login.cannot-sign-in'), refused(t('login.refused.title')));
  if (await locks.current(user.id)) return deny(ctx, kit, clientId, { user, identifier: null, reason: 'locked' }, t('login.locked'), refused(t('login.locked.title')));

  const outcome = await kit.hook(ctx, 'after_external_login', { user: publicUser(user), provider: hookProvider(provider), profile: profile.claims, is_new: isNew }, clientId, { handleDenial: true });
  if (outcome.denied) return deny(ctx, kit, clientId, { user, identifier: null, reason: 'denied' }, outcome.denied.message, refused(t('login.refused.title')));
  const { attributes, metadata } = outcome.decision.changes;
  if (Object.keys(attributes).length > 0 || Object.keys(metadata).length > 0) user = await users.update(user.id, { attributes, metadata });
  await federation.links.touch(provider.id, profile.subject);
  await kit.updateState(details, { firstFactor: 'fed', externalProvider: provider.id, externalLink: undefined, identifier: undefined });
  // MFA by the application's policy, then profiling and after_login (flows/journey.ts).
  await passwordProved(ctx, kit, details, user, undefined);
}
