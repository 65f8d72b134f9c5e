// Password hashes made by other systems (POST /admin/api/users/import, CONTRACT §9): bcrypt
// (`$2a$`/`$2b$`/`$2y$`), argon2id (its PHC string), PBKDF2-SHA256/512 as Keycloak stores it (a base64
// hash, a base64 salt, the iterations) and scrypt (its salt and N, r, p). An imported hash is stored
// in one self-describing string (bcrypt and argon2id as they are; PBKDF2 and scrypt as PHC-style
// strings of our own, below), verified at sign-in by its real algorithm, and then replaced by
// today's argon2id (identity/users.ts verifyPassword: needsRehash is true for every foreign format).
// Node's crypto has PBKDF2 and scrypt; bcrypt comes from bcryptjs (pure JavaScript, no native build,
// the widely used implementation), argon2id from the argon2 package that hashes our own passwords.
import { pbkdf2, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

export const IMPORT_ALGORITHMS = ['bcrypt', 'argon2id', 'pbkdf2-sha256', 'pbkdf2-sha512', 'scrypt'] as const;
export type ImportAlgorithm = (typeof IMPORT_ALGORITHMS)[number];

/** An imported hash as the import body gives it. */
export interface ImportedHash {
  algorithm: string;
  hash: string;
  salt?: string;
  iterations?: number;
  /** scrypt's r (default 8). */
  block_size?: number;
  /** scrypt's p (default 1). */
  parallelism?: number;
}

/** A hash that cannot be imported: `field` names the part of password_hash that is wrong. */
export class HashFormatError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

// Bounds on the cost a sign-in will pay for one imported hash: above them one sign-in would take
// seconds or gigabytes (an operator's typo, or a hash crafted to stall the server).
const BCRYPT_MAX_COST = 15;
const PBKDF2_MAX_ITERATIONS = 5_000_000;
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;
const ARGON2_MAX_MEMORY_KIB = 256 * 1024;
const ARGON2_MAX_TIME = 20;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/** The PHC string; its parameters in any order (the argon2 package writes m, p, t). */
const ARGON2ID = /^\$argon2id\$v=19\$([a-z]=\d{1,7}(?:,[a-z]=\d{1,7}){2})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
const PBKDF2_STORED = /^\$pbkdf2-(sha256|sha512)\$i=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
const SCRYPT_STORED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function base64(field: string, value: unknown, minBytes: number): Buffer {
  if (typeof value !== 'string' || value.length === 0) throw new HashFormatError(field, 'is required: base64');
  // Standard or URL-safe base64, padded or not (Keycloak writes standard, some exports URL-safe).
  const standard = value.replace(/-/g, '+').replace(/_/g, '/');
  if (!BASE64.test(standard) || standard.length > 1024) throw new HashFormatError(field, 'must be base64');
  const bytes = Buffer.from(standard, 'base64');
  if (bytes.length < minBytes) throw new HashFormatError(field, `must decode to at least ${minBytes} bytes`);
  return bytes;
}

function wholeNumber(field: string, value: unknown, fallback: number | undefined, min: number, max: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new HashFormatError(field, `must be a whole number from ${min} to ${max}`);
  return value;
}

const KNOWN = new Set(['algorithm', 'hash', 'salt', 'iterations', 'block_size', 'parallelism']);

/**
 * Checks an imported hash and answers the string to store; a HashFormatError names the field
 * (`algorithm`, `hash`, `salt`, `iterations`…) otherwise. No hashing happens here: it is fast.
 */
export function storedFormOf(input: unknown): string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new HashFormatError('', 'must be an object {algorithm, hash, salt?, iterations?}');
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) if (!KNOWN.has(key)) throw new HashFormatError(key, `is not a known field (known: ${[...KNOWN].join(', ')})`);
  const algorithm = given.algorithm;
  if (typeof algorithm !== 'string' || !(IMPORT_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new HashFormatError('algorithm', `must be one of ${IMPORT_ALGORITHMS.join(', ')}`);
  }
  const hash = given.hash;
  if (typeof hash !== 'string' || hash.length === 0) throw new HashFormatError('hash', 'is required');
  if (hash.length > 2048) throw new HashFormatError('hash', 'must be at most 2048 characters');
  const onlyHash = (fields: string[]) => {
    for (const field of fields) if (given[field] !== undefined) throw new HashFormatError(field, `is part of the ${algorithm} hash string: leave it out`);
  };
  switch (algorithm as ImportAlgorithm) {
    case 'bcrypt': {
      onlyHash(['salt', 'iterations', 'block_size', 'parallelism']);
      const match = BCRYPT.exec(hash);
      if (!match) throw new HashFormatError('hash', 'must be a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost, then 53 characters of salt and hash');
      const cost = Number(match[1]);
      if (cost < 4 || cost > BCRYPT_MAX_COST) throw new HashFormatError('hash', `bcrypt cost must be from 4 to ${BCRYPT_MAX_COST}`);
      return hash;
    }
    case 'argon2id': {
      onlyHash(['salt', 'iterations', 'block_size', 'parallelism']);
      const match = ARGON2ID.exec(hash);
      const params = match ? Object.fromEntries(match[1]!.split(',').map((pair) => [pair[0], Number(pair.slice(2))])) : {};
      if (!match || params.m === undefined || params.t === undefined || params.p === undefined) {
        throw new HashFormatError('hash', 'must be an argon2id PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash (base64 without padding)');
      }
      if (params.m > ARGON2_MAX_MEMORY_KIB || params.t > ARGON2_MAX_TIME || params.t < 1 || params.p < 1 || params.m < 8 * params.p) {
        throw new HashFormatError('hash', `argon2id cost must be at most m=${ARGON2_MAX_MEMORY_KIB}, t=${ARGON2_MAX_TIME}`);
      }
      return hash;
    }
    case 'pbkdf2-sha256':
    case 'pbkdf2-sha512': {
      onlyHash(['block_size', 'parallelism']);
      const digest = base64('hash', hash, 16);
      const salt = base64('salt', given.salt, 1);
      const iterations = wholeNumber('iterations', given.iterations, undefined, 1, PBKDF2_MAX_ITERATIONS);
      if (digest.length > 128) throw new HashFormatError('hash', 'must decode to at most 128 bytes');
      return `$${algorithm}$i=${iterations}$${salt.toString('base64')}$${digest.toString('base64')}`;
    }
    case 'scrypt': {
      const digest = base64('hash', hash, 16);
      const salt = base64('salt', given.salt, 1);
      const n = wholeNumber('iterations', given.iterations, 16384, 2, 2 ** 24);
      if ((n & (n - 1)) !== 0) throw new HashFormatError('iterations', 'is scrypt N: must be a power of two');
      const r = wholeNumber('block_size', given.block_size, 8, 1, 64);
      const p = wholeNumber('parallelism', given.parallelism, 1, 1, 16);
      if (128 * n * r > SCRYPT_MAX_MEMORY / 2) throw new HashFormatError('iterations', `scrypt N × r needs more than ${SCRYPT_MAX_MEMORY / 2 ** 21} MiB`);
      if (digest.length > 128) throw new HashFormatError('hash', 'must decode to at most 128 bytes');
      return `$scrypt$ln=${Math.log2(n)},r=${r},p=${p}$${salt.toString('base64')}$${digest.toString('base64')}`;
    }
  }
}

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** Whether a stored hash is in one of the imported formats (not today's argon2id from this server). */
export function isForeignHash(stored: string): boolean {
  return !stored.startsWith('$argon2id$');
}

/**
 * Verifies a password against a stored hash of any format this server knows. An unknown or damaged
 * hash never verifies (false, no exception).
 */
export async function verifyAnyHash(stored: string, password: string): Promise<boolean> {
  try {
    if (stored.startsWith('$argon2')) return await argon2.verify(stored, password);
    if (BCRYPT.test(stored)) return await bcrypt.compare(password, stored);
    const pbkdf = PBKDF2_STORED.exec(stored);
    if (pbkdf) {
      const [, digest, iterations, salt, hash] = pbkdf;
      const expected = Buffer.from(hash!, 'base64');
      const derived = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(salt!, 'base64'), Number(iterations), expected.length, digest!);
      return timingSafeEqual(derived, expected);
    }
    const sc = SCRYPT_STORED.exec(stored);
    if (sc) {
      const [, ln, r, p, salt, hash] = sc;
      const expected = Buffer.from(hash!, 'base64');
      const derived = await scryptAsync(password, Buffer.from(salt!, 'base64'), expected.length, { N: 2 ** Number(ln), r: Number(r), p: Number(p), maxmem: SCRYPT_MAX_MEMORY });
      return timingSafeEqual(derived, expected);
    }
    return false;
  } catch {
    return false;
  }
}
