// Asking for a second factor: which factor to challenge first, sending its one-time code, and the
// code page. Used where the MFA step starts (flows/journey.ts) and by the MFA pages (flows/mfa.ts).
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import QRCode from 'qrcode';
import { maskTarget, type Factor } from '../identity/factors.ts';
import { Throttle } from '../identity/throttle.ts';
import { publicUser, type User } from '../identity/users.ts';
import { renderMail } from '../views.ts';
import { humanDuration, totpIssuerOf, type FlowKit } from './kit.ts';
import { passkeyBinding } from './passkey.ts';
import type { MfaStep } from './steps.ts';
import { t } from './texts.ts';

/** Whether codes can reach this factor: SMS needs a configured messenger (or SMS_DEV_OUTBOX). */
function deliverable(kit: FlowKit, factor: Factor): boolean {
  return factor.type !== 'sms' || kit.services.courier.smsAvailable;
}

/**
 * The MFA step begins (the policy asked for it): enrolment for a user without a factor, else the
 * code page of the factor used last (a code is sent to an email or SMS factor).
 */
export async function startMfa(ctx: Context, kit: FlowKit, details: Interaction, user: User): Promise<void> {
  const active = await kit.services.factors.active(user.id);
  if (active.length === 0) {
    await kit.updateState(details, {}, { type: 'mfa.enrol', userId: user.id });
    kit.seeOther(ctx, `/interaction/${details.uid}/mfa/enrol`);
    return;
  }
  // The factor used last, else the first enrolled; one that can be delivered to before one that cannot.
  const factor = [...active].sort((a, b) => Number(deliverable(kit, b)) - Number(deliverable(kit, a)) || (b.last_used_at ?? '').localeCompare(a.last_used_at ?? ''))[0]!;
  await kit.updateState(details, {}, { type: 'mfa.challenge', userId: user.id, factorId: factor.id });
  if (factor.type === 'email' || factor.type === 'sms') {
    const sent = await sendCode(ctx, kit, details, user, factor, { automatic: true });
    if (!sent.ok) {
      await codePage(ctx, kit, details, { name: 'mfa', mode: 'code', userId: user.id, factorId: factor.id }, user, { alert: sent.alert }, sent.status);
      return;
    }
  }
  kit.seeOther(ctx, `/interaction/${details.uid}/mfa`);
}

/**
 * Sends a one-time code to an email or SMS factor: the resend throttle, then before_mfa_send (a
 * denial stops it: nothing is sent, its message is shown), then the code goes out. When the code
 * page opens on its own (`automatic`) and a code sent a moment ago still works, that one is kept.
 */
export async function sendCode(
  ctx: Context,
  kit: FlowKit,
  details: Interaction,
  user: User,
  factor: Factor,
  options: { automatic?: boolean } = {},
): Promise<{ ok: true } | { ok: false; alert: string; status: number }> {
  const { factors, courier } = kit.services;
  // An SMS factor enrolled while a messenger was configured, and none is now: say so, send nothing.
  if (factor.type === 'sms' && !courier.smsAvailable) return { ok: false, alert: t('mfa.no-sms'), status: 503 };
  const wait = await factors.resendWait(factor.id);
  if (wait > 0) {
    if (options.automatic && (await factors.hasWaitingCode(factor.id))) return { ok: true };
    return { ok: false, alert: t('mfa.send.wait', { wait: humanDuration(wait) }), status: 429 };
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
    return { ok: false, alert: t('mfa.send.too-many'), status: 429 };
  }
  const code = await factors.issueCode(factor);
  const appName = (ctx.state.brand?.name ?? 'Tessera').replace(/\s+/g, ' ').trim();
  const expiresIn = humanDuration(factors.config.codeTtlSeconds);
  try {
    const mail =
      factor.type === 'email'
        ? renderMail('mfa-code', { issuer: kit.issuer, appName, code, expiresIn, user: publicUser(user) }, { templatesDir: kit.services.config.templatesDir, brand: ctx.state.brand ?? null })
        : null;
    const sent = await courier.send(
      {
        type: 'mfa_code',
        channel,
        to: factor.target!,
        subject: mail?.subject ?? null,
        text: mail?.text ?? t('mfa.sms.body', { code, app: appName, expiresIn }),
        html: mail?.html ?? null,
        code,
        expiresAt: Date.now() + factors.config.codeTtlSeconds * 1000,
        user: publicUser(user),
        applicationId: clientId,
      },
      kit.lifecycleContext(ctx, clientId),
    );
    if (sent.status === 'denied') return { ok: false, alert: sent.message, status: 403 };
    // The user is waiting for the code: wait for the first hand-over (a failed one is retried from
    // the queue while the code is valid).
    if (sent.status === 'queued') await sent.handedOver;
  } catch (err) {
    (ctx.state.log ?? kit.services.log).error({ err, factor: factor.id, channel: factor.type }, 'one-time code could not be queued');
    return { ok: false, alert: t('mfa.send.failed'), status: 502 };
  }
  return { ok: true };
}

/** The factor the MFA step is about (none while choosing how to enrol). */
export async function currentFactor(kit: FlowKit, mfa: MfaStep): Promise<Factor | null> {
  return mfa.mode !== 'enrol' && mfa.factorId ? kit.services.factors.find(mfa.userId, mfa.factorId) : null;
}

function methodText(factor: Factor): string {
  if (factor.type === 'totp') return t('mfa.method.totp');
  if (factor.type === 'passkey') return t('mfa.method.passkey');
  const target = maskTarget(factor.type, factor.target);
  return factor.type === 'sms' ? t('mfa.method.sms', { target }) : t('mfa.method.email', { target });
}

/** The code page: the TOTP enrolment, a TOTP, email or SMS code, or a recovery code. */
export async function codePage(
  ctx: Context,
  kit: FlowKit,
  details: Interaction,
  mfa: MfaStep,
  user: User,
  vars: { alert?: string | null; status?: string | null } = {},
  httpStatus = 200,
): Promise<void> {
  const { factors, applications } = kit.services;
  const enrolling = mfa.mode === 'confirm';
  const recovery = mfa.mode === 'recovery';
  const factor = await currentFactor(kit, mfa);
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await applications.find(clientId) : null;
  // One "use a passkey" for all the user's passkeys (any of them answers), none when it is this page's.
  const others = (await factors.active(user.id))
    .filter((f) => (f.id !== factor?.id || recovery) && deliverable(kit, f) && !(f.type === 'passkey' && factor?.type === 'passkey' && !recovery))
    .filter((f, i, all) => f.type !== 'passkey' || all.findIndex((o) => o.type === 'passkey') === i)
    .map((f) => ({ id: f.id, text: methodText(f) }));
  const recoveryLeft = !enrolling && !recovery ? await factors.remainingRecoveryCodes(user.id) : 0;
  let mode: string;
  let totp: { secret: string; uri: string; qr: string } | null = null;
  if (recovery) mode = 'recovery';
  else if (!factor) throw kit.expired();
  else if (factor.type === 'totp' && enrolling) {
    mode = 'totp-enrol';
    // The authenticator app lists the account under the application's name (MFA_TOTP_ISSUER without one).
    const provisioning = await factors.totpProvisioning(factor, user.email, totpIssuerOf(ctx.state.brand));
    totp = { ...provisioning, qr: await QRCode.toDataURL(provisioning.uri, { errorCorrectionLevel: 'M', margin: 2, width: 220 }) };
  } else mode = factor.type;
  // A passkey's page carries the options of its ceremony: any passkey of the user, bound to this interaction.
  const passkeyOptions = mode === 'passkey' ? await kit.services.passkeys.authenticationOptions(passkeyBinding(details), 'mfa', user.id) : null;
  kit.render(
    ctx,
    'mfa',
    {
      title: enrolling ? t('mfa.enrol.title') : t('mfa.title'),
      uid: details.uid,
      mode,
      enrolling,
      target: factor ? maskTarget(factor.type, factor.target) : null,
      totp,
      passkeyOptions,
      others: enrolling ? [] : others,
      recoveryLeft,
      rememberDays: app && app.remember_device_days > 0 ? app.remember_device_days : 0,
      alert: vars.alert ?? null,
      status: vars.status ?? null,
    },
    httpStatus,
  );
}
