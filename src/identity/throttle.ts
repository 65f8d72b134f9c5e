// Counters of attempts per key inside a fixed window (the login_throttle table): failed logins per
// account and per IP, and mails sent per address. A hit is counted BEFORE the attempt is checked, so
// parallel requests cannot slip past the limit; a success undoes or resets it.
import { sha256Hex } from '../crypto.ts';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';

export class Throttle {
  readonly #db: Db;
  readonly #windowMs: number;

  constructor(db: Db, windowSeconds: number) {
    this.#db = db;
    this.#windowMs = windowSeconds * 1000;
  }

  /** A table key for a kind and a value; the value (an identifier, an address) is stored hashed. */
  static key(kind: string, value: string): string {
    return `${kind}:${sha256Hex(value)}`;
  }

  /**
   * Counts one attempt for `key` and answers whether it is still inside the limit (the count,
   * this attempt included, is at most `max`). A window older than the configured one starts over.
   */
  async hit(key: string, max: number): Promise<boolean> {
    const now = Date.now();
    const stale = now - this.#windowMs;
    const db = this.#db;
    // One atomic statement on both databases (SQLite ≥ 3.35 and PostgreSQL know RETURNING).
    const rows = (await db('login_throttle')
      .insert({ key, failures: 1, window_started_at: now })
      .onConflict('key')
      .merge({
        failures: db.raw('CASE WHEN login_throttle.window_started_at < ? THEN 1 ELSE login_throttle.failures + 1 END', [stale]),
        window_started_at: db.raw('CASE WHEN login_throttle.window_started_at < ? THEN ? ELSE login_throttle.window_started_at END', [stale, now]),
      })
      .returning('failures')) as Array<{ failures: number | string }>;
    const failures = Number(rows[0]?.failures);
    return failures <= max;
  }

  /** Whether `key` is still inside the limit, without counting an attempt. */
  async allows(key: string, max: number): Promise<boolean> {
    const row = await this.#db('login_throttle').where({ key }).first('failures', 'window_started_at');
    if (!row || Number(row.window_started_at) < Date.now() - this.#windowMs) return true;
    return Number(row.failures) <= max;
  }

  /** Takes back one counted attempt (it turned out to be a success). */
  async undo(key: string): Promise<void> {
    await this.#db('login_throttle').where({ key }).where('failures', '>', 0).decrement('failures', 1);
  }

  /** Forgets every attempt of `key`. */
  async reset(key: string, trx?: Knex.Transaction): Promise<void> {
    await (trx ?? this.#db)('login_throttle').where({ key }).delete();
  }

  /** Deletes the windows that ended (a hit on one starts over anyway). Answers how many. */
  prune(now = Date.now()): Promise<number> {
    return this.#db('login_throttle')
      .where('window_started_at', '<', now - this.#windowMs)
      .delete();
  }
}
