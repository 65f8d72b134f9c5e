// The hook event catalog, as data. For each event: when it fires, whether a hook may run sync, the
// actions a sync hook may take, the event's own fields, and a sample event. The admin API's
// GET /events, the runner's validation, hooks/types.d.ts and docs/hooks.md all come from here.
import type { LifecycleEvent } from './lifecycle.ts';

/** The actions a hook can record, with the shape of their arguments (checked by the runner). */
export const ACTIONS = {
  'deny': { signature: 'api.deny(message: string)', args: { message: 'string' } },
  'user.setAttribute': { signature: 'api.user.setAttribute(key: string, value: Json)', args: { key: 'string', value: 'json' } },
  'user.setMetadata': { signature: 'api.user.setMetadata(key: string, value: Json)', args: { key: 'string', value: 'json' } },
  'form.requireFields': { signature: 'api.form.requireFields(fields: Array<{name: string, label: string, type?: "text"|"email"|"tel"|"number"|"date"|"checkbox", required?: boolean}>)', args: { fields: 'fields' } },
  'form.requireConsents': { signature: 'api.form.requireConsents(consents: Array<{key: string, label: string, required?: boolean}>)', args: { consents: 'consents' } },
  'mfa.require': { signature: 'api.mfa.require()', args: {} },
  'mfa.skip': { signature: 'api.mfa.skip()', args: {} },
  'migration.createUser': { signature: 'api.migration.createUser(user: {email: string, username?: string, given_name?: string, family_name?: string, attributes?: object})', args: { user: 'object' } },
  'password.accept': { signature: 'api.password.accept()', args: {} },
  'password.reject': { signature: 'api.password.reject(message?: string)', args: { message: 'string?' } },
  'error.setMessage': { signature: 'api.error.setMessage(message: string)', args: { message: 'string' } },
  'redirect': { signature: 'api.redirect(url: string)', args: { url: 'url' } },
  'idToken.setClaim': { signature: 'api.idToken.setClaim(key: string, value: Json)', args: { key: 'string', value: 'json' } },
  'accessToken.setClaim': { signature: 'api.accessToken.setClaim(key: string, value: Json)', args: { key: 'string', value: 'json' } },
} as const;

export type ActionType = keyof typeof ACTIONS;

export interface EventSpec {
  name: LifecycleEvent;
  fires: string;
  /** false: the event happens after the journey can still change, so hooks run async only. */
  sync: boolean;
  actions: ActionType[];
  /** The event's own fields beyond the common ones, as TypeScript types for hook authors. */
  fields: Record<string, string>;
  sample: Record<string, unknown>;
  /** What a hook author must know beyond `fires` (shown in docs/hooks.md). */
  note?: string;
}

const sampleUser = {
  id: '6f1c2a9e-3b7d-4c1e-9a55-0c1d2e3f4a5b',
  email: 'ada@example.com',
  username: 'ada',
  given_name: 'Ada',
  family_name: 'Lovelace',
  phone_number: null,
  email_verified: true,
  phone_number_verified: false,
  status: 'active',
  attributes: { plan: 'pro' },
  metadata: {},
  login_count: 3,
  last_login_at: '2026-11-01T09:00:00.000Z',
  created_at: '2026-01-15T10:00:00.000Z',
  updated_at: '2026-11-01T09:00:00.000Z',
};

const newUser = { email: 'ada@example.com', given_name: 'Ada', family_name: 'Lovelace', attributes: {}, metadata: {} };

function spec(name: LifecycleEvent, fires: string, sync: boolean, actions: ActionType[], fields: Record<string, string>, own: Record<string, unknown>, note?: string): EventSpec {
  return { name, fires, sync, actions, fields, sample: own, ...(note ? { note } : {}) };
}

// The identify step's answer must not tell whether an account exists, by its content or its time.
const IDENTIFY_TIMING = 'The identify answer waits until one floor, learned from the recent times of both '
  + '`after_identification` (an account) and `at_failed_identification` (no account) in the same application, '
  + 'so that its time does not tell which ran: a slow sync hook on either event slows both answers.';

export const EVENTS: EventSpec[] = [
  spec('before_registration', 'the registration form was submitted, before the user exists', true,
    ['deny', 'user.setAttribute', 'user.setMetadata'],
    { user: 'NewUser' }, { user: newUser }),
  spec('before_progressive_profiling', 'after the first registration step (flow "registration") and after authentication before login completes (flow "login")', true,
    ['form.requireFields', 'form.requireConsents'],
    { user: 'User', flow: '"registration" | "login"', consents: 'Record<string, boolean>' }, { user: sampleUser, flow: 'login', consents: { marketing: false } }),
  spec('after_registration', 'the user was created', true,
    ['user.setMetadata'],
    { user: 'User' }, { user: { ...sampleUser, email_verified: false, status: 'pending', login_count: 0 } }),
  spec('after_account_activation', 'the activation link was opened and the email verified', false, [],
    { user: 'User' }, { user: sampleUser }),
  spec('after_identification', 'an identifier matched a user, before any factor', true,
    ['deny', 'mfa.require', 'mfa.skip'],
    { user: 'User', identifier: 'string' }, { user: sampleUser, identifier: 'ada@example.com' },
    `${IDENTIFY_TIMING} A denial's message is shown on the identify page, so it tells that the account exists: deny with a message that would fit an unknown identifier too.`),
  spec('at_failed_identification', 'the identifier matches no user (lazy migration starts here)', true,
    ['migration.createUser'],
    { user: 'null', identifier: 'string' }, { user: null, identifier: 'legacy@example.com' }, IDENTIFY_TIMING),
  spec('before_password_validation', 'a password was given for a user created by migration, which has no local password yet', true,
    ['password.accept', 'password.reject'],
    { user: 'User', password: 'string' }, { user: { ...sampleUser, attributes: { legacy_id: '42' } }, password: '••••••••' }),
  spec('at_failed_authentication', 'any failed login or registration', true,
    ['error.setMessage', 'redirect'],
    { user: 'User | null', identifier: 'string | null', reason: '"invalid_credentials" | "throttled" | "denied" | "not_activated" | "disabled" | "locked" | "registration_failed"' },
    { user: null, identifier: 'ada@example.com', reason: 'invalid_credentials' }),
  spec('before_mfa_send', 'before a one-time code goes out by email or SMS', true,
    ['deny'],
    { user: 'User', channel: '"email" | "sms"', to: 'string' }, { user: sampleUser, channel: 'sms', to: '+15551234567' }),
  spec('after_mfa_send', 'the one-time code was verified', false, [],
    { user: 'User', channel: '"email" | "sms" | "totp" | "recovery_code"' }, { user: sampleUser, channel: 'sms' }),
  spec('after_mfa_change', 'a factor was enrolled or removed', false, [],
    { user: 'User', change: '"enrolled" | "removed"', factor: '{ id: string, type: string }' },
    { user: sampleUser, change: 'enrolled', factor: { id: 'f_1', type: 'totp' } }),
  spec('before_password_reset', 'a reset was requested, before the mail goes out', true,
    ['deny'],
    { user: 'User' }, { user: sampleUser },
    'It runs after the user has been answered: the forgot-password page answers at once, the same for every '
    + 'identifier, so neither its content nor its time tells whether an account exists. `api.deny(msg)` stops the '
    + 'link and the mail; its message is not shown to anyone (it would tell that the account exists) and is kept '
    + 'in the execution log. A server that stops between the answer and the mail loses that request: the user '
    + 'asks again.'),
  spec('after_password_reset', 'the new password was set', false, [],
    { user: 'User' }, { user: sampleUser }),
  spec('after_username_request', 'the forgot-username mail went out', false, [],
    { user: 'User' }, { user: sampleUser }),
  spec('after_login', 'login completed, before the user returns to the application', true,
    ['deny', 'user.setMetadata'],
    { user: 'User' }, { user: sampleUser }),
  spec('after_external_login', 'login through an upstream identity provider completed', true,
    ['user.setAttribute'],
    { user: 'User', provider: 'string', profile: 'Record<string, Json>' }, { user: sampleUser, provider: 'google', profile: { sub: '1234' } }),
  spec('before_id_token', 'before every ID token is issued (authorization code and refresh grants)', true,
    ['idToken.setClaim', 'accessToken.setClaim', 'deny'],
    { user: 'User', scopes: 'string[]', grant_type: '"authorization_code" | "refresh_token"', claims: 'Record<string, Json>' },
    { user: sampleUser, scopes: ['openid', 'email'], grant_type: 'authorization_code', claims: { sub: sampleUser.id, email: sampleUser.email } }),
  spec('after_consent_update', "the user's consents changed", false, [],
    { user: 'User', consents: 'Record<string, boolean>', changed: 'string[]' }, { user: sampleUser, consents: { marketing: true }, changed: ['marketing'] }),
  spec('after_account_disabled', 'an operator disabled the account', false, [],
    { user: 'User' }, { user: { ...sampleUser, status: 'disabled' } }),
  spec('after_account_deleted', 'an operator deleted the account', false, [],
    { user: 'User' }, { user: sampleUser }),
];

export function eventSpec(name: string): EventSpec | undefined {
  return EVENTS.find((e) => e.name === name);
}

/** Claims a hook can never set: they identify the token, its issuer, audience and lifetime. */
export const PROTECTED_CLAIMS = new Set([
  'sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'azp', 'auth_time', 'acr', 'amr', 'at_hash', 'c_hash',
  's_hash', 'sid', 'scope', 'client_id', 'cnf', 'typ', 'token_type', 'email', 'email_verified', 'phone_number',
  'phone_number_verified',
]);

/** The fields every event has, whatever its type. */
export const COMMON_FIELDS: Record<string, string> = {
  id: 'string  // stable across retries: use it to make side effects idempotent',
  type: 'EventName',
  hook: '{ id: string, name: string }',
  application: '{ client_id: string, name: string } | null',
  request: '{ ip: string | null, user_agent: string | null, locale: string | null }',
  secrets: 'Record<string, string>',
  created_at: 'string',
};

/** A full sample event as a hook would receive it. */
export function sampleEvent(spec: EventSpec): Record<string, unknown> {
  return {
    id: 'evt_7d9f2c1a0b3e4d5f',
    type: spec.name,
    hook: { id: 'hook_sample', name: 'Sample hook' },
    application: { client_id: 'notes-web', name: 'Notes' },
    request: { ip: '203.0.113.7', user_agent: 'Mozilla/5.0', locale: 'en' },
    secrets: {},
    created_at: '2026-11-22T09:00:00.000Z',
    ...spec.sample,
  };
}
