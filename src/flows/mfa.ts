// The pages of the second-factor step: after the password, before after_login and progressive
// profiling. When it is needed is the MFA rule's (identity/mfa-policy.ts, applied in
// flows/journey.ts); how a factor is challenged is flows/mfa-challenge.ts. A user who must do MFA
// and has no factor enrols here (TOTP, email, or SMS when an SMS messenger is configured), and gets
// recovery codes, shown until "Continue" (sealed in the journey's state, written with the enrolment).
// A remembered browser ("remember this device") waives what the policy asks next time
// (flows/remembered-device.ts).
//
// Pages: GET/POST /interaction/:uid/mfa (the code page, field `code`), POST …/mfa/select (another
// factor, or a recovery code), POST …/mfa/resend, GET/POST …/mfa/enrol, POST …/mfa/continue.
import type Router from '@koa/router';
import type { Knex } from 'knex';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ValidationError } from '../errors.ts';
import { maskTarget, type ChallengeType, type CodeCheck, type Factor } from '../identity/factors.ts';
import { Throttle } from '../identity/throttle.ts';
import { faultPoint } from '../faults.ts';
import { hasChanges, type UserChanges } from '../hooks/catalog/decisions.ts';
import { run as changeRun } from '../hooks/change.ts';
import { publicUser, type User } from '../identity/users.ts';
import { amrFor, passkeyAmr } from '../oidc/acr.ts';
import { isSynced, newPasskeyFactorId } from '../identity/passkeys.ts';
import { passkeyBinding, passkeyRefusal, postedCredential } from './passkey.ts';
import { factorsProved } from './journey.ts';
import { field, FlowError, type FlowKit, type Guard } from './kit.ts';
import { codePage, currentFactor, sendCode } from './mfa-challenge.ts';
import { rememberDevice } from './remembered-device.ts';
import type { JourneyStep, MfaStep } from './steps.ts';
import { t, type PlainTextId } from './texts.ts';

const CHECK_MESSAGES: Record<Exclude<CodeCheck, 'ok'>, PlainTextId> = {
  invalid: 'mfa.code.invalid',
  expired: 'mfa.code.expired',
  exhausted: 'mfa.code.exhausted',
  none: 'mfa.code.none',
  replayed: 'mfa.code.replayed',
};

function throttleKey(userId: string): string {
  return Throttle.key('mfa', userId);
}

type CodesStep = Extract<JourneyStep, { name: 'recovery-codes' }>;
type Loaded = { details: Interaction; mfa: MfaStep | CodesStep; user: User } | { details: Interaction; mfa: null; user: null };

/** The MFA step of this interaction (the code pages, or the recovery codes shown) and its user. */
async function load(ctx: Context, kit: FlowKit): Promise<Loaded> {
  const details = await kit.interaction(ctx);
  const { step } = await kit.state(details);
  if (details.prompt.name !== 'login' || (step.name !== 'mfa' && step.name !== 'recovery-codes')) return { details, mfa: null, user: null };
  const user = await kit.services.users.findById(step.userId);
  if (!user || user.status !== 'active') throw new FlowError(403, t('login.refused.title'), t('login.cannot-sign-in'));
  return { details, mfa: step, user };
}

export function mfaRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { factors, users } = kit.services;

  router.get('/interaction/:uid/mfa', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    if (mfa.name === 'recovery-codes') return donePage(ctx, kit, details, storedCodes(kit, mfa));
    if (mfa.mode === 'enrol') return kit.seeOther(ctx, `/interaction/${details.uid}/mfa/enrol`);
    await codePage(ctx, kit, details, mfa, user);
  });

  router.post('/interaction/:uid/mfa', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa) return kit.seeOther(ctx, `/interaction/${details.uid}`);
    // A resubmitted code (a reload, a retry after a lost answer) shows the codes again: not an error.
    if (mfa.name === 'recovery-codes') return donePage(ctx, kit, details, storedCodes(kit, mfa));
    const typed = field(ctx, 'code', 100).trim();
    if (!typed) return codePage(ctx, kit, details, mfa, user, { alert: t('mfa.code.missing') }, 400);

    const key = throttleKey(user.id);
    if (!(await kit.throttle.hit(key, factors.config.maxFailures))) {
      return codePage(ctx, kit, details, mfa, user, { alert: t('mfa.throttled') }, 429);
    }
    const recovery = mfa.mode === 'recovery';
    let factor: Factor | null = null;
    let check: CodeCheck;
    if (recovery) {
      check = await factors.useRecoveryCode(user.id, typed);
    } else {
      factor = await currentFactor(kit, mfa);
      if (!factor) throw kit.expired();
      // A passkey answers on its own form (POST …/mfa/passkey), not with a typed code.
      if (factor.type === 'passkey') return codePage(ctx, kit, details, mfa, user, { alert: t('passkey.missing') }, 400);
      check = factor.type === 'totp' ? await factors.verifyTotp(factor, typed) : await factors.verifyCode(factor, typed);
    }
    if (check !== 'ok') return codePage(ctx, kit, details, mfa, user, { alert: t(CHECK_MESSAGES[check]) }, 400);
    await kit.throttle.reset(key);

    const clientId = kit.clientIdOf(details);
    const channel = recovery ? 'recovery_code' : (factor!.type as ChallengeType);
    // The code is used up whatever happens next: after_mfa_send can enrich the user, not refuse.
    const sent = (await kit.hook(ctx, 'after_mfa_send', { user: publicUser(user), channel }, clientId)).decision.changes;
    const amr = amrFor(recovery ? 'recovery_codes' : factor!.type);
    if (mfa.mode === 'confirm' && factor && factor.status === 'pending') {
      const pending = factor;
      const codes = await enrol(ctx, kit, details, user, factor, amr, sent, (trx) => factors.activate(pending, trx, clientId));
      faultPoint('mfa.enrol.committed');
      if (field(ctx, 'remember')) await rememberDevice(ctx, kit, details, user);
      if (codes) return donePage(ctx, kit, details, codes);
    } else {
      if (hasChanges(sent)) await kit.services.db.transaction((trx) => users.enrich(trx, user.id, sent));
      if (field(ctx, 'remember')) await rememberDevice(ctx, kit, details, user);
    }
    await factorsProved(ctx, kit, details, user, amr);
  });

  // A passkey as the second factor: any passkey of this user, answering this interaction's challenge.
  router.post('/interaction/:uid/mfa/passkey', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.name === 'recovery-codes' || mfa.mode !== 'code') return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const answer = postedCredential(ctx);
    if (!answer) return codePage(ctx, kit, details, mfa, user, { alert: t('passkey.missing') }, 400);
    const key = throttleKey(user.id);
    if (!(await kit.throttle.hit(key, factors.config.maxFailures))) return codePage(ctx, kit, details, mfa, user, { alert: t('mfa.throttled') }, 429);
    let proved: Awaited<ReturnType<typeof kit.services.passkeys.verifyAuthentication>>;
    try {
      proved = await kit.services.passkeys.verifyAuthentication(passkeyBinding(details), 'mfa', answer, user.id);
    } catch (error) {
      return codePage(ctx, kit, details, mfa, user, { alert: passkeyRefusal(ctx, error, 'second factor') }, 400);
    }
    await kit.throttle.reset(key);
    const sent = (await kit.hook(ctx, 'after_mfa_send', { user: publicUser(user), channel: 'passkey' }, kit.clientIdOf(details))).decision.changes;
    if (hasChanges(sent)) await kit.services.db.transaction((trx) => users.enrich(trx, user.id, sent));
    if (field(ctx, 'remember')) await rememberDevice(ctx, kit, details, user);
    await factorsProved(ctx, kit, details, user, passkeyAmr(isSynced(proved.passkey), true));
  });

  // Another factor of the user, or a recovery code.
  router.post('/interaction/:uid/mfa/select', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.name === 'recovery-codes' || mfa.mode === 'confirm') return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const choice = field(ctx, 'factor_id', 60);
    if (choice === 'recovery') {
      await kit.updateState(details, {}, { type: 'mfa.recovery' });
      return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    }
    const factor = await factors.find(user.id, choice);
    if (!factor || factor.status !== 'active' || factor.type === 'recovery_codes') {
      return codePage(ctx, kit, details, mfa, user, { alert: t('mfa.choose.invalid') }, 400);
    }
    await kit.updateState(details, {}, { type: 'mfa.challenge', userId: mfa.userId, factorId: factor.id });
    if (factor.type === 'email' || factor.type === 'sms') {
      const sent = await sendCode(ctx, kit, details, user, factor, { automatic: true });
      const next: MfaStep = { name: 'mfa', mode: 'code', userId: mfa.userId, factorId: factor.id };
      if (!sent.ok) return codePage(ctx, kit, details, next, user, { alert: sent.alert }, sent.status);
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
  });

  router.post('/interaction/:uid/mfa/resend', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.name === 'recovery-codes') return kit.seeOther(ctx, `/interaction/${details.uid}`);
    const factor = await currentFactor(kit, mfa);
    if (!factor || mfa.mode === 'recovery' || (factor.type !== 'email' && factor.type !== 'sms')) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const sent = await sendCode(ctx, kit, details, user, factor);
    if (!sent.ok) return codePage(ctx, kit, details, mfa, user, { alert: sent.alert }, sent.status);
    await codePage(ctx, kit, details, mfa, user, { status: t('mfa.send.resent', { target: maskTarget(factor.type, factor.target) }) });
  });

  // Enrolment during login: for a user who must do MFA and has no factor yet.
  const enrolPage = async (ctx: Context, details: Interaction, user: User, vars: Record<string, unknown> = {}, status = 200) => {
    kit.render(
      ctx,
      'mfa-enrol',
      {
        title: t('mfa.enrol.title'),
        uid: details.uid,
        email: user.email,
        phoneHint: user.phone_number ? maskTarget('sms', user.phone_number) : null,
        smsOffered: kit.services.courier.smsAvailable,
        method: 'totp',
        passkeyOptions: await kit.services.passkeys.registrationOptions(passkeyBinding(details), user),
        ...vars,
      },
      status,
    );
  };

  router.get('/interaction/:uid/mfa/enrol', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.name === 'recovery-codes') return kit.seeOther(ctx, `/interaction/${details.uid}`);
    if (await factors.hasActiveFactor(user.id)) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    await enrolPage(ctx, details, user);
  });

  router.post('/interaction/:uid/mfa/enrol', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.name === 'recovery-codes') return kit.seeOther(ctx, `/interaction/${details.uid}`);
    // Enrolment here is for a user with no factor: a second factor is added elsewhere, once signed in.
    if (await factors.hasActiveFactor(user.id)) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const method = field(ctx, 'method', 10);
    let factor: Factor;
    if (method === 'totp') {
      factor = await factors.startTotp(user.id);
    } else if (method === 'email') {
      factor = await factors.startOtpFactor(user.id, 'email', user.email);
    } else if (method === 'sms' && kit.services.courier.smsAvailable) {
      const typed = field(ctx, 'phone_number', 40).trim() || user.phone_number || '';
      if (!typed) return enrolPage(ctx, details, user, { method, alert: t('mfa.enrol.phone-missing') }, 400);
      try {
        factor = await factors.startOtpFactor(user.id, 'sms', typed);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        return enrolPage(ctx, details, user, { method, phone: typed, alert: t('mfa.enrol.phone-invalid') }, 400);
      }
    } else {
      return enrolPage(ctx, details, user, { alert: t('mfa.enrol.method-missing') }, 400);
    }
    await kit.updateState(details, {}, { type: 'mfa.confirm', factorId: factor.id });
    if (factor.type === 'email' || factor.type === 'sms') {
      const sent = await sendCode(ctx, kit, details, user, factor);
      if (!sent.ok) return enrolPage(ctx, details, user, { method, alert: sent.alert }, sent.status);
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
  });

  // Enrolment with a passkey: its creation proves it (no code to confirm), behind after_mfa_change.
  router.post('/interaction/:uid/mfa/enrol/passkey', ...guard, async (ctx) => {
    const { details, mfa, user } = await load(ctx, kit);
    if (!mfa || mfa.name === 'recovery-codes') return kit.seeOther(ctx, `/interaction/${details.uid}`);
    if (mfa.mode !== 'enrol' || (await factors.hasActiveFactor(user.id))) return kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
    const answer = postedCredential(ctx);
    if (!answer) return enrolPage(ctx, details, user, { alert: t('passkey.missing') }, 400);
    let verified: Awaited<ReturnType<typeof kit.services.passkeys.verifyRegistration>>;
    try {
      verified = await kit.services.passkeys.verifyRegistration(passkeyBinding(details), user.id, answer);
    } catch (error) {
      return enrolPage(ctx, details, user, { alert: passkeyRefusal(ctx, error, 'passkey enrolment') }, 400);
    }
    const amr = passkeyAmr(verified.deviceType === 'multiDevice' || verified.backedUp, true);
    const factorId = newPasskeyFactorId();
    const store = (trx: Knex.Transaction) => kit.services.passkeys.store(verified, trx, { applicationId: kit.clientIdOf(details), factorId });
    const codes = await enrol(ctx, kit, details, user, { id: factorId, type: 'passkey' }, amr, { attributes: {}, metadata: {} }, store);
    if (codes) return donePage(ctx, kit, details, codes);
    await factorsProved(ctx, kit, details, user, amr);
  });

  // After the recovery codes were shown: on with the login.
  router.post('/interaction/:uid/mfa/continue', ...guard, async (ctx) => {
    const { details, mfa } = await load(ctx, kit);
    if (!mfa || mfa.name !== 'recovery-codes') return kit.seeOther(ctx, `/interaction/${details.uid}`);
    const user = await users.findById(mfa.userId);
    if (!user || user.status !== 'active') throw new FlowError(403, t('login.refused.title'), t('login.cannot-sign-in'));
    await factorsProved(ctx, kit, details, user, mfa.amr);
  });
}

/**
 * Confirms an enrolment in one transaction behind after_mfa_change's sync hooks: the factor turns
 * active (`activate`: a confirmed code's pending factor, or a new passkey stored), its recovery codes are created, and the journey moves to the codes page with the codes
 * sealed in its state, so that they are shown again until "Continue" (a crash, a resubmit, a reload
 * never loses them). A hook's denial leaves the factor unconfirmed. Answers the codes (null: the
 * user had recovery codes already).
 */
async function enrol(
  ctx: Context,
  kit: FlowKit,
  details: Interaction,
  user: User,
  factor: Pick<Factor, 'id' | 'type'>,
  amr: string[],
  sent: UserChanges,
  activate: (trx: Knex.Transaction) => Promise<{ recoveryCodes: string[] | null }>,
): Promise<string[] | null> {
  const { factors, users, box } = kit.services;
  await factors.ready();
  const run = changeRun('after_mfa_change', { user: publicUser(user), change: 'enrolled', factor: { id: factor.id, type: factor.type } });
  const retry = [{ href: `/interaction/${details.uid}/mfa`, text: t('page.continue') }];
  return kit.change(
    ctx,
    kit.clientIdOf(details),
    [run],
    async (trx, changes) => {
      await users.enrich(trx, user.id, { attributes: { ...sent.attributes, ...changes.attributes }, metadata: { ...sent.metadata, ...changes.metadata } });
      const { recoveryCodes } = await activate(trx);
      const codes = recoveryCodes ? box.seal(JSON.stringify(recoveryCodes)) : undefined;
      if (codes) await kit.states.update(details.uid, details.exp * 1000, {}, { type: 'mfa.enrolled', amr, codes }, trx);
      faultPoint('mfa.enrol.activated');
      return recoveryCodes;
    },
    retry,
  );
}

/** The recovery codes a codes step holds (sealed by enrol), or null. */
function storedCodes(kit: FlowKit, step: CodesStep): string[] | null {
  if (!step.codes) return null;
  try {
    const codes = JSON.parse(kit.services.box.open(step.codes)) as unknown;
    return Array.isArray(codes) && codes.every((c) => typeof c === 'string') ? codes : null;
  } catch {
    return null;
  }
}

/** The end of an enrolment: the recovery codes, shown until "Continue", and "Continue". */
function donePage(ctx: Context, kit: FlowKit, details: Interaction, recoveryCodes: string[] | null): void {
  kit.render(ctx, 'mfa-recovery-codes', {
    title: t('mfa.codes.title'),
    uid: details.uid,
    codes: recoveryCodes,
  });
}
