// Reading the actions a lifecycle run answered. An action is plain data named after the hook API
// call that recorded it: api.user.setAttribute(k, v) → {type: 'user.setAttribute', key, value},
// api.form.requireFields([...]) → {type: 'form.requireFields', fields: [...]}, and so on. The engine
// validates actions against the event catalog; these readers stay defensive all the same, since
// what they return ends up in pages and in the database.
import { PROFILE_FIELD_NAME, PROFILE_FIELD_TYPES, RESERVED_PROFILE_FIELDS, type ProfileFieldType } from '../hooks/actions.ts';
import type { LifecycleOutcome } from '../hooks/lifecycle.ts';

type Action = LifecycleOutcome['actions'][number];

function ofType(outcome: LifecycleOutcome, type: string): Action[] {
  return outcome.actions.filter((action) => action && action.type === type);
}

function str(value: unknown, max = 500): string | null {
  return typeof value === 'string' && value.trim() && value.length <= max ? value.trim() : null;
}

function keyOf(action: Action): string | null {
  const key = str(action.key, 100) ?? str(action.name, 100);
  return key && /^[A-Za-z0-9_.:-]+$/.test(key) ? key : null;
}

/** Attributes and metadata set through api.user.setAttribute / api.user.setMetadata. */
export function userChanges(outcome: LifecycleOutcome): { attributes: Record<string, unknown>; metadata: Record<string, unknown> } {
  const attributes: Record<string, unknown> = {};
  const metadata: Record<string, unknown> = {};
  for (const action of ofType(outcome, 'user.setAttribute')) {
    const key = keyOf(action);
    if (key) attributes[key] = action.value ?? null;
  }
  for (const action of ofType(outcome, 'user.setMetadata')) {
    const key = keyOf(action);
    if (key) metadata[key] = action.value ?? null;
  }
  return { attributes, metadata };
}

export function hasChanges(changes: { attributes: Record<string, unknown>; metadata: Record<string, unknown> }): boolean {
  return Object.keys(changes.attributes).length > 0 || Object.keys(changes.metadata).length > 0;
}

export type FieldType = ProfileFieldType;

export interface ProfileField {
  name: string;
  label: string;
  type: FieldType;
  required: boolean;
}

export interface ProfileConsent {
  key: string;
  label: string;
  required: boolean;
}

/** Fields and consents asked for through api.form.requireFields / api.form.requireConsents. */
export function profilingRequest(outcome: LifecycleOutcome): { fields: ProfileField[]; consents: ProfileConsent[] } {
  const fields = new Map<string, ProfileField>();
  for (const action of ofType(outcome, 'form.requireFields')) {
    const list = Array.isArray(action.fields) ? action.fields : [];
    for (const raw of list.slice(0, 20)) {
      if (!raw || typeof raw !== 'object') continue;
      const item = raw as Record<string, unknown>;
      const name = str(item.name, 64);
      if (!name || !PROFILE_FIELD_NAME.test(name) || RESERVED_PROFILE_FIELDS.has(name)) continue;
      const type = (PROFILE_FIELD_TYPES as readonly string[]).includes(item.type as string) ? (item.type as FieldType) : 'text';
      fields.set(name, { name, label: str(item.label, 200) ?? name, type, required: item.required !== false });
    }
  }
  const consents = new Map<string, ProfileConsent>();
  for (const action of ofType(outcome, 'form.requireConsents')) {
    const list = Array.isArray(action.consents) ? action.consents : [];
    for (const raw of list.slice(0, 20)) {
      if (!raw || typeof raw !== 'object') continue;
      const item = raw as Record<string, unknown>;
      const key = str(item.key, 100);
      if (!key || !/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$/.test(key)) continue;
      consents.set(key, { key, label: str(item.label, 1000) ?? key, required: item.required === true });
    }
  }
  return { fields: [...fields.values()], consents: [...consents.values()] };
}

/** The message a hook chose for a failed login (api.error.setMessage). */
export function errorMessage(outcome: LifecycleOutcome): string | null {
  const last = ofType(outcome, 'error.setMessage').at(-1);
  return last ? str(last.message) : null;
}

/** Where a hook sends the user after a failed login (api.redirect); only absolute http(s) URLs. */
export function redirectTarget(outcome: LifecycleOutcome): string | null {
  const last = ofType(outcome, 'redirect').at(-1);
  const url = last ? str(last.url, 2000) : null;
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : null;
  } catch {
    return null;
  }
}

/** api.password.accept() / api.password.reject(msg) for a migrated user's first password. */
export function passwordDecision(outcome: LifecycleOutcome): { accepted: boolean; message: string | null } | null {
  const last = outcome.actions.filter((a) => a && (a.type === 'password.accept' || a.type === 'password.reject')).at(-1);
  if (!last) return null;
  return { accepted: last.type === 'password.accept', message: str(last.message) };
}

/** The decision of after_identification: the last api.mfa.require() / api.mfa.skip() wins. */
export function mfaHookDecision(actions: Array<{ type: string }>): 'require' | 'skip' | undefined {
  const last = actions.filter((a) => a && (a.type === 'mfa.require' || a.type === 'mfa.skip')).at(-1);
  return last ? (last.type === 'mfa.require' ? 'require' : 'skip') : undefined;
}

/** api.migration.createUser({...}): the user to create from a legacy system. */
export function migrationUser(outcome: LifecycleOutcome): Record<string, unknown> | null {
  const last = ofType(outcome, 'migration.createUser').at(-1);
  const user = last && typeof last.user === 'object' && last.user !== null ? (last.user as Record<string, unknown>) : null;
  if (!user || typeof user.email !== 'string') return null;
  const allowed = ['email', 'username', 'given_name', 'family_name', 'phone_number', 'email_verified', 'attributes', 'metadata'];
  return Object.fromEntries(Object.entries(user).filter(([k]) => allowed.includes(k)));
}
