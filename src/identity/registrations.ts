// Registrations (CONTRACT §9, FusionAuth's model): a user registered with an application, holding
// some of the roles it declares. Self-service sign-up (hosted pages, a first upstream sign-in)
// registers the user with the application it came from, an accepted invitation with the invitation's
// roles, an operator through the admin API or KICKSTART. Each change writes its event and the
// `.complete` twin in the change's transaction. The roles a token carries (own, and through groups)
// are read here too (rolesFor).
import type { Knex } from 'knex';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { recordWithComplete } from '../webhooks/outbox.ts';
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
  options: { roles?: string[]; verified?: boolean; extra?: Record<string, unknown> } = {},
): Promise<Registration> {
  const now = Date.now();
  const verified = options.verified ?? false;
  const roles = options.roles ?? (await defaultRoles(trx, clientId));
  const row = { user_id: user.id, client_id: clientId, roles: toJson(roles), verified, verified_at: verified ? now : null, created_at: now, updated_at: now };
  const inserted = await trx('user_registrations').insert(row).onConflict(['user_id', 'client_id']).ignore().returning('client_id');
  if (inserted.length === 0) throw new ConflictError('application', `the user is already registered with "${clientId}" (PATCH /users/:id/registrations/${clientId} changes it)`);
  const registration = toRegistration(row);
  const data = { user: publicUser(user), registration, application_id: clientId, ...options.extra };
  await recordWithComplete(trx, 'user.registration.create', data);
  if (verified) await recordWithComplete(trx, 'user.registration.verified', data);
  return registration;
}

export class RegistrationService {
  readonly #db: Db | Knex.Transaction;

  constructor(db: Db | Knex.Transaction) {
    this.#db = db;
  }

  /** The same service inside a transaction (KICKSTART). */
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
    return this.#transaction(async (tx) => {
      const user = await userRow(tx, userId);
      // No roles named: the application's defaults (the check also refuses an unknown application).
      await assertRoles(tx, input.application, input.roles ?? [], 'roles');
      return insertRegistration(tx, user, input.application, { roles: input.roles, verified: input.verified ?? false });
    });
  }

  async update(userId: string, clientId: string, patch: RegistrationPatch): Promise<Registration> {
    return this.#transaction(async (tx) => {
      const user = await userRow(tx, userId);
      const row = await this.#row(tx, userId, clientId);
      const previous = toRegistration(row);
      const roles = patch.roles ?? previous.roles;
      if (patch.roles) await assertRoles(tx, clientId, roles, 'roles');
      const verified = patch.verified ?? previous.verified;
      const rolesChanged = roles.join('\n') !== previous.roles.join('\n');
      if (!rolesChanged && verified === previous.verified) return previous;
      const now = Date.now();
      const changes = { roles: toJson(roles), verified, verified_at: verified ? (previous.verified ? row.verified_at : now) : null, updated_at: now };
      await tx('user_registrations').where({ user_id: userId, client_id: clientId }).update(changes);
      const registration = toRegistration({ ...row, ...changes });
      const data = { user: publicUser(user), registration, application_id: clientId };
      await recordWithComplete(tx, 'user.registration.update', { ...data, previous });
      if (verified && !previous.verified) await recordWithComplete(tx, 'user.registration.verified', data);
      return registration;
    });
  }

  async delete(userId: string, clientId: string): Promise<void> {
    await this.#transaction(async (tx) => {
      const user = await userRow(tx, userId);
      const registration = toRegistration(await this.#row(tx, userId, clientId));
      await tx('user_registrations').where({ user_id: userId, client_id: clientId }).delete();
      await recordWithComplete(tx, 'user.registration.delete', { user: publicUser(user), registration, application_id: clientId });
    });
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
