// The admin API's bodies and resources, described once as JSON Schema (TypeBox builds them, with their
// TypeScript types). The services take their known-field lists from the body schemas (fieldsOf), so
// what a body may hold and what the OpenAPI document (openapi.ts) says it may hold are one list; the
// checks of each field's value stay in the services, with their own messages.
import { type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import { EVENT_LOG_TYPES } from '../event-log.ts';

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
const Branding = Type.Object(
  { display_name: Nullable(Type.String({ maxLength: 200 })), logo_uri: Nullable(Type.String({ format: 'uri' })), primary_color: Nullable(Type.String()) },
  { additionalProperties: false },
);
const MfaPolicy = Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')]);
const IdTokenClaims = Type.Union([Type.Literal('scopes'), Type.Literal('strict')]);
const VerificationPolicy = Type.Union([Type.Literal('off'), Type.Literal('required')], { description: 'identity verification after sign-in (CONTRACT §8)' });
const ResourceServerGrant = Type.Object({ identifier: Type.String(), scopes_allowed: Strings }, { additionalProperties: false });

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
});

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
