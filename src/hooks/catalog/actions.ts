// The actions a hook can record, each defined once: its signature (docs, types.d.ts, GET /events),
// its parameters in call order (the prelude's api object is generated from them, see
// sandbox/prelude/api-recorders.ts), the data it records, and its validator. An action is plain data
// named after the call that recorded it: api.user.setAttribute(k, v) → {type: 'user.setAttribute', key, value}.

/** JSON, as a hook's values arrive (copied out of the isolate as JSON text). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** What api.form.requireFields may ask for: the hosted page renders exactly these. */
const PROFILE_FIELD_TYPES = ['text', 'email', 'tel', 'number', 'date', 'checkbox'] as const;
export type ProfileFieldType = (typeof PROFILE_FIELD_TYPES)[number];
const FIELD_TYPES = new Set<string>(PROFILE_FIELD_TYPES);
const PROFILE_FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Names a hook cannot ask for: they belong to the page or to the account itself. */
const RESERVED_PROFILE_FIELDS = new Set(['csrf', 'password', 'email', 'identifier', 'id', 'status', 'source', 'email_verified', 'phone_number_verified']);

/** Claims a hook can never set: they identify the token, its issuer, audience and lifetime. */
export const PROTECTED_CLAIMS = new Set([
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'nonce',
  'azp',
  'auth_time',
  'acr',
  'amr',
  'at_hash',
  'c_hash',
  's_hash',
  'sid',
  'scope',
  'client_id',
  'cnf',
  'typ',
  'token_type',
  'email',
  'email_verified',
  'phone_number',
  'phone_number_verified',
]);

/** The data each action records (what the validator guarantees once it has passed). */
interface ActionArgs {
  deny: { message: string };
  'user.setAttribute': { key: string; value: Json };
  'user.setMetadata': { key: string; value: Json };
  'form.requireFields': { fields: Array<{ name: string; label: string; type?: ProfileFieldType; required?: boolean }> };
  'form.requireConsents': { consents: Array<{ key: string; label: string; required?: boolean }> };
  'form.reject': { field: string; message: string };
  'mfa.require': Record<never, never>;
  'mfa.skip': Record<never, never>;
  'migration.createUser': { user: { email: string; [key: string]: Json | undefined } };
  'password.accept': Record<never, never>;
  'password.reject': { message?: string | null };
  'error.setMessage': { message: string };
  redirect: { url: string };
  'idToken.setClaim': { key: string; value: Json };
  'accessToken.setClaim': { key: string; value: Json };
  'identityVerification.require': Record<never, never>;
  'identityVerification.skip': Record<never, never>;
  'identityVerification.useProvider': { id: string };
  'message.suppress': Record<never, never>;
}

interface ActionDefinition<A> {
  /** The call as hook authors see it (docs/hooks.md, hooks/types.d.ts, GET /events). */
  signature: string;
  /** The call's parameters in order: the recorder stores argument i under params[i]. */
  params: ReadonlyArray<keyof A & string>;
  /** The first problem with a recorded action's data, or null when it is well formed. */
  problem(action: Readonly<Record<string, unknown>>): string | null;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;
const MAX_VALUE_BYTES = 8192;

function jsonValue(value: unknown): boolean {
  try {
    return value !== undefined && JSON.stringify(value).length <= MAX_VALUE_BYTES;
  } catch {
    return false;
  }
}

function plainString(value: unknown, max = 500): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

function message(action: Readonly<Record<string, unknown>>): string | null {
  return plainString(action.message) ? null : 'message must be a non-empty string of at most 500 characters';
}

function keyValue(action: Readonly<Record<string, unknown>>): string | null {
  if (!plainString(action.key, 100) || !KEY.test(action.key)) return 'key must be a name of letters, digits, _ . : -';
  return jsonValue(action.value) ? null : 'value must be JSON (at most 8 KiB)';
}

function claim(action: Readonly<Record<string, unknown>>): string | null {
  if (plainString(action.key, 100) && KEY.test(action.key) && PROTECTED_CLAIMS.has(action.key)) {
    return `"${action.key}" is a protected claim and cannot be set by a hook`;
  }
  return keyValue(action);
}

const none = (): null => null;

// In the order of the api object hooks have always seen (api.deny, api.redirect, api.user, …).
export const ACTIONS = {
  deny: { signature: 'api.deny(message: string)', params: ['message'], problem: message },
  redirect: {
    signature: 'api.redirect(url: string)',
    params: ['url'],
    problem(action) {
      if (!plainString(action.url, 2000)) return 'url must be a string';
      try {
        const url = new URL(action.url);
        return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'url must be http(s)';
      } catch {
        return 'url must be an absolute URL';
      }
    },
  },
  'user.setAttribute': { signature: 'api.user.setAttribute(key: string, value: Json)', params: ['key', 'value'], problem: keyValue },
  'user.setMetadata': { signature: 'api.user.setMetadata(key: string, value: Json)', params: ['key', 'value'], problem: keyValue },
  'mfa.require': { signature: 'api.mfa.require()', params: [], problem: none },
  'mfa.skip': { signature: 'api.mfa.skip()', params: [], problem: none },
  'migration.createUser': {
    signature: 'api.migration.createUser(user: {email: string, username?: string, given_name?: string, family_name?: string, attributes?: object})',
    params: ['user'],
    problem(action) {
      const user = action.user as Record<string, unknown> | undefined;
      if (!user || typeof user !== 'object' || Array.isArray(user)) return 'user must be an object';
      if (!plainString(user.email, 320)) return 'user.email is required';
      return jsonValue(user) ? null : 'user must be JSON (at most 8 KiB)';
    },
  },
  'password.accept': { signature: 'api.password.accept()', params: [], problem: none },
  'password.reject': {
    signature: 'api.password.reject(message?: string)',
    params: ['message'],
    problem: (action) => (action.message === undefined || action.message === null || plainString(action.message) ? null : 'message must be a string of at most 500 characters'),
  },
  'error.setMessage': { signature: 'api.error.setMessage(message: string)', params: ['message'], problem: message },
  'form.requireFields': {
    signature: 'api.form.requireFields(fields: Array<{name: string, label: string, type?: "text"|"email"|"tel"|"number"|"date"|"checkbox", required?: boolean}>)',
    params: ['fields'],
    problem(action) {
      const fields = action.fields;
      if (!Array.isArray(fields) || fields.length === 0 || fields.length > 20) return 'fields must be an array of 1 to 20 fields';
      for (const field of fields as Array<Record<string, unknown>>) {
        if (!field || !plainString(field.name, 64) || !PROFILE_FIELD_NAME.test(field.name)) return 'each field needs a name of letters, digits and _';
        if (RESERVED_PROFILE_FIELDS.has(field.name)) return `field ${field.name} is reserved: the page or the account owns it`;
        if (!plainString(field.label, 200)) return `field ${String(field.name)} needs a label`;
        if (field.type !== undefined && !FIELD_TYPES.has(String(field.type))) return `field ${field.name}: type must be one of ${[...FIELD_TYPES].join(', ')}`;
      }
      return null;
    },
  },
  'form.requireConsents': {
    signature: 'api.form.requireConsents(consents: Array<{key: string, label: string, required?: boolean}>)',
    params: ['consents'],
    problem(action) {
      const consents = action.consents;
      if (!Array.isArray(consents) || consents.length === 0 || consents.length > 20) return 'consents must be an array of 1 to 20 consents';
      for (const consent of consents as Array<Record<string, unknown>>) {
        if (!consent || !plainString(consent.key, 100) || !KEY.test(consent.key)) return 'each consent needs a key';
        if (!plainString(consent.label, 500)) return `consent ${String(consent.key)} needs a label`;
      }
      return null;
    },
  },
  'form.reject': {
    signature: 'api.form.reject(field: string, message: string)',
    params: ['field', 'message'],
    problem(action) {
      if (!plainString(action.field, 100) || !KEY.test(action.field)) return 'field must be the name of a field (or the key of a consent) of the step';
      return message(action);
    },
  },
  'idToken.setClaim': { signature: 'api.idToken.setClaim(key: string, value: Json)', params: ['key', 'value'], problem: claim },
  'accessToken.setClaim': { signature: 'api.accessToken.setClaim(key: string, value: Json)', params: ['key', 'value'], problem: claim },
  'identityVerification.require': { signature: 'api.identityVerification.require()', params: [], problem: none },
  'identityVerification.skip': { signature: 'api.identityVerification.skip()', params: [], problem: none },
  'identityVerification.useProvider': {
    signature: 'api.identityVerification.useProvider(id: string)',
    params: ['id'],
    problem: (action) => (plainString(action.id, 36) ? null : 'id must be the id of an identity provider'),
  },
  'message.suppress': { signature: 'api.message.suppress()', params: [], problem: none },
} as const satisfies { [T in keyof ActionArgs]: ActionDefinition<ActionArgs[T]> };

export type ActionType = keyof typeof ACTIONS;

/** A validated action of one of the given types, as the runner hands it to the flows. */
export type ActionOf<T extends ActionType> = { [K in T]: { type: K } & ActionArgs[K] }[T];

/** An action as it comes out of the sandbox: named, not yet checked. */
export interface RecordedAction {
  type: string;
  [key: string]: unknown;
}

/** The recorder table the prelude's api object is generated from: [type, parameter names]. */
export function recorderTable(): Array<[ActionType, string[]]> {
  return (Object.keys(ACTIONS) as ActionType[]).map((type) => [type, [...ACTIONS[type].params]]);
}

/** "api.user.setAttribute(key: string, …)" → "api.user.setAttribute". */
function callName(type: ActionType): string {
  return ACTIONS[type].signature.split('(')[0]!;
}

/**
 * Checks recorded actions against the actions an event allows: the first problem (an unknown action,
 * one the event does not allow, malformed data), or null when every one is allowed and well formed.
 */
export function actionProblem(event: { name: string; actions: readonly ActionType[] }, actions: readonly RecordedAction[]): string | null {
  for (const action of actions) {
    if (!action || typeof action.type !== 'string' || !Object.hasOwn(ACTIONS, action.type)) return `unknown action ${JSON.stringify(action?.type)}`;
    const type = action.type as ActionType;
    if (!event.actions.includes(type)) return `${callName(type)} is not allowed in ${event.name}`;
    const problem = ACTIONS[type].problem(action);
    if (problem) return `${callName(type)}: ${problem}`;
  }
  return null;
}
