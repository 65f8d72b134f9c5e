// The identity-verification step (CONTRACT §8): after the factors and profiling, before after_login,
// when the application requires it (identity_verification: "required") or a hook asked for it
// (api.identityVerification.require()) and the user has no verified result yet. before_identity_
// verification may skip it, choose the provider or refuse; the user goes to a provider of purpose
// "verification", asked for verified_claims through the claims parameter (OpenID Connect for
// Identity Assurance 1.0); after_identity_verification sees the status and the verified claims
// (enrich or refuse); the result is stored on the user, and the login goes on (flows/journey.ts).
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import type { Json } from '../hooks/catalog/actions.ts';
import { publicUser, type User } from '../identity/users.ts';
import { VERIFIED_CLAIMS_REQUEST, type ExternalProfile } from '../providers/client.ts';
import type { IdentityProvider } from '../providers/store.ts';
import { deny } from './denial.ts';
import { sendToProvider } from './external-redirect.ts';
import { FlowError, type FlowKit } from './kit.ts';
import type { FlowState } from './state.ts';
import { t } from './texts.ts';

function hookProvider(provider: IdentityProvider) {
  return { id: provider.id, name: provider.name, preset: provider.preset };
}

/**
 * Whether the login must stop for a verification first: 'started' (the browser went to the
 * provider, or a page was answered), or 'continue' (not needed, already done, or skipped by a hook).
 */
export async function verificationStep(ctx: Context, kit: FlowKit, details: Interaction, user: User, amr: string[], state: FlowState): Promise<'started' | 'continue'> {
  const { applications, federation } = kit.services;
  if (state.verification === 'done') return 'continue';
  const clientId = kit.clientIdOf(details);
  const app = clientId ? await applications.find(clientId) : null;
  const reason = app?.identity_verification === 'required' ? 'application' : state.verificationRequired ? 'hook' : null;
  if (!reason) return 'continue';
  if ((await federation.verifications.get(user.id))?.status === 'verified') return 'continue';

  const providers = await federation.providers.forApplication(clientId, 'verification');
  const outcome = await kit.hook(ctx, 'before_identity_verification', { user: publicUser(user), providers: providers.map(hookProvider), reason }, clientId, { handleDenial: true });
  if (outcome.denied) {
    await kit.states.clear(details.uid);
    await deny(ctx, kit, clientId, { user, identifier: null, reason: 'denied' }, outcome.denied.message, (alert) => kit.render(ctx, 'message', { title: t('login.refused.title'), alert }, 403));
    return 'started';
  }
  const choice = outcome.decision.verification;
  if (choice.skip) {
    await kit.updateState(details, { verification: 'done' });
    return 'continue';
  }
  const chosen = choice.providerId ? await federation.providers.find(choice.providerId) : (providers[0] ?? null);
  if (!chosen || chosen.purpose !== 'verification' || !chosen.enabled) throw new FlowError(403, t('verification.title'), t('verification.none'), [], { wayBack: true });
  await kit.updateState(details, { verifying: { userId: user.id, amr } });
  await sendToProvider(ctx, kit, details, chosen, 'verification', { userinfo: { verified_claims: VERIFIED_CLAIMS_REQUEST }, id_token: { verified_claims: VERIFIED_CLAIMS_REQUEST } });
  return 'started';
}

/**
 * The verification provider answered: after_identity_verification, then the result stored on the
 * user. Answers the user and the login's methods to go on with, or null when a page was answered.
 */
export async function verificationAnswered(ctx: Context, kit: FlowKit, details: Interaction, provider: IdentityProvider, profile: ExternalProfile): Promise<{ user: User; amr: string[] } | null> {
  const { users, federation } = kit.services;
  const { verifying } = await kit.state(details);
  const user = verifying ? await users.findById(verifying.userId) : null;
  if (!verifying || !user) throw kit.expired();
  const clientId = kit.clientIdOf(details);
  const verifiedClaims = (profile.verified_claims ?? null) as Json | null;
  const status = verifiedClaims !== null && typeof verifiedClaims === 'object' ? 'verified' : 'failed';
  const refuse = (alert: string | null) => kit.render(ctx, 'message', { title: t('login.refused.title'), alert }, 403);
  const outcome = await kit.hook(
    ctx,
    'after_identity_verification',
    { user: publicUser(user), verification: { provider: hookProvider(provider), status, verified_claims: verifiedClaims } },
    clientId,
    { handleDenial: true },
  );
  if (outcome.denied) {
    await kit.states.clear(details.uid);
    await deny(ctx, kit, clientId, { user, identifier: null, reason: 'denied' }, outcome.denied.message, refuse);
    return null;
  }
  await federation.verifications.record(user.id, { status, providerId: provider.id, verifiedClaims });
  const { attributes, metadata } = outcome.decision.changes;
  const fresh = Object.keys(attributes).length > 0 || Object.keys(metadata).length > 0 ? await users.update(user.id, { attributes, metadata }) : user;
  if (status !== 'verified') {
    await kit.states.clear(details.uid);
    await deny(ctx, kit, clientId, { user, identifier: null, reason: 'denied' }, t('verification.failed'), refuse);
    return null;
  }
  await kit.updateState(details, { verification: 'done', verifying: undefined });
  return { user: fresh, amr: verifying.amr };
}
