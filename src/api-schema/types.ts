// The admin API's bodies and resources, described once as JSON Schema (TypeBox builds them, with their
// TypeScript types). The services take their known-field lists from the body schemas (fieldsOf), so
// what a body may hold and what the OpenAPI document (openapi.ts) says it may hold are one list; the
// checks of each field's value stay in the services, with their own messages.
import { type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import { EVENT_LOG_TYPES } from '../event-log.ts';
import { LOCALES } from '../i18n/locales.ts';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });
const Strings = Type.Array(Type.String());
/** A JSON object of any shape (attributes, metadata, a hook's event). */
const AnyObject = Type.Object({}, { additionalProperties: true });

/** A request body: every field optional (PATCH sends some), unknown fields refused, `required` for POST. */
function Body<T extends TProperties>(id: string, properties: T, required: string[] = []) {
  const schema = Type.Partial(Type.Object(properties), { $id: id, additionalProperties: false });
  if (required.length) (schema as { required?: string[] }).required = required;
  return schema;
}

/** A client error: `message` starts with the field it names (`email: must be…`). */
export const ErrorAnswer = Type.Object({ error: Type.String(), message: Type.String() }, { $id: 'Error', additionalProperties: true });

// Users (the field order is the order error messages list them in).
export const UserBody = Body('UserBody', {
  email: Type.String({ format: 'email', description: 'unique; canonicalised' }),
  password: Type.String({ writeOnly: true }),
  username: Nullable(Type.String()),
  given_name: Nullable(Type.String({ maxLength: 200 })),
  family_name: Nullable(Type.String({ maxLength: 200 })),
  phone_number: Nullable(Type.String()),
  phone_number_verified: Type.Boolean(),
  email_verified: Type.Boolean(),
  attributes: AnyObject,
  metadata: AnyObject,
});

/** An imported password hash (POST /users/import): the format of another system, rehashed with argon2id at the first sign-in. */
export const ImportedPasswordHash = Type.Object(
  {
    algorithm: Type.Union([Type.Literal('bcrypt'), Type.Literal('argon2id'), Type.Literal('pbkdf2-sha256'), Type.Literal('pbkdf2-sha512'), Type.Literal('scrypt')]),
    hash: Type.String({ description: 'bcrypt: the $2a$/$2b$/$2y$ string; argon2id: the PHC string; PBKDF2 (Keycloak) and scrypt: the base64 derived key' }),
    salt: Type.Optional(Type.String({ description: 'base64 (PBKDF2, scrypt)' })),
    iterations: Type.Optional(Type.Integer({ minimum: 1, description: 'PBKDF2: the iterations; scrypt: N (default 16384)' })),
    block_size: Type.Optional(Type.Integer({ minimum: 1, description: 'scrypt: r (default 8)' })),
    parallelism: Type.Optional(Type.Integer({ minimum: 1, description: 'scrypt: p (default 1)' })),
  },
  { additionalProperties: false, writeOnly: true },
);

/** POST /users/import: up to 10 000 users, all or none. */
export const UserImportBody = Body(
  'UserImportBody',
  { users: Type.Array(Type.Object({ ...UserBody.properties, password_hash: Type.Optional(ImportedPasswordHash) }, { additionalProperties: false }), { minItems: 1, maxItems: 10000 }) },
  ['users'],
);

export const UserImportAnswer = Type.Object(
  {
    created: Type.Integer({ minimum: 0 }),
    errors: Type.Array(Type.Object({ index: Type.Integer({ minimum: 0 }), field: Nullable(Type.String()), message: Type.String() })),
  },
  { $id: 'UserImportAnswer', additionalProperties: true },
);

export const User = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    username: Nullable(Type.String()),
    given_name: Nullable(Type.String()),
    family_name: Nullable(Type.String()),
    phone_number: Nullable(Type.String()),
    email_verified: Type.Boolean(),
    phone_number_verified: Type.Boolean(),
    status: Type.Union([Type.Literal('active'), Type.Literal('pending'), Type.Literal('disabled')]),
    source: Type.String(),
    has_password: Type.Boolean(),
    attributes: AnyObject,
    metadata: AnyObject,
    login_count: Type.Integer({ minimum: 0 }),
    last_login_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'User', additionalProperties: false },
);

// Applications (OIDC clients).
const HexColor = Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: '#rrggbb' });
const ThemeColors = Type.Object(
  { primary_color: Type.Optional(Nullable(HexColor)), background_color: Type.Optional(Nullable(HexColor)), text_color: Type.Optional(Nullable(HexColor)) },
  { additionalProperties: false },
);
const Branding = Type.Object(
  {
    display_name: Nullable(Type.String({ maxLength: 200 })),
    logo_uri: Nullable(Type.String({ format: 'uri', description: "https only (the pages' Content-Security-Policy admits images from https: and 'self')" })),
    primary_color: Nullable(HexColor),
    background_color: Type.Optional(Nullable(HexColor)),
    text_color: Type.Optional(Nullable(HexColor)),
    theme: Type.Optional(
      Nullable(
        Type.Object(
          { light: Type.Optional(Nullable(ThemeColors)), dark: Type.Optional(Nullable(ThemeColors)) },
          { additionalProperties: false, description: 'per colour scheme (prefers-color-scheme); wins over the flat colours' },
        ),
      ),
    ),
    font_stack: Type.Optional(Nullable(Type.String({ maxLength: 300, description: 'a CSS font-family list: family names and generic families, comma-separated; no url() or other CSS' }))),
    footer_text: Type.Optional(Nullable(Type.String({ maxLength: 200, description: 'plain text replacing the pages\' "Secured by Tessera" footer' }))),
  },
  { additionalProperties: false },
);
const MfaPolicy = Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')]);
const IdTokenClaims = Type.Union([Type.Literal('scopes'), Type.Literal('strict')]);
const VerificationPolicy = Type.Union([Type.Literal('off'), Type.Literal('required')], { description: 'identity verification after sign-in (CONTRACT §8)' });
const Sender = Type.Union([Type.Literal('tessera'), Type.Literal('brand')]);
const MessageDelivery = Type.Partial(
  Type.Object(
    { activation: Sender, 'activation.resend': Sender, password_reset: Sender, username: Sender, invitation: Sender, email_change: Sender },
    { additionalProperties: false, description: 'who sends each transactional message: "brand" leaves it to the message.* webhooks (activation also covers its resend)' },
  ),
);
const ResourceServerGrant = Type.Object({ identifier: Type.String(), scopes_allowed: Strings }, { additionalProperties: false });

const RoleDefinition = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,100}$' }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    default: Type.Optional(Type.Boolean({ description: 'given to every new registration that names no roles (self-service sign-up)' })),
  },
  { additionalProperties: false },
);
const RegistrationPolicy = Type.Union([Type.Literal('open'), Type.Literal('closed')], {
  description: 'closed: no self-service sign-up for this application (invitations and operators still register users)',
});

const DefaultLocale = Type.Union(
  LOCALES.map((locale) => Type.Literal(locale)),
  { description: 'the language of its hosted pages and mails when neither ui_locales nor Accept-Language names one Tessera speaks (default en)' },
);

export const ApplicationBody = Body('ApplicationBody', {
  name: Type.String(),
  redirect_uris: Strings,
  post_logout_redirect_uris: Strings,
  grant_types: Strings,
  token_endpoint_auth_method: Type.String(),
  client_id: Type.String({ description: 'chosen at creation only; generated when absent' }),
  client_secret: Type.String({ writeOnly: true }),
  third_party: Type.Boolean(),
  branding: Type.Partial(Branding),
  mfa: MfaPolicy,
  identity_verification: VerificationPolicy,
  remember_device_days: Type.Integer({ minimum: 0 }),
  initiate_login_uri: Nullable(Type.String({ format: 'uri' })),
  id_token_claims: IdTokenClaims,
  resource_servers: Type.Array(ResourceServerGrant),
  message_delivery: MessageDelivery,
  roles: Type.Array(RoleDefinition, { description: 'the roles this application declares; a role still held by a user or a group cannot be removed (409)' }),
  registration: RegistrationPolicy,
  default_locale: DefaultLocale,
});

/** POST /applications/:client_id/preview: an unsaved branding, merged over the saved one. */
export const PreviewBody = Body('PreviewBody', { branding: Type.Partial(Branding) });

export const Application = Type.Object(
  {
    client_id: Type.String(),
    name: Type.String(),
    redirect_uris: Strings,
    post_logout_redirect_uris: Strings,
    grant_types: Strings,
    token_endpoint_auth_method: Type.String(),
    third_party: Type.Boolean(),
    branding: Branding,
    mfa: MfaPolicy,
    identity_verification: VerificationPolicy,
    remember_device_days: Type.Integer({ minimum: 0 }),
    initiate_login_uri: Nullable(Type.String()),
    id_token_claims: IdTokenClaims,
    resource_servers: Type.Array(ResourceServerGrant),
    message_delivery: MessageDelivery,
    roles: Type.Array(RoleDefinition),
    registration: RegistrationPolicy,
    default_locale: DefaultLocale,
    client_secret: Type.Optional(Type.String({ description: 'only in the answer that creates or rotates it' })),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Application', additionalProperties: false },
);

// Hooks.
const HookMode = Type.Union([Type.Literal('sync'), Type.Literal('async')]);
const OnError = Type.Union([Type.Literal('fail'), Type.Literal('continue')]);
const SecretValues = Type.Record(Type.String(), Nullable(Type.String()), { description: 'write-only; null removes a secret' });

export const HookBody = Body('HookBody', {
  name: Type.String(),
  event: Type.String({ description: 'a lifecycle point of GET /events' }),
  mode: HookMode,
  code: Type.String({ description: 'an ES module whose default export is async (event, api)' }),
  applications: Nullable(Strings),
  enabled: Type.Boolean(),
  order: Type.Integer(),
  secrets: SecretValues,
  allowed_hosts: Strings,
  timeout_ms: Type.Integer({ minimum: 1, maximum: 10000 }),
  on_error: OnError,
});

/** POST /templates/:name/publish: a hook body without its code and event (the template's). */
export const PublishBody = Type.Omit(HookBody, ['code', 'event'], { $id: 'PublishBody', additionalProperties: false });

/** POST /hooks/test: code that is not saved, run on an event. */
export const HookDraftBody = Body('HookDraftBody', {
  event_type: Type.String(),
  event: AnyObject,
  code: Type.String(),
  mode: HookMode,
  secrets: Type.Record(Type.String(), Type.String()),
  allowed_hosts: Strings,
  timeout_ms: Type.Integer({ minimum: 1, maximum: 10000 }),
});

export const Hook = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    event: Type.String(),
    mode: HookMode,
    code: Type.String(),
    version: Type.Integer({ minimum: 1 }),
    applications: Nullable(Strings),
    enabled: Type.Boolean(),
    order: Type.Integer(),
    secrets: Type.Array(Type.String(), { description: 'names only: values never leave the server' }),
    allowed_hosts: Strings,
    timeout_ms: Type.Integer(),
    on_error: OnError,
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Hook', additionalProperties: true },
);

// Webhook endpoints.
export const WebhookBody = Body('WebhookBody', {
  url: Type.String({ format: 'uri' }),
  events: Strings,
  secret: Type.String({ writeOnly: true }),
  enabled: Type.Boolean(),
  description: Nullable(Type.String()),
  applications: Nullable(Strings),
  include_unscoped: Type.Boolean(),
  transactional: Type.Boolean({ description: 'changes behind its transactional events (those with a .complete twin) wait for its 2xx, and are refused (409 webhook_refused) otherwise' }),
});

export const Webhook = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Nullable(Type.String()),
    events: Strings,
    applications: Nullable(Strings),
    include_unscoped: Type.Boolean(),
    transactional: Type.Boolean(),
    enabled: Type.Boolean(),
    disabled_reason: Nullable(Type.String()),
    previous_secret_expires_at: Nullable(Timestamp),
    secret: Type.Optional(Type.String({ description: 'only in the answer that creates or rotates it' })),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Webhook', additionalProperties: false },
);

// Resource servers (APIs).
export const ResourceServerBody = Body('ResourceServerBody', { identifier: Type.String(), name: Type.String(), scopes: Strings, access_token_ttl: Nullable(Type.Integer({ minimum: 1 })) });

export const ResourceServer = Type.Object(
  { identifier: Type.String(), name: Type.String(), scopes: Strings, access_token_ttl: Nullable(Type.Integer()), created_at: Timestamp, updated_at: Timestamp },
  { $id: 'ResourceServer', additionalProperties: false },
);

// Invitations.
export const InvitationBody = Body(
  'InvitationBody',
  { email: Type.String({ format: 'email' }), application: Type.String({ description: 'a client_id' }), given_name: Nullable(Type.String()), family_name: Nullable(Type.String()), roles: Strings },
  ['email', 'application'],
);

export const Invitation = Type.Object(
  {
    id: Type.String(),
    user_id: Type.String(),
    email: Type.String(),
    application: Type.String(),
    roles: Strings,
    status: Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')]),
    expires_at: Timestamp,
    accepted_at: Nullable(Timestamp),
    created_at: Timestamp,
  },
  { $id: 'Invitation', additionalProperties: true },
);

// Registrations (a user with an application) and groups.
export const RegistrationBody = Body(
  'RegistrationBody',
  {
    application: Type.String({ description: 'a client_id; POST only' }),
    roles: Type.Array(Type.String(), { description: "names among the application's roles; PATCH replaces the list" }),
    verified: Type.Boolean(),
  },
  ['application'],
);

/** PATCH /users/:id/registrations/:client_id: the application cannot change. */
export const RegistrationPatchBody = Type.Omit(RegistrationBody, ['application'], { $id: 'RegistrationPatchBody', additionalProperties: false });

export const UserRegistration = Type.Object(
  { application: Type.String(), roles: Strings, verified: Type.Boolean(), verified_at: Nullable(Timestamp), created_at: Timestamp, updated_at: Timestamp },
  { $id: 'Registration', additionalProperties: false },
);

const GroupRoles = Type.Record(Type.String(), Strings, { description: '{client_id: [role]}: roles of each application that every member holds' });

const GroupFields = { name: Type.String({ maxLength: 200 }), description: Nullable(Type.String({ maxLength: 1000 })), roles: GroupRoles };
export const GroupBody = Body('GroupBody', GroupFields, ['name']);
/** PATCH /groups/:id: the fields given change. */
export const GroupPatchBody = Body('GroupPatchBody', GroupFields);

export const Group = Type.Object(
  { id: Type.String(), name: Type.String(), description: Nullable(Type.String()), roles: GroupRoles, member_count: Type.Optional(Type.Integer()), created_at: Timestamp, updated_at: Timestamp },
  { $id: 'Group', additionalProperties: false },
);

export const GroupMemberBody = Body('GroupMemberBody', { data: AnyObject });

export const GroupMember = Type.Object(
  { user_id: Type.String(), email: Type.Optional(Type.String()), data: AnyObject, created_at: Timestamp, updated_at: Timestamp },
  { $id: 'GroupMember', additionalProperties: false },
);

/** GET /users/:id/groups: a group one user is in, with the member's data. */
export const UserGroup = Type.Object({ id: Type.String(), name: Type.String(), data: AnyObject, joined_at: Timestamp }, { $id: 'UserGroup', additionalProperties: false });

// Hook versions, runs and test runs.
export const HookVersion = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    deployed: Type.Boolean({ description: 'the version journeys run' }),
    created_at: Timestamp,
    created_by: Type.String({ description: '"admin-key", "kickstart", or "console:<user id>"' }),
    deployed_at: Nullable(Timestamp),
    deployed_by: Nullable(Type.String()),
    code: Type.Optional(Type.String({ description: 'only when one version is asked for' })),
  },
  { $id: 'HookVersion', additionalProperties: false },
);

export const Execution = Type.Object(
  {
    id: Type.String(),
    hook_id: Type.String(),
    user_id: Nullable(Type.String()),
    has_event: Type.Boolean({ description: 'its event was kept (redacted): GET /hooks/{id}/executions/{execution_id}/event answers it' }),
    event: Type.String(),
    event_id: Type.String(),
    hook_version: Type.Integer({ minimum: 0 }),
    mode: HookMode,
    outcome: Type.String(),
    duration_ms: Type.Integer({ minimum: 0 }),
    logs: Strings,
    actions: Type.Array(AnyObject),
    error: Type.Optional(Type.String()),
    created_at: Timestamp,
  },
  { $id: 'Execution', additionalProperties: false },
);

export const ExecutionEvent = Type.Object(
  {
    execution_id: Type.String(),
    hook_id: Type.String(),
    event_type: Type.String(),
    redacted: Type.Literal('[redacted]', { description: 'what stands in for every password, secret, token, one-time code and link' }),
    event: AnyObject,
  },
  { $id: 'ExecutionEvent', additionalProperties: false },
);

export const TestRun = Type.Object(
  {
    version: Type.Integer({ minimum: 0, description: '0 for code that is not saved' }),
    outcome: Type.String(),
    actions: Type.Array(AnyObject),
    logs: Strings,
    duration_ms: Type.Number({ minimum: 0 }),
    error: Type.Optional(Type.String()),
    notice: Type.String(),
  },
  { $id: 'TestRun', additionalProperties: false },
);

// What the console's user page reads besides the user.
export const Consent = Type.Object({ key: Type.String(), granted: Type.Boolean(), updated_at: Timestamp }, { $id: 'Consent', additionalProperties: false });

export const WebhookEvent = Type.Object(
  { id: Type.String(), type: Type.String(), user_id: Nullable(Type.String()), data: AnyObject, created_at: Timestamp, dispatched_at: Nullable(Timestamp) },
  { $id: 'WebhookEvent', additionalProperties: false },
);

export const AuditEntry = Type.Object(
  {
    id: Type.String(),
    actor: Type.String({ description: '"admin-key", or "console:<user id>"' }),
    actor_role: Nullable(Type.String()),
    action: Type.String({ description: 'the route, e.g. "PATCH /users/:id"' }),
    target: Type.Object({ type: Type.String(), id: Nullable(Type.String()) }, { additionalProperties: false }),
    before: Type.Unknown({ description: 'the target before, secrets redacted' }),
    after: Type.Unknown(),
    status: Type.Integer(),
    address: Nullable(Type.String()),
    created_at: Timestamp,
  },
  { $id: 'AuditEntry', additionalProperties: false },
);

// Upstream identity providers (the answer; the body's fields are providers/store.ts's list).
const Url = Nullable(Type.String());
export const IdentityProvider = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    type: Type.Union([Type.Literal('oidc'), Type.Literal('oauth2')]),
    preset: Nullable(Type.String()),
    purpose: Type.Union([Type.Literal('login'), Type.Literal('verification')]),
    issuer: Url,
    authorization_endpoint: Url,
    token_endpoint: Url,
    userinfo_endpoint: Url,
    emails_endpoint: Url,
    client_id: Type.String(),
    scopes: Strings,
    claims: Type.Record(Type.String(), Type.String(), { description: 'our field → the provider claim (a dotted path)' }),
    linking: Type.Union([Type.Literal('verified_email'), Type.Literal('never')]),
    trusted_domains: Strings,
    applications: Nullable(Strings),
    enabled: Type.Boolean(),
    response_mode: Type.Union([Type.Literal('query'), Type.Literal('form_post')]),
    apple: Nullable(Type.Object({ team_id: Type.String(), key_id: Type.String() })),
    button: Type.Object({ label: Type.String(), color: Type.String(), text_color: Type.String() }),
    has_client_secret: Type.Boolean({ description: 'the secret itself is never answered' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'IdentityProvider', additionalProperties: false },
);

export const GrantedApplication = Type.Object(
  { client_id: Type.String(), name: Nullable(Type.String()), scope: Nullable(Type.String()), granted_at: Nullable(Timestamp) },
  { $id: 'GrantedApplication', additionalProperties: false },
);

/** The fields a body schema knows, in its order (for onlyFields). */
export function fieldsOf(schema: Pick<TObject, 'properties'>): string[] {
  return Object.keys(schema.properties);
}

/** An entry of the event log (GET /event-log): what the server itself reported. */
export const EventLogEntry = Type.Object(
  {
    id: Type.String(),
    type: Type.Union(EVENT_LOG_TYPES.map((t) => Type.Literal(t))),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'what the entry is about (ids, counts, the error); never a secret' }),
    created_at: Timestamp,
  },
  { $id: 'EventLogEntry', additionalProperties: false },
);
