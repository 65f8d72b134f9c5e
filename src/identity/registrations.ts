// Registrations (CONTRACT §9, FusionAuth's model): a user registered with an application, holding
// some of the roles it declares. Self-service sign-up (hosted pages, a first upstream sign-in)
// registers the user with the application it came from, an accepted invitation with the invitation's
// roles, an operator through the admin API or KICKSTART. Each change writes its event and the
// `.complete` twin in the change's transaction. An operator's change waits for the transactional
// webhook endpoints first (src/webhooks/transactional.ts: prepared with no transaction open, then
// committed if nothing changed meanwhile). The roles a token carries (own, and through groups) are
// read here too (rolesFor).
import type { Knex } from 'knex';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { recordWithComplete, type PassedEvent } from '../webhooks/outbox.ts';
import type { CompletableEventType } from '../webhooks/outbox.ts';
import { NO_GATE, type Gate } from '../webhooks/transactional.ts';
import { assertRoles, defaultRoles, roleNames } from './roles.ts';
import { publicUser, toUser, type User } from './users.ts';
import { fieldsOf, RegistrationBody } from '../api-schema/types.ts';

export interface Registration {
  /** The client_id of the application. */
  application: string;
  roles: string[];
  verified: boolean;
  verified_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface RegistrationInput {
  application: string;
  roles?: string[];
  verified?: boolean;
}

export type RegistrationPatch = Omit<RegistrationInput, 'application'>;

type Row = Record<string, unknown>;
const FIELDS = fieldsOf(RegistrationBody);

function iso(ms: unknown): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

function toRegistration(row: Row): Registration {
  return {
    application: String(row.client_id),
    roles: fromJson<string[]>(row.roles, []),
    verified: toBool(row.verified),
    verified_at: iso(row.verified_at),
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

function optionalBool(field: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
  return value;
}

/** The body of POST /users/:id/registrations (also a KICKSTART entry's): only known fields. */
export function registrationInput(body: JsonObject): RegistrationInput {
  const raw = onlyFields(body, FIELDS, ['created_at', 'updated_at', 'verified_at']);
  if (typeof raw.application !== 'string' || raw.application === '') throw new ValidationError('application', 'is required: the client_id of the application');
  return { application: raw.application, ...(raw.roles !== undefined ? { roles: roleNames('roles', raw.roles) } : {}), verified: optionalBool('verified', raw.verified) };
}

/** The body of PATCH /users/:id/registrations/:client_id: roles (replacing the list) and verified. */
export function registrationPatch(body: JsonObject): RegistrationPatch {
  const raw = onlyFields(body, FIELDS, ['created_at', 'updated_at', 'verified_at']);
  if ('application' in raw) throw new ValidationError('application', 'cannot be changed: delete this registration and create another');
  return { ...(raw.roles !== undefined ? { roles: roleNames('roles', raw.roles) } : {}), verified: optionalBool('verified', raw.verified) };
}

async function userRow(db: Knex | Knex.Transaction, userId: string): Promise<User> {
  const row = typeof userId === 'string' && userId.length <= 36 ? await db('users').where({ id: userId }).first() : undefined;
  if (!row) throw new NotFoundError('user');
  return toUser(row);
}

/**
 * Registers `user` with an application inside `trx` (a sign-up's or an invitation's own
 * transaction): the row, then user.registration.create and its twin (and user.registration.verified
 * when it starts verified). `extra` goes into the events (`invited: true`). Roles given must be
 * checked; none given: the application's default roles.
 */
export async function insertRegistration(
  trx: Knex.Transaction,
  user: User,
  clientId: string,
  options: { roles?: string[]; verified?: boolean; extra?: Record<string, unknown>; now?: number; passed?: ReadonlyArray<PassedEvent | null> } = {},
): Promise<Registration> {
  const now = options.now ?? Date.now();
  const verified = options.verified ?? false;
  const roles = options.roles ?? (await defaultRoles(trx, clientId));
  const row = newRow(user.id, clientId, roles, verified, now);
  const inserted = await trx('user_registrations').insert(row).onConflict(['user_id', 'client_id']).ignore().returning('client_id');
  if (inserted.length === 0) throw new ConflictError('application', `the user is already registered with "${clientId}" (PATCH /users/:id/registrations/${clientId} changes it)`);
  const registration = toRegistration(row);
  const data = { user: publicUser(user), registration, application_id: clientId, ...options.extra };
  await recordWithComplete(trx, 'user.registration.create', data, options.passed);
  if (verified) await recordWithComplete(trx, 'user.registration.verified', data, options.passed);
  return registration;
}

function newRow(userId: string, clientId: string, roles: string[], verified: boolean, now: number): Row {
  return { user_id: userId, client_id: clientId, roles: toJson(roles), verified, verified_at: verified ? now : null, created_at: now, updated_at: now };
}

/** The row the change was prepared on is still there, unchanged (the transactional endpoints were asked about it). */
function assertUnchanged(prepared: Row, now: Row | undefined): void {
  if (!now || Number(now.updated_at) !== Number(prepared.updated_at)) throw new ConflictError('registration', 'changed while the change was being made; try again');
}

export class RegistrationService {
  readonly #db: Db | Knex.Transaction;
  /** The transactional webhook endpoints an operator's change waits for (none inside KICKSTART's transaction). */
  readonly #gate: Gate;

  constructor(db: Db | Knex.Transaction, gate: Gate = NO_GATE) {
    this.#db = db;
    this.#gate = gate;
  }

  /** The same service inside a transaction (KICKSTART): its changes wait for no endpoint. */
  transacting(trx: Knex.Transaction): RegistrationService {
    return new RegistrationService(trx);
  }

  async list(userId: string): Promise<Registration[]> {
    await userRow(this.#db, userId);
    return (await this.#db('user_registrations').where({ user_id: userId }).orderBy('created_at', 'asc').orderBy('client_id', 'asc')).map(toRegistration);
  }

  async get(userId: string, clientId: string): Promise<Registration> {
    const row = await this.#row(this.#db, userId, clientId);
    return toRegistration(row);
  }

  async create(userId: string, input: RegistrationInput): Promise<Registration> {
    // Prepared with no transaction open: the registration as it will be, shown to the transactional endpoints.
    const user = await userRow(this.#db, userId);
    // No roles named: the application's defaults (the check also refuses an unknown application).
    await assertRoles(this.#db, input.application, input.roles ?? [], 'roles');
    const roles = input.roles ?? (await defaultRoles(this.#db, input.application));
    const verified = input.verified ?? false;
    const now = Date.now();
    const data = { user: publicUser(user), registration: toRegistration(newRow(user.id, input.application, roles, verified, now)), application_id: input.application };
    const passed = await this.#pass([['user.registration.create', data], ...(verified ? [['user.registration.verified', data] as const] : [])]);
    return this.#transaction(async (tx) => {
      const current = await userRow(tx, userId);
      if (current.updated_at !== user.updated_at) throw new ConflictError('user', 'changed while the registration was being made; try again');
      // Checked again in the transaction: a role removed meanwhile is refused (PostgreSQL holds the application row).
      await assertRoles(tx, input.application, roles, 'roles');
      return insertRegistration(tx, user, input.application, { roles, verified, now, passed });
    });
  }

  async update(userId: string, clientId: string, patch: RegistrationPatch): Promise<Registration> {
    const user = await userRow(this.#db, userId);
    const row = await this.#row(this.#db, userId, clientId);
    const previous = toRegistration(row);
    const roles = patch.roles ?? previous.roles;
    if (patch.roles) await assertRoles(this.#db, clientId, roles, 'roles');
    const verified = patch.verified ?? previous.verified;
    const rolesChanged = roles.join('\n') !== previous.roles.join('\n');
    if (!rolesChanged && verified === previous.verified) return previous;
    const now = Date.now();
    const changes = { roles: toJson(roles), verified, verified_at: verified ? (previous.verified ? row.verified_at : now) : null, updated_at: now };
    const registration = toRegistration({ ...row, ...changes });
    const data = { user: publicUser(user), registration, application_id: clientId };
    const verifiedNow = verified && !previous.verified;
    const passed = await this.#pass([['user.registration.update', { ...data, previous }], ...(verifiedNow ? [['user.registration.verified', data] as const] : [])]);
    return this.#transaction(async (tx) => {
      assertUnchanged(row, await tx('user_registrations').where({ user_id: userId, client_id: clientId }).first());
      if (patch.roles) await assertRoles(tx, clientId, roles, 'roles');
      await tx('user_registrations').where({ user_id: userId, client_id: clientId }).update(changes);
      await recordWithComplete(tx, 'user.registration.update', { ...data, previous }, passed);
      if (verifiedNow) await recordWithComplete(tx, 'user.registration.verified', data, passed);
      return registration;
    });
  }

  async delete(userId: string, clientId: string): Promise<void> {
    const user = await userRow(this.#db, userId);
    const row = await this.#row(this.#db, userId, clientId);
    const data = { user: publicUser(user), registration: toRegistration(row), application_id: clientId };
    const passed = await this.#pass([['user.registration.delete', data]]);
    await this.#transaction(async (tx) => {
      assertUnchanged(row, await tx('user_registrations').where({ user_id: userId, client_id: clientId }).first());
      await tx('user_registrations').where({ user_id: userId, client_id: clientId }).delete();
      await recordWithComplete(tx, 'user.registration.delete', data, passed);
    });
  }

  /** Asks the transactional endpoints about each event, in order; the first refusal throws (WebhookRefused). */
  async #pass(events: ReadonlyArray<readonly [CompletableEventType, Record<string, unknown>]>): Promise<Array<PassedEvent | null>> {
    const passed: Array<PassedEvent | null> = [];
    for (const [type, data] of events) passed.push(await this.#gate.pass(type, data));
    return passed;
  }

  /**
   * The activation link of a self-service sign-up was opened (inside its transaction): the user's
   * registration with that application, when not yet verified, is verified now.
   */
  async verify(trx: Knex.Transaction, user: User, clientId: string | null): Promise<void> {
    if (!clientId) return;
    const row = await trx('user_registrations').where({ user_id: user.id, client_id: clientId }).first();
    if (!row || toBool(row.verified)) return;
    const now = Date.now();
    await trx('user_registrations').where({ user_id: user.id, client_id: clientId }).update({ verified: true, verified_at: now, updated_at: now });
    const registration = toRegistration({ ...row, verified: true, verified_at: now, updated_at: now });
    await recordWithComplete(trx, 'user.registration.verified', { user: publicUser(user), registration, application_id: clientId });
  }

  /**
   * The roles a token for `clientId` carries (scope `roles`): the user's registration's and those of
   * every group the user is a member of, for that application only; sorted, each once.
   */
  async rolesFor(userId: string, clientId: string): Promise<string[]> {
    const [own, through] = await Promise.all([
      this.#db('user_registrations').where({ user_id: userId, client_id: clientId }).first('roles'),
      this.#db('group_roles')
        .join('group_members', 'group_members.group_id', 'group_roles.group_id')
        .where({ 'group_members.user_id': userId, 'group_roles.client_id': clientId })
        .distinct('group_roles.role as role'),
    ]);
    const roles = new Set<string>(own ? fromJson<string[]>(own.roles, []) : []);
    for (const row of through) roles.add(String(row.role));
    return [...roles].sort();
  }

  /** The names of the groups the user is a member of (scope `groups`), sorted. */
  async groupNames(userId: string): Promise<string[]> {
    const rows = await this.#db('groups').join('group_members', 'group_members.group_id', 'groups.id').where({ 'group_members.user_id': userId }).select('groups.name');
    return rows.map((row) => String(row.name)).sort();
  }

  async #row(db: Knex | Knex.Transaction, userId: string, clientId: string): Promise<Row> {
    await userRow(db, userId);
    const row = typeof clientId === 'string' && clientId.length <= 100 ? await db('user_registrations').where({ user_id: userId, client_id: clientId }).first() : undefined;
    if (!row) throw new NotFoundError('registration');
    return row;
  }

  #transaction<T>(work: (tx: Knex.Transaction) => Promise<T>): Promise<T> {
    const db = this.#db as Knex.Transaction;
    // Inside KICKSTART's transaction: a savepoint of it.
    return db.transaction(work);
  }
}
