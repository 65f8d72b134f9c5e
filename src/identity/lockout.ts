// Who may not sign in for now: the failed-login budget of an account (one per account, whatever
// form of its identifier was typed) and the operator's lock (POST /admin/api/users/:id/actions).
//
// The budget is a lockout anyone who knows a username can trigger, so it is never the end of the
// road: a completed password reset (the mailed link proves more than a password) clears it and lets
// that journey finish, a browser remembered after a second factor is not stopped by it (flows/login.ts),
// and an operator's unlock clears it. The operator's lock is deliberate: only
// an unlock (or its end time) lifts it.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import { normalizeIdentifier } from './normalize.ts';
import { Throttle } from './throttle.ts';
import type { AccountRevoker } from './users.ts';

/** The failed-login budget of an account: keyed by its id, so email, username and any case share it. */
export function accountBudgetKey(userId: string): string {
  return Throttle.key('account', `id:${userId}`);
}

/**
 * The budget of an identifier that names no account: the normalised identifier, so that an unknown
 * identifier is throttled exactly like an account (the answers stay the same).
 */
export function unknownIdentifierBudgetKey(identifier: string): string {
  const { kind, value } = normalizeIdentifier(identifier);
  return Throttle.key('account', `${kind}:${value}`);
}

export interface AccountLock {
  locked_at: string;
  /** null: until an operator unlocks. */
  locked_until: string | null;
  reason: string;
}

/** The longest operator lock with an end (ten years); longer is "until unlocked". */
export const MAX_LOCK_SECONDS = 10 * 365 * 86400;

export class AccountLocks {
  readonly #db: Db;
  readonly #throttle: Throttle;
  readonly #revoke: AccountRevoker;

  /** `revoke` signs an account out (the OIDC layer owns its sessions and tokens; server.ts hands it in). */
  constructor(db: Db, throttle: Throttle, revoke: AccountRevoker) {
    this.#db = db;
    this.#throttle = throttle;
    this.#revoke = revoke;
  }

  /** The operator lock in force on the user, or null (none, or one that has ended). */
  async current(userId: string, now = Date.now()): Promise<AccountLock | null> {
    const row = await this.#db('users').where({ id: userId }).first('locked_at', 'locked_until', 'lock_reason');
    if (!row) throw new NotFoundError('user');
    return activeLock(row, now);
  }

  /**
   * Locks the account (`seconds` null: until unlocked) and signs it out everywhere in the same
   * transaction, since a session would otherwise carry on past the lock without any sign-in.
   */
  async lock(userId: string, reason: string, seconds: number | null): Promise<AccountLock> {
    const now = Date.now();
    return this.#db.transaction(async (tx) => {
      const changes = { locked_at: now, locked_until: seconds === null ? null : now + seconds * 1000, lock_reason: reason, updated_at: now };
      const updated = await tx('users').where({ id: userId }).update(changes);
      if (updated === 0) throw new NotFoundError('user');
      await this.#revoke(tx, userId, 'locked');
      const lock = activeLock(changes, now)!;
      await recordEvent(tx, 'user.action', { user_id: userId, action: 'lock', reason, locked_until: lock.locked_until });
      return lock;
    });
  }

  /** Lifts the operator lock and clears the failed-login budget of the account. */
  async unlock(userId: string, reason: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const updated = await tx('users').where({ id: userId }).update({ locked_at: null, locked_until: null, lock_reason: null, updated_at: Date.now() });
      if (updated === 0) throw new NotFoundError('user');
      await recordEvent(tx, 'user.action', { user_id: userId, action: 'unlock', reason, locked_until: null });
    });
    await this.#throttle.reset(accountBudgetKey(userId));
  }

  /** After a completed password reset: the failed-login budget starts over. */
  async forgiveFailures(userId: string, trx?: Knex.Transaction): Promise<void> {
    await this.#throttle.reset(accountBudgetKey(userId), trx);
  }
}

function activeLock(row: Record<string, unknown>, now: number): AccountLock | null {
  if (row.locked_at === null || row.locked_at === undefined) return null;
  const until = row.locked_until === null || row.locked_until === undefined ? null : Number(row.locked_until);
  if (until !== null && until <= now) return null;
  return {
    locked_at: new Date(Number(row.locked_at)).toISOString(),
    locked_until: until === null ? null : new Date(until).toISOString(),
    reason: String(row.lock_reason ?? ''),
  };
}
