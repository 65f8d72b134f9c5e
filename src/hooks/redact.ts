// A hook's event as the execution log keeps it, for a test run on a recorded event (the console's
// editor, GET /admin/api/hooks/:id/executions/:exec_id/event): passwords, secrets, tokens, one-time
// codes and the links that carry them are replaced by "[redacted]" before the event is written, so
// they are never at rest in the log nor answered; the same values are scrubbed from the run's logs,
// actions and error (a hook that logs event.password leaves "[redacted]" in the log). A walk that copies, then JSON.stringify's fast path
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

/** Redacted values shorter than this are not scrubbed from the run's logs (they would shred every line). */
const MIN_SCRUBBED_LENGTH = 4;

/** Adds the strings and numbers of a redacted value to `removed`, for scrubbing the run's logs. */
function collect(value: unknown, removed: Set<string>, depth: number): void {
  if (typeof value === 'string' || typeof value === 'number') {
    const text = String(value);
    if (text.length >= MIN_SCRUBBED_LENGTH) removed.add(text);
  } else if (value !== null && typeof value === 'object' && depth <= MAX_DEPTH) {
    for (const item of Object.values(value)) collect(item, removed, depth + 1);
  }
}

/** A copy of a JSON value with the secrets replaced; what was replaced goes into `removed`. */
function clean(value: unknown, depth: number, removed: Set<string>): unknown {
  if (typeof value === 'string') {
    if (!TOKEN_VALUE.test(value)) return value;
    collect(value, removed, depth);
    return REDACTED;
  }
  if (value === null || typeof value !== 'object') return value;
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return clean(json.call(value), depth, removed);
  // Deeper than any event is: dropped rather than walked (JSON.stringify would refuse a cycle anyway).
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => clean(item, depth + 1, removed));
  // No prototype: a key "__proto__" (a user's answer may have one) is a key like any other.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    // A flag such as has_password, or an absent value, says nothing secret.
    if (item !== null && typeof item !== 'boolean' && isSecretKey(key)) {
      collect(item, removed, depth + 1);
      out[key] = REDACTED;
    } else out[key] = clean(item, depth + 1, removed);
  }
  return out;
}

export interface RedactedEvent {
  /** The event as JSON, redacted; null when it is larger than MAX_EVENT_CHARS. */
  json: string | null;
  /** Replaces every redacted value in a text (a log line, an error) by "[redacted]". */
  scrub(text: string): string;
  /** scrub applied to every string of a JSON value (the run's actions), at any depth. */
  scrubValue(value: unknown): unknown;
  /** Whether anything was redacted (else scrub has nothing to do). */
  redacted: boolean;
}

/** The event redacted; `secrets` and `hook` (the run's own) are left out (the sandbox scrubs the secrets' values itself). */
export function redactEvent(event: Record<string, unknown>): RedactedEvent {
  const { secrets: _secrets, hook: _hook, ...rest } = event;
  const removed = new Set<string>();
  const json = JSON.stringify(clean(rest, 0, removed));
  // Longest first, so a value containing a shorter one goes whole.
  const values = [...removed].sort((a, b) => b.length - a.length);
  const scrub = (text: string) => values.reduce((line, value) => line.replaceAll(value, REDACTED), text);
  const scrubValue = (value: unknown, depth = 0): unknown => {
    if (typeof value === 'string') return scrub(value);
    if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
    if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value)) out[key] = scrubValue((value as Record<string, unknown>)[key], depth + 1);
    return out;
  };
  return { json: json.length > MAX_EVENT_CHARS ? null : json, redacted: values.length > 0, scrub, scrubValue };
}

/** The event as JSON, redacted (redactEvent's json). */
export function redactedEventJson(event: Record<string, unknown>): string | null {
  return redactEvent(event).json;
}

/** The id of the user an event is about (`user.id`, else `user_id`), or null. */
export function userIdOf(data: Record<string, unknown>): string | null {
  const user = data.user as { id?: unknown } | null | undefined;
  if (user && typeof user === 'object' && typeof user.id === 'string') return user.id.slice(0, 60);
  return typeof data.user_id === 'string' ? data.user_id.slice(0, 60) : null;
}
