// The hook event catalog, as data: for each event, when it fires, whether a hook may run sync, the
// actions a sync hook may take, its payload (a TypeScript type for the flows, a type text for hook
// authors), a sample, and its decision (what the flows read). The runner, GET /admin/api/events,
// hooks/types.d.ts and docs/hooks.md all come from here.
import type { ActionOf, ActionType, Json } from './actions.ts';
import { failureHandling, migrationUser, mfaDecision, passwordDecision, profilingRequest, tokenClaims, userChanges, verificationChoice, verificationRequired, type Actions } from './decisions.ts';

/** The user as hooks see it (the flows send identity's User, which has these fields and a few more). */
export interface HookUser {
  id: string;
  email: string;
  username: string | null;
  given_name: string | null;
  family_name: string | null;
  phone_number: string | null;
  email_verified: boolean;
  phone_number_verified: boolean;
  status: 'active' | 'pending' | 'disabled';
  attributes: unknown;
  metadata: unknown;
  login_count: number;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A registration's user before it exists. */
export interface NewHookUser {
  email: string;
  username?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  phone_number?: string | null;
  attributes: Record<string, Json>;
  metadata: Record<string, Json>;
}

/** An upstream identity provider, as hooks see it. */
export interface HookProvider {
  id: string;
  name: string;
  preset: string | null;
}

/** An identity at an upstream provider, its claims mapped onto our fields (src/providers/). */
export interface HookExternalIdentity {
  provider: HookProvider;
  subject: string;
  email: string | null;
  email_verified: boolean;
  profile: Record<string, Json>;
}

/** Every mail and text Tessera sends, by what it is for (before_message_send's `message.type`). */
export const MESSAGE_TYPES = [
  'activation',
  'activation.resend',
  'registration_exists',
  'password_reset',
  'username',
  'mfa_code',
  'invitation',
  'email_change',
  'email_changed',
  'external_link',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** A message about to go out, as before_message_send sees it. */
export interface HookMessage {
  type: MessageType;
  channel: 'email' | 'sms';
  to: string;
  /** The link the message carries (activation, reset, sign-in), if any. */
  link: string | null;
  /** The one-time code it carries (mfa_code), if any. */
  code: string | null;
  /** When the link or code stops working (ISO 8601); null when it carries neither. */
  expires_at: string | null;
  locale: string | null;
}

/** The browser a sign-in comes from (the device cookie): `new` when the user never signed in from it. */
export interface HookDevice {
  id: string;
  new: boolean;
}

/** A sign-in's threat signals (CONTRACT §9); `travel` describes an impossible travel. */
export interface HookRisk {
  new_device: boolean;
  impossible_travel: boolean;
  breached_password: boolean;
  travel: {
    from: { country: string; city: string | null; at: string };
    to: { country: string; city: string | null };
    distance_km: number;
    hours: number;
    speed_kmh: number;
  } | null;
}

type FailureReason = 'invalid_credentials' | 'throttled' | 'denied' | 'not_activated' | 'disabled' | 'locked' | 'registration_failed';

/** What each lifecycle point sends: `lifecycle.run(event, payload)` takes exactly this. */
export interface EventPayloads {
  /** `invited`: the user is accepting an invitation (POST /admin/api/invitations). */
  before_registration: { user: NewHookUser; invited: boolean };
  /** An address already registered gets the submitted user (NewUser), so the hook cannot tell. */
  before_progressive_profiling: {
    user: HookUser | NewHookUser;
    flow: 'registration' | 'login';
    consents: Record<string, boolean>;
    /** 0 on the first run; then the number of the profiling step just submitted (1, 2, …). */
    step: number;
    /** What was typed in that step, by field name ({} on the first run). */
    answers: Record<string, Json>;
  };
  after_registration: { user: HookUser; invited: boolean };
  after_account_activation: { user: HookUser };
  after_identification: { user: HookUser; identifier: string };
  /** `external`: the identity of an upstream sign-in that matches no user (null in the password flow). */
  at_failed_identification: { user: null; identifier: string; external: HookExternalIdentity | null };
  before_password_validation: { user: HookUser; password: string };
  at_failed_authentication: { user: HookUser | null; identifier: string | null; reason: FailureReason; flow: 'login' | 'registration' };
  before_mfa_send: { user: HookUser; channel: 'email' | 'sms'; to: string };
  after_mfa_send: { user: HookUser; channel: 'email' | 'sms' | 'totp' | 'passkey' | 'recovery_code' };
  after_mfa_change: { user: HookUser; change: 'enrolled' | 'removed'; factor: { id: string; type: string } };
  before_password_reset: { user: HookUser };
  after_password_reset: { user: HookUser };
  after_username_request: { user: HookUser };
  after_login: { user: HookUser; device: HookDevice; risk: HookRisk };
  after_external_login: { user: HookUser; provider: HookProvider; profile: Record<string, Json>; is_new: boolean };
  before_identity_verification: { user: HookUser; providers: HookProvider[]; reason: 'application' | 'hook' };
  after_identity_verification: { user: HookUser; verification: { provider: HookProvider; status: 'verified' | 'failed'; verified_claims: Json | null } };
  before_id_token: { user: HookUser; scopes: string[]; grant_type: 'authorization_code' | 'refresh_token'; claims: Record<string, unknown> };
  after_consent_update: { user: HookUser; consents: Record<string, boolean>; changed: string[] };
  after_account_disabled: { user: HookUser };
  after_account_deleted: { user: HookUser };
  before_message_send: { user: HookUser | null; message: HookMessage };
}

interface EventDefinition<E extends keyof EventPayloads, A extends ActionType, D> {
  name: E;
  fires: string;
  /** false: the event happens after the journey can still change, so hooks run async only. */
  sync: boolean;
  /** The actions a sync hook may take. */
  actions: readonly A[];
  /** The payload's fields as TypeScript types for hook authors (one per payload field). */
  fields: { readonly [K in keyof EventPayloads[E]]-?: string };
  sample: EventPayloads[E];
  /** What a hook author must know beyond `fires` (shown in docs/hooks.md). */
  note?: string;
  /**
   * What a sync hook's api.deny (or an on_error "fail" failure) stops, and where its message is
   * shown; null when the event has no api.deny (docs/hooks.md). On an after_* change event it is
   * what stays undone (hooks/change.ts).
   */
  refusal: string | null;
  /** The hooks' validated actions (only those `actions` allows), read into what the flow applies. */
  decide(actions: ReadonlyArray<ActionOf<A>>): D;
}

function event<E extends keyof EventPayloads, const A extends ActionType, D>(definition: EventDefinition<E, A, D>): EventDefinition<E, A, D> {
  return definition;
}

const sampleUser: HookUser = {
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

const newUser: NewHookUser = { email: 'ada@example.com', given_name: 'Ada', family_name: 'Lovelace', attributes: {}, metadata: {} };
const nothing = (): Record<never, never> => ({});
const changes = (actions: Actions) => ({ changes: userChanges(actions) });

// The identify step's answer must not tell whether an account exists, by its content or its time.
const IDENTIFY_TIMING =
  'The identify answer waits until one floor, learned from the recent times of both ' +
  '`after_identification` (an account) and `at_failed_identification` (no account) in the same application, ' +
  'so that its time does not tell which ran: a slow sync hook on either event slows both answers.';

const DEFINITIONS = {
  before_registration: event({
    name: 'before_registration',
    fires: 'the registration form was submitted, before the user exists (or an invited user accepts the invitation: invited is true)',
    sync: true,
    actions: ['deny', 'user.setAttribute', 'user.setMetadata', 'identityVerification.require'],
    fields: { user: 'NewUser', invited: 'boolean' },
    sample: { user: newUser, invited: false },
    refusal: 'The account is not created and no mail goes out; the registration page (or the invitation page) shows the message.',
    decide: (actions) => ({ ...changes(actions), verificationRequired: verificationRequired(actions) }),
  }),
  before_progressive_profiling: event({
    name: 'before_progressive_profiling',
    fires:
      'after the first registration step (flow "registration"), before the account exists, and after authentication before login completes (flow "login"); ' +
      'then again after each profiling step the user submits',
    sync: true,
    actions: ['form.requireFields', 'form.requireConsents', 'form.reject'],
    fields: {
      user: 'User | NewUser',
      flow: '"registration" | "login"',
      consents: 'Record<string, boolean>',
      step: 'number',
      answers: 'Record<string, string | number | boolean>',
    },
    sample: { user: sampleUser, flow: 'login', consents: { marketing: false }, step: 1, answers: { customer_number: 'C-1042' } },
    refusal: null,
    note:
      'Profiling has stages. The first run has `step: 0` and `answers: {}`; whatever it asks for is one page. After the user submits it, the hook runs ' +
      "again with `step` (1, 2, …) and `answers` (that page's fields by name: text as typed, `number` fields as numbers, checkboxes as booleans; " +
      'consents given are in `consents`). `api.form.reject(field, message)` shows the same page again, the typed values kept, with the message ' +
      "next to that field (a name not on the page: at the top) and nothing saved. Otherwise the page's answers are kept and whatever the hook " +
      'asks for now is the next page; a field or consent already asked in an earlier page of the same profiling is not asked again, so asking ' +
      'for nothing new ends the profiling (at most 10 pages). At sign-up (`flow: "registration"`) the account does not exist until the last ' +
      'page passes: `user` is the submitted user with the answers so far, and the account, its consents and the activation mail come after the ' +
      "last page (a taken address goes through the same pages; its owner is mailed at the end). At login each page's answers are saved when the hook accepts it.",
    decide: (actions) => ({ profiling: profilingRequest(actions) }),
  }),
  after_registration: event({
    name: 'after_registration',
    fires: 'the user was created (or an invited user accepted the invitation: invited is true)',
    sync: true,
    actions: ['user.setMetadata'],
    fields: { user: 'User', invited: 'boolean' },
    sample: { user: { ...sampleUser, email_verified: false, status: 'pending', login_count: 0 }, invited: false },
    refusal: null,
    decide: changes,
  }),
  after_account_activation: event({
    name: 'after_account_activation',
    fires: 'the activation link was opened and the email verified',
    sync: true,
    actions: ['deny', 'user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User' },
    sample: { user: sampleUser },
    refusal: 'The link stays unused and the account stays as it was (pending, address not verified); the activation page shows the message.',
    decide: changes,
  }),
  after_identification: event({
    name: 'after_identification',
    fires: 'an identifier matched a user, before any factor',
    sync: true,
    actions: ['deny', 'mfa.require', 'mfa.skip', 'identityVerification.require'],
    fields: { user: 'User', identifier: 'string' },
    sample: { user: sampleUser, identifier: 'ada@example.com' },
    note: `${IDENTIFY_TIMING} A denial's message is shown on the identify page, so it tells that the account exists: deny with a message that would fit an unknown identifier too.`,
    refusal: 'The sign-in stops before the password; the identify page shows the message.',
    decide: (actions) => ({ mfa: mfaDecision(actions), verificationRequired: verificationRequired(actions) }),
  }),
  at_failed_identification: event({
    name: 'at_failed_identification',
    fires: 'the identifier matches no user (lazy migration starts here), or an upstream identity provider signed in an identity that no user has (event.external)',
    sync: true,
    actions: ['migration.createUser', 'deny'],
    fields: { user: 'null', identifier: 'string', external: 'ExternalIdentity | null' },
    sample: { user: null, identifier: 'legacy@example.com', external: null },
    note:
      `${IDENTIFY_TIMING} For an external identity, \`api.migration.createUser\` creates the user it links to (instead of a self-service sign-up) ` +
      'and `api.deny(msg)` refuses the sign-in with that message; in the password flow a denial is ignored (it would tell that no account exists).',
    refusal: 'An external sign-in stops and a page shows the message (in the password flow a denial is ignored).',
    decide: (actions) => ({ migrationUser: migrationUser(actions) }),
  }),
  before_password_validation: event({
    name: 'before_password_validation',
    fires: 'a password was given for a user created by migration, which has no local password yet',
    sync: true,
    actions: ['password.accept', 'password.reject'],
    fields: { user: 'User', password: 'string' },
    sample: { user: { ...sampleUser, attributes: { legacy_id: '42' } }, password: '••••••••' },
    refusal: null,
    decide: (actions) => ({ password: passwordDecision(actions) }),
  }),
  at_failed_authentication: event({
    name: 'at_failed_authentication',
    fires: 'any failed login or registration',
    sync: true,
    actions: ['error.setMessage', 'redirect'],
    fields: {
      user: 'User | null',
      identifier: 'string | null',
      reason: '"invalid_credentials" | "throttled" | "denied" | "not_activated" | "disabled" | "locked" | "registration_failed"',
      flow: '"login" | "registration"',
    },
    sample: { user: null, identifier: 'ada@example.com', reason: 'invalid_credentials', flow: 'login' },
    refusal: null,
    decide: failureHandling,
  }),
  before_mfa_send: event({
    name: 'before_mfa_send',
    fires: 'before a one-time code goes out by email or SMS',
    sync: true,
    actions: ['deny'],
    fields: { user: 'User', channel: '"email" | "sms"', to: 'string' },
    sample: { user: sampleUser, channel: 'sms', to: '+15551234567' },
    refusal: 'No code is sent; the code page shows the message.',
    decide: nothing,
  }),
  after_mfa_send: event({
    name: 'after_mfa_send',
    fires: 'the second factor was verified (a one-time code, or a passkey)',
    sync: true,
    actions: ['user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User', channel: '"email" | "sms" | "totp" | "passkey" | "recovery_code"' },
    sample: { user: sampleUser, channel: 'sms' },
    note: 'The code was verified and is used up whatever the hook does; a sync hook makes the journey wait, and its enrich actions are saved before the next step.',
    refusal: null,
    decide: changes,
  }),
  after_mfa_change: event({
    name: 'after_mfa_change',
    fires: 'a factor was enrolled or removed',
    sync: true,
    actions: ['deny', 'user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User', change: '"enrolled" | "removed"', factor: '{ id: string, type: string }' },
    sample: { user: sampleUser, change: 'enrolled', factor: { id: 'f_1', type: 'totp' } },
    refusal: 'An enrolment: the factor stays unconfirmed and the code page shows the message (no recovery codes). A removal by the admin API: the factor stays, 409 `hook_denied` with the message.',
    decide: changes,
  }),
  before_password_reset: event({
    name: 'before_password_reset',
    fires: 'a reset was requested, before the mail goes out',
    sync: true,
    actions: ['deny'],
    fields: { user: 'User' },
    sample: { user: sampleUser },
    note:
      'It runs after the user has been answered: the forgot-password page answers at once, the same for every ' +
      'identifier, so neither its content nor its time tells whether an account exists. `api.deny(msg)` stops the ' +
      'link and the mail; its message is not shown to anyone (it would tell that the account exists) and is kept ' +
      'in the execution log. A server that stops between the answer and the mail loses that request: the user ' +
      'asks again.',
    refusal: 'No link and no mail; the message is shown to no one (see above) and kept in the execution log.',
    decide: nothing,
  }),
  after_password_reset: event({
    name: 'after_password_reset',
    fires: 'the new password was set',
    sync: true,
    actions: ['deny', 'user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User' },
    sample: { user: sampleUser },
    refusal: 'The link stays unused, the password unchanged and every session signed in; the reset page shows the message.',
    decide: changes,
  }),
  after_username_request: event({
    name: 'after_username_request',
    fires: 'the forgot-username mail went out',
    sync: true,
    actions: ['user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User' },
    sample: { user: sampleUser },
    note: 'A sync hook runs after the page has answered (the answer is the same, at once, for every address: it must not tell whether an account exists), once the mail is handed over; its enrich actions are saved.',
    refusal: null,
    decide: changes,
  }),
  after_login: event({
    name: 'after_login',
    fires: 'login completed, before the user returns to the application',
    sync: true,
    actions: ['deny', 'user.setMetadata', 'identityVerification.require'],
    fields: {
      user: 'User',
      device: '{ id: string, new: boolean }',
      risk: '{ new_device: boolean, impossible_travel: boolean, breached_password: boolean, travel: { from: { country: string, city: string | null, at: string }, to: { country: string, city: string | null }, distance_km: number, hours: number, speed_kmh: number } | null }',
    },
    sample: {
      user: sampleUser,
      device: { id: '9f2c4e1a7b3d5c6e8f0a1b2c3d4e5f60', new: false },
      risk: { new_device: false, impossible_travel: false, breached_password: false, travel: null },
    },
    note:
      '`device` is the browser, recognised by a long-lived device cookie; `new` when this user never signed in from it (the `user.login.new-device` webhook follows). ' +
      '`risk.impossible_travel`: this sign-in is further from the last located one than IMPOSSIBLE_TRAVEL_KMH allows in the time between them (needs a location database with coordinates; ' +
      '`user.login.suspicious` follows); `risk.breached_password`: the password is in the breached-password corpus (`user.password.breach`). A hook may deny, or require more, on any of them.',
    refusal: 'The login does not complete (no session, no code for the application); a page shows the message.',
    decide: (actions) => ({ ...changes(actions), verificationRequired: verificationRequired(actions) }),
  }),
  after_external_login: event({
    name: 'after_external_login',
    fires: 'an upstream identity provider signed the user in (also for the first sign-in that created or linked the user), before MFA, profiling and after_login',
    sync: true,
    actions: ['user.setAttribute', 'user.setMetadata', 'deny'],
    fields: { user: 'User', provider: 'Provider', profile: 'Record<string, Json>', is_new: 'boolean' },
    sample: {
      user: sampleUser,
      provider: { id: 'b3c1d2e4-0000-4000-8000-000000000001', name: 'Google', preset: 'google' },
      profile: { sub: '1234', email: 'ada@example.com', email_verified: true },
      is_new: false,
    },
    note: '`profile` holds the claims the provider sent (the ID token and the userinfo answer). A denial ends the sign-in with its message; nothing the hook set is kept then.',
    refusal: 'The sign-in does not complete; a page shows the message.',
    decide: changes,
  }),
  before_identity_verification: event({
    name: 'before_identity_verification',
    fires: 'the sign-in needs an identity verification (the application requires it, or a hook asked), before the user is sent to a verification provider',
    sync: true,
    actions: ['identityVerification.skip', 'identityVerification.useProvider', 'deny'],
    fields: { user: 'User', providers: 'Provider[]', reason: '"application" | "hook"' },
    sample: { user: sampleUser, providers: [{ id: 'b3c1d2e4-0000-4000-8000-000000000002', name: 'Verified ID', preset: null }], reason: 'application' },
    refusal: 'The sign-in does not complete; a page shows the message.',
    decide: (actions) => ({ verification: verificationChoice(actions) }),
  }),
  after_identity_verification: event({
    name: 'after_identity_verification',
    fires: 'the verification provider answered (OpenID Connect for Identity Assurance: verified_claims), before the result is stored',
    sync: true,
    actions: ['user.setAttribute', 'user.setMetadata', 'deny'],
    fields: { user: 'User', verification: '{ provider: Provider, status: "verified" | "failed", verified_claims: Json | null }' },
    sample: {
      user: sampleUser,
      verification: {
        provider: { id: 'b3c1d2e4-0000-4000-8000-000000000002', name: 'Verified ID', preset: null },
        status: 'verified',
        verified_claims: { verification: { trust_framework: 'eidas' }, claims: { given_name: 'Ada', family_name: 'Lovelace' } },
      },
    },
    note: 'A denial ends the sign-in with its message and stores nothing.',
    refusal: 'The sign-in does not complete and no result is stored; a page shows the message.',
    decide: changes,
  }),
  before_id_token: event({
    name: 'before_id_token',
    fires: 'before every ID token is issued (authorization code and refresh grants)',
    sync: true,
    actions: ['idToken.setClaim', 'accessToken.setClaim', 'user.setMetadata', 'deny'],
    fields: { user: 'User', scopes: 'string[]', grant_type: '"authorization_code" | "refresh_token"', claims: 'Record<string, Json>' },
    sample: { user: sampleUser, scopes: ['openid', 'email', 'roles'], grant_type: 'authorization_code', claims: { sub: sampleUser.id, email: sampleUser.email, roles: ['editor'] } },
    note:
      "`claims` includes `roles` (the user's roles for this application, own and through groups) and `groups` when those scopes are asked; setting a claim of the same name replaces it. " +
      '`api.user.setMetadata` is saved before the tokens are answered (a `user.update` follows), so an enrichment fetched at sign-in can be kept for the refreshes (the "enrich-at-login" template does).',
    refusal: 'No token is issued: the application gets an error answer (`access_denied` / `invalid_grant`).',
    decide: (actions) => ({ ...tokenClaims(actions), metadata: userChanges(actions).metadata }),
  }),
  after_consent_update: event({
    name: 'after_consent_update',
    fires: "the user's consents changed",
    sync: true,
    actions: ['deny', 'user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User', consents: 'Record<string, boolean>', changed: 'string[]' },
    sample: { user: sampleUser, consents: { marketing: true }, changed: ['marketing'] },
    refusal: 'The consents stay as they were; the page that changed them (progressive profiling) shows the message.',
    decide: changes,
  }),
  after_account_disabled: event({
    name: 'after_account_disabled',
    fires: 'an operator disabled the account',
    sync: true,
    actions: ['deny', 'user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User' },
    sample: { user: { ...sampleUser, status: 'disabled' } },
    refusal: 'The account stays enabled and signed in: the admin API answers 409 `hook_denied` with the message.',
    decide: changes,
  }),
  after_account_deleted: event({
    name: 'after_account_deleted',
    fires: 'an operator deleted the account',
    sync: true,
    actions: ['deny', 'user.setMetadata', 'user.setAttribute'],
    fields: { user: 'User' },
    sample: { user: sampleUser },
    note: 'A sync hook runs before the deletion commits; its enrich actions go into the `user` of the `user.delete` webhook event (the account itself is gone).',
    refusal: 'The account stays: the admin API answers 409 `hook_denied` with the message.',
    decide: changes,
  }),
  before_message_send: event({
    name: 'before_message_send',
    fires: 'before any mail or text goes out (activation, resend, "already registered", password reset, username, MFA code)',
    sync: true,
    actions: ['message.suppress', 'deny'],
    fields: {
      user: 'User | null',
      message:
        '{ type: "activation" | "activation.resend" | "registration_exists" | "password_reset" | "username" | "mfa_code" | "invitation" | "email_change" | "email_changed" | "external_link", channel: "email" | "sms", to: string, link: string | null, code: string | null, expires_at: string | null, locale: string | null }',
    },
    sample: {
      user: sampleUser,
      message: {
        type: 'password_reset',
        channel: 'email',
        to: 'ada@example.com',
        link: 'https://id.example.com/reset-password/3q2-7bQk',
        code: null,
        expires_at: '2026-11-22T10:00:00.000Z',
        locale: 'en',
      },
    },
    note:
      'Every mail and text goes through this event, in src/messaging/courier.ts. `api.message.suppress()` means the brand ' +
      'sends the message itself (with `event.message.link` or `code`): Tessera does not, and the page the user sees is ' +
      'the same. `api.deny(msg)` sends nothing at all; for an MFA code the message is shown on the code page, for the ' +
      'account mails (whose pages must not tell whether an account exists) it is kept in the execution log only. A hook ' +
      'that fails with on_error "fail" sends nothing; "continue" sends as if no hook had run. The password-reset and ' +
      'username mails run it after the page has answered.',
    refusal: 'Nothing is sent. An MFA code page shows the message; the account-mail pages (registration, reset, username) stay the same and the message goes to the execution log only.',
    decide: (actions) => ({ suppressed: actions.some((action) => action.type === 'message.suppress') }),
  }),
} as const satisfies { [E in keyof EventPayloads]: EventDefinition<E, ActionType, unknown> };

export type EventName = keyof typeof DEFINITIONS;
/** The actions an event's hooks may take. */
export type AllowedAction<E extends EventName> = (typeof DEFINITIONS)[E]['actions'][number];
/** What the flows read from a run of an event's hooks (outcome.decision). */
export type EventDecision<E extends EventName> = ReturnType<(typeof DEFINITIONS)[E]['decide']>;

/** An event as the generic consumers (runner, docs, admin API, CLI) read it. */
export interface EventSpec {
  name: EventName;
  fires: string;
  sync: boolean;
  actions: readonly ActionType[];
  fields: Readonly<Record<string, string>>;
  sample: Readonly<Record<string, unknown>>;
  note?: string;
  refusal: string | null;
  decide(actions: Actions): unknown;
}

/** Every event, in catalog order. */
export const EVENTS: readonly EventSpec[] = Object.values(DEFINITIONS) as readonly EventSpec[];

export function eventSpec(name: string): EventSpec | undefined {
  return Object.hasOwn(DEFINITIONS, name) ? (DEFINITIONS[name as EventName] as EventSpec) : undefined;
}

/** The decision of an event's validated actions (the runner's outcome.decision). */
export function decide<E extends EventName>(name: E, actions: Actions): EventDecision<E> {
  return (DEFINITIONS[name] as EventSpec).decide(actions) as EventDecision<E>;
}

/** The fields every event has, whatever its type. */
export const COMMON_FIELDS: Readonly<Record<string, string>> = {
  id: 'string  // stable across retries: use it to make side effects idempotent',
  type: 'EventName',
  hook: '{ id: string, name: string }',
  application: '{ client_id: string, name: string } | null',
  request:
    "{ ip: string | null, user_agent: string | null, locale: string | null, location: { country: string, region?: string, city?: string, latitude?: number, longitude?: number } | null }  // locale: the language the pages and mails of the request speak (en, fr, de or es: ui_locales, then Accept-Language, then the application's default_locale); location: from the offline database (GEOIP_DB); null when the address is not in it, and on before_id_token and admin API events",
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
    request: { ip: '203.0.113.7', user_agent: 'Mozilla/5.0', locale: 'en', location: { country: 'DE', region: 'BE', city: 'Berlin' } },
    secrets: {},
    created_at: '2026-11-22T09:00:00.000Z',
    ...spec.sample,
  };
}
