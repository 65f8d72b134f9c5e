// Checks the actions a hook recorded against the catalog: an action the event does not allow, or
// one whose arguments are malformed, is an execution error and nothing of that run is applied.
import { ACTIONS, PROTECTED_CLAIMS, type ActionType, type EventSpec } from './catalog.ts';

export interface HookAction {
  type: string;
  [key: string]: unknown;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;
const MAX_VALUE_BYTES = 8192;
/** What api.form.requireFields may ask for: the hosted page renders exactly these. */
export const PROFILE_FIELD_TYPES = ['text', 'email', 'tel', 'number', 'date', 'checkbox'] as const;
export type ProfileFieldType = (typeof PROFILE_FIELD_TYPES)[number];
export const PROFILE_FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Names a hook cannot ask for: they belong to the page or to the account itself. */
export const RESERVED_PROFILE_FIELDS = new Set(['csrf', 'password', 'email', 'identifier', 'id', 'status', 'source', 'email_verified', 'phone_number_verified']);
const FIELD_TYPES = new Set<string>(PROFILE_FIELD_TYPES);

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

function checkArgs(type: ActionType, action: HookAction): string | null {
  switch (type) {
    case 'deny':
    case 'error.setMessage':
      return plainString(action.message) ? null : 'message must be a non-empty string of at most 500 characters';
    case 'password.reject':
      return action.message === undefined || action.message === null || plainString(action.message) ? null : 'message must be a string of at most 500 characters';
    case 'user.setAttribute':
    case 'user.setMetadata':
      if (!plainString(action.key, 100) || !KEY.test(action.key)) return 'key must be a name of letters, digits, _ . : -';
      return jsonValue(action.value) ? null : 'value must be JSON (at most 8 KiB)';
    case 'idToken.setClaim':
    case 'accessToken.setClaim':
      if (!plainString(action.key, 100) || !KEY.test(action.key)) return 'key must be a name of letters, digits, _ . : -';
      if (PROTECTED_CLAIMS.has(action.key)) return `"${action.key}" is a protected claim and cannot be set by a hook`;
      return jsonValue(action.value) ? null : 'value must be JSON (at most 8 KiB)';
    case 'redirect': {
      if (!plainString(action.url, 2000)) return 'url must be a string';
      try {
        const url = new URL(action.url);
        return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'url must be http(s)';
      } catch {
        return 'url must be an absolute URL';
      }
    }
    case 'migration.createUser': {
      const user = action.user as Record<string, unknown> | undefined;
      if (!user || typeof user !== 'object' || Array.isArray(user)) return 'user must be an object';
      if (!plainString(user.email, 320)) return 'user.email is required';
      return jsonValue(user) ? null : 'user must be JSON (at most 8 KiB)';
    }
    case 'form.requireFields': {
      const fields = action.fields;
      if (!Array.isArray(fields) || fields.length === 0 || fields.length > 20) return 'fields must be an array of 1 to 20 fields';
      for (const field of fields as Array<Record<string, unknown>>) {
        if (!field || !plainString(field.name, 64) || !PROFILE_FIELD_NAME.test(field.name)) return 'each field needs a name of letters, digits and _';
        if (RESERVED_PROFILE_FIELDS.has(field.name)) return `field ${field.name} is reserved: the page or the account owns it`;
        if (!plainString(field.label, 200)) return `field ${String(field.name)} needs a label`;
        if (field.type !== undefined && !FIELD_TYPES.has(String(field.type))) return `field ${field.name}: type must be one of ${[...FIELD_TYPES].join(', ')}`;
      }
      return null;
    }
    case 'form.requireConsents': {
      const consents = action.consents;
      if (!Array.isArray(consents) || consents.length === 0 || consents.length > 20) return 'consents must be an array of 1 to 20 consents';
      for (const consent of consents as Array<Record<string, unknown>>) {
        if (!consent || !plainString(consent.key, 100) || !KEY.test(consent.key)) return 'each consent needs a key';
        if (!plainString(consent.label, 500)) return `consent ${String(consent.key)} needs a label`;
      }
      return null;
    }
    case 'mfa.require':
    case 'mfa.skip':
    case 'password.accept':
      return null;
  }
}

/** Returns the first problem with the recorded actions, or null when every one is allowed and well formed. */
export function actionProblem(spec: EventSpec, actions: HookAction[]): string | null {
  for (const action of actions) {
    if (!action || typeof action.type !== 'string' || !(action.type in ACTIONS)) return `unknown action ${JSON.stringify(action?.type)}`;
    const type = action.type as ActionType;
    if (!spec.actions.includes(type)) return `${ACTIONS[type].signature.split('(')[0]} is not allowed in ${spec.name}`;
    const problem = checkArgs(type, action);
    if (problem) return `${ACTIONS[type].signature.split('(')[0]}: ${problem}`;
  }
  return null;
}
