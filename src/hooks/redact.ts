// A hook's event as the execution log keeps it, for a test run on a recorded event (the console's
// editor, GET /admin/api/hooks/:id/executions/:exec_id/event): passwords, secrets, tokens, one-time
// codes and the links that carry them are replaced by "[redacted]" before the event is written, so
// they are never at rest in the log nor answered. One JSON.stringify pass with a replacer.

export const REDACTED = '[redacted]';
/** Keys whose values are never kept, at any depth (`password`, `client_secret`, `id_token`, `api_key`…). */
const SECRET_KEY = /secret|passw|token|credential|authori[sz]ation|cookie|api_?key|private_?key|^key$|_key$|assertion|code_verifier|session/i;
/** Keys that hold a one-time value outright: a message's `code` and `link` (an MFA code, a reset link). */
const ONE_TIME_KEY = /^(code|otp|pin|link)$/i;
/** Values that are tokens whatever their key: JWTs, bearer credentials. */
const TOKEN_VALUE = /^(eyJ[\w-]{5,}\.[\w-]{5,}\.|bearer\s|basic\s)/i;
/** A larger event is not kept (its run is still logged; it just cannot be replayed). */
export const MAX_EVENT_CHARS = 32 * 1024;

function replacer(key: string, value: unknown): unknown {
  if (key === '') return value;
  // A flag such as has_password, or an absent value, says nothing secret.
  if (value === null || typeof value === 'boolean') return value;
  if (SECRET_KEY.test(key) || ONE_TIME_KEY.test(key)) return REDACTED;
  if (typeof value === 'string' && TOKEN_VALUE.test(value)) return REDACTED;
  return value;
}

/** The event as JSON, redacted; null when it is larger than MAX_EVENT_CHARS. `secrets` and `hook` (the run's own) are left out. */
export function redactedEventJson(event: Record<string, unknown>): string | null {
  const { secrets: _secrets, hook: _hook, ...rest } = event;
  const json = JSON.stringify(rest, replacer);
  return json.length > MAX_EVENT_CHARS ? null : json;
}

/** The id of the user an event is about (`user.id`, else `user_id`), or null. */
export function userIdOf(data: Record<string, unknown>): string | null {
  const user = data.user as { id?: unknown } | null | undefined;
  if (user && typeof user === 'object' && typeof user.id === 'string') return user.id.slice(0, 60);
  return typeof data.user_id === 'string' ? data.user_id.slice(0, 60) : null;
}
