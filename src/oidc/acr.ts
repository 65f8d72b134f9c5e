// What tokens say about how the user authenticated: `acr` (the level) and `amr` (the methods, RFC
// 8176), and the login-prompt check that makes an existing session authenticate again when it is
// weaker than what the request or the application needs (step-up across single sign-on).
import type { KoaContextWithOIDC } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';
import type { FactorService } from '../identity/factors.ts';
import { decideMfa } from '../identity/mfa-policy.ts';
import type { ApplicationService } from './applications.ts';

/** A password (or any single factor). */
const ACR_PASSWORD = 'urn:tessera:loa:1';
/** A password and a second factor. */
const ACR_MFA = 'urn:tessera:loa:2';
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA];

/** The signed cookie that remembers a browser where MFA was done ("remember this device"). */
export const REMEMBER_DEVICE_COOKIE = 'tessera.mfa_device';

/** The amr values (RFC 8176) of each second factor. */
const FACTOR_AMR: Record<string, string[]> = {
  totp: ['otp'],
  email: ['otp'],
  sms: ['sms', 'otp'],
  recovery_codes: ['otp'],
};

/** amr for a password followed by `factor` (null: the password alone). */
export function amrFor(factor: string | null): string[] {
  if (!factor) return ['pwd'];
  return [...new Set(['pwd', ...(FACTOR_AMR[factor] ?? ['otp']), 'mfa'])];
}

/**
 * amr for a passkey (RFC 8176): `hwk` when its key cannot leave the authenticator (a security key, a
 * device-bound platform key: WebAuthn's backup-eligible flag unset), `swk` when it may be synced
 * (backup eligible or backed up). After a password it is the second factor ("pwd", key, "mfa").
 * Alone (a passwordless sign-in, user verification required: the authenticator checked a PIN or a
 * biometric) it is two factors itself, possession and knowledge or inherence: [key, "user", "mfa"],
 * so acr is loa:2 and the MFA rule is satisfied.
 */
export function passkeyAmr(synced: boolean, afterPassword: boolean): string[] {
  const key = synced ? 'swk' : 'hwk';
  return afterPassword ? ['pwd', key, 'mfa'] : [key, 'user', 'mfa'];
}

export function acrFor(amr: readonly string[]): string {
  return amr.includes('mfa') ? ACR_MFA : ACR_PASSWORD;
}

/** Whether the authorization request asks for MFA: acr_values (or an id_token acr claim request) naming loa:2. */
export function requestsMfa(params: Record<string, unknown>): boolean {
  const values = typeof params.acr_values === 'string' ? params.acr_values.split(' ') : [];
  if (typeof params.claims === 'string') {
    try {
      const acr = (JSON.parse(params.claims) as { id_token?: { acr?: { value?: unknown; values?: unknown } } }).id_token?.acr;
      if (typeof acr?.value === 'string') values.push(acr.value);
      if (Array.isArray(acr?.values)) values.push(...acr.values.filter((v): v is string => typeof v === 'string'));
    } catch {
      /* the provider refuses malformed claims itself */
    }
  }
  return values.includes(ACR_MFA);
}

/**
 * An extra check of the login prompt: a session authenticates again when the MFA rule
 * (identity/mfa-policy.ts) asks for a second factor it has not done: the request asks for loa:2, or
 * the application's policy needs MFA of this user and this browser is not remembered. A login that
 * just happened (the interaction's result) always passes: the journey made its decision.
 */
function mfaLoginCheck(deps: { applications: ApplicationService; factors: FactorService }): interactionPolicy.Check {
  return new interactionPolicy.Check('mfa_required', 'a stronger authentication is required', async (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    if (oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const accountId = oidc.session?.accountId;
    if (!accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const sessionHasMfa = oidc.session.acr === ACR_MFA;
    const requested = !sessionHasMfa && requestsMfa(oidc.params as Record<string, unknown>);
    // The application is looked up only when the request alone does not decide.
    const app = sessionHasMfa || requested || !oidc.client ? null : await deps.applications.find(oidc.client.clientId);
    const decision = await decideMfa(
      { policy: app?.mfa ?? 'off', hook: null, requested, sessionHasMfa },
      {
        hasFactor: () => deps.factors.hasActiveFactor(accountId),
        remembered: () => deps.factors.isRemembered(accountId, ctx.cookies.get(REMEMBER_DEVICE_COOKIE, { signed: true }), app?.remember_device_days ?? 0),
      },
    );
    return decision.ask ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  });
}

/** The default interaction policy with the MFA check added to the login prompt. */
export function interactionPolicyWithMfa(deps: { applications: ApplicationService; factors: FactorService }): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(mfaLoginCheck(deps));
  return policy;
}

/**
 * The provider puts acr and amr in an ID token only when the request asked for them (claims
 * parameter, acr_values); Tessera always says how the user authenticated. Wraps IdToken#payload
 * so every ID token carries the acr and amr of its session (authorization code, refresh).
 */
export function issueAuthenticationClaims(provider: { IdToken: unknown }): void {
  type IdTokenLike = { available?: Record<string, unknown>; payload(): Promise<Record<string, unknown>> };
  const proto = (provider.IdToken as { prototype: IdTokenLike }).prototype;
  const payload = proto.payload;
  proto.payload = async function payloadWithAuthentication(this: IdTokenLike) {
    const out = await payload.call(this);
    const { acr, amr } = this.available ?? {};
    if (out.acr === undefined && typeof acr === 'string') out.acr = acr;
    if (out.amr === undefined && Array.isArray(amr) && amr.length > 0) out.amr = amr;
    return out;
  };
}
