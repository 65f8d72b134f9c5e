// Renders the hook authors' TypeScript types (hooks/types.d.ts) and reference (docs/hooks.md) from
// the catalog, so neither can disagree with what the runner enforces. `npm run gen:hooks` writes
// them; a test fails when the committed files are stale.
import { ACTIONS, PROTECTED_CLAIMS, type ActionType } from './actions.ts';
import { COMMON_FIELDS, EVENTS, sampleEvent, type EventSpec } from './events.ts';
import { RUNTIME_ABSENT, RUNTIME_DOCS, RUNTIME_GLOBALS, THREAT_MODEL_DOCS } from './runtime.ts';

const HEADER = '// Generated from src/hooks/catalog/ by `npm run gen:hooks`. Do not edit by hand.\n';

function pascal(name: string): string {
  return name
    .split('_')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The api object an event's hook receives: only the namespaces its actions use. */
function apiType(actions: readonly ActionType[]): string {
  const groups = new Map<string, string[]>();
  for (const action of actions) {
    const signature = ACTIONS[action].signature.replace(/^api\./, '');
    const [group, method] =
      signature.includes('.') && !signature.startsWith('deny') && !signature.startsWith('redirect')
        ? [signature.slice(0, signature.indexOf('.')), signature.slice(signature.indexOf('.') + 1)]
        : ['', signature];
    groups.set(group, [...(groups.get(group) ?? []), `${method}: void`]);
  }
  const members: string[] = [];
  for (const [group, methods] of groups) {
    const typed = methods.map((m) => m.replace(/^(\w+)\((.*)\): void$/, '$1($2): void'));
    if (group === '') members.push(...typed.map((m) => `  ${m};`));
    else members.push(`  ${group}: {\n${typed.map((m) => `    ${m};`).join('\n')}\n  };`);
  }
  return members.length ? `{\n${members.join('\n')}\n}` : '{}';
}

export function renderTypes(): string {
  const lines = [HEADER, '/* Types for hook authors: `/// <reference path="types.d.ts" />` or copy next to your hook. */', ''];
  lines.push('export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };', '');
  lines.push(`export type EventName =\n${EVENTS.map((e) => `  | '${e.name}'`).join('\n')};`, '');
  lines.push(
    'export interface User {',
    '  id: string;',
    '  email: string;',
    '  username: string | null;',
    '  given_name: string | null;',
    '  family_name: string | null;',
    '  phone_number: string | null;',
    '  email_verified: boolean;',
    '  phone_number_verified: boolean;',
    "  status: 'active' | 'pending' | 'disabled';",
    '  attributes: Record<string, Json>;',
    '  metadata: Record<string, Json>;',
    '  login_count: number;',
    '  last_login_at: string | null;',
    '  created_at: string;',
    '  updated_at: string;',
    '}',
    '',
  );
  lines.push(
    'export interface NewUser {',
    '  email: string;',
    '  username?: string | null;',
    '  given_name?: string | null;',
    '  family_name?: string | null;',
    '  phone_number?: string | null;',
    '  attributes: Record<string, Json>;',
    '  metadata: Record<string, Json>;',
    '}',
    '',
  );
  lines.push(
    '/** An upstream identity provider. */',
    'export interface Provider {',
    '  id: string;',
    '  name: string;',
    '  preset: string | null;',
    '}',
    '',
    '/** An identity at an upstream provider, its claims mapped onto our fields. */',
    'export interface ExternalIdentity {',
    '  provider: Provider;',
    '  subject: string;',
    '  email: string | null;',
    '  email_verified: boolean;',
    '  profile: Record<string, Json>;',
    '}',
    '',
  );
  lines.push('interface EventBase {');
  for (const [field, type] of Object.entries(COMMON_FIELDS)) {
    const [t, comment] = type.split('  // ');
    lines.push(`  ${field}: ${t!.trim()};${comment ? ` // ${comment}` : ''}`);
  }
  lines.push('}', '');
  for (const event of EVENTS) {
    const name = pascal(event.name);
    lines.push(`/** When: ${event.fires}. ${event.sync ? 'Sync or async.' : 'Async only.'} */`);
    lines.push(`export interface ${name}Event extends EventBase {`, `  type: '${event.name}';`);
    for (const [field, type] of Object.entries(event.fields)) lines.push(`  ${field}: ${type};`);
    lines.push('}', `export type ${name}Api = ${apiType(event.actions)};`, '');
  }
  lines.push('export interface EventMap {', ...EVENTS.map((e) => `  ${e.name}: [${pascal(e.name)}Event, ${pascal(e.name)}Api];`), '}', '');
  lines.push('/** A hook module: `export default async function (event, api) { ... }` */');
  lines.push('export type Hook<E extends EventName> = (event: EventMap[E][0], api: EventMap[E][1]) => Promise<void> | void;', '');
  return lines.join('\n');
}

const NO_REFUSAL =
  'Nothing here can be refused (no `api.deny`). A sync hook that fails under `on_error: "fail"` stops the ' +
  'journey with a generic message in `role="alert"` where the journey is waiting for it; what happened already stays.';

const AFTER_NO_REFUSAL =
  'Nothing here can be refused: the change has happened already (no `api.deny`); a sync hook can only ' +
  'enrich the user. A failure under `on_error: "fail"` drops its enrich actions and, where the journey ' +
  'waits for it, stops the journey with a generic message in `role="alert"`.';

function refusalText(e: EventSpec): string {
  if (e.refusal !== null) return `A denial (or a failure under \`on_error: "fail"\`): ${e.refusal}`;
  return e.name.startsWith('after_') ? AFTER_NO_REFUSAL : NO_REFUSAL;
}

/** The rule of every after_* event with a refusal entry in the catalog (CONTRACT §5). */
const AFTER_EVENTS = [
  'Every event runs sync or async, as the hook says. On an `after_*` event that reports a change, a sync',
  'hook runs **before the change commits** and before any webhook about it leaves: the journey (or the',
  'admin API call) waits for it. Its `api.user.setMetadata` / `api.user.setAttribute` are saved in the same',
  'transaction as the change. Where the change can still be refused (`api.deny` in the last column), `api.deny(msg)` or a',
  'failure of a hook with `on_error: "fail"` leaves it undone, nothing half-written: a hosted page shows',
  'the message in `role="alert"`, the admin API answers 409 `{"error": "hook_denied", "message": msg}`.',
  'With `on_error: "continue"` a failing hook is skipped and the change goes on. The hook runs while no',
  'database transaction is open (other sign-ins and sign-ups keep going); the change then commits only if',
  'what it is about did not change meanwhile (the link still unused, the factor still pending, the account',
  'still there), and otherwise is refused as if it had been tried a moment later. Async hooks are queued',
  'and change nothing the journey waits for.',
  '',
];

export function renderDocs(): string {
  const out: string[] = ['<!-- Generated from src/hooks/catalog/ by `npm run gen:hooks`. Do not edit by hand. -->', '', '# Hook event reference', ''];
  out.push(
    'A hook is an ES module whose default export is `async function (event, api)`. It imports nothing,',
    'and its top level runs to its end at once (no top-level `await`: await inside the function). It runs',
    'again for every run, and nothing a run leaves behind reaches the next (see [Runtime](#runtime)).',
    'Every event has these fields:',
    '',
    '| field | type |',
    '| --- | --- |',
  );
  for (const [field, type] of Object.entries(COMMON_FIELDS)) out.push(`| \`${field}\` | \`${type.split('  // ')[0]!.trim()}\` |`);
  out.push('', `Claims a hook can never set: ${[...PROTECTED_CLAIMS].map((c) => `\`${c}\``).join(', ')}.`, '');
  out.push(...AFTER_EVENTS);
  out.push('| event | fires | sync | actions | `api.deny` refuses |', '| --- | --- | --- | --- | --- |');
  out.push(
    'Every saved `code` is a numbered version: `PATCH /admin/api/hooks/:id` with `"draft": true` saves one without',
    'deploying it, `POST /admin/api/hooks/:id/deploy` and `/versions/:n/rollback` choose the one that runs, and the',
    'execution log names the version of each run ([admin-api.md](admin-api.md#versions)). A dry run',
    '(`POST /admin/api/hooks/:id/test`, `POST /admin/api/hooks/test`) changes no data, but its `fetch` calls are real.',
    '',
  );
  for (const e of EVENTS) {
    out.push(
      `| [\`${e.name}\`](#${e.name}) | ${e.fires} | ${e.sync ? 'sync or async' : 'async only'} | ${e.actions.map((a) => `\`${a}\``).join(', ') || '—'} | ${e.refusal === null ? 'no' : 'yes'} |`,
    );
  }
  out.push('', ...RUNTIME_DOCS);
  for (const [name, what] of Object.entries(RUNTIME_GLOBALS)) out.push(`| \`${name}\` | ${what} |`);
  out.push('', 'Refused, with the reason in the error:', '', ...Object.entries(RUNTIME_ABSENT).map(([name, why]) => `- \`${name}\`: ${why}`), '');
  out.push(...THREAT_MODEL_DOCS);
  for (const e of EVENTS) {
    out.push('', `## ${e.name}`, '', `When: ${e.fires}. ${e.sync ? 'Runs sync (the journey waits and applies the actions) or async.' : 'Runs async only: the journey does not wait.'}`, '');
    if (e.note) out.push(e.note, '');
    out.push(refusalText(e), '');
    out.push('Fields:', '', ...Object.entries(e.fields).map(([f, t]) => `- \`${f}\`: \`${t}\``), '');
    if (e.actions.length) out.push('Actions:', '', ...e.actions.map((a) => `- \`${ACTIONS[a].signature}\``), '');
    out.push('Sample event:', '', '```json', JSON.stringify(sampleEvent(e), null, 2), '```');
  }
  return `${out.join('\n')}\n`;
}
