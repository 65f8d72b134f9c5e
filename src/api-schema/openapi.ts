// The admin API as an OpenAPI 3.1 document: every route the admin router has (so none is missing),
// and, for the main resources, the body and answer schemas of types.ts, the ones the services take
// their known fields from. Served at GET /admin/api/openapi.json (src/admin/openapi.ts).
import type { TSchema } from '@sinclair/typebox';
import * as types from './types.ts';

interface Operation {
  summary: string;
  body?: TSchema;
  /** The answer on success: a schema, an array of it, or none (204). */
  answer?: TSchema | [TSchema];
  status?: number;
  /** Another success status with the same answer (PUT: 201 added, 200 changed). */
  alsoStatus?: number;
  /** The answer is an HTML page, not JSON. */
  html?: boolean;
  /** Query parameters, by name: their description. */
  query?: Record<string, string>;
}

const {
  EventLogEntry,
  User,
  UserBody,
  Application,
  ApplicationBody,
  Hook,
  HookBody,
  HookDraftBody,
  PublishBody,
  Webhook,
  WebhookBody,
  ResourceServer,
  ResourceServerBody,
  Invitation,
  InvitationBody,
  HookVersion,
  Execution,
  ExecutionEvent,
  TestRun,
  Consent,
  WebhookEvent,
  AuditEntry,
  IdentityProvider,
  GrantedApplication,
} = types;
const { UserRegistration, RegistrationBody, RegistrationPatchBody, Group, GroupBody, GroupPatchBody, GroupMember, GroupMemberBody, UserGroup } = types;

/** The described operations, keyed "METHOD /path" as the router spells the path. */
const OPERATIONS: Record<string, Operation> = {
  'GET /users': { summary: 'List users (filter by email, or search q= by email, username, name or id)', answer: [User] },
  'POST /users': { summary: 'Create a user', body: UserBody, answer: User, status: 201 },
  'POST /users/import': { summary: 'Import up to 10 000 users with their password hashes (all or none: 400 names each bad index)', body: types.UserImportBody, answer: types.UserImportAnswer },
  'GET /users/:id': { summary: 'Get a user', answer: User },
  'PATCH /users/:id': { summary: 'Change a user', body: UserBody, answer: User },
  'DELETE /users/:id': { summary: 'Delete a user', status: 204 },
  'POST /users/:id/disable': { summary: 'Disable a user (they can no longer sign in)', answer: User },
  'POST /users/:id/enable': { summary: 'Enable a user', answer: User },
  'DELETE /users/:id/sessions': { summary: 'Sign a user out everywhere', status: 204 },
  'GET /applications': { summary: 'List applications', answer: [Application] },
  'POST /applications': { summary: 'Create an application', body: ApplicationBody, answer: Application, status: 201 },
  'GET /applications/:client_id': { summary: 'Get an application', answer: Application },
  'PATCH /applications/:client_id': { summary: 'Change an application', body: ApplicationBody, answer: Application },
  'DELETE /applications/:client_id': { summary: 'Delete an application', status: 204 },
  'GET /applications/:client_id/preview': {
    summary: "The hosted sign-in page as it looks in the application's branding (HTML, inert: sandboxed, no script, no form submission; the console frames it)",
    html: true,
    query: { page: 'identify (default), password or register', branding: 'an unsaved branding as JSON, merged over the saved one and validated like PATCH' },
  },
  'POST /applications/:client_id/preview': {
    summary: 'The same page with an unsaved branding (merged over the saved one, validated like PATCH; nothing is saved)',
    body: types.PreviewBody,
    html: true,
    query: { page: 'identify (default), password or register' },
  },
  'GET /hooks': { summary: 'List hooks', answer: [Hook] },
  'POST /hooks': { summary: 'Create a hook', body: HookBody, answer: Hook, status: 201 },
  'GET /hooks/:id': { summary: 'Get a hook (secret names only)', answer: Hook },
  'PATCH /hooks/:id': { summary: 'Change a hook (a new version when the code changes)', body: HookBody, answer: Hook },
  'DELETE /hooks/:id': { summary: 'Delete a hook', status: 204 },
  'POST /hooks/test': { summary: 'Run code that is not saved on an event (a dry run)', body: HookDraftBody, answer: TestRun },
  'POST /hooks/:id/test': { summary: 'Run the deployed version, or {"version": n}, on an event (a dry run)', answer: TestRun },
  'GET /hooks/:id/versions': { summary: "A hook's versions, newest first (without their code)", answer: [HookVersion] },
  'GET /hooks/:id/versions/:version': { summary: 'One version, with its code', answer: HookVersion },
  'POST /hooks/:id/deploy': { summary: 'Deploy the newest version, or {"version": n}', answer: Hook },
  'POST /hooks/:id/versions/:version/rollback': { summary: 'Deploy an older version again', answer: Hook },
  'GET /hooks/:id/executions': { summary: "A hook's runs, newest first", answer: [Execution] },
  'GET /hooks/:id/executions/:execution_id/event': { summary: 'The event a run got, passwords, secrets, tokens, codes and links redacted (to test-run code on it)', answer: ExecutionEvent },
  'GET /executions': { summary: "Every hook's runs for one user's events (user_id= is required)", answer: [Execution] },
  'GET /users/:id/applications': { summary: 'The applications a user granted access to', answer: [GrantedApplication] },
  'DELETE /users/:id/applications/:client_id': { summary: "Revoke one application's access (its grants and tokens)", status: 204 },
  'GET /identity-providers': { summary: 'List upstream identity providers (client secrets never answered)', answer: [IdentityProvider] },
  'POST /identity-providers': { summary: 'Add an identity provider (from a preset, or an issuer / endpoints)', answer: IdentityProvider, status: 201 },
  'GET /identity-providers/:id': { summary: 'Get an identity provider', answer: IdentityProvider },
  'PATCH /identity-providers/:id': { summary: 'Change an identity provider', answer: IdentityProvider },
  'DELETE /identity-providers/:id': { summary: 'Delete an identity provider', status: 204 },
  'GET /users/:id/consents': { summary: 'The consents a user gave or refused', answer: [Consent] },
  'GET /webhook-events': { summary: 'Webhook events, newest first (filter by user_id= and type=)', answer: [WebhookEvent] },
  'GET /audit-log': { summary: 'The audit log, newest first (filter by actor=, target=, action=)', answer: [AuditEntry] },
  'POST /templates/:name/publish': { summary: "Publish a template as a hook, with the hook's settings", body: PublishBody, answer: Hook, status: 201 },
  'GET /webhooks': { summary: 'List webhook endpoints', answer: [Webhook] },
  'POST /webhooks': { summary: 'Create a webhook endpoint (its secret is in this answer only)', body: WebhookBody, answer: Webhook, status: 201 },
  'GET /webhooks/:id': { summary: 'Get a webhook endpoint', answer: Webhook },
  'PATCH /webhooks/:id': { summary: 'Change a webhook endpoint', body: WebhookBody, answer: Webhook },
  'DELETE /webhooks/:id': { summary: 'Delete a webhook endpoint', status: 204 },
  'GET /resource-servers': { summary: 'List resource servers (APIs)', answer: [ResourceServer] },
  'POST /resource-servers': { summary: 'Create a resource server', body: ResourceServerBody, answer: ResourceServer, status: 201 },
  'GET /resource-servers/:identifier': { summary: 'Get a resource server', answer: ResourceServer },
  'PATCH /resource-servers/:identifier': { summary: 'Change a resource server', body: ResourceServerBody, answer: ResourceServer },
  'DELETE /resource-servers/:identifier': { summary: 'Delete a resource server', status: 204 },
  'GET /invitations': { summary: 'List invitations', answer: [Invitation] },
  'POST /invitations': { summary: 'Invite a user to an application (mails a one-use link)', body: InvitationBody, answer: Invitation, status: 201 },
  'GET /invitations/:id': { summary: 'Get an invitation', answer: Invitation },
  'POST /users/:id/registrations': { summary: 'Register a user with an application, with some of its roles', body: RegistrationBody, answer: UserRegistration, status: 201 },
  'GET /users/:id/registrations': { summary: "A user's registrations", answer: [UserRegistration] },
  'GET /users/:id/registrations/:client_id': { summary: 'One registration', answer: UserRegistration },
  'PATCH /users/:id/registrations/:client_id': { summary: "Change a registration's roles (the list is replaced) or verified flag", body: RegistrationPatchBody, answer: UserRegistration },
  'DELETE /users/:id/registrations/:client_id': { summary: 'Remove a registration', status: 204 },
  'GET /groups': { summary: 'List groups (with member_count)', answer: [Group] },
  'POST /groups': { summary: 'Create a group holding roles per application', body: GroupBody, answer: Group, status: 201 },
  'GET /groups/:id': { summary: 'Get a group', answer: Group },
  'PATCH /groups/:id': { summary: 'Change a group (roles replaces the whole map)', body: GroupPatchBody, answer: Group },
  'DELETE /groups/:id': { summary: 'Delete a group and its memberships', status: 204 },
  'GET /groups/:id/members': { summary: "A group's members", answer: [GroupMember] },
  'GET /users/:id/groups': { summary: 'The groups a user is a member of, with the member’s data', answer: [UserGroup] },
  'PUT /groups/:id/members/:user_id': { summary: 'Add a member (201) or change its data (200)', body: GroupMemberBody, answer: GroupMember, status: 201, alsoStatus: 200 },
  'DELETE /groups/:id/members/:user_id': { summary: 'Remove a member', status: 204 },
  'GET /event-log': { summary: 'What the server reported (hook failures, failed deliveries and mail, key rotations, KICKSTART), newest first; ?type=&limit=&offset=', answer: [EventLogEntry] },
};

/** Every schema the operations name, and the error answer: the document's components (none is left out). */
const SCHEMAS: TSchema[] = [
  ...new Set([
    types.ErrorAnswer,
    ...Object.values(OPERATIONS).flatMap((op) => [op.body, Array.isArray(op.answer) ? op.answer[0] : op.answer].filter((schema): schema is TSchema => schema !== undefined)),
  ]),
];

/** A schema as the document holds it: its TypeBox symbols dropped, $id left to the components key. */
function plain(schema: TSchema): Record<string, unknown> {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return rest;
}

const ref = (schema: TSchema) => ({ $ref: `#/components/schemas/${schema.$id}` });

function content(answer: TSchema | [TSchema]) {
  const schema = Array.isArray(answer) ? { type: 'array', items: ref(answer[0]) } : ref(answer);
  return { 'application/json': { schema } };
}

/** A route of the admin router, as `router.stack` lists it (path with the prefix, methods). */
export interface RouteLayer {
  path: string;
  methods: string[];
}

export function openApiDocument(prefix: string, layers: RouteLayer[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { description: 'The request was refused; message names the field', content: { 'application/json': { schema: ref(types.ErrorAnswer) } } };
  for (const layer of layers) {
    const route = layer.path.slice(prefix.length) || '/';
    const path = route.replace(/:([A-Za-z_]+)/g, '{$1}');
    const pathParameters = [...route.matchAll(/:([A-Za-z_]+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
      const described = OPERATIONS[`${method} ${route}`];
      const queryParameters = Object.entries(described?.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } }));
      const parameters = [...pathParameters, ...queryParameters];
      const status = String(described?.status ?? 200);
      const operation: Record<string, unknown> = {
        operationId: `${method.toLowerCase()}${route.replace(/[/:{}-]+(\w)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
        summary: described?.summary ?? `${method} ${route}`,
        ...(parameters.length ? { parameters } : {}),
        ...(described?.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(described.body) } } } } : {}),
        responses: {
          [status]:
            status === '204'
              ? { description: 'Done' }
              : { description: 'Success', ...(described?.html ? { content: { 'text/html': { schema: { type: 'string' } } } } : described?.answer ? { content: content(described.answer) } : {}) },
          ...(described?.alsoStatus ? { [String(described.alsoStatus)]: { description: 'Success', ...(described.answer ? { content: content(described.answer) } : {}) } } : {}),
          '4XX': error,
        },
      };
      paths[path] = { ...paths[path], [method.toLowerCase()]: operation };
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Tessera admin API', version, description: 'Every change needs the admin key (Authorization: Bearer), a console session with its x-csrf-token header, or a console access token.' },
    servers: [{ url: prefix }],
    security: [{ adminKey: [] }, { consoleSession: [] }],
    paths,
    components: {
      schemas: Object.fromEntries(SCHEMAS.map((schema) => [schema.$id, plain(schema)])),
      securitySchemes: {
        adminKey: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY, or an access token issued to tessera-console' },
        consoleSession: { type: 'apiKey', in: 'cookie', name: 'tessera.console' },
      },
    },
  };
}
