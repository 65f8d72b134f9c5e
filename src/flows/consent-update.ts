// A change of the user's consents from a hosted page (progressive profiling today): behind
// after_consent_update's sync hooks, which see the consents as they will be and may refuse the
// change; the consents, the hooks' enrich actions and the user.consent.update event are written in
// one transaction, refused when the consents changed meanwhile (hooks/change.ts).
import type { Context } from 'koa';
import { ConflictError } from '../errors.ts';
import { HookDenied, changeWithHooks, run } from '../hooks/change.ts';
import type { User } from '../identity/users.ts';
import { publicUser } from '../identity/users.ts';
import type { FlowKit } from './kit.ts';

/**
 * Records the answers; answers the denial's message to show on the page (nothing is changed then),
 * or null when the consents were recorded (or nothing changed: no hook runs).
 */
export async function updateConsents(ctx: Context, kit: FlowKit, user: User, answers: Array<{ key: string; granted: boolean }>, clientId: string | null): Promise<string | null> {
  const current = await kit.consentMap(user.id);
  const changed = answers.filter((answer) => current[answer.key] !== answer.granted).map((answer) => answer.key);
  if (changed.length === 0) return null;
  const consents = { ...current, ...Object.fromEntries(answers.map((answer) => [answer.key, answer.granted])) };
  try {
    await changeWithHooks(kit.services, [run('after_consent_update', { user: publicUser(user), consents, changed })], kit.lifecycleContext(ctx, clientId), async (trx, changes) => {
      await kit.services.users.enrich(trx, user.id, changes);
      const written = await kit.consents.set(user.id, answers, trx, clientId);
      if (written.map((c) => c.key).join(',') !== changed.join(',')) throw new ConflictError('consents', 'changed while the page was being sent; try again');
    });
  } catch (error) {
    if (error instanceof HookDenied) return error.message;
    throw error;
  }
  return null;
}
