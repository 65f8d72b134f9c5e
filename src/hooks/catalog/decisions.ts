// What the flows read from a lifecycle run: each event's `decide()` (events.ts) turns the validated
// actions of its hooks into a typed decision, so a flow reads `outcome.decision.mfa` rather than
// looking through actions itself. The actions were checked against catalog/actions.ts already;
// what is left here is the merge rule (the last call wins, keys merge) and the normalisation the
// pages rely on (trimmed texts, a default field type, a normalised URL).
import type { ActionOf, ActionType, Json, ProfileFieldType } from './actions.ts';

/** Validated actions of any type, as an event's hooks recorded them, in order. */
export type Actions = ReadonlyArray<ActionOf<ActionType>>;

function only<T extends ActionType>(actions: Actions, ...types: T[]): Array<ActionOf<T>> {
  return actions.filter((action) => (types as ActionType[]).includes(action.type)) as unknown as Array<ActionOf<T>>;
}

export interface UserChanges {
  attributes: Record<string, Json>;
  metadata: Record<string, Json>;
}

export interface ProfileField {
  name: string;
  label: string;
  type: ProfileFieldType;
  required: boolean;
}

export interface ProfileConsent {
  key: string;
  label: string;
  required: boolean;
}

/** api.form.reject(field, message): the step just submitted is shown again with the message by that field. */
export interface ProfileRejection {
  field: string;
  message: string;
}

interface ProfilingRequest {
  fields: ProfileField[];
  consents: ProfileConsent[];
  rejections: ProfileRejection[];
}

function trimmed(value: string | null | undefined): string | null {
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/** api.user.setAttribute / api.user.setMetadata, merged key by key (the last value wins). */
export function userChanges(all: Actions): UserChanges {
  const actions = only(all, 'user.setAttribute', 'user.setMetadata');
  const changes: UserChanges = { attributes: {}, metadata: {} };
  for (const action of actions) {
    const target = action.type === 'user.setAttribute' ? changes.attributes : changes.metadata;
    target[action.key] = action.value ?? null;
  }
  return changes;
}

export function hasChanges(changes: UserChanges): boolean {
  return Object.keys(changes.attributes).length > 0 || Object.keys(changes.metadata).length > 0;
}

/**
 * api.form.requireFields / api.form.requireConsents: one field or consent per name, in first-asked
 * order; api.form.reject: one message per field (the last one wins).
 */
export function profilingRequest(all: Actions): ProfilingRequest {
  const actions = only(all, 'form.requireFields', 'form.requireConsents', 'form.reject');
  const fields = new Map<string, ProfileField>();
  const consents = new Map<string, ProfileConsent>();
  const rejections = new Map<string, string>();
  for (const action of actions) {
    if (action.type === 'form.reject') {
      rejections.set(action.field, trimmed(action.message) ?? action.message);
    } else if (action.type === 'form.requireFields') {
      for (const item of action.fields) {
        fields.set(item.name, { name: item.name, label: trimmed(item.label) ?? item.name, type: item.type ?? 'text', required: item.required !== false });
      }
    } else {
      for (const item of action.consents) {
        consents.set(item.key, { key: item.key, label: trimmed(item.label) ?? item.key, required: item.required === true });
      }
    }
  }
  return { fields: [...fields.values()], consents: [...consents.values()], rejections: [...rejections].map(([field, message]) => ({ field, message })) };
}

/** api.error.setMessage (the last one) and api.redirect (the last one, as a normalised http(s) URL). */
export function failureHandling(all: Actions): { message: string | null; redirect: string | null } {
  const actions = only(all, 'error.setMessage', 'redirect');
  let message: string | null = null;
  let redirect: string | null = null;
  let messageSet = false;
  let redirectSet = false;
  for (let i = actions.length - 1; i >= 0 && !(messageSet && redirectSet); i--) {
    const action = actions[i]!;
    if (action.type === 'error.setMessage' && !messageSet) {
      messageSet = true;
      message = trimmed(action.message);
    } else if (action.type === 'redirect' && !redirectSet) {
      redirectSet = true;
      const url = trimmed(action.url);
      const parsed = url === null ? null : URL.parse(url);
      redirect = parsed && (parsed.protocol === 'https:' || parsed.protocol === 'http:') ? parsed.toString() : null;
    }
  }
  return { message, redirect };
}

/** api.mfa.require() / api.mfa.skip(): the last call wins. */
export function mfaDecision(all: Actions): 'require' | 'skip' | undefined {
  const actions = only(all, 'mfa.require', 'mfa.skip');
  const last = actions.at(-1);
  return last === undefined ? undefined : last.type === 'mfa.require' ? 'require' : 'skip';
}

/** api.password.accept() / api.password.reject(msg): the last call wins; null when no hook decided. */
export function passwordDecision(all: Actions): { accepted: boolean; message: string | null } | null {
  const actions = only(all, 'password.accept', 'password.reject');
  const last = actions.at(-1);
  if (last === undefined) return null;
  return last.type === 'password.accept' ? { accepted: true, message: null } : { accepted: false, message: trimmed(last.message) };
}

const MIGRATION_FIELDS = ['email', 'username', 'given_name', 'family_name', 'phone_number', 'email_verified', 'attributes', 'metadata'];

/** api.migration.createUser({...}) (the last one): the user to create from a legacy system, known fields only. */
export function migrationUser(all: Actions): ({ email: string } & Record<string, Json>) | null {
  const actions = only(all, 'migration.createUser');
  const user = actions.at(-1)?.user;
  if (!user || typeof user.email !== 'string') return null;
  return Object.fromEntries(Object.entries(user).filter(([key]) => MIGRATION_FIELDS.includes(key))) as { email: string } & Record<string, Json>;
}

/** api.idToken.setClaim / api.accessToken.setClaim, merged per token (the last value of a claim wins). */
export function tokenClaims(all: Actions): { idTokenClaims: Record<string, Json>; accessTokenClaims: Record<string, Json> } {
  const actions = only(all, 'idToken.setClaim', 'accessToken.setClaim');
  const idTokenClaims: Record<string, Json> = {};
  const accessTokenClaims: Record<string, Json> = {};
  for (const action of actions) (action.type === 'idToken.setClaim' ? idTokenClaims : accessTokenClaims)[action.key] = action.value;
  return { idTokenClaims, accessTokenClaims };
}

/** api.identityVerification.require() (after_identification, after_login, before_registration): any call asks for it. */
export function verificationRequired(all: Actions): boolean {
  return only(all, 'identityVerification.require').length > 0;
}

/** before_identity_verification: api.identityVerification.skip() and useProvider(id), the last call of each wins. */
export function verificationChoice(all: Actions): { skip: boolean; providerId: string | null } {
  const actions = only(all, 'identityVerification.skip', 'identityVerification.useProvider');
  const skip = actions.some((action) => action.type === 'identityVerification.skip');
  const chosen = actions.filter((action) => action.type === 'identityVerification.useProvider').at(-1);
  return { skip, providerId: chosen && chosen.type === 'identityVerification.useProvider' ? chosen.id : null };
}
