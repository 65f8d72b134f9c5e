// An account's access to applications: which ones it has granted, and revoking one ("User Access
// Revoked" in Next Identity's catalog). An operator revokes through the admin API, the user from the
// account page; both are one `user.access.revoke` event saying who did it, written in the same
// transaction as the revocation. The grants and tokens are the OIDC layer's (src/oidc/adapter.ts),
// handed in by server.ts so identity does not depend on it.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import { recordEvent } from '../webhooks/outbox.ts';

/** An application the account granted access to, from its grant. */
export interface GrantedApplication {
  client_id: string;
  /** The scopes granted (openid's), space-separated; null when none were recorded. */
  scope: string | null;
  granted_at: string | null;
}

export interface GrantStore {
  granted(db: Knex | Knex.Transaction, accountId: string): Promise<GrantedApplication[]>;
  /** Revokes the application's grants and their tokens; answers how many grants went. */
  revoke(db: Knex | Knex.Transaction, accountId: string, clientId: string): Promise<number>;
}

/** Who revoked: the operator (admin API, console) or the user (account page). */
export type RevokedBy = 'operator' | 'user';

export class ApplicationAccess {
  readonly #db: Db;
  readonly #grants: GrantStore;

  constructor(db: Db, grants: GrantStore) {
    this.#db = db;
    this.#grants = grants;
  }

  /** The applications the user granted access to, with their names. */
  async list(userId: string): Promise<Array<GrantedApplication & { name: string | null }>> {
    await this.#user(this.#db, userId);
    const granted = await this.#grants.granted(this.#db, userId);
    if (granted.length === 0) return [];
    const names = new Map(
      (
        await this.#db('applications')
          .whereIn(
            'client_id',
            granted.map((g) => g.client_id),
          )
          .select('client_id', 'name')
      ).map((row) => [String(row.client_id), String(row.name)]),
    );
    return granted.map((g) => ({ ...g, name: names.get(g.client_id) ?? null }));
  }

  /**
   * Revokes the application's access: its refresh tokens stop working at once and it asks again at the
   * next sign-in. The event is written only when there was access to revoke (a repeat is a no-op).
   */
  async revoke(userId: string, clientId: string, by: RevokedBy): Promise<{ revoked: boolean }> {
    return this.#db.transaction(async (tx) => {
      await this.#user(tx, userId);
      if (typeof clientId !== 'string' || clientId.length > 100 || !(await tx('applications').where({ client_id: clientId }).first())) throw new NotFoundError('application');
      const grants = await this.#grants.revoke(tx, userId, clientId);
      if (grants > 0) await recordEvent(tx, 'user.access.revoke', { user_id: userId, application_id: clientId, by });
      return { revoked: grants > 0 };
    });
  }

  async #user(db: Knex | Knex.Transaction, userId: string): Promise<void> {
    if (typeof userId !== 'string' || userId.length > 36 || !(await db('users').where({ id: userId }).first('id'))) throw new NotFoundError('user');
  }
}
