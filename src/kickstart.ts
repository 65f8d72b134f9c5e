// KICKSTART: a JSON file of applications (with their roles), users, resource servers, groups,
// registrations, hooks and webhooks applied once, when the database holds no application. Entries are the admin API's bodies and go
// through the same validation; the whole file is applied in one transaction, so a bad entry stops
// start-up with an error naming it ("users[2].email: must be a valid email address") and leaves
// nothing half-applied: fix the file and start again.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { getSetting, putSetting } from './db/settings.ts';
import { logEvent } from './event-log.ts';
import { ClientError, ValidationError } from './errors.ts';
import { codeProblem } from './hooks/sandbox/check.ts';
import { hookInput, HookStore } from './hooks/store.ts';
import { groupInput } from './identity/groups.ts';
import { registrationInput } from './identity/registrations.ts';
import { userInput } from './identity/users.ts';
import { asObject, onlyFields } from './input.ts';
import { emailLookupForms } from './identity/email-address.ts';
import { ConsoleAccess, consoleRole } from './identity/console-access.ts';
import { applicationInput, ApplicationService } from './oidc/applications.ts';
import { resourceServerInput, ResourceServerService } from './oidc/resource-servers.ts';
import { webhookInput } from './webhooks/endpoints.ts';
import { recordEvent } from './webhooks/outbox.ts';
import type { Services } from './services.ts';

export class KickstartError extends Error {}

const SECTIONS = ['applications', 'users', 'resource_servers', 'groups', 'registrations', 'hooks', 'webhooks'] as const;
type Section = (typeof SECTIONS)[number];

const APPLIED_SETTING = 'kickstart_applied_at';

export interface KickstartSummary {
  applications: number;
  users: number;
  resource_servers: number;
  groups: number;
  registrations: number;
  hooks: number;
  webhooks: number;
  /** What was created, by id (logged at start and sent as the kickstart.success webhook event). */
  applied: {
    applications: Array<{ client_id: string; name: string }>;
    users: Array<{ id: string }>;
    resource_servers: Array<{ identifier: string }>;
    groups: Array<{ id: string; name: string; members: number }>;
    registrations: Array<{ user_id: string; application: string }>;
    hooks: Array<{ id: string; name: string; event: string; mode: string; version: number; enabled: boolean }>;
    webhooks: Array<{ id: string; url: string }>;
  };
  console_admins: number;
}

/** Reads and checks the file's shape (sections and arrays); entries are checked as they are applied. */
async function readKickstart(file: string): Promise<Partial<Record<Section, unknown[]>> & { console?: unknown }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new KickstartError(`KICKSTART ${file}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new KickstartError(`KICKSTART ${file}: is not valid JSON (${(error as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new KickstartError(`KICKSTART ${file}: must be a JSON object with any of ${SECTIONS.join(', ')}`);
  }
  const out: Partial<Record<Section, unknown[]>> & { console?: unknown } = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'console') {
      out.console = value;
      continue;
    }
    if (!(SECTIONS as readonly string[]).includes(key)) {
      throw new KickstartError(`KICKSTART ${file}: ${key}: is not a known section (known: ${[...SECTIONS, 'console'].join(', ')})`);
    }
    if (!Array.isArray(value)) throw new KickstartError(`KICKSTART ${file}: ${key}: must be an array`);
    out[key as Section] = value;
  }
  return out;
}

/** Runs one entry; a refusal becomes an error naming the entry and the field. */
async function entry<T>(file: string, path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ClientError) {
      const detail = error.field === 'body' ? error.message.replace(/^body: /, ': ') : `.${error.message}`;
      throw new KickstartError(`KICKSTART ${file}: ${path}${detail}`);
    }
    throw new KickstartError(`KICKSTART ${file}: ${path}: ${(error as Error).message}`, { cause: error });
  }
}

export async function applyKickstart(services: Services, file: string): Promise<KickstartSummary | null> {
  const { db, log } = services;
  if (await getSetting(db, APPLIED_SETTING)) {
    log.info({ file }, 'kickstart was applied before; not applying it again');
    return null;
  }
  const doc = await readKickstart(file);

  const applied: KickstartSummary['applied'] = { applications: [], users: [], resource_servers: [], groups: [], registrations: [], hooks: [], webhooks: [] };
  const summary: KickstartSummary = { applications: 0, users: 0, resource_servers: 0, groups: 0, registrations: 0, hooks: 0, webhooks: 0, console_admins: 0, applied };
  await db.transaction(async (trx) => {
    // The same services, bound to the transaction, so a failure rolls everything back.
    const applications = new ApplicationService(trx, services.box);
    applications.useValidator(async (metadata) => {
      await services.provider.Client.validate(metadata as Parameters<typeof services.provider.Client.validate>[0]);
    });
    const resourceServers = new ResourceServerService(trx);

    // Resource servers first: an application's `resource_servers` names them.
    for (const [i, item] of (doc.resource_servers ?? []).entries()) {
      const path = `resource_servers[${i}]`;
      const created = await entry(file, path, () => resourceServers.create(resourceServerInput(asObject(item, 'body'))));
      applied.resource_servers.push({ identifier: created.identifier });
      summary.resource_servers++;
    }
    for (const [i, item] of (doc.applications ?? []).entries()) {
      const path = `applications[${i}]`;
      const created = await entry(file, path, () => applications.create(applicationInput(asObject(item, 'body'))));
      applied.applications.push({ client_id: created.client_id, name: created.name });
      summary.applications++;
    }
    for (const [i, item] of (doc.users ?? []).entries()) {
      const path = `users[${i}]`;
      const created = await entry(file, path, () => services.users.create(userInput(asObject(item, 'body')), 'kickstart', trx));
      applied.users.push({ id: created.id });
      summary.users++;
    }
    // A user of the file (or an older one) named by email, in a group's members or a registration.
    const userId = async (field: string, email: unknown): Promise<string> => {
      if (typeof email !== 'string' || email === '') throw new ValidationError(field, 'is required: the email of a user');
      const user = await trx('users').whereIn('email', emailLookupForms(email)).first('id');
      if (!user) throw new ValidationError(field, `no user has the email "${email}": add them to "users" first`);
      return String(user.id);
    };
    // Groups after the applications and users: `roles` names the file's client_ids and their
    // roles, `members: [email]` its users (a KICKSTART-only field).
    const groups = services.groups.transacting(trx);
    for (const [i, item] of (doc.groups ?? []).entries()) {
      const path = `groups[${i}]`;
      const created = await entry(file, path, async () => {
        const { members, ...body } = asObject(item, 'body');
        if (members !== undefined && (!Array.isArray(members) || members.length > 10_000)) throw new ValidationError('members', 'must be an array of user emails');
        const group = await groups.create(groupInput(body));
        for (const [j, email] of ((members ?? []) as unknown[]).entries()) await groups.putMember(group.id, await userId(`members[${j}]`, email), { data: {} });
        return { id: group.id, name: group.name, members: ((members ?? []) as unknown[]).length };
      });
      applied.groups.push(created);
      summary.groups++;
    }
    // registrations: [{user: email, application, roles?, verified?}], the body of POST /users/:id/registrations plus whose.
    const registrations = services.registrations.transacting(trx);
    for (const [i, item] of (doc.registrations ?? []).entries()) {
      const path = `registrations[${i}]`;
      const created = await entry(file, path, async () => {
        const { user, ...body } = asObject(item, 'body');
        const id = await userId('user', user);
        const registration = await registrations.create(id, registrationInput(body));
        return { user_id: id, application: registration.application };
      });
      applied.registrations.push(created);
      summary.registrations++;
    }
    // Hooks after the applications, so their `applications` may name the file's client_ids.
    const hooks = new HookStore(trx, services.box, codeProblem, async (clientId) => (await applications.find(clientId)) !== null);
    for (const [i, item] of (doc.hooks ?? []).entries()) {
      const path = `hooks[${i}]`;
      const created = await entry(file, path, () => hooks.create(hookInput(asObject(item, 'body')), 'kickstart'));
      applied.hooks.push({ id: created.id, name: created.name, event: created.event, mode: created.mode, version: created.version, enabled: created.enabled });
      summary.hooks++;
    }
    // A webhook without a secret gets a generated one, which is not shown: give one in the file, or
    // rotate it through the admin API (POST /webhooks/:id/rotate-secret) to learn it.
    const webhooks = services.webhooks.transacting(trx);
    for (const [i, item] of (doc.webhooks ?? []).entries()) {
      const path = `webhooks[${i}]`;
      const created = await entry(file, path, () => webhooks.create(webhookInput(asObject(item, 'body'))));
      applied.webhooks.push({ id: created.id, url: created.url });
      summary.webhooks++;
    }
    // console: {admins: [email | {email, role}]}: console access for users of the file (or older ones).
    if (doc.console !== undefined) {
      const section = await entry(file, 'console', async () => onlyFields(asObject(doc.console, 'body'), ['admins']));
      if (!Array.isArray(section.admins ?? [])) throw new KickstartError(`KICKSTART ${file}: console.admins: must be an array of emails`);
      const access = new ConsoleAccess(trx);
      for (const [i, item] of ((section.admins ?? []) as unknown[]).entries()) {
        const path = `console.admins[${i}]`;
        await entry(file, path, async () => {
          const given = typeof item === 'string' ? { email: item } : asObject(item, 'body');
          const { email, role } = onlyFields(given, ['email', 'role']);
          if (typeof email !== 'string') throw new ValidationError('email', 'is required');
          const user = await trx('users').whereIn('email', emailLookupForms(email)).first('id');
          if (!user) throw new ValidationError('email', `no user has this email: add them to "users" first`);
          await access.grant(user.id, role === undefined ? 'admin' : consoleRole(role));
        });
        summary.console_admins++;
      }
    }
    await putSetting(trx, APPLIED_SETTING, new Date().toISOString());
    // Who provisions as code learns what the file did: the log line below, and this event.
    await recordEvent(trx, 'kickstart.success', { ...summary });
    await logEvent(trx, 'kickstart.applied', `KICKSTART ${basename(file)} applied`, { ...summary });
  });

  log.info({ file, ...summary }, 'kickstart applied');
  return summary;
}
