// The sign-ins sent to a provider and not back yet (external_logins). Each is found on the way back
// by its state (stored hashed: the table alone cannot forge a callback) and moves sent → returned
// (the callback stored the provider's answer) → used (the journey redeemed it), each step once, so
// a replayed callback or a second redemption finds nothing to do.
import { sha256Hex } from '../crypto.ts';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import type { Checks } from './client.ts';

export interface PendingLogin {
  ref: string;
  interactionUid: string;
  providerId: string;
  checks: Checks;
  purpose: 'login' | 'verification';
  /** The provider's answer (the callback's parameters), once back. */
  answer: Record<string, string> | null;
}

type Stored = { checks: Checks; purpose: PendingLogin['purpose']; answer?: Record<string, string> };

export type ReturnResult = { ok: true; ref: string; interactionUid: string } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export class PendingLogins {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async create(input: { interactionUid: string; providerId: string; checks: Checks; purpose: PendingLogin['purpose']; expiresAt: number }): Promise<void> {
    const stored: Stored = { checks: input.checks, purpose: input.purpose };
    await this.#db('external_logins').insert({
      state_hash: sha256Hex(input.checks.state),
      interaction_uid: input.interactionUid,
      provider_id: input.providerId,
      data: toJson(stored),
      status: 'sent',
      expires_at: input.expiresAt,
    });
  }

  /** The callback: stores the provider's answer once; a second callback with the same state is refused. */
  async returned(state: string, answer: Record<string, string>, now = Date.now()): Promise<ReturnResult> {
    if (typeof state !== 'string' || state.length === 0 || state.length > 500) return { ok: false, reason: 'unknown' };
    const ref = sha256Hex(state);
    const row = await this.#db('external_logins').where({ state_hash: ref }).first();
    if (!row) return { ok: false, reason: 'unknown' };
    if (Number(row.expires_at) < now) return { ok: false, reason: 'expired' };
    const stored = fromJson<Stored>(row.data, { checks: { state: '', nonce: null, verifier: '' }, purpose: 'login' });
    const updated = await this.#db('external_logins')
      .where({ state_hash: ref, status: 'sent' })
      .update({ status: 'returned', data: toJson({ ...stored, answer }) });
    if (updated === 0) return { ok: false, reason: 'used' };
    return { ok: true, ref, interactionUid: String(row.interaction_uid) };
  }

  /** The journey redeems the answer, once, in the interaction it was sent from. */
  async take(ref: string, interactionUid: string, now = Date.now()): Promise<PendingLogin | null> {
    if (typeof ref !== 'string' || !/^[0-9a-f]{64}$/.test(ref)) return null;
    const row = await this.#db('external_logins').where({ state_hash: ref, interaction_uid: interactionUid }).first();
    if (!row || Number(row.expires_at) < now) return null;
    const updated = await this.#db('external_logins').where({ state_hash: ref, status: 'returned' }).update({ status: 'used' });
    if (updated === 0) return null;
    const stored = fromJson<Stored>(row.data, { checks: { state: '', nonce: null, verifier: '' }, purpose: 'login' });
    return { ref, interactionUid, providerId: String(row.provider_id), checks: stored.checks, purpose: stored.purpose, answer: stored.answer ?? null };
  }

  prune(now = Date.now()): Promise<number> {
    return this.#db('external_logins').where('expires_at', '<', now).delete();
  }
}
