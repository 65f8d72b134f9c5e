// One-time tokens mailed to users: account activation, password reset and invitations. Only the sha256 of a
// token is stored; a token works once, until it expires, and using it is atomic (and may be part
// of the transaction of the change it allows: a reset, an activation). Each token records
// the sign-in it was asked from and that sign-in's application, whose branding (and way back) the
// link's pages keep even after the sign-in itself has gone.
import { randomToken, sha256Hex } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import type { Knex } from 'knex';

/**
 * external_link: proves a local account before an external identity links to it (src/flows/external-login.ts).
 * email_change: confirms the new address of an account (src/account/), which the token's `data` holds.
 */
export type ActionTokenKind = 'activation' | 'password_reset' | 'invitation' | 'external_link' | 'email_change';

export interface ActionToken {
  userId: string;
  interactionUid: string | null;
  clientId: string | null;
  expiresAt: number;
  /** What the token is about beyond its user (email_change: the new address); null for most kinds. */
  data: string | null;
  /** The language of the mail that carried it (src/i18n), or null. */
  locale: string | null;
}

/** Where a token was asked from: the interaction (sign-in) and its application. */
export interface TokenOrigin {
  interactionUid: string | null;
  clientId: string | null;
  /** The language of the mail that carries it (its link's page falls back to it). */
  locale?: string | null;
}

export type TokenState = { status: 'valid'; token: ActionToken } | { status: 'used' | 'expired'; clientId: string | null; locale: string | null } | { status: 'unknown' };

function toToken(row: Record<string, unknown>): ActionToken {
  return {
    userId: String(row.user_id),
    interactionUid: typeof row.interaction_uid === 'string' ? row.interaction_uid : null,
    clientId: typeof row.client_id === 'string' ? row.client_id : null,
    expiresAt: Number(row.expires_at),
    data: typeof row.data === 'string' ? row.data : null,
    locale: typeof row.locale === 'string' ? row.locale : null,
  };
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,128}$/;

export class ActionTokens {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Creates a token and answers it; the caller mails it. */
  async issue(kind: ActionTokenKind, userId: string, origin: TokenOrigin, ttlSeconds: number, trx?: Knex | Knex.Transaction, data: string | null = null): Promise<string> {
    const token = randomToken(32);
    const now = Date.now();
    await (trx ?? this.#db)('action_tokens').insert({
      id: sha256Hex(token),
      kind,
      user_id: userId,
      interaction_uid: origin.interactionUid,
      client_id: origin.clientId,
      locale: origin.locale ?? null,
      expires_at: now + ttlSeconds * 1000,
      used_at: null,
      created_at: now,
      data,
    });
    return token;
  }

  /** What a token is now, without using it. */
  async inspect(kind: ActionTokenKind, token: string): Promise<TokenState> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return { status: 'unknown' };
    const row = await this.#db('action_tokens')
      .where({ id: sha256Hex(token), kind })
      .first();
    if (!row) return { status: 'unknown' };
    const found = toToken(row);
    if (row.used_at !== null && row.used_at !== undefined) return { status: 'used', clientId: found.clientId, locale: found.locale };
    if (found.expiresAt <= Date.now()) return { status: 'expired', clientId: found.clientId, locale: found.locale };
    return { status: 'valid', token: found };
  }

  /** Uses a token: answers it when it was valid, null otherwise. Two concurrent uses: one wins. */
  async consume(kind: ActionTokenKind, token: string, trx?: Knex.Transaction): Promise<ActionToken | null> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return null;
    const id = sha256Hex(token);
    const now = Date.now();
    const db = trx ?? this.#db;
    const changed = await db('action_tokens').where({ id, kind }).whereNull('used_at').where('expires_at', '>', now).update({ used_at: now });
    if (Number(changed) !== 1) return null;
    const row = await db('action_tokens').where({ id }).first();
    return toToken(row);
  }

  /** Marks every unused token of this kind for the user as used. */
  async revokeAll(kind: ActionTokenKind, userId: string, trx?: Knex.Transaction): Promise<void> {
    await (trx ?? this.#db)('action_tokens').where({ kind, user_id: userId }).whereNull('used_at').update({ used_at: Date.now() });
  }

  /** Deletes tokens expired more than a day ago (a day of "this link has expired" rather than "unknown link"). */
  prune(now = Date.now()): Promise<number> {
    return this.#db('action_tokens')
      .where('expires_at', '<', now - 86400_000)
      .delete();
  }
}
