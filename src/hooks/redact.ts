// A hook's event as the execution log keeps it, for a test run on a recorded event (the console's
// editor, GET /admin/api/hooks/:id/executions/:exec_id/event): passwords, secrets, tokens, one-time
// codes and the links that carry them are replaced by "[redacted]" before the event is written, so
// they are never at rest in the log nor answered. A walk that copies, then JSON.stringify's fast path
// (a replacer function costs more).

export const REDACTED = '[redacted]';
/** Keys whose values are never kept, at any depth (`password`, `client_secret`, `id_token`, `api_key`…). */
const SECRET_KEY = /secret|passw|token|credential|authori[sz]ation|cookie|api_?key|private_?key|^key$|_key$|assertion|code_verifier|session/i;
/** Keys that hold a one-time value outright: a message's `code` and `link` (an MFA code, a reset link). */
const ONE_TIME_KEY = /^(code|otp|pin|link)$/i;
/** Values that are tokens whatever their key: JWTs, bearer credentials. */
const TOKEN_VALUE = /^(eyJ[\w-]{5,}\.[\w-]{5,}\.|bearer\s|basic\s)/i;
/** A larger event is not kept (its run is still logged; it just cannot be replayed). */
export const MAX_EVENT_CHARS = 32 * 1024;
const MAX_DEPTH = 32;

/** Whether a key names a secret, by key: events repeat the same few dozen keys, and a look-up is cheaper than the patterns. */
const secretKeys = new Map<string, boolean>();
const MAX_CACHED_KEYS = 10_000;

function isSecretKey(key: string): boolean {
  let secret = secretKeys.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key) || ONE_TIME_KEY.test(key);
    if (secretKeys.size < MAX_CACHED_KEYS) secretKeys.set(key, secret);
  }
  return secret;
}

/** A copy of a JSON value with the secrets replaced. */
function clean(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return TOKEN_VALUE.test(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object') return value;
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return clean(json.call(value), depth);
  // Deeper than any event is: dropped rather than walked (JSON.stringify would refuse a cycle anyway).
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => clean(item, depth + 1));
  // No prototype: a key "__proto__" (a user's answer may have one) is a key like any other.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    // A flag such as has_password, or an absent value, says nothing secret.
    out[key] = item !== null && typeof item !== 'boolean' && isSecretKey(key) ? REDACTED : clean(item, depth + 1);
  }
  return out;
}

/** The event as JSON, redacted; null when it is larger than MAX_EVENT_CHARS. `secrets` and `hook` (the run's own) are left out. */
export function redactedEventJson(event: Record<string, unknown>): string | null {
  const { secrets: _secrets, hook: _hook, ...rest } = event;
  const json = JSON.stringify(clean(rest, 0));
  return json.length > MAX_EVENT_CHARS ? null : json;
}

/** The id of the user an event is about (`user.id`, else `user_id`), or null. */
export function userIdOf(data: Record<string, unknown>): string | null {
  const user = data.user as { id?: unknown } | null | undefined;
  if (user && typeof user === 'object' && typeof user.id === 'string') return user.id.slice(0, 60);
  return typeof data.user_id === 'string' ? data.user_id.slice(0, 60) : null;
}
