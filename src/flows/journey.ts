// What follows a proved factor, in one place: the second factor when the MFA rule asks for one
// (identity/mfa-policy.ts), then progressive profiling when a hook asks for it, then after_login
// and back to the provider. The flow modules call these instead of each other; the steps and their
// transitions are in flows/steps.ts.
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { requestLocation } from '../geo/request.ts';
import { decideMfa } from '../identity/mfa-policy.ts';
import { DEVICE_COOKIE } from '../identity/threats.ts';
import { publicUser, type User } from '../identity/users.ts';
import { acrFor, requestsMfa } from '../oidc/acr.ts';
import { deny } from './denial.ts';
import { FlowError, type FlowKit } from './kit.ts';
import { startMfa } from './mfa-challenge.ts';
import { askProfiling } from './profiling-stages.ts';
import { verificationStep } from './identity-verification.ts';
import { rememberedHere } from './remembered-device.ts';
import type { FlowState } from './state.ts';
import type { ProfilingStep } from './steps.ts';
import { t } from './texts.ts';

/**
 * The password proved the user: the MFA step when the rule asks for a second factor (an enrolment
 * for a user without one), otherwise on with the login. `mfaHook`: after_identification's decision.
 */
export async function passwordProved(ctx: Context, kit: FlowKit, details: Interaction, user: User, mfaHook: FlowState['mfaHook']): Promise<void> {
  const { factors, applications } = kit.services;
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await applications.find(clientId) : null;
  const hasFactor = await factors.hasActiveFactor(user.id);
  const decision = await decideMfa(
    {
      policy: app?.mfa ?? 'optional',
      hook: mfaHook ?? null,
      requested: requestsMfa(details.params as Record<string, unknown>),
      sessionHasMfa: false,
      hasFactor,
    },
    {
      hasFactor: async () => hasFactor,
      remembered: async () => app !== null && (await rememberedHere(ctx, kit, user.id, app)),
    },
  );
  if (decision.reason === 'remembered_device') ctx.state.log?.debug({ user: user.id }, 'remembered device: no second factor asked');
  if (decision.ask) return startMfa(ctx, kit, details, user);
  await factorsProved(ctx, kit, details, user, ['pwd']);
}

/**
 * Every factor asked for is done (`amr`: the methods, RFC 8176): progressive profiling when a
 * before_progressive_profiling hook asks for fields or consents, otherwise the end of the login.
 */
export async function factorsProved(ctx: Context, kit: FlowKit, details: Interaction, user: User, methods: string[]): Promise<void> {
  const state = await kit.updateState(details, {}, { type: 'proved', userId: user.id, amr: methods });
  let amr = methods;
  if (state.firstFactor === 'fed') {
    // The first factor was an upstream provider's sign-in (src/flows/external-login.ts), not a password.
    amr = [...new Set(methods.map((method) => (method === 'pwd' ? 'fed' : method)))];
    await kit.updateState(details, {}, { type: 'proved', userId: user.id, amr });
  }
  const { next } = await askProfiling(ctx, kit, kit.clientIdOf(details), { flow: 'login', user: publicUser(user), consents: await kit.consentMap(user.id) }, null);
  if (next) {
    await kit.updateState(details, {}, { type: 'profiling', step: { name: 'profiling', flow: 'login', userId: user.id, amr, ...next } });
    kit.seeOther(ctx, `/interaction/${details.uid}/profile`);
    return;
  }
  await finishLogin(ctx, kit, details, user, amr);
}

/** The last profile page of a login was accepted: on to the end, for a user still allowed to sign in. */
export async function loginProfiled(ctx: Context, kit: FlowKit, details: Interaction, step: Extract<ProfilingStep, { flow: 'login' }>): Promise<void> {
  await kit.updateState(details, {}, { type: 'proved', userId: step.userId, amr: step.amr });
  const fresh = await kit.services.users.findById(step.userId);
  if (!fresh || fresh.status !== 'active') throw new FlowError(403, t('login.refused.title'), t('login.cannot-sign-in'));
  await finishLogin(ctx, kit, details, fresh, step.amr);
}

/** The verification provider answered (flows/identity-verification.ts): the login goes on to its end. */
export async function resumeLogin(ctx: Context, kit: FlowKit, details: Interaction, user: User, amr: string[]): Promise<void> {
  await finishLogin(ctx, kit, details, user, amr);
}

/** The last step of a login: the identity verification if asked, after_login, the login record, and back to the provider. */
async function finishLogin(ctx: Context, kit: FlowKit, details: Interaction, user: User, amr: string[]): Promise<void> {
  const { users, provider } = kit.services;
  const clientId = kit.clientIdOf(details);
  // A lock set while this journey was at a later step (the second factor, profiling) holds too.
  if (await kit.services.locks.current(user.id)) {
    await kit.states.clear(details.uid);
    kit.render(ctx, 'message', { title: t('login.locked.title'), alert: t('login.locked') }, 403);
    return;
  }
  // The identity verification, when the application or a hook asks for it (flows/identity-verification.ts).
  const state = await kit.state(details);
  if ((await verificationStep(ctx, kit, details, user, amr, state)) === 'started') return;
  const { externalProvider, afterLoginDone } = state;
  // The threat signals (identity/threats.ts): this browser's device cookie, the distance from the last sign-in.
  const location = requestLocation(ctx, kit.services.locator);
  const signals = await kit.services.threats.assess(user.id, ctx.cookies.get(DEVICE_COOKIE, { signed: true }), location, state.breachedPassword === true);
  if (!afterLoginDone) {
    const outcome = await kit.hook(ctx, 'after_login', { user: publicUser(user), device: signals.device, risk: signals.risk }, clientId, { handleDenial: true });
    if (outcome.denied) {
      await kit.states.clear(details.uid);
      await deny(ctx, kit, clientId, { user, identifier: null, reason: 'denied' }, outcome.denied.message, (alert) => kit.render(ctx, 'message', { title: t('login.refused.title'), alert }, 403));
      return;
    }
    const changes = outcome.decision.changes;
    if (Object.keys(changes.metadata).length > 0) await users.update(user.id, { metadata: changes.metadata });
    if (outcome.decision.verificationRequired) {
      const asked = await kit.updateState(details, { verificationRequired: true, afterLoginDone: true });
      if ((await verificationStep(ctx, kit, details, user, amr, asked)) === 'started') return;
    }
  }
  await users.recordLogin(user.id, clientId, externalProvider ? { identity_provider_id: externalProvider } : {}, (tx) =>
    kit.services.threats.record(tx, user.id, clientId, signals, { ip: ctx.ip || null }),
  );
  if (signals.newToken) {
    ctx.cookies.set(DEVICE_COOKIE, signals.newToken, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', overwrite: true, maxAge: kit.services.threats.cookieMaxAgeMs });
  }
  await kit.states.clear(details.uid);
  const returnTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    {
      login: { accountId: user.id, amr, acr: acrFor(amr), ts: Math.floor(Date.now() / 1000) },
    },
    { mergeWithLastSubmission: false },
  );
  ctx.status = 303;
  ctx.redirect(returnTo);
}
