// Signing keys (JWKS) and cookie-signing keys, shared by every instance through the database.
//
// Each key has a generation, unique per kind: instances starting at once on an empty database all try
// to insert generation 1 and exactly one insert wins, so every instance loads the same first keys.
// Rotation inserts the next generation of both kinds. A rotated key is published (JWKS, cookie
// verification) by every instance at its next refresh (key-ring.ts) but signs only from its
// `activates_at`, a propagation delay later, so no instance signs with a key another does not publish
// yet. Older keys keep verifying until retired.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { randomToken } from '../crypto.ts';
import { isPostgres, type Db } from '../db/knex.ts';
import { logEvent } from '../event-log.ts';
import { recordEvent } from '../webhooks/outbox.ts';

export type SigningJwk = JWK & { kid: string; alg: string; use: 'sig' };
type Kind = 'signing' | 'cookie';

/** The keys an instance holds, each list ordered for use: the first one signs, every one verifies. */
export interface KeySet {
  signing: SigningJwk[];
  cookie: string[];
  /** The soonest `activates_at` still to come (a pending key), or null. */
  nextActivation: number | null;
}

interface KeyRow {
  kid: string;
  material: string;
  generation: number;
  activatesAt: number;
}

function newSigningKey(): SigningJwk {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

async function activeRows(db: Db, kind: Kind): Promise<KeyRow[]> {
  const rows = await db('keys').where({ kind }).whereNull('retired_at').orderBy('generation', 'desc');
  return rows.map((row) => ({
    kid: String(row.kid),
    material: String(row.material),
    generation: Number(row.generation),
    activatesAt: Number(row.activates_at ?? row.created_at),
  }));
}

/** The newest key already active signs; the others follow, newest first. */
function orderForUse(rows: KeyRow[], now: number): KeyRow[] {
  const signer = rows.find((row) => row.activatesAt <= now) ?? rows[0];
  return signer ? [signer, ...rows.filter((row) => row !== signer)] : [];
}

async function latestGeneration(db: Db): Promise<number> {
  const [row] = await db('keys').max({ generation: 'generation' });
  return Number(row?.generation ?? 0);
}

function generationRows(jwk: SigningJwk, generation: number, now: number, activatesAt: number) {
  return [
    { kid: jwk.kid, kind: 'signing', material: JSON.stringify(jwk), generation, created_at: now, activates_at: activatesAt, retired_at: null },
    { kid: randomUUID(), kind: 'cookie', material: randomToken(32), generation, created_at: now, activates_at: activatesAt, retired_at: null },
  ];
}

/** Inserts generation `generation` of both kinds in one statement, unless a key of that generation exists. */
async function insertGeneration(db: Db, generation: number, activatesAt: number): Promise<void> {
  await db('keys')
    .insert(generationRows(newSigningKey(), generation, Date.now(), activatesAt))
    .onConflict(['kind', 'generation'])
    .ignore();
}

/** Loads the keys in force at `now`, creating the first ones when the database has none. */
export async function loadOrCreateKeys(db: Db, now = Date.now()): Promise<KeySet> {
  // The highest generation is read before the keys: an instance that sees none inserts generation 1,
  // racing only others that saw none; one that sees some sees the keys of that generation too (both
  // kinds are written by one statement).
  const latest = await latestGeneration(db);
  const [signing, cookie] = await Promise.all([activeRows(db, 'signing'), activeRows(db, 'cookie')]);
  if (signing.length > 0 && cookie.length > 0) return toKeySet(signing, cookie, now);
  await insertGeneration(db, latest + 1, now);
  return loadKeys(db, now);
}

/** Loads the keys in force at `now` (no creation). */
export async function loadKeys(db: Db, now = Date.now()): Promise<KeySet> {
  const [signing, cookie] = await Promise.all([activeRows(db, 'signing'), activeRows(db, 'cookie')]);
  return toKeySet(signing, cookie, now);
}

function toKeySet(signing: KeyRow[], cookie: KeyRow[], now: number): KeySet {
  const pending = [...signing, ...cookie].map((row) => row.activatesAt).filter((at) => at > now);
  return {
    signing: orderForUse(signing, now).map((row) => JSON.parse(row.material) as SigningJwk),
    cookie: orderForUse(cookie, now).map((row) => row.material),
    nextActivation: pending.length ? Math.min(...pending) : null,
  };
}

/**
 * Adds a new signing key and cookie key. They are published by every instance within the refresh
 * interval and sign from `delayMs` on. Returns the signing key's kid.
 */
export async function rotateKeys(db: Db, delayMs: number): Promise<string> {
  const jwk = newSigningKey(); // before the transaction: generating an RSA key takes tens of ms
  // Rotations queue behind each other (SQLite has one writer; PostgreSQL takes a transaction-scoped
  // lock), so each reads the generation the previous one wrote. Racing inserts with retries lost when
  // a burst of rotations outnumbered the retries.
  return db.transaction(async (trx) => {
    if (isPostgres(db)) await trx.raw("select pg_advisory_xact_lock(hashtext('tessera.keys.rotate'))");
    const generation = (await latestGeneration(trx)) + 1;
    const now = Date.now();
    await trx('keys').insert(generationRows(jwk, generation, now, now + delayMs));
    // Who verifies tokens learns of the key before it signs (the webhook), the operator from the event log.
    const activatesAt = new Date(now + delayMs).toISOString();
    await recordEvent(trx, 'jwt.public-key.update', { kid: jwk.kid, action: 'rotate', activates_at: activatesAt });
    await logEvent(trx, 'key.rotated', `signing key ${jwk.kid} added (generation ${generation}); it signs from ${activatesAt}`, { kid: jwk.kid, generation, activates_at: activatesAt });
    return jwk.kid;
  });
}

/**
 * Retires a signing key and the cookie key of its generation: they leave every instance's JWKS and
 * verification at its next refresh. The newest signing key cannot be retired. Retiring the key that
 * signs now hands signing to the newest remaining key at once (a key thought compromised must go).
 */
export async function retireKey(db: Db, kid: string): Promise<boolean> {
  const [newest] = await activeRows(db, 'signing');
  if (!newest || newest.kid === kid) return false;
  return db.transaction(async (trx) => {
    const key = await trx('keys').where({ kid, kind: 'signing' }).whereNull('retired_at').first();
    if (!key) return false;
    const now = Date.now();
    await trx('keys').where({ kid }).update({ retired_at: now });
    await trx('keys').where({ kind: 'cookie', generation: key.generation }).whereNull('retired_at').update({ retired_at: now });
    await recordEvent(trx, 'jwt.public-key.update', { kid, action: 'retire', activates_at: null });
    await logEvent(trx, 'key.retired', `signing key ${kid} retired: it leaves the JWKS`, { kid, generation: Number(key.generation) });
    return true;
  });
}

export interface SigningKeyInfo {
  kid: string;
  alg: string;
  use: 'sig';
  created_at: string;
  /** From when it signs; before that it is only published. */
  activates_at: string;
  retired_at: string | null;
}

const iso = (ms: unknown) => new Date(Number(ms)).toISOString();

/** The signing keys, newest first, without their material (for the admin API). */
export async function listSigningKeys(db: Db): Promise<SigningKeyInfo[]> {
  const rows = await db('keys').where({ kind: 'signing' }).orderBy('generation', 'desc');
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
      created_at: iso(row.created_at),
      activates_at: iso(row.activates_at ?? row.created_at),
      retired_at: row.retired_at === null || row.retired_at === undefined ? null : iso(row.retired_at),
    };
  });
}
