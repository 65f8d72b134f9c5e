// Signing keys (JWKS) and cookie-signing keys: generated on first start, persisted, never regenerated
// by a restart. Rotation adds a newer key, which signs from the next start on; older keys stay in
// the JWKS (so tokens they signed still verify) until retired.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { randomToken } from '../crypto.ts';
import type { Db } from '../db/knex.ts';

export type SigningJwk = JWK & { kid: string; alg: string; use: 'sig' };

function newSigningKey(): SigningJwk {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

async function insertKey(db: Db, kind: 'signing' | 'cookie', kid: string, material: string): Promise<void> {
  await db('keys').insert({ kid, kind, material, created_at: Date.now(), retired_at: null });
}

async function activeKeys(db: Db, kind: 'signing' | 'cookie'): Promise<Array<{ kid: string; material: string }>> {
  // Newest first: the newest signing key signs, the newest cookie key signs cookies.
  return db('keys')
    .where({ kind })
    .whereNull('retired_at')
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'kid', order: 'asc' },
    ]);
}

export interface KeySet {
  signing: SigningJwk[];
  cookie: string[];
}

/** Loads the keys, creating the first ones when the database has none. */
export async function loadOrCreateKeys(db: Db): Promise<KeySet> {
  if ((await activeKeys(db, 'signing')).length === 0) {
    const jwk = newSigningKey();
    await insertKey(db, 'signing', jwk.kid, JSON.stringify(jwk));
  }
  if ((await activeKeys(db, 'cookie')).length === 0) {
    await insertKey(db, 'cookie', randomUUID(), randomToken(32));
  }
  const signing = (await activeKeys(db, 'signing')).map((row) => JSON.parse(row.material) as SigningJwk);
  const cookie = (await activeKeys(db, 'cookie')).map((row) => row.material);
  return { signing, cookie };
}

/** Adds a new signing key (and cookie key); it is used from the next start on. Returns its kid. */
export async function rotateKeys(db: Db): Promise<string> {
  const jwk = newSigningKey();
  await insertKey(db, 'signing', jwk.kid, JSON.stringify(jwk));
  await insertKey(db, 'cookie', randomUUID(), randomToken(32));
  return jwk.kid;
}

/** Retires a signing key: it leaves the JWKS at the next start. The newest key cannot be retired. */
export async function retireKey(db: Db, kid: string): Promise<boolean> {
  const [newest] = await activeKeys(db, 'signing');
  if (!newest || newest.kid === kid) return false;
  const count = await db('keys').where({ kid }).whereNull('retired_at').update({ retired_at: Date.now() });
  return count > 0;
}

export interface SigningKeyInfo {
  kid: string;
  alg: string;
  use: 'sig';
  created_at: string;
  retired_at: string | null;
}

/** The signing keys, newest first, without their material (for the admin API). */
export async function listSigningKeys(db: Db): Promise<SigningKeyInfo[]> {
  const rows = await db('keys')
    .where({ kind: 'signing' })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'kid', order: 'asc' },
    ]);
  return rows.map((row) => {
    let alg = 'RS256';
    try {
      alg = (JSON.parse(String(row.material)) as SigningJwk).alg ?? alg;
    } catch {
      /* keep the default */
    }
    return {
      kid: String(row.kid),
      alg,
      use: 'sig' as const,
      created_at: new Date(Number(row.created_at)).toISOString(),
      retired_at: row.retired_at === null || row.retired_at === undefined ? null : new Date(Number(row.retired_at)).toISOString(),
    };
  });
}
