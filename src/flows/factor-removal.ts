// Removing second factors behind after_mfa_change's sync hooks, for the admin API (one or all of a
// user's factors) and the account page (the user removing one of their own): one run per active
// factor to remove; a denial leaves every factor in place (HookDenied); `remove` commits the removal,
// refused (409 conflict) when the factors it removed are not the ones the hooks were asked about.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { ConflictError } from '../errors.ts';
import { changeWithHooks, run } from '../hooks/change.ts';
import type { Lifecycle, LifecycleContext } from '../hooks/lifecycle.ts';
import type { Factor } from '../identity/factors.ts';
import { publicUser, type User, type UserService } from '../identity/users.ts';

export async function removeFactorsWithHooks(
  deps: { db: Db; lifecycle: Lifecycle; users: UserService },
  context: LifecycleContext,
  user: User,
  announced: Factor[],
  remove: (trx: Knex.Transaction) => Promise<Factor[]>,
): Promise<void> {
  const runs = announced.map((factor) => run('after_mfa_change', { user: publicUser(user), change: 'removed', factor: { id: factor.id, type: factor.type } }));
  await changeWithHooks(deps, runs, context, async (trx, changes) => {
    await deps.users.enrich(trx, user.id, changes);
    const removed = await remove(trx);
    const ids = (list: Factor[]) =>
      list
        .map((f) => f.id)
        .sort()
        .join(',');
    if (ids(removed) !== ids(announced)) throw new ConflictError('factors', 'changed while the request was being handled; try again');
  });
}
