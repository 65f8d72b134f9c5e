// The account page's backend-for-frontend sessions. The browser holds a random session id in an
// HttpOnly cookie (path /account) and never sees a token; the database keeps the id's sha256, the
// user, when they last proved who they are (auth_time and amr of the last ID token: the step-up of
// sensitive changes reads them), the application whose branding the pages wear, and the ID token
// (for RP-initiated logout). A session lasts ACCOUNT_SESSION_SECONDS from its first sign-in.
import { randomToken, sha256Hex } from '../crypto.ts';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';

export interface AccountSession {
  /** sha256 of the cookie's id. */
  idHash: string;
  userId: string;
  idToken: string | null;
  /** When the user last signed in (ms). */
  authTime: number;
  amr: string[];
  clientId: string | null;
  expiresAt: number;
}

export interface SignInProof {
  idToken: string | null;
  authTime: number;
  amr: string[];
}

const ID_SHAPE = /^[A-Za-z0-9_-]{20,100}$/;

export class AccountSessions {
  readonly #db: Db;
  readonly #ttlMs: number;

  constructor(db: Db, ttlSeconds: number) {
    this.#db = db;
    this.#ttlMs = ttlSeconds * 1000;
  }

  /** Opens a session; answers the id for the cookie (shown nowhere else). */
  async open(userId: string, proof: SignInProof, clientId: string | null): Promise<{ id: string; expiresAt: number }> {
    const id = randomToken(32);
    const now = Date.now();
    const expiresAt = now + this.#ttlMs;
    await this.#db('account_sessions').insert({
      id_hash: sha256Hex(id),
      user_id: userId,
      id_token: proof.idToken,
      auth_time: proof.authTime,
      amr: proof.amr.join(' ').slice(0, 200),
      client_id: clientId,
      created_at: now,
      expires_at: expiresAt,
    });
    return { id, expiresAt };
  }

  /** A fresh sign-in of the session's user (a step-up): its proof replaces the old one. */
  async reauthenticated(idHash: string, proof: SignInProof): Promise<void> {
    await this.#db('account_sessions')
      .where({ id_hash: idHash })
      .update({ id_token: proof.idToken, auth_time: proof.authTime, amr: proof.amr.join(' ').slice(0, 200) });
  }

  async setClient(idHash: string, clientId: string | null): Promise<void> {
    await this.#db('account_sessions').where({ id_hash: idHash }).update({ client_id: clientId });
  }

  async find(id: string): Promise<AccountSession | null> {
    if (!ID_SHAPE.test(id)) return null;
    const row = await this.#db('account_sessions')
      .where({ id_hash: sha256Hex(id) })
      .first();
    if (!row || Number(row.expires_at) <= Date.now()) return null;
    return {
      idHash: String(row.id_hash),
      userId: String(row.user_id),
      idToken: row.id_token ?? null,
      authTime: Number(row.auth_time),
      amr: String(row.amr).split(' ').filter(Boolean),
      clientId: row.client_id ?? null,
      expiresAt: Number(row.expires_at),
    };
  }

  async close(idHash: string): Promise<void> {
    await this.#db('account_sessions').where({ id_hash: idHash }).delete();
  }

  /** Ends the user's account-page sessions, all or all but one (`exceptHash`); inside `within` when given (a sign-out everywhere). */
  async closeAll(userId: string, exceptHash: string | null = null, within?: Knex | Knex.Transaction): Promise<number> {
    const query = (within ?? this.#db)('account_sessions').where({ user_id: userId });
    if (exceptHash) query.whereNot({ id_hash: exceptHash });
    return Number(await query.delete());
  }

  async prune(now = Date.now()): Promise<number> {
    return this.#db('account_sessions').where('expires_at', '<=', now).delete();
  }
}
