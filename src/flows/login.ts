// Identifier-first login: identify → password → (profiling) → done; consent for third-party apps.
// Answers never tell whether an account exists: the password page always follows the identify page,
// a wrong password and an unknown account get the same message, and the throttle counts attempts
// per account (an unknown identifier has a budget of its own, counted the same way) and per address.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import { accountBudgetKey, unknownIdentifierBudgetKey } from '../identity/lockout.ts';
import { Throttle } from '../identity/throttle.ts';
import { publicUser, type User } from '../identity/users.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import { field, FlowError, type FlowKit, type Guard } from './kit.ts';
import type { EqualTimeSide } from './equal-time.ts';
import { beginMfa, rememberedHere } from './mfa.ts';
import { acrFor } from '../oidc/acr.ts';

export const WRONG_CREDENTIALS = 'The email address, username or password is not correct.';
export const THROTTLED = 'Too many failed sign-in attempts. Please wait a while before trying again, or reset your password.';
export const LOCKED = 'This account is locked. Contact the application’s support if you think this is a mistake.';

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your name and username',
  email: 'See your email address',
  phone: 'See your phone number',
  offline_access: 'Stay connected when you are not using it',
};

function ipKey(ctx: Context): string {
  return Throttle.key('ip', ctx.ip || 'unknown');
}

export function loginRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { services } = kit;
  const { users, provider, applications } = services;

  const identifyPage = (ctx: Context, details: Interaction, vars: Record<string, unknown>, status = 200) =>
    kit.render(ctx, 'identify', { title: 'Sign in', uid: details.uid, ...vars }, status);
  const passwordPage = (ctx: Context, details: Interaction, identifier: string, vars: Record<string, unknown> = {}, status = 200) =>
    kit.render(ctx, 'password', { title: 'Enter your password', uid: details.uid, identifier, ...vars }, status);

  // The interaction's landing page: the identify step for a login, the consent step for a consent.
  router.get('/interaction/:uid', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    if (details.prompt.name === 'login') {
      const state = await kit.state(details);
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      identifyPage(ctx, details, { identifier: state.identifier ?? hint });
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
        title: `Allow ${ctx.state.brand?.name ?? app.name}?`,
        uid: details.uid,
        appName: ctx.state.brand?.name ?? app.name,
        scopes: missing.scopes.map((scope) => ({ name: scope, text: SCOPE_TEXT[scope] ?? scope })),
        claims: missing.claims,
        resources: missing.resources,
      });
      return;
    }
    throw new FlowError(400, 'This request cannot be completed', 'The application asked for a step this server does not offer.');
  });

  const identify = async (ctx: Context) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const clientId = kit.clientIdOf(details);
    const identifier = field(ctx, 'identifier', 400).trim();
    if (!identifier || identifier.length > 320) {
      identifyPage(ctx, details, { identifier, alert: 'Enter your email address or username.' }, 400);
      return;
    }
    // Both paths (an account, no account) run their own sync hooks; the answer waits until the same
    // floor on both, so its time does not tell which path ran (flows/equal-time.ts).
    const started = kit.equalTime.start();
    const scope = clientId ?? '';
    let answer: { side: EqualTimeSide; send: () => void };
    try {
      answer = await identification(ctx, details, identifier, clientId);
    } catch (error) {
      // A failing hook's error page waits too (it is not recorded: it is no usual answer time).
      await kit.equalTime.settle('identify', scope, 'unknown', started, { record: false });
      throw error;
    }
    await kit.equalTime.settle('identify', scope, answer.side, started);
    answer.send();
  };
  /** The identify step's work: the hooks of its path, the journey's state; `send` writes the answer. */
  const identification = async (ctx: Context, details: Interaction, identifier: string, clientId: string | null): Promise<{ side: EqualTimeSide; send: () => void }> => {
    let user = await users.findByIdentifier(identifier);
    const side: EqualTimeSide = user ? 'known' : 'unknown';
    if (!user) {
      const failed = await kit.hook(ctx, 'at_failed_identification', { user: null, identifier }, clientId);
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
    if (user) {
      const outcome = await kit.hook(ctx, 'after_identification', { user: publicUser(user), identifier }, clientId, { handleDenial: true });
      if (outcome.denied) {
        const failure = await reportFailure(ctx, kit, clientId, { user, identifier, reason: 'denied' });
        const message = failure.message ?? outcome.denied.message;
        return { side, send: () => failure.redirect ? redirectAway(ctx, failure.redirect) : identifyPage(ctx, details, { identifier, alert: message }, 403) };
      }
      mfaHook = outcome.decision.mfa;
    }
    await kit.updateState(details, { identifier, authenticatedUserId: undefined, profiling: undefined, mfaHook, mfa: undefined, amr: undefined });
    return { side, send: () => kit.seeOther(ctx, `/interaction/${details.uid}/password`) };
  };
  router.post('/interaction/:uid/identify', ...guard, identify);
  // The identify form posts to /identify; a client posting the identifier to the page itself works too.
  router.post('/interaction/:uid', ...guard, identify);

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
    const refuse = async () => {
      // The same answer whether or not the account exists: the hooks do not see which account it was.
      const failure = await reportFailure(ctx, kit, clientId, { user: null, identifier, reason: 'throttled' });
      if (failure.redirect) return redirectAway(ctx, failure.redirect);
      passwordPage(ctx, details, identifier, { alert: failure.message ?? THROTTLED }, 429);
    };
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
        await users.adoptPassword(user.id, password);
      } else {
        await users.passwords.verifyNothing(password);
      }
    } else {
      valid = await users.verifyPassword(user, password);
    }

    if (!valid) {
      const failure = await reportFailure(ctx, kit, clientId, { user, identifier, reason: 'invalid_credentials' });
      if (failure.redirect) return redirectAway(ctx, failure.redirect);
      passwordPage(ctx, details, identifier, { alert: failure.message ?? rejection ?? WRONG_CREDENTIALS }, 400);
      return;
    }

    // The password is right: the failures of this account are forgiven, this attempt was no failure.
    await kit.throttle.reset(accountKey);
    await kit.throttle.undo(ip);
    const account = user!;
    if (account.status === 'pending') {
      const failure = await reportFailure(ctx, kit, clientId, { user: account, identifier, reason: 'not_activated' });
      if (failure.redirect) return redirectAway(ctx, failure.redirect);
      await kit.updateState(details, { activationEmail: account.email });
      kit.render(ctx, 'pending', { title: 'Verify your email address', uid: details.uid, email: account.email, alert: failure.message }, 403);
      return;
    }
    if (account.status === 'disabled') {
      const failure = await reportFailure(ctx, kit, clientId, { user: account, identifier, reason: 'disabled' });
      if (failure.redirect) return redirectAway(ctx, failure.redirect);
      kit.render(ctx, 'message', {
        title: 'Account disabled',
        alert: failure.message ?? 'This account has been disabled. Contact the application’s support if you think this is a mistake.',
      }, 403);
      return;
    }
    // An operator's lock: told only after the right password, like a disabled account.
    if (await services.locks.current(account.id)) {
      const failure = await reportFailure(ctx, kit, clientId, { user: account, identifier, reason: 'locked' });
      if (failure.redirect) return redirectAway(ctx, failure.redirect);
      kit.render(ctx, 'message', { title: 'Account locked', alert: failure.message ?? LOCKED }, 403);
      return;
    }
    // A second factor when the application, a hook or the request asks for one (flows/mfa.ts).
    if (await beginMfa(ctx, kit, details, account)) return;
    await completeLogin(ctx, kit, details, account);
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

export type FailureReason = 'invalid_credentials' | 'throttled' | 'denied' | 'not_activated' | 'disabled' | 'locked' | 'registration_failed';

/**
 * A failed login or registration: the user.login.failed webhook (logins only) and the
 * at_failed_authentication point, whose hooks may choose the message or send the user elsewhere.
 */
export async function reportFailure(ctx: Context, kit: FlowKit, clientId: string | null,
  failure: { user: User | null; identifier: string | null; reason: FailureReason; flow?: 'login' | 'registration' }): Promise<{ message: string | null; redirect: string | null }> {
  const flow = failure.flow ?? 'login';
  if (flow === 'login') {
    await kit.services.db.transaction((tx) => recordEvent(tx, 'user.login.failed', {
      user_id: failure.user?.id ?? null, application_id: clientId, reason: failure.reason,
    }));
  }
  const outcome = await kit.hook(ctx, 'at_failed_authentication', {
    flow, user: failure.user ? publicUser(failure.user) : null, identifier: failure.identifier, reason: failure.reason,
  }, clientId);
  return outcome.decision;
}

/** Whether this browser was remembered for the user after a second factor, for this application. */
async function rememberedDevice(ctx: Context, kit: FlowKit, clientId: string | null, userId: string): Promise<boolean> {
  const app = clientId ? await kit.services.applications.find(clientId) : null;
  return app !== null && await rememberedHere(ctx, kit, userId, app);
}

/** Sends the browser to a URL a hook chose (api.redirect), never one taken from the request. */
function redirectAway(ctx: Context, target: string): void {
  ctx.status = 303;
  ctx.redirect(target);
}

export function assertPrompt(details: Interaction, name: 'login' | 'consent'): void {
  if (details.prompt.name !== name) {
    throw new FlowError(400, 'This step is over', 'This step of signing in is already done. Go back to the application and start again.',
      [{ href: `/interaction/${details.uid}`, text: 'Continue' }]);
  }
}

/** After authentication: progressive profiling when a hook asks for it, otherwise the end. */
export async function completeLogin(ctx: Context, kit: FlowKit, details: Interaction, user: User): Promise<void> {
  const clientId = kit.clientIdOf(details);
  const outcome = await kit.hook(ctx, 'before_progressive_profiling', {
    flow: 'login', user: publicUser(user), consents: await kit.consentMap(user.id),
  }, clientId);
  const request = outcome.decision.profiling;
  if (request.fields.length > 0 || request.consents.length > 0) {
    await kit.updateState(details, { authenticatedUserId: user.id, profiling: { flow: 'login', userId: user.id, ...request } });
    kit.seeOther(ctx, `/interaction/${details.uid}/profile`);
    return;
  }
  await finishLogin(ctx, kit, details, user);
}

/** The last step of a login: after_login, the login record, and back to the provider. */
export async function finishLogin(ctx: Context, kit: FlowKit, details: Interaction, user: User): Promise<void> {
  const { users, provider } = kit.services;
  const clientId = kit.clientIdOf(details);
  // A lock set while this journey was at a later step (the second factor, profiling) holds too.
  if (await kit.services.locks.current(user.id)) {
    await kit.states.clear(details.uid);
    kit.render(ctx, 'message', { title: 'Account locked', alert: LOCKED }, 403);
    return;
  }
  const outcome = await kit.hook(ctx, 'after_login', { user: publicUser(user) }, clientId, { handleDenial: true });
  if (outcome.denied) {
    await kit.states.clear(details.uid);
    const failure = await reportFailure(ctx, kit, clientId, { user, identifier: null, reason: 'denied' });
    if (failure.redirect) return redirectAway(ctx, failure.redirect);
    kit.render(ctx, 'message', { title: 'Sign-in refused', alert: failure.message ?? outcome.denied.message }, 403);
    return;
  }
  const changes = outcome.decision.changes;
  if (Object.keys(changes.metadata).length > 0) await users.update(user.id, { metadata: changes.metadata });
  await users.recordLogin(user.id, clientId);
  // What the journey proved: the password, and the second factor when one was done (flows/mfa.ts).
  const amr = (await kit.state(details)).amr ?? ['pwd'];
  await kit.states.clear(details.uid);
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
    login: { accountId: user.id, amr, acr: acrFor(amr), ts: Math.floor(Date.now() / 1000) },
  }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
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

