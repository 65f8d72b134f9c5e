// Sending the browser to an upstream provider (a sign-in or an identity verification), and the
// page for a provider that could not be used: shared by flows/external-login.ts and
// flows/identity-verification.ts, importing neither.
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ProviderAnswerError } from '../providers/client.ts';
import type { IdentityProvider } from '../providers/store.ts';
import { FlowError, type FlowKit, type PageLink } from './kit.ts';
import { t } from './texts.ts';

export function backToSignIn(uid: string): PageLink {
  return { href: `/interaction/${uid}`, text: t('external.other-way') };
}

/** The page for a provider's answer that could not be used: never a 500, always a way back. */
export function answerProblem(error: ProviderAnswerError, provider: IdentityProvider, uid: string): FlowError {
  const links = [{ href: `/interaction/${uid}/external/${provider.id}`, text: t('external.try-again') }, backToSignIn(uid)];
  if (error.kind === 'unreachable') return new FlowError(502, t('external.unavailable.title'), t('external.unavailable', { provider: provider.name }), links);
  if (error.kind === 'provider_error') return new FlowError(400, t('external.provider-error.title'), t('external.provider-error', { provider: provider.name }), links);
  return new FlowError(400, t('external.refused.title'), t('external.refused', { provider: provider.name }), links);
}

/** Sends the browser to the provider; what must come back is kept with the pending sign-in. */
export async function sendToProvider(ctx: Context, kit: FlowKit, details: Interaction, provider: IdentityProvider, purpose: 'login' | 'verification', claims?: Record<string, unknown>): Promise<void> {
  const federation = kit.services.federation;
  let started: Awaited<ReturnType<typeof federation.clients.start>>;
  try {
    started = await federation.clients.start(provider, { claims });
  } catch (error) {
    const problem = error instanceof ProviderAnswerError ? error : new ProviderAnswerError('unreachable', (error as Error).message);
    ctx.state.log?.warn({ provider: provider.id, reason: problem.message }, 'identity provider unavailable');
    throw answerProblem(problem, provider, details.uid);
  }
  const expiresAt = Math.min(details.exp * 1000, Date.now() + kit.services.config.federation.pendingSeconds * 1000);
  await federation.pending.create({ interactionUid: details.uid, providerId: provider.id, checks: started.checks, purpose, expiresAt });
  ctx.status = 303;
  ctx.redirect(started.url.href);
}
