// When a login needs a second factor: the one rule, used by the login journey (flows/journey.ts)
// and by the provider's check of an existing session (oidc/acr.ts).
//
// A hook's api.mfa.skip() waives MFA unless the application requires it; a hook's api.mfa.require()
// or a request for acr loa:2 asks for it (step-up); otherwise the application's policy does
// ("required", or "optional" when the user has a factor), and a remembered browser ("remember this
// device") waives what the policy asks, never a step-up. A session that already did MFA needs none.
//
// The rule is pure. Two facts cost a database lookup (whether the user has a factor, whether the
// browser is remembered): a caller may leave them out, and the rule then names the one it needs
// next (`needs`), so that each caller looks up only what the answer depends on (decideMfa).

type MfaPolicySetting = 'off' | 'optional' | 'required';

export interface MfaFacts {
  /** The application's policy (its `mfa` setting). */
  policy: MfaPolicySetting;
  /** What the after_identification hooks decided (api.mfa.require / api.mfa.skip), or none. */
  hook: 'require' | 'skip' | null;
  /** The authorization request asks for acr loa:2 (acr_values, or the claims parameter). */
  requested: boolean;
  /** The session being checked already did a second factor (acr loa:2); false in a login journey. */
  sessionHasMfa: boolean;
  /** The user has an active factor; undefined: not looked up yet. */
  hasFactor?: boolean;
  /** This browser is remembered for the user and the application; undefined: not looked up yet. */
  remembered?: boolean;
}

export type MfaReason = 'session_has_mfa' | 'hook_skip' | 'hook_require' | 'acr_requested' | 'policy_off' | 'no_factor' | 'policy' | 'remembered_device';

export type MfaDecision = { ask: boolean; reason: MfaReason };

/** The decision, or the fact it still depends on. */
export function mfaPolicy(facts: MfaFacts): MfaDecision | { needs: 'hasFactor' | 'remembered' } {
  if (facts.sessionHasMfa) return { ask: false, reason: 'session_has_mfa' };
  if (facts.hook === 'skip' && facts.policy !== 'required') return { ask: false, reason: 'hook_skip' };
  if (facts.hook === 'require') return { ask: true, reason: 'hook_require' };
  if (facts.requested) return { ask: true, reason: 'acr_requested' };
  if (facts.policy === 'off') return { ask: false, reason: 'policy_off' };
  if (facts.policy === 'optional') {
    if (facts.hasFactor === undefined) return { needs: 'hasFactor' };
    if (!facts.hasFactor) return { ask: false, reason: 'no_factor' };
  }
  // The policy asks. A user without a factor enrols: no browser is remembered for a user without a
  // factor (removing the last factor forgets the remembered devices, identity/factors.ts), so when
  // that is known there is nothing to look up.
  if (facts.hasFactor === false) return { ask: true, reason: 'policy' };
  if (facts.remembered === undefined) return { needs: 'remembered' };
  return facts.remembered ? { ask: false, reason: 'remembered_device' } : { ask: true, reason: 'policy' };
}

/** mfaPolicy with its lookups: each is made only when the decision depends on it, at most once. */
export async function decideMfa(facts: MfaFacts, lookups: { hasFactor(): Promise<boolean>; remembered(): Promise<boolean> }): Promise<MfaDecision> {
  const known = { ...facts };
  for (;;) {
    const result = mfaPolicy(known);
    if (!('needs' in result)) return result;
    if (result.needs === 'hasFactor') known.hasFactor = await lookups.hasFactor();
    else known.remembered = await lookups.remembered();
  }
}
