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
  /**
   * The type's `.complete` twin: written with the change (same data) and delivered after it
   * committed. A type with a twin is transactional: a `transactional: true` endpoint subscribed to it
   * gets it before the change commits, and refuses the change with a non-2xx (transactional.ts).
   */
  complete?: string;
}

function type(when: string, data: string, application: ApplicationScope, sample: Record<string, unknown>, more: { complete?: string } = {}): WebhookTypeDefinition {
  return { when, data, application, sample, ...more };
}

/** The `.complete` twin of a transactional type: the same data, delivered once the change committed. */
function complete(of: string, application: ApplicationScope, sample: Record<string, unknown>): WebhookTypeDefinition {
  return type(`the ${of} change committed (its transaction completed; a transactional endpoint got ${of} before)`, `as \`${of}\``, application, sample);
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
const sampleRegistration = {
  application: CLIENT_ID,
  roles: ['editor'],
  verified: true,
  verified_at: '2026-11-30T09:05:00.000Z',
  created_at: '2026-11-30T09:00:00.000Z',
  updated_at: '2026-11-30T09:05:00.000Z',
};
const sampleGroup = {
  id: 'grp_2b7e4c9d1a',
  name: 'Editors',
  description: 'Edit every notebook',
  roles: { [CLIENT_ID]: ['editor'] },
  created_at: '2026-11-30T09:00:00.000Z',
  updated_at: '2026-11-30T09:00:00.000Z',
};
const sampleGroupRef = { id: sampleGroup.id, name: sampleGroup.name };
const sampleMember = { user_id: USER_ID, data: { team: 'north' }, created_at: '2026-11-30T09:00:00.000Z', updated_at: '2026-11-30T09:00:00.000Z' };

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
    { complete: 'user.create.complete' },
  ),
  'user.create.complete': complete('user.create', 'when', { user: { ...sampleUser, login_count: 0, last_login_at: null }, application_id: CLIENT_ID }),
  'user.registration.create': type(
    'a user was registered with an application: self-service sign-up (hosted pages, a first upstream sign-in), an accepted invitation, `POST /admin/api/users/:id/registrations`, KICKSTART',
    '`user`, `registration`, `application_id`; an invitation also `invited: true`',
    'always',
    {
      user: { ...sampleUser, status: 'pending', email_verified: false, login_count: 0, last_login_at: null },
      registration: { ...sampleRegistration, verified: false, verified_at: null },
      application_id: CLIENT_ID,
    },
  ),
  'user.registration.create.complete': type('the registration was committed (after user.registration.create)', 'as `user.registration.create`', 'always', {
    user: sampleUser,
    registration: sampleRegistration,
    application_id: CLIENT_ID,
  }),
  'user.registration.update': type(
    "a registration's roles (or verified flag) changed (`PATCH /admin/api/users/:id/registrations/:client_id`)",
    '`user`, `registration`, `previous` (the registration before), `application_id`',
    'always',
    { user: sampleUser, registration: sampleRegistration, previous: { ...sampleRegistration, roles: ['viewer'] }, application_id: CLIENT_ID },
  ),
  'user.registration.update.complete': type('the registration change was committed', 'as `user.registration.update`', 'always', {
    user: sampleUser,
    registration: sampleRegistration,
    previous: { ...sampleRegistration, roles: ['viewer'] },
    application_id: CLIENT_ID,
  }),
  'user.registration.delete': type(
    'a registration was removed (`DELETE /admin/api/users/:id/registrations/:client_id`); deleting the user or the application removes its registrations without this event',
    '`user`, `registration`, `application_id`',
    'always',
    { user: sampleUser, registration: sampleRegistration, application_id: CLIENT_ID },
  ),
  'user.registration.delete.complete': type('the registration removal was committed', 'as `user.registration.delete`', 'always', {
    user: sampleUser,
    registration: sampleRegistration,
    application_id: CLIENT_ID,
  }),
  'user.registration.verified': type(
    'a registration was verified: the activation link of a self-service sign-up was opened, an invitation was accepted, or an operator set `verified: true`',
    '`user`, `registration`, `application_id`',
    'always',
    { user: sampleUser, registration: sampleRegistration, application_id: CLIENT_ID },
  ),
  'user.registration.verified.complete': type('the verification was committed (after user.registration.verified)', 'as `user.registration.verified`', 'always', {
    user: sampleUser,
    registration: sampleRegistration,
    application_id: CLIENT_ID,
  }),
  'group.create': type('a group was created (`POST /admin/api/groups`, KICKSTART)', '`group: {id, name, description, roles: {client_id: [role]}, created_at, updated_at}`', 'never', {
    group: sampleGroup,
  }),
  'group.create.complete': type('the group creation was committed', 'as `group.create`', 'never', { group: sampleGroup }),
  'group.update': type("a group's name, description or roles changed (`PATCH /admin/api/groups/:id`)", '`group`, `previous` (the group before)', 'never', {
    group: sampleGroup,
    previous: { ...sampleGroup, name: 'Editors (old)' },
  }),
  'group.update.complete': type('the group change was committed', 'as `group.update`', 'never', { group: sampleGroup, previous: { ...sampleGroup, name: 'Editors (old)' } }),
  'group.delete': type('a group was deleted (`DELETE /admin/api/groups/:id`); its memberships go with it', '`group`, `member_count`', 'never', { group: sampleGroup, member_count: 2 }),
  'group.delete.complete': type('the group deletion was committed', 'as `group.delete`', 'never', { group: sampleGroup, member_count: 2 }),
  'group.member.add': type('a user joined a group (`PUT /admin/api/groups/:id/members/:user_id`, KICKSTART)', '`group: {id, name}`, `members: [{user_id, data, created_at, updated_at}]`', 'never', {
    group: sampleGroupRef,
    members: [sampleMember],
  }),
  'group.member.add.complete': type('the membership was committed', 'as `group.member.add`', 'never', { group: sampleGroupRef, members: [sampleMember] }),
  'group.member.update': type("a membership's `data` changed (`PUT` again with another `data`)", '`group: {id, name}`, `members`, `previous: [{user_id, data}]`', 'never', {
    group: sampleGroupRef,
    members: [sampleMember],
    previous: [{ user_id: USER_ID, data: {} }],
  }),
  'group.member.update.complete': type('the membership change was committed', 'as `group.member.update`', 'never', {
    group: sampleGroupRef,
    members: [sampleMember],
    previous: [{ user_id: USER_ID, data: {} }],
  }),
  'group.member.remove': type(
    'a user left a group (`DELETE /admin/api/groups/:id/members/:user_id`); deleting the user or the group removes memberships without this event',
    '`group: {id, name}`, `members`',
    'never',
    {
      group: sampleGroupRef,
      members: [sampleMember],
    },
  ),
  'group.member.remove.complete': type('the removal was committed', 'as `group.member.remove`', 'never', { group: sampleGroupRef, members: [sampleMember] }),
  'user.update': type("a user's profile changed", '`user`', 'never', withUser, { complete: 'user.update.complete' }),
  'user.update.complete': complete('user.update', 'never', withUser),
  'user.delete': type('a user was deleted', '`user`', 'never', withUser, { complete: 'user.delete.complete' }),
  'user.delete.complete': complete('user.delete', 'never', withUser),
  'user.email.update': type(
    "a user's email address changed: the admin API, or the account page's link to the new address, opened and confirmed (also written as user.update)",
    '`user` (with the new address), `previous_email`, `email`, `application_id` (null from the admin API)',
    'when',
    { user: { ...sampleUser, email: 'augusta@example.com', email_verified: false }, previous_email: 'ada@example.com', email: 'augusta@example.com', application_id: null },
  ),
  'user.loginId.duplicate.create': type(
    'an attempt to create a user with an email or username that another user has (admin API, or self-service sign-up, whose page does not tell)',
    '`login_id`, `login_id_type` (`email`, `username`), `existing_user_id`, `application_id` (null from the admin API)',
    'when',
    { login_id: 'ada@example.com', login_id_type: 'email', existing_user_id: USER_ID, application_id: CLIENT_ID },
  ),
  'user.loginId.duplicate.update': type(
    "an attempt to change a user's email or username to one another user has",
    '`user_id` (who asked for it), `login_id`, `login_id_type`, `existing_user_id`, `application_id` (null from the admin API)',
    'when',
    { user_id: 'a7e2c0d1-5b4f-4e3a-8c9d-1f2e3d4c5b6a', login_id: 'ada@example.com', login_id_type: 'email', existing_user_id: USER_ID, application_id: null },
  ),
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
  'user.login.new-device': type(
    'a login completed from a device (browser) the user had not signed in from before (the device cookie)',
    '`user_id`, `application_id`, `device: {id, new}`, `request: {ip, location}`',
    'always',
    { user_id: USER_ID, application_id: CLIENT_ID, device: { id: '9f2c4e1a7b3d5c6e8f0a1b2c3d4e5f60', new: true }, request: { ip: '203.0.113.7', location: { country: 'DE', city: 'Berlin' } } },
  ),
  'user.login.suspicious': type(
    'a login completed implausibly far from the previous one for the time between them (impossible travel, from the location database)',
    '`user_id`, `application_id`, `risk: {new_device, impossible_travel, breached_password, travel: {from, to, distance_km, hours, speed_kmh}}`, `request: {ip, location}`',
    'always',
    {
      user_id: USER_ID,
      application_id: CLIENT_ID,
      risk: {
        new_device: false,
        impossible_travel: true,
        breached_password: false,
        travel: { from: { country: 'DE', city: 'Berlin', at: '2026-11-30T09:00:00.000Z' }, to: { country: 'US', city: 'Boston' }, distance_km: 6087, hours: 0.5, speed_kmh: 12174 },
      },
      request: { ip: '203.0.113.7', location: { country: 'US', city: 'Boston', latitude: 42.36, longitude: -71.06 } },
    },
  ),
  'user.password.breach': type('a user signed in with a password found in the breached-password corpus (or the range API), once the password proved right', '`user_id`, `application_id`', 'always', {
    user_id: USER_ID,
    application_id: CLIENT_ID,
  }),
  'user.bulk.create': type('users were imported (`POST /admin/api/users/import`): one event per call, no `user.create` for each', '`count`, `users: [{id, email}]`', 'never', {
    count: 2,
    users: [
      { id: USER_ID, email: 'ada@example.com' },
      { id: '7a2d3b0f-4c8e-4d2f-8b66-1d2e3f4a5b6c', email: 'grace@example.com' },
    ],
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
  'user.password.reset.start': type('a reset link was made for a known account (the mail follows)', '`user_id`, `application_id`', 'always', { user_id: USER_ID, application_id: CLIENT_ID }),
  'user.password.reset.send': type('the reset mail was handed to the courier (queued, or taken over by a before_message_send hook)', '`user_id`, `application_id`', 'always', {
    user_id: USER_ID,
    application_id: CLIENT_ID,
  }),
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
  'user.two-factor.method.remove': type('a factor was removed (admin API, one or all; the account page)', '`user_id`, `factor: {id, type}`', 'never', {
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
  'jwt.refresh-token.revoke': type(
    "refresh tokens were revoked: the revocation endpoint, an operator's sign-out, a password reset, a lock, disabling or deleting the user, or an application's access revoked (one event per application)",
    '`user_id`, `application_id`, `count` (refresh tokens revoked), `reason` (`revocation`, `sign_out`, `password_reset`, `locked`, `disabled`, `deleted`, `access_revoked`)',
    'always',
    { user_id: USER_ID, application_id: CLIENT_ID, count: 1, reason: 'sign_out' },
  ),
  'jwt.public-key.update': type(
    'the signing keys changed: a key was added by a rotation (it signs from `activates_at`) or retired (it leaves the JWKS)',
    '`kid`, `action` (`rotate`, `retire`), `activates_at` (a rotation; null for a retirement)',
    'never',
    { kid: 'k_2026-12-01_a1b2', action: 'rotate', activates_at: '2026-12-01T10:05:00.000Z' },
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
  'event-log.create': type(
    'the server reported something to the event log (GET /admin/api/event-log): a hook failure, a failed delivery or mail, a key rotation, KICKSTART',
    '`event_log: {id, type, message, details, created_at}` (no secrets)',
    'never',
    {
      event_log: {
        id: 'evl_3b9c',
        type: 'hook.failed',
        message: 'hook "Claims from a CRM" (before_id_token) failed: timeout',
        details: { hook_id: 'hk_4d2c', event: 'before_id_token', outcome: 'timeout', error: 'the hook ran past its 1000 ms timeout' },
        created_at: '2026-11-30T09:00:00.000Z',
      },
    },
  ),
  'kickstart.success': type(
    'the KICKSTART file was applied (once, at the first start)',
    'the counts per section, and `applied: {applications: [{client_id, name}], users: [{id}], resource_servers: [{identifier}], groups: [{id, name, members}], registrations: [{user_id, application}], hooks: [{id, name, event, mode, version, enabled}], webhooks: [{id, url}]}`',
    'never',
    {
      applications: 1,
      users: 1,
      resource_servers: 0,
      groups: 1,
      registrations: 1,
      hooks: 1,
      webhooks: 1,
      applied: {
        applications: [{ client_id: CLIENT_ID, name: 'Notes' }],
        users: [{ id: USER_ID }],
        resource_servers: [],
        groups: [{ id: 'grp_2b7e4c9d1a', name: 'Editors', members: 1 }],
        registrations: [{ user_id: USER_ID, application: CLIENT_ID }],
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
  'message.email_change': message('the confirmation mail sent to a new address (the account page)', {
    to: 'ada.lovelace@example.org',
    link: 'https://id.example.com/account/email/Wq1eR4tY7uIo',
    expires_at: '2026-12-02T09:00:00.000Z',
  }),
} as const satisfies Record<string, WebhookTypeDefinition>;

export type WebhookEventType = keyof typeof WEBHOOK_CATALOG;

export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_CATALOG) as WebhookEventType[];

for (const [name, definition] of Object.entries(WEBHOOK_CATALOG) as Array<[string, WebhookTypeDefinition]>) {
  if (definition.complete !== undefined && !(definition.complete in WEBHOOK_CATALOG)) throw new Error(`webhook catalog: ${name}'s complete twin ${definition.complete} is not a type`);
}

/** The `.complete` twin of `type` (written with it, delivered after the commit), or null when it has none. */
export function completeTwin(type: WebhookEventType): WebhookEventType | null {
  const declared = (WEBHOOK_CATALOG[type] as WebhookTypeDefinition).complete as WebhookEventType | undefined;
  if (declared) return declared;
  // A type whose `<type>.complete` is in the catalog has that twin (registrations, groups).
  const twin = `${type}.complete`;
  return Object.hasOwn(WEBHOOK_CATALOG, twin) ? (twin as WebhookEventType) : null;
}

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
