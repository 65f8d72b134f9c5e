// The second factor of a login: after the password, before after_login and progressive profiling.
//
// MFA is needed when the application's policy is "required", when it is "optional" and the user has
// a factor, when an after_identification hook said api.mfa.require() (step-up), or when the request
// asks for acr loa:2; api.mfa.skip() waives it (step-down) unless the policy is "required". A
// remembered browser ("remember this device") waives what the policy asks, never a hook's step-up
// or the request's acr. A user who must do MFA and has no factor enrols here (TOTP, email, or SMS
// when an SMS messenger is configured), and gets recovery codes, shown once.
//
// Pages: GET/POST /interaction/:uid/mfa (the code page, field `code`), POST …/mfa/select (another
// factor, or a recovery code), POST …/mfa/resend, GET/POST …/mfa/enrol, POST …/mfa/continue.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import QRCode from 'qrcode';
import { ValidationError } from '../errors.ts';
import { maskTarget, type ChallengeType, type CodeCheck, type Factor } from '../identity/factors.ts';
import { Throttle } from '../identity/throttle.ts';
import { publicUser, type User } from '../identity/users.ts';
import { amrFor, REMEMBER_DEVICE_COOKIE, requestsMfa } from '../oidc/acr.ts';
import type { Application } from '../oidc/applications.ts';
import { renderMail } from '../views.ts';
import { field, FlowError, humanDuration, type FlowKit, type Guard } from './kit.ts';
import { completeLogin } from './login.ts';
import type { FlowState, MfaState } from './state.ts';

const CHECK_MESSAGES: Record<Exclude<CodeCheck, 'ok'>, string> = {
  invalid: 'That code is not correct. Check it and try again.',
  expired: 'That code has expired. Ask for a new code.',
  exhausted: 'Too many wrong attempts for this code. Ask for a new code.',
  none: 'There is no code waiting. Ask for a new code.',
  replayed: 'That code was already used. Wait for the next code in your authenticator app.',
};
const THROTTLED = 'Too many wrong codes. Please wait a while before trying again.';
const NO_SMS = 'Text messages cannot be sent right now. Choose another way to sign in.';

/** Whether codes can reach this factor: SMS needs a configured messenger (or SMS_DEV_OUTBOX). */
function deliverable(kit: FlowKit, factor: Factor): boolean {
  return factor.type !== 'sms' || kit.services.sms !== null;
}

function throttleKey(userId: string): string {
  return Throttle.key('mfa', userId);
}

/**
 * After the password: answers false when no second factor is needed (the caller completes the
 * login), otherwise starts the MFA step (the code page, or enrolment) and answers true.
 */
export async function beginMfa(ctx: Context, kit: FlowKit, details: Interaction, user: User): Promise<boolean> {
  const { factors, applications } = kit.services;
  const state = await kit.state(details);
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await applications.find(clientId) : null;
  const policy = app?.mfa ?? 'optional';
  const hasFactor = await factors.hasActiveFactor(user.id);
  const stepUp = state.mfaHook === 'require' || requestsMfa(details.params as Record<string, unknown>);
  let needed = stepUp || policy === 'required' || (policy === 'optional' && hasFactor);
  if (state.mfaHook === 'skip' && policy !== 'required') needed = false;
  if (needed && !stepUp && hasFactor && app && await rememberedHere(ctx, kit, user.id, app)) {
    ctx.state.log?.debug({ user: user.id }, 'remembered device: no second factor asked');
    needed = false;
  }
  if (!needed) {
    await kit.updateState(details, { mfa: undefined, amr: ['pwd'] });
    return false;
  }

  const active = await factors.active(user.id);
  if (active.length === 0) {
    await kit.updateState(details, { mfa: { userId: user.id }, amr: undefined });
    kit.seeOther(ctx, `/interaction/${details.uid}/mfa/enrol`);
    return true;
  }
  // The factor used last, else the first enrolled; one that can be delivered to before one that cannot.
  const factor = [...active].sort((a, b) => Number(deliverable(kit, b)) - Number(deliverable(kit, a))
    || (b.last_used_at ?? '').localeCompare(a.last_used_at ?? ''))[0]!;
  const mfa: MfaState = { userId: user.id, factorId: factor.id };
  await kit.updateState(details, { mfa, amr: undefined });
  if (factor.type === 'email' || factor.type === 'sms') {
    const sent = await sendCode(ctx, kit, details, user, factor, { automatic: true });
    if (!sent.ok) {
      await codePage(ctx, kit, details, { ...state, mfa }, user, { alert: sent.alert }, sent.status);
      return true;
    }
  }
  kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
  return true;
}

/** Whether this browser carries the user's remembered-device cookie for the application (a passed second factor). */
export async function rememberedHere(ctx: Context, kit: FlowKit, userId: string, app: Application): Promise<boolean> {
  if (app.remember_device_days <= 0) return false;
  const token = ctx.cookies.get(REMEMBER_DEVICE_COOKIE, { signed: true });
  return kit.services.factors.isRemembered(userId, token, app.remember_device_days);
}

/**
 * Sends a one-time code to an email or SMS factor: the resend throttle, then before_mfa_send (a
 * denial stops it: nothing is sent, its message is shown), then the code goes out. When the code
 * page opens on its own (`automatic`) and a code sent a moment ago still works, that one is kept.
 */
async function sendCode(ctx: Context, kit: FlowKit, details: Interaction, user: User, factor: Factor,
  options: { automatic?: boolean } = {}): Promise<{ ok: true } | { ok: false; alert: string; status: number }> {
  const { factors, mailer, sms } = kit.services;
  // An SMS factor enrolled while a messenger was configured, and none is now: say so, send nothing.
  if (factor.type === 'sms' && !sms) return { ok: false, alert: NO_SMS, status: 503 };
  const wait = await factors.resendWait(factor.id);
  if (wait > 0) {
    if (options.automatic && await factors.hasWaitingCode(factor.id)) return { ok: true };
    return { ok: false, alert: `A code was sent a moment ago. Please wait ${humanDuration(wait)} before asking for another one.`, status: 429 };
  }
  const clientId = kit.clientIdOf(details);
  // Callers send codes to email and SMS factors only, and those always have a target.
  const channel = factor.type as 'email' | 'sms';
  const outcome = await kit.hook(ctx, 'before_mfa_send', { user: publicUser(user), channel, to: factor.target! }, clientId, { handleDenial: true });
  if (outcome.denied) return { ok: false, alert: outcome.denied.message, status: 403 };
  // Also per user and per address or number, whatever the factor: a new enrolment is a new factor,
  // and nobody may turn the journey into a way of texting a number over and over.
  const allowance = factors.config.codesPerHour;
  const userAllowed = await kit.throttle.hit(Throttle.key('mfa-send-user', user.id), allowance);
  const targetAllowed = await kit.throttle.hit(Throttle.key('mfa-send-to', factor.target ?? ''), allowance);
  if (!userAllowed || !targetAllowed) {
    return { ok: false, alert: 'Too many codes were sent. Please wait a while, or choose another way to sign in.', status: 429 };
  }
  const code = await factors.issueCode(factor);
  const appName = (ctx.state.brand?.name ?? 'Tessera').replace(/\s+/g, ' ').trim();
  const expiresIn = humanDuration(factors.config.codeTtlSeconds);
  try {
    if (factor.type === 'email') {
      const mail = renderMail('mfa-code', { issuer: kit.issuer, appName, code, expiresIn, user: publicUser(user) });
      await mailer.send({ to: factor.target!, subject: mail.subject, text: mail.text });
    } else {
      await sms!.send(factor.target!, `${code} is your ${appName} sign-in code. It expires in ${expiresIn}. Never share it.`);
    }
  } catch (err) {
    (ctx.state.log ?? kit.services.log).error({ err, factor: factor.id, channel: factor.type }, 'one-time code could not be sent');
    return { ok: false, alert: 'The code could not be sent. Try again in a moment, or choose another way to sign in.', status: 502 };
  }
  return { ok: true };
}

/** The MFA step of this interaction: its state and user, or an expired-session error. */
async function load(ctx: Context, kit: FlowKit): Promise<{ details: Interaction; state: FlowState; mfa: MfaState; user: User } | { details: Interaction; state: FlowState; mfa: null; user: null }> {
  const details = await kit.interaction(ctx);
  const state = await kit.state(details);
  if (details.prompt.name !== 'login' || !state.mfa) return { details, state, mfa: null, user: null };
  const user = await kit.services.users.findById(state.mfa.userId);
  if (!user || user.status !== 'active') throw new FlowError(403, 'Sign-in refused', 'This account cannot sign in right now.');
  return { details, state, mfa: state.mfa, user };
}

async function currentFactor(kit: FlowKit, mfa: MfaState): Promise<Factor | null> {
  return mfa.factorId ? kit.services.factors.find(mfa.userId, mfa.factorId) : null;
}

const METHOD_TEXT: Record<string, string> = {
  totp: 'Use your authenticator app',
  email: 'Email a code to',
  sms: 'Text a code to',
};

/** The code page: the TOTP enrolment, a TOTP, email or SMS code, or a recovery code. */
async function codePage(ctx: Context, kit: FlowKit, details: Interaction, state: FlowState, user: User,
  vars: { alert?: string | null; status?: string | null } = {}, httpStatus = 200): Promise<void> {
  const { factors, applications } = kit.services;
  const mfa = state.mfa!;
  const factor = await currentFactor(kit, mfa);
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await applications.find(clientId) : null;
  const others = (await factors.active(user.id)).filter((f) => (f.id !== factor?.id || mfa.recovery) && deliverable(kit, f))
    .map((f) => ({ id: f.id, text: f.type === 'totp' ? METHOD_TEXT.totp : `${METHOD_TEXT[f.type]} ${maskTarget(f.type, f.target)}` }));
  const recoveryLeft = !mfa.enrolling && !mfa.recovery ? await factors.remainingRecoveryCodes(user.id) : 0;
  let mode: string;
  let totp: { secret: string; uri: string; qr: string } | null = null;
  if (mfa.recovery) mode = 'recovery';
  else if (!factor) throw kit.expired();
  else if (factor.type === 'totp' && mfa.enrolling) {
    mode = 'totp-enrol';
    const provisioning = await factors.totpProvisioning(factor, user.email);
    totp = { ...provisioning, qr: await QRCode.toDataURL(provisioning.uri, { errorCorrectionLevel: 'M', margin: 2, width: 220 }) };
  } else mode = factor.type;
  kit.render(ctx, 'mfa', {
    title: mfa.enrolling ? 'Set up two-step verification' : 'Two-step verification',
    uid: details.uid,
    mode,
    enrolling: Boolean(mfa.enrolling),
    target: factor ? maskTarget(factor.type, factor.target) : null,
    totp,
    others: mfa.enrolling ? [] : others,
    recoveryLeft,
    rememberDays: app && app.remember_device_days > 0 ? app.remember_device_days : 0,
    alert: vars.alert ?? null,
    status: vars.status ?? null,
  }, httpStatus);
}

export function mfaRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { factors, users } = kit.services;

  router.get('/interaction/:uid/mfa', ...guard, async (ctx) => {
    const { details, state, mfa, user } = await load(ctx, kit);
    if (!mfa) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    if (mfa.done) return donePage(ctx, kit, details, null);
    if (!mfa.factorId && !mfa.recovery) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa/enrol`);
    await codePage(ctx, kit, details, state, user);
  });

  router.post('/interaction/:uid/mfa', ...guard, async (ctx) => {
    const { details, state, mfa, user } = await load(ctx, kit);
    if (!mfa) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    if (mfa.done) return donePage(ctx, kit, details, null);
    const typed = field(ctx, 'code', 100).trim();
    if (!typed) return codePage(ctx, kit, details, state, user, { alert: 'Enter the code.' }, 400);

    const key = throttleKey(user.id);
    if (!(await kit.throttle.hit(key, factors.config.maxFailures))) {
      return codePage(ctx, kit, details, state, user, { alert: THROTTLED }, 429);
    }
    let factor: Factor | null = null;
    let check: CodeCheck;
    if (mfa.recovery) {
      check = await factors.useRecoveryCode(user.id, typed);
    } else {
      factor = await currentFactor(kit, mfa);
      if (!factor) throw kit.expired();
      check = factor.type === 'totp' ? await factors.verifyTotp(factor, typed) : await factors.verifyCode(factor, typed);
    }
    if (check !== 'ok') return codePage(ctx, kit, details, state, user, { alert: CHECK_MESSAGES[check] }, 400);
    await kit.throttle.reset(key);

    const clientId = kit.clientIdOf(details);
    const channel = mfa.recovery ? 'recovery_code' : factor!.type as ChallengeType;
    await kit.hook(ctx, 'after_mfa_send', { user: publicUser(user), channel }, clientId);
    let recoveryCodes: string[] | null = null;
    if (mfa.enrolling && factor) {
      const activated = await factors.activate(factor);
      recoveryCodes = activated.recoveryCodes;
      await kit.hook(ctx, 'after_mfa_change', {
        user: publicUser(user), change: 'enrolled', factor: { id: factor.id, type: factor.type },
      }, clientId);
    }
    const amr = amrFor(mfa.recovery ? 'recovery_codes' : factor!.type);
    if (field(ctx, 'remember')) await rememberDevice(ctx, kit, details, user);
    if (recoveryCodes) {
      await kit.updateState(details, { mfa: { ...mfa, done: true }, amr });
      return donePage(ctx, kit, details, recoveryCodes);
    }
    await kit.updateState(details, { mfa: undefined, amr });
    await completeLogin(ctx, kit, details, user);
  });

  // Another factor of the user, or a recovery code.
  router.post('/interaction/:uid/mfa/select', ...guard, async (ctx) => {
    const { details, state, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.done || mfa.enrolling) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const choice = field(ctx, 'factor_id', 60);
    if (choice === 'recovery') {
      const next: MfaState = { userId: mfa.userId, recovery: true, factorId: mfa.factorId };
      await kit.updateState(details, { mfa: next });
      return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    }
    const factor = await factors.find(user.id, choice);
    if (!factor || factor.status !== 'active' || factor.type === 'recovery_codes') {
      return codePage(ctx, kit, details, state, user, { alert: 'Choose one of the ways offered.' }, 400);
    }
    const next: MfaState = { userId: mfa.userId, factorId: factor.id };
    await kit.updateState(details, { mfa: next });
    if (factor.type === 'email' || factor.type === 'sms') {
      const sent = await sendCode(ctx, kit, details, user, factor, { automatic: true });
      if (!sent.ok) return codePage(ctx, kit, details, { ...state, mfa: next }, user, { alert: sent.alert }, sent.status);
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
  });

  router.post('/interaction/:uid/mfa/resend', ...guard, async (ctx) => {
    const { details, state, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.done) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    const factor = await currentFactor(kit, mfa);
    if (!factor || mfa.recovery || (factor.type !== 'email' && factor.type !== 'sms')) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const sent = await sendCode(ctx, kit, details, user, factor);
    if (!sent.ok) return codePage(ctx, kit, details, state, user, { alert: sent.alert }, sent.status);
    await codePage(ctx, kit, details, state, user, { status: `A new code was sent to ${maskTarget(factor.type, factor.target)}.` });
  });

  // Enrolment during login: for a user who must do MFA and has no factor yet.
  const enrolPage = async (ctx: Context, details: Interaction, user: User, vars: Record<string, unknown> = {}, status = 200) => {
    kit.render(ctx, 'mfa-enrol', {
      title: 'Set up two-step verification',
      uid: details.uid,
      email: user.email,
      phoneHint: user.phone_number ? maskTarget('sms', user.phone_number) : null,
      smsOffered: kit.services.sms !== null,
      method: 'totp',
      ...vars,
    }, status);
  };

  router.get('/interaction/:uid/mfa/enrol', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.done) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    if (await factors.hasActiveFactor(user.id)) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    await enrolPage(ctx, details, user);
  });

  router.post('/interaction/:uid/mfa/enrol', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.done) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    // Enrolment here is for a user with no factor: a second factor is added elsewhere, once signed in.
    if (await factors.hasActiveFactor(user.id)) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const method = field(ctx, 'method', 10);
    let factor: Factor;
    if (method === 'totp') {
      factor = await factors.startTotp(user.id);
    } else if (method === 'email') {
      factor = await factors.startOtpFactor(user.id, 'email', user.email);
    } else if (method === 'sms' && kit.services.sms) {
      const typed = field(ctx, 'phone_number', 40).trim() || user.phone_number || '';
      if (!typed) return enrolPage(ctx, details, user, { method, alert: 'Enter the phone number to text the codes to.' }, 400);
      try {
        factor = await factors.startOtpFactor(user.id, 'sms', typed);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        return enrolPage(ctx, details, user, { method, phone: typed, alert: 'Enter the phone number in international format, such as +15551234567.' }, 400);
      }
    } else {
      return enrolPage(ctx, details, user, { alert: 'Choose how you want to receive your codes.' }, 400);
    }
    const next: MfaState = { userId: mfa.userId, factorId: factor.id, enrolling: true };
    await kit.updateState(details, { mfa: next });
    if (factor.type === 'email' || factor.type === 'sms') {
      const sent = await sendCode(ctx, kit, details, user, factor);
      if (!sent.ok) return enrolPage(ctx, details, user, { method, alert: sent.alert }, sent.status);
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
  });

  // After the recovery codes were shown: on with the login.
  router.post('/interaction/:uid/mfa/continue', ...guard, async (ctx) => {
    const { details, mfa } = await load(ctx, kit);
    if (!mfa || !mfa.done) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    const user = await users.findById(mfa.userId);
    if (!user || user.status !== 'active') throw new FlowError(403, 'Sign-in refused', 'This account cannot sign in right now.');
    await kit.updateState(details, { mfa: undefined });
    await completeLogin(ctx, kit, details, user);
  });
}

/** The end of an enrolment: the recovery codes, shown this once, and "Continue". */
function donePage(ctx: Context, kit: FlowKit, details: Interaction, recoveryCodes: string[] | null): void {
  kit.render(ctx, 'mfa-recovery-codes', {
    title: 'Save your recovery codes',
    uid: details.uid,
    codes: recoveryCodes,
  });
}

/** "Remember this device": a signed cookie for as many days as the application allows. */
async function rememberDevice(ctx: Context, kit: FlowKit, details: Interaction, user: User): Promise<void> {
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await kit.services.applications.find(clientId) : null;
  if (!app || app.remember_device_days <= 0) return;
  const token = await kit.services.factors.rememberDevice(user.id, app.remember_device_days);
  ctx.cookies.set(REMEMBER_DEVICE_COOKIE, token, {
    signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', overwrite: true,
    maxAge: app.remember_device_days * 86400_000,
  });
}
