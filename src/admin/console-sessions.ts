// The console's backend-for-frontend sessions. The browser holds a random session id in an HttpOnly,
// SameSite=Strict cookie and never sees a token; the database keeps the id's sha256, the user, the
// CSRF token that every changing request must echo in a header, and the ID token (for RP-initiated
// logout). A session lasts CONSOLE_SESSION_SECONDS from sign-in.
import { randomToken, sha256Hex } from '../crypto.ts';
import type { Db } from '../db/knex.ts';

export interface ConsoleSession {
  userId: string;
  csrf: string;
  idToken: string | null;
  expiresAt: number;
}

export class ConsoleSessions {
  readonly #db: Db;
  readonly #ttlMs: number;

  constructor(db: Db, ttlSeconds: number) {
    this.#db = db;
    this.#ttlMs = ttlSeconds * 1000;
  }

  /** Opens a session; answers the id for the cookie (shown nowhere else). */
  async open(userId: string, idToken: string | null): Promise<{ id: string; expiresAt: number }> {
    const id = randomToken(32);
    const now = Date.now();
    const expiresAt = now + this.#ttlMs;
    await this.#db('console_sessions').insert({ id_hash: sha256Hex(id), user_id: userId, csrf: randomToken(24), id_token: idToken, created_at: now, expires_at: expiresAt });
    return { id, expiresAt };
  }

  async find(id: string): Promise<ConsoleSession | null> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
    const row = await this.#db('console_sessions')
      .where({ id_hash: sha256Hex(id) })
      .first();
    if (!row || Number(row.expires_at) <= Date.now()) return null;
    return { userId: row.user_id, csrf: row.csrf, idToken: row.id_token ?? null, expiresAt: Number(row.expires_at) };
  }

  async close(id: string): Promise<void> {
    await this.#db('console_sessions')
      .where({ id_hash: sha256Hex(id) })
      .delete();
  }

  /** Ends every console session of a user (their grant was revoked, or they were signed out). */
  async closeAll(userId: string): Promise<number> {
    return this.#db('console_sessions').where({ user_id: userId }).delete();
  }

  async prune(now = Date.now()): Promise<number> {
    return this.#db('console_sessions').where('expires_at', '<=', now).delete();
  }
}
