// Checks on JSON input that every service shares, whoever calls it (the admin API, KICKSTART): a
// JSON object with no NUL characters (PostgreSQL cannot store one in text), only known fields.
import { ValidationError } from './errors.ts';

export type JsonObject = Record<string, unknown>;

/** A JSON object whose strings hold no NUL character (PostgreSQL cannot store one in text). */
export function asObject(value: unknown, field: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(field, `must be a JSON object, not ${describe(value)}`);
  }
  refuseNul(value, '');
  return value as JsonObject;
}

const MAX_DEPTH = 32;

function refuseNul(value: unknown, path: string, depth = 0): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new ValidationError(path || 'body', 'must not contain NUL characters');
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_DEPTH) throw new ValidationError(path || 'body', `must not be nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) refuseNul(item, `${path}[${i}]`, depth + 1);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) throw new ValidationError(path || 'body', 'must not contain NUL characters in field names');
    refuseNul(item, path ? `${path}.${key}` : key, depth + 1);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Refuses fields a route does not know, so a typo is an error instead of a silent no-op.
 * Read-only fields get a message of their own.
 */
export function onlyFields(body: JsonObject, allowed: readonly string[], readOnly: readonly string[] = []): JsonObject {
  for (const key of Object.keys(body)) {
    if (allowed.includes(key)) continue;
    if (readOnly.includes(key)) throw new ValidationError(key, 'is read-only');
    throw new ValidationError(key, `is not a known field (known: ${allowed.join(', ')})`);
  }
  return body;
}
