// The webhook event catalog: every type Tessera emits, when, what its data holds, and whether it
// concerns an application. The outbox accepts exactly these types, endpoint validation and
// wildcards match against them, docs/webhooks.md's table is generated from them (npm run gen:hooks),
// and the tests walk them, so the docs, the validation and the events cannot disagree.

/**
 * Whether an event concerns an application (and so carries `application_id`, which per-application
 * subscriptions filter on): `always` (a string), `when` (the key is there: a client_id when the change
 * came through an application, null when an operator made it), `never` (an operator's or the server's
 * own change).
 */
export type ApplicationScope = 'always' | 'when' | 'never';

export interface WebhookTypeDefinition {
  /** When it is emitted. */
  when: string;
  /** The fields of `data`, as shown in the docs. */
  data: string;
  application: ApplicationScope;
  /** A `data` as a receiver gets it (docs/webhooks.md shows it; tests check real events have its keys). */
  sample: Record<string, unknown>;
}

function type(when: string, data: string, application: ApplicationScope, sample: Record<string, unknown>): WebhookTypeDefinition {
  return { when, data, application, sample };
}

const USER_ID = '6f1c2a9e-3b7d-4c1e-9a55-0c1d2e3f4a5b';
const CLIENT_ID = 'app_3Jc9QpLw7x';
const sampleUser = {
  id: USER_ID,
  email: 'ada@example.com',
  username: null,
  given_name: 'Ada',
  family_name: 'Lovelace',
  phone_number: null,
  email_verified: true,
  phone_number_verified: false,
  status: 'active',
  source: 'registration',
  has_password: true,
  attributes: {},
  metadata: {},
  login_count: 3,
  last_login_at: '2026-11-30T09:00:00.000Z',
  created_at: '2026-01-15T10:00:00.000Z',
  updated_at: '2026-11-30T09:00:00.000Z',
};
const withUser = { user: sampleUser };

function message(when: string, sample: { to: string; link: string; expires_at: string | null }): WebhookTypeDefinition {
  return type(
    `${when}; delivered only to endpoints that name it or \`message.*\``,
    '`to`, `link` (a secret: redacted in the delivery log), `expires_at`, `locale`, `user_id`, `application_id`, `delivery` (`tessera`: Tessera sends it too; `brand`: the application `message_delivery` leaves it to the brand; `hook`: a before_message_send hook took it over)',
    'when',
    { ...sample, locale: 'en', user_id: USER_ID, application_id: CLIENT_ID, delivery: 'brand' },
  );
}

export const WEBHOOK_CATALOG = {
  'user.create': type(
    'a user was created (admin API, registration, migration, KICKSTART, invitation)',
    '`user`, `application_id` (null from the admin API or KICKSTART); an invited user also `invited: true`',
    'when',
    { user: { ...sampleUser, login_count: 0, last_login_at: null }, application_id: CLIENT_ID },
  ),
  'user.registration.create': type('a user registered on the hosted pages, or accepted an invitation', '`user`, `application_id`; an invitation also `invited: true`', 'always', {
    user: { ...sampleUser, status: 'pending', email_verified: false, login_count: 0, last_login_at: null },
    application_id: CLIENT_ID,
  }),
  'user.update': type("a user's profile changed", '`user`', 'never', withUser),
  'user.delete': type('a user was deleted', '`user`', 'never', withUser),
  'user.deactivate': type('disabled', '`user`', 'never', { user: { ...sampleUser, status: 'disabled' } }),
  'user.reactivate': type('enabled again', '`user`', 'never', withUser),
  'user.action': type(
    'an operator locked or unlocked the user (`POST /admin/api/users/:id/actions`)',
    '`user_id`, `action` (`lock`, `unlock`), `reason`, `locked_until` (null: until unlocked)',
    'never',
    { user_id: USER_ID, action: 'lock', reason: 'fraud review', locked_until: null },
  ),
  'user.access.revoke': type(
    "an application's access was revoked (`DELETE /admin/api/users/:id/applications/:client_id`, or the user on the account page)",
    '`user_id`, `application_id`, `by` (`operator`, `user`)',
    'always',
    { user_id: USER_ID, application_id: CLIENT_ID, by: 'operator' },
  ),
  'user.login.success': type('a login completed', '`user_id`, `application_id`; a sign-in through an upstream provider also `identity_provider_id`', 'always', {
    user_id: USER_ID,
    application_id: CLIENT_ID,
  }),
  'user.identity-provider.link': type(
    'an identity at an upstream provider was linked to the user (its first sign-in there, once the local account was proved or created)',
    '`user_id`, `identity_provider_id`, `subject` (the identity at the provider), `application_id`',
    'always',
    { user_id: USER_ID, identity_provider_id: 'b3c1d2e4-0000-4000-8000-000000000001', subject: '1234567890', application_id: CLIENT_ID },
  ),
  'user.identity-provider.unlink': type(
    'a link to an upstream identity was removed (`DELETE /admin/api/users/:id/links/:provider_id`)',
    '`user_id`, `identity_provider_id`, `subject`, `application_id` (null: an operator removed it)',
    'when',
    { user_id: USER_ID, identity_provider_id: 'b3c1d2e4-0000-4000-8000-000000000001', subject: '1234567890', application_id: null },
  ),
  'user.login.failed': type('a login failed', '`user_id` (null when no account matched), `application_id`, `reason`', 'always', {
    user_id: USER_ID,
    application_id: CLIENT_ID,
    reason: 'invalid_password',
  }),
  'user.email.verified': type('the address was verified (the activation link, or a reset link of a pending account)', '`user`, `application_id`', 'when', { ...withUser, application_id: CLIENT_ID }),
  'user.password.reset.start': type('a reset link was mailed', '`user_id`, `application_id`', 'always', { user_id: USER_ID, application_id: CLIENT_ID }),
  'user.password.reset.success': type('the password was reset through the link', '`user`, `application_id`', 'when', { ...withUser, application_id: CLIENT_ID }),
  'user.password.update': type('the password changed (admin API, reset, lazy migration)', '`user_id`, `application_id` (null from the admin API)', 'when', {
    user_id: USER_ID,
    application_id: CLIENT_ID,
  }),
  'user.consent.update': type("the user's consents changed", '`user_id`, `consents: [{key, granted}]`, `application_id`', 'when', {
    user_id: USER_ID,
    consents: [{ key: 'newsletter', granted: true }],
    application_id: CLIENT_ID,
  }),
  'user.two-factor.method.add': type(
    'a second factor was enrolled (confirmed with its first code, or a passkey created)',
    '`user_id`, `factor: {id, type}` (type `totp`, `email`, `sms` or `passkey`), `application_id` (the sign-in that enrolled it)',
    'when',
    {
      user_id: USER_ID,
      factor: { id: 'f3b1c0de-2a4b-4c6d-8e9f-0a1b2c3d4e5f', type: 'totp' },
      application_id: CLIENT_ID,
    },
  ),
  'user.two-factor.method.remove': type('a factor was removed (admin API, one or all)', '`user_id`, `factor: {id, type}`', 'never', {
    user_id: USER_ID,
    factor: { id: 'f3b1c0de-2a4b-4c6d-8e9f-0a1b2c3d4e5f', type: 'totp' },
  }),
  'jwt.refresh': type(
    'a refresh token was used (written before the token answer, and only while an enabled endpoint subscribes to it)',
    '`user_id`, `application_id`, `grant_id`, `scope`, `rotated`',
    'always',
    {
      user_id: USER_ID,
      application_id: CLIENT_ID,
      grant_id: 'Qw3rTy-grant',
      scope: 'openid email offline_access',
      rotated: true,
    },
  ),
  'hook.failed': type('a hook threw or hit a limit, or its circuit breaker opened (`outcome: "skipped"`)', '`hook_id`, `hook_name`, `event`, `outcome`, `error`', 'never', {
    hook_id: 'hk_4d2c',
    hook_name: 'Claims from a CRM',
    event: 'before_id_token',
    outcome: 'timeout',
    error: 'the hook ran past its 1000 ms timeout',
  }),
  'audit-log.create': type(
    'a change was made through the admin API or the console (GET /admin/api/audit-log)',
    '`audit: {id, actor, actor_role, action, target: {type, id}, before, after, status, address, created_at}` (secrets redacted)',
    'never',
    {
      audit: {
        id: 'aud_5c1f',
        actor: 'admin-key',
        actor_role: null,
        action: 'PATCH /users/:id',
        target: { type: 'users', id: USER_ID },
        before: { ...sampleUser, given_name: 'Ada' },
        after: { ...sampleUser, given_name: 'Augusta' },
        status: 200,
        address: '203.0.113.7',
        created_at: '2026-11-30T09:00:00.000Z',
      },
    },
  ),
  'kickstart.success': type(
    'the KICKSTART file was applied (once, at the first start)',
    'the counts per section, and `applied: {applications: [{client_id, name}], users: [{id}], resource_servers: [{identifier}], hooks: [{id, name, event, mode, version, enabled}], webhooks: [{id, url}]}`',
    'never',
    {
      applications: 1,
      users: 1,
      resource_servers: 0,
      hooks: 1,
      webhooks: 1,
      applied: {
        applications: [{ client_id: CLIENT_ID, name: 'Notes' }],
        users: [{ id: USER_ID }],
        resource_servers: [],
        hooks: [{ id: 'hook_7a1e', name: 'CRM tier', event: 'before_id_token', mode: 'sync', version: 1, enabled: true }],
        webhooks: [{ id: 'wh_9c2d', url: 'https://hooks.example.com/tessera' }],
      },
    },
  ),
  // Transactional messages (src/messaging/transactional.ts): they carry the link, so "*" excludes them.
  'message.activation': message('the activation mail of a new account', {
    to: 'ada@example.com',
    link: 'https://id.example.com/activate/4q7Yd0nJfV2x',
    expires_at: '2026-12-02T09:00:00.000Z',
  }),
  'message.activation.resend': message('the activation mail again, asked for on the "check your email" page', {
    to: 'ada@example.com',
    link: 'https://id.example.com/activate/9Lp2Xw8sQe1k',
    expires_at: '2026-12-02T09:05:00.000Z',
  }),
  'message.password_reset': message('the password reset mail', {
    to: 'ada@example.com',
    link: 'https://id.example.com/reset-password/Zk3vN7qTbM0c',
    expires_at: '2026-12-01T10:00:00.000Z',
  }),
  'message.username': message('the "your username" mail (forgot username); its link is the sign-in page', {
    to: 'ada@example.com',
    link: 'https://id.example.com/interaction/Hd8sK2pL0qWe',
    expires_at: null,
  }),
  'message.invitation': message('the invitation mail (POST /admin/api/invitations, or a resend)', {
    to: 'grace@example.com',
    link: 'https://id.example.com/invitation/Rt5mB9cX2yHa',
    expires_at: '2026-12-08T09:00:00.000Z',
  }),
} as const satisfies Record<string, WebhookTypeDefinition>;

export type WebhookEventType = keyof typeof WEBHOOK_CATALOG;

export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_CATALOG) as WebhookEventType[];

/** docs/webhooks.md's "Event types": the table, then each type's sample `data`. */
export function renderWebhookTypes(): string {
  const scope: Record<ApplicationScope, string> = { always: 'yes', when: 'when through one', never: 'no' };
  const entries = Object.entries(WEBHOOK_CATALOG) as Array<[string, WebhookTypeDefinition]>;
  const rows = entries.map(([name, d]) => `| \`${name}\` | ${d.when} | ${d.data} | ${scope[d.application]} |`);
  const samples = entries.flatMap(([name, d]) => [`#### \`${name}\``, '', '```json', JSON.stringify(d.sample, null, 2), '```', '']);
  return ['| type | when | data | application |', '| --- | --- | --- | --- |', ...rows, '', '### Sample data', '', ...samples].join('\n').trimEnd();
}

const TABLE_START = '<!-- generated from src/webhooks/catalog.ts by npm run gen:hooks: edit the catalog, not this table -->';
const TABLE_END = '<!-- end of generated table -->';

/** docs/webhooks.md with its generated table replaced by the catalog's. */
export function withWebhookTypes(doc: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error('docs/webhooks.md lost the markers of its generated table');
  return `${doc.slice(0, start + TABLE_START.length)}\n${renderWebhookTypes()}\n${doc.slice(end)}`;
}
