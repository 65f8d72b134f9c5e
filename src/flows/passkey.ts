// What the passkey steps of the journey share (the ceremonies themselves are identity/passkeys.ts;
// the pages' script is public/passkeys.js): the binding of a ceremony to its interaction, the
// answer posted in the field "response", and the message a refusal shows.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { PasskeyError, parseCredentialResponse, type PasskeyRefusal } from '../identity/passkeys.ts';
import { field } from './kit.ts';
import { t, type PlainTextId } from './texts.ts';

const REFUSALS: Record<PasskeyRefusal, PlainTextId> = {
  challenge: 'passkey.refused.challenge',
  unknown_credential: 'passkey.refused.unknown_credential',
  invalid: 'passkey.refused.invalid',
  counter: 'passkey.refused.counter',
  duplicate: 'passkey.refused.duplicate',
};

/** Challenges of a journey are bound to its interaction: an answer is accepted by this interaction only. */
export function passkeyBinding(details: Interaction): string {
  return `interaction:${details.uid}`;
}

/** The credential the page's script posted, or null (none, or not an answer). */
export function postedCredential(ctx: Context): (RegistrationResponseJSON & AuthenticationResponseJSON) | null {
  return parseCredentialResponse(field(ctx, 'response', 32_000));
}

/** The user's message for a refused answer, with its reason logged (never the answer itself). */
export function passkeyRefusal(ctx: Context, error: unknown, what: string): string {
  if (!(error instanceof PasskeyError)) throw error;
  ctx.state.log?.info({ reason: error.reason, detail: error.message }, `${what}: passkey refused`);
  return t(REFUSALS[error.reason]);
}
