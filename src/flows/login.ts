// Identifier-first login: the identify and password steps (what follows a proved password is in
// flows/journey.ts); consent for third-party apps.
// Answers never tell whether an account exists: the password page always follows the identify page,
// a wrong password and an unknown account get the same message, and the throttle counts attempts
// per account (an unknown identifier has a budget of its own, counted the same way) and per address.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import { accountBudgetKey, unknownIdentifierBudgetKey } from '../identity/lockout.ts';
import { Throttle } from '../identity/throttle.ts';
import { isSynced } from '../identity/passkeys.ts';
import { publicUser } from '../identity/users.ts';
import { passkeyAmr } from '../oidc/acr.ts';
import { denial, deny } from './denial.ts';
import type { EqualTimeSide } from './equal-time.ts';
import { invitationFor } from './invitation.ts';
import { factorsProved, passwordProved } from './journey.ts';
import { passkeyBinding, passkeyRefusal, postedCredential } from './passkey.ts';
import { assertPrompt, field, FlowError, type FlowKit, type Guard } from './kit.ts';
import { rememberedHere } from './remembered-device.ts';
import type { JourneyFacts } from './state.ts';
import { t, textOr } from './texts.ts';

function ipKey(ctx: Context): string {
  return Throttle.key('ip', ctx.ip || 'unknown');
}

export function loginRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { services } = kit;
  const { users, provider, applications } = services;

  // The identify page offers a passkey too: a discoverable-credential request, which names no account.
  const identifyPage = async (ctx: Context, details: Interaction, vars: Record<string, unknown>, status = 200) => {
    const passkeyOptions = await services.passkeys.authenticationOptions(passkeyBinding(details), 'passwordless');
    kit.render(ctx, 'identify', { title: t('login.identify.title'), uid: details.uid, passkeyOptions, ...vars }, status);
  };
  const passwordPage = (ctx: Context, details: Interaction, identifier: string, vars: Record<string, unknown> = {}, status = 200) =>
    kit.render(ctx, 'password', { title: t('login.password.title'), uid: details.uid, identifier, ...vars }, status);

  // The interaction's landing page: the identify step for a login, the consent step for a consent.
  router.get('/interaction/:uid', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    if (details.prompt.name === 'login') {
      // A sign-in an invitation link started: its first page sets the invited user's password.
      if (await invitationFor(ctx, kit, details)) {
        kit.seeOther(ctx, `/interaction/${details.uid}/invitation`);
        return;
      }
      const state = await kit.state(details);
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      await identifyPage(ctx, details, { identifier: state.identifier ?? hint });
      return;
    }
    if (details.prompt.name === 'consent') {
      const clientId = kit.clientIdOf(details);
      const app = clientId ? await applications.find(clientId) : null;
      if (!app || !app.third_party) {
        // First-party applications need no consent; their grant normally exists already.
        await finishConsent(ctx, kit, details);
        return;
      }
      const missing = consentDetails(details);
      kit.render(ctx, 'consent', {
        title: t('consent.title', { app: ctx.state.brand?.name ?? app.name }),
        uid: details.uid,
        appName: ctx.state.brand?.name ?? app.name,
        scopes: missing.scopes.map((scope) => ({ name: scope, text: textOr(`consent.scope.${scope}`, scope) })),
        claims: missing.claims,
        resources: missing.resources,
      });
      return;
    }
    throw new FlowError(400, t('page.unknown-prompt.title'), t('page.unknown-prompt'));
  });

  const identify = async (ctx: Context) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const clientId = kit.clientIdOf(details);
    const identifier = field(ctx, 'identifier', 400).trim();
    if (!identifier || identifier.length > 320) {
      await identifyPage(ctx, details, { identifier, alert: t('login.identify.missing') }, 400);
      return;
    }
    // Both paths (an account, no account) run their own sync hooks; the answer waits until the same
    // floor on both, so its time does not tell which path ran (flows/equal-time.ts).
    const started = kit.equalTime.start();
    const scope = clientId ?? '';
    let answer: { side: EqualTimeSide; send: () => void | Promise<void> };
    try {
      answer = await identification(ctx, details, identifier, clientId);
    } catch (error) {
      // A failing hook's error page waits too (it is not recorded: it is no usual answer time).
      await kit.equalTime.settle('identify', scope, 'unknown', started, { record: false });
      throw error;
    }
    await kit.equalTime.settle('identify', scope, answer.side, started);
    await answer.send();
  };
  /** The identify step's work: the hooks of its path, the journey's state; `send` writes the answer. */
  const identification = async (ctx: Context, details: Interaction, identifier: string, clientId: string | null): Promise<{ side: EqualTimeSide; send: () => void | Promise<void> }> => {
    let user = await users.findByIdentifier(identifier);
    const side: EqualTimeSide = user ? 'known' : 'unknown';
    if (!user) {
      // api.deny is for external identities (flows/external-login.ts): here it would tell that no account exists.
      const failed = await kit.hook(ctx, 'at_failed_identification', { user: null, identifier, external: null }, clientId, { handleDenial: true });
      const legacy = failed.decision.migrationUser;
      if (legacy) {
        try {
          user = await users.create({ ...legacy, status: 'active' }, 'migration');
        } catch (error) {
          if (!(error instanceof ValidationError) && !(error instanceof ConflictError)) throw error;
          ctx.state.log?.warn({ err: error }, 'a hook asked to migrate a user that cannot be created');
        }
      }
    }
    let mfaHook: 'require' | 'skip' | undefined;
    let verificationRequired: true | undefined;
    if (user) {
      const outcome = await kit.hook(ctx, 'after_identification', { user: publicUser(user), identifier }, clientId, { handleDenial: true });
      if (outcome.denied) {
        const send = await denial(ctx, kit, clientId, { user, identifier, reason: 'denied' }, outcome.denied.message, (alert) => identifyPage(ctx, details, { identifier, alert }, 403));
        return { side, send: () => send() };
      }
      mfaHook = outcome.decision.mfa;
      verificationRequired = outcome.decision.verificationRequired || undefined;
    }
    await kit.updateState(details, newIdentification(identifier, mfaHook, verificationRequired), { type: 'restart' });
    return { side, send: () => kit.seeOther(ctx, `/interaction/${details.uid}/password`) };
  };
  router.post('/interaction/:uid/identify', ...guard, identify);
  // The identify form posts to /identify; a client posting the identifier to the page itself works too.
  router.post('/interaction/:uid', ...guard, identify);

  // A sign-in with a passkey and no password (the identify page's button, or the browser's autofill):
  // the passkey with user verification is two factors (passkeyAmr in oidc/acr.ts), so no second
  // step is asked. Refusals say nothing of any account: the request named none, and an unknown
  // credential, a spent challenge and a bad signature are told apart only by the credential's fate.
  router.post('/interaction/:uid/passkey', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const clientId = kit.clientIdOf(details);
    const ip = ipKey(ctx);
    const refuse = async (alert: string, status: number) => identifyPage(ctx, details, { alert }, status);
    const answer = postedCredential(ctx);
    if (!answer) return refuse(t('passkey.missing'), 400);
    if (!(await kit.throttle.hit(ip, services.config.throttle.maxFailuresPerIp))) return refuse(t('login.throttled'), 429);
    let proved: Awaited<ReturnType<typeof services.passkeys.verifyAuthentication>>;
    try {
      proved = await services.passkeys.verifyAuthentication(passkeyBinding(details), 'passwordless', answer);
    } catch (error) {
      return refuse(passkeyRefusal(ctx, error, 'passwordless sign-in'), 400);
    }
    await kit.throttle.undo(ip);
    const user = await users.findById(proved.passkey.user_id);
    if (!user || user.status !== 'active' || (await services.locks.current(user.id))) {
      const reason = !user ? 'invalid_credentials' : user.status === 'pending' ? 'not_activated' : user.status === 'disabled' ? 'disabled' : 'locked';
      await deny(ctx, kit, clientId, { user, identifier: user?.email ?? '', reason }, t('login.cannot-sign-in'), (alert) =>
        kit.render(ctx, 'message', { title: t('login.refused.title'), alert }, 403),
      );
      return;
    }
    // The brand's rules about this user run as for a typed identifier (a denial stops here).
    const outcome = await kit.hook(ctx, 'after_identification', { user: publicUser(user), identifier: user.email }, clientId, { handleDenial: true });
    if (outcome.denied) {
      await deny(ctx, kit, clientId, { user, identifier: user.email, reason: 'denied' }, outcome.denied.message, (alert) => identifyPage(ctx, details, { alert }, 403));
      return;
    }
    await kit.updateState(details, newIdentification(user.email, outcome.decision.mfa, outcome.decision.verificationRequired || undefined), { type: 'restart' });
    await factorsProved(ctx, kit, details, user, passkeyAmr(isSynced(proved.passkey), false));
  });

  router.get('/interaction/:uid/password', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    const state = await kit.state(details);
    if (details.prompt.name !== 'login' || !state.identifier) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    passwordPage(ctx, details, state.identifier);
  });

  router.post('/interaction/:uid/password', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const state = await kit.state(details);
    const identifier = state.identifier;
    if (!identifier) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    const clientId = kit.clientIdOf(details);
    const password = field(ctx, 'password', 1024);
    const { maxFailuresPerAccount, maxFailuresPerIp } = services.config.throttle;

    // Counted before anything is checked; over a limit, the password is not even looked at. The
    // address first: an address over its budget is refused before the account is looked up or
    // counted, so one address cannot spend more of an account's budget than its own.
    const ip = ipKey(ctx);
    // The same answer whether or not the account exists: the hooks do not see which account it was.
    const refuse = () => deny(ctx, kit, clientId, { user: null, identifier, reason: 'throttled' }, t('login.throttled'), (alert) => passwordPage(ctx, details, identifier, { alert }, 429));
    if (!(await kit.throttle.hit(ip, maxFailuresPerIp))) return refuse();
    const user = await users.findByIdentifier(identifier);
    // One budget per account, whatever form of its identifier was typed (email, username, any case).
    const accountKey = user ? accountBudgetKey(user.id) : unknownIdentifierBudgetKey(identifier);
    // Past the account's budget, a journey that proved more than a password goes on (the address's
    // budget still counts): this account's reset link, asked for from this journey and completed, or
    // a browser remembered after a passed second factor. A stranger has neither.
    // Both sides do the same lookups here, so that the time does not tell whether the account exists.
    const provesMore = async () => {
      const remembered = await rememberedDevice(ctx, kit, clientId, user?.id ?? '');
      return user !== null && (state.resetProof === user.id || remembered);
    };
    if (!(await kit.throttle.hit(accountKey, maxFailuresPerAccount)) && !(await provesMore())) {
      await kit.throttle.undo(ip); // nothing was checked: no failure of this address
      return refuse();
    }

    let valid: boolean;
    let rejection: string | null = null;
    if (user && !user.has_password && user.source === 'migration') {
      // A user migrated from a legacy system: a hook checks the first password there.
      const outcome = await kit.hook(ctx, 'before_password_validation', { user: publicUser(user), password }, clientId);
      const decision = outcome.decision.password;
      valid = decision?.accepted === true;
      rejection = decision && !decision.accepted ? decision.message : null;
      if (valid) {
        await users.adoptPassword(user.id, password, clientId);
      } else {
        await users.passwords.verifyNothing(password);
      }
    } else {
      valid = await users.verifyPassword(user, password);
    }

    if (!valid) {
      await deny(ctx, kit, clientId, { user, identifier, reason: 'invalid_credentials' }, rejection ?? t('login.password.wrong'), (alert) => passwordPage(ctx, details, identifier, { alert }, 400));
      return;
    }

    // The password is right: the failures of this account are forgiven, this attempt was no failure.
    await kit.throttle.reset(accountKey);
    await kit.throttle.undo(ip);
    const account = user!;
    if (account.status === 'pending') {
      await deny(ctx, kit, clientId, { user: account, identifier, reason: 'not_activated' }, null, async (alert) => {
        await kit.updateState(details, { activationEmail: account.email });
        kit.render(ctx, 'pending', { title: t('login.pending.title'), uid: details.uid, email: account.email, alert }, 403);
      });
      return;
    }
    if (account.status === 'disabled') {
      await deny(ctx, kit, clientId, { user: account, identifier, reason: 'disabled' }, t('login.disabled'), (alert) => kit.render(ctx, 'message', { title: t('login.disabled.title'), alert }, 403));
      return;
    }
    // An operator's lock: told only after the right password, like a disabled account.
    if (await services.locks.current(account.id)) {
      await deny(ctx, kit, clientId, { user: account, identifier, reason: 'locked' }, t('login.locked'), (alert) => kit.render(ctx, 'message', { title: t('login.locked.title'), alert }, 403));
      return;
    }
    // A right password that is a breached one: flagged (user.password.breach, event.risk), not refused
    // (a hook may refuse it at after_login; the user can change it).
    if (await users.isBreached(password)) {
      await services.threats.recordBreach(account.id, clientId);
      await kit.updateState(details, { breachedPassword: true });
    }
    // A second factor when the application, a hook or the request asks for one, then the rest (flows/journey.ts).
    await passwordProved(ctx, kit, details, account, state.mfaHook);
  });

  router.post('/interaction/:uid/consent', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'consent');
    await finishConsent(ctx, kit, details);
  });

  // Cancel: the application hears access_denied (on its own registered redirect URI).
  router.post('/interaction/:uid/abort', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    await kit.states.clear(details.uid);
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
  });
}

/** The facts of a journey that starts over with a new identification (what an earlier one left goes). */
function newIdentification(identifier: string, mfaHook: JourneyFacts['mfaHook'], verificationRequired: true | undefined): Partial<JourneyFacts> {
  return {
    identifier,
    mfaHook,
    verificationRequired,
    firstFactor: undefined,
    externalProvider: undefined,
    externalLink: undefined,
    verification: undefined,
    verifying: undefined,
    afterLoginDone: undefined,
    breachedPassword: undefined,
  };
}

/** Whether this browser was remembered for the user after a second factor, for this application. */
async function rememberedDevice(ctx: Context, kit: FlowKit, clientId: string | null, userId: string): Promise<boolean> {
  const app = clientId ? await kit.services.applications.find(clientId) : null;
  return app !== null && (await rememberedHere(ctx, kit, userId, app));
}

function consentDetails(details: Interaction): { scopes: string[]; claims: string[]; resources: Array<{ indicator: string; scopes: string[] }> } {
  const d = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  return {
    scopes: Array.isArray(d.missingOIDCScope) ? d.missingOIDCScope : [],
    claims: Array.isArray(d.missingOIDCClaims) ? d.missingOIDCClaims : [],
    resources: Object.entries(d.missingResourceScopes ?? {}).map(([indicator, scopes]) => ({ indicator, scopes })),
  };
}

/** Grants what the pending authorization is missing and hands the interaction back. */
async function finishConsent(ctx: Context, kit: FlowKit, details: Interaction): Promise<void> {
  const { provider } = kit.services;
  const accountId = details.session?.accountId;
  const clientId = kit.clientIdOf(details);
  if (!accountId || !clientId) throw kit.expired();
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const target = grant ?? new provider.Grant({ accountId, clientId });
  const missing = consentDetails(details);
  if (missing.scopes.length > 0) target.addOIDCScope(missing.scopes.join(' '));
  if (missing.claims.length > 0) target.addOIDCClaims(missing.claims);
  for (const resource of missing.resources) target.addResourceScope(resource.indicator, resource.scopes.join(' '));
  const grantId = await target.save();
  await kit.states.clear(details.uid);
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
}
