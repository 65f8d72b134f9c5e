// The result of a user's identity verification (identity_verifications): one row per user, the
// last verification's status, provider, time and verified_claims (OpenID Connect for Identity
// Assurance 1.0), shown by the admin API and issued to an RP that asks for verified_claims.
import type { Knex } from 'knex';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import type { Json } from '../hooks/catalog/actions.ts';

export interface IdentityVerification {
  status: 'verified' | 'failed';
  provider: string | null;
  verified_at: string;
  verified_claims: Json | null;
}

export class IdentityVerifications {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(userId: string): Promise<IdentityVerification | null> {
    const row = await this.#db('identity_verifications').where({ user_id: userId }).first();
    if (!row) return null;
    return {
      status: row.status as IdentityVerification['status'],
      provider: (row.provider_id as string | null) ?? null,
      verified_at: new Date(Number(row.verified_at)).toISOString(),
      verified_claims: fromJson<Json | null>(row.verified_claims, null),
    };
  }

  async record(userId: string, result: { status: IdentityVerification['status']; providerId: string; verifiedClaims: Json | null }, trx?: Knex.Transaction): Promise<void> {
    const row = { user_id: userId, status: result.status, provider_id: result.providerId, verified_claims: toJson(result.verifiedClaims), verified_at: Date.now() };
    await (trx ?? this.#db)('identity_verifications').insert(row).onConflict('user_id').merge(row);
  }
}
