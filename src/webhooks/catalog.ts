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
}

function type(when: string, data: string, application: ApplicationScope): WebhookTypeDefinition {
  return { when, data, application };
}

export const WEBHOOK_CATALOG = {
  'user.create': type(
    'a user was created (admin API, registration, migration, KICKSTART, invitation)',
    '`user`, `application_id` (null from the admin API or KICKSTART); an invited user also `invited: true`',
    'when',
  ),
  'user.registration.create': type('a user registered on the hosted pages, or accepted an invitation', '`user`, `application_id`; an invitation also `invited: true`', 'always'),
  'user.update': type("a user's profile changed", '`user`', 'never'),
  'user.delete': type('a user was deleted', '`user`', 'never'),
  'user.deactivate': type('disabled', '`user`', 'never'),
  'user.reactivate': type('enabled again', '`user`', 'never'),
  'user.action': type(
    'an operator locked or unlocked the user (`POST /admin/api/users/:id/actions`)',
    '`user_id`, `action` (`lock`, `unlock`), `reason`, `locked_until` (null: until unlocked)',
    'never',
  ),
  'user.access.revoke': type(
    "an application's access was revoked (`DELETE /admin/api/users/:id/applications/:client_id`, or the user on the account page)",
    '`user_id`, `application_id`, `by` (`operator`, `user`)',
    'always',
  ),
  'user.login.success': type('a login completed', '`user_id`, `application_id`', 'always'),
  'user.login.failed': type('a login failed', '`user_id` (null when no account matched), `application_id`, `reason`', 'always'),
  'user.email.verified': type('the activation link was opened', '`user`', 'never'),
  'user.password.reset.start': type('a reset link was mailed', '`user_id`, `application_id`', 'always'),
  'user.password.reset.success': type('the password was reset through the link', '`user`', 'never'),
  'user.password.update': type('the password changed (admin API, reset, lazy migration)', '`user_id`', 'never'),
  'user.consent.update': type("the user's consents changed", '`user_id`, `consents: [{key, granted}]`', 'never'),
  'user.two-factor.method.add': type('a second factor was enrolled (confirmed with its first code)', '`user_id`, `factor: {id, type}`', 'never'),
  'user.two-factor.method.remove': type('a factor was removed (admin API, one or all)', '`user_id`, `factor: {id, type}`', 'never'),
  'jwt.refresh': type('a refresh token was used', '`user_id`, `application_id`, `grant_id`, `scope`, `rotated`', 'always'),
  'hook.failed': type('a hook threw or hit a limit', '`hook_id`, `hook_name`, `event`, `outcome`, `error`', 'never'),
} as const satisfies Record<string, WebhookTypeDefinition>;

export type WebhookEventType = keyof typeof WEBHOOK_CATALOG;

export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_CATALOG) as WebhookEventType[];

/** The Markdown table of docs/webhooks.md's "Event types". */
export function renderWebhookTypes(): string {
  const scope: Record<ApplicationScope, string> = { always: 'yes', when: 'when through one', never: 'no' };
  const rows = Object.entries(WEBHOOK_CATALOG).map(([name, d]) => `| \`${name}\` | ${d.when} | ${d.data} | ${scope[d.application]} |`);
  return ['| type | when | data | application |', '| --- | --- | --- | --- |', ...rows].join('\n');
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
