// Standard Webhooks signing (https://www.standardwebhooks.com): each request carries webhook-id,
// webhook-timestamp (seconds) and webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256
// of `${id}.${timestamp}.${body}`>", keyed with the base64-decoded part of a `whsec_` secret. During a
// secret rotation the list holds the signature of the new secret and of the old one.
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new secret: whsec_ and 32 random bytes in base64. */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** What is wrong with a secret a caller chose, or null when it is usable. */
export function secretProblem(secret: unknown): string | null {
  if (typeof secret !== 'string') return 'must be a string';
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with ${SECRET_PREFIX}`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return `must be ${SECRET_PREFIX} followed by standard base64`;
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_KEY_BYTES || bytes > MAX_KEY_BYTES) return `must hold ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes of key (base64 after ${SECRET_PREFIX})`;
  return null;
}

/** The HMAC key of a whsec_ secret (a KeyObject: signing with it is several times cheaper than with bytes). */
export function secretKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64'));
}

/** One signature, "v1,<base64>". */
export function sign(key: KeyObject, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** The three Standard Webhooks headers; `keys` holds the current key first, then any still-valid old one. */
export function signatureHeaders(keys: KeyObject[], id: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': keys.map((key) => sign(key, id, timestamp, body)).join(' '),
  };
}
