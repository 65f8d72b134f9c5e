// Roles (CONTRACT §9): an application declares them (`roles: [{name, description?}]`), its
// registrations and the groups hold some of them. The rule of a role's name, the check of an
// application's list, and which roles of an application exist (read from the applications table,
// which src/oidc/applications.ts owns and writes) live here, so identity/ needs nothing of oidc/.
import type { Knex } from 'knex';
import { fromJson, isPostgres, type Db } from '../db/knex.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import { assertPlainText } from './plain-text.ts';

export interface Role {
  name: string;
  description: string | null;
  /** Given to every new registration that names no roles (self-service sign-up above all). */
  default: boolean;
}

/** Letters, digits and `_.:-` (`admin`, `billing:read`, `org.editor`), at most 100. */
export const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const MAX_ROLES = 100;
const ROLE_RULE = 'must be a role name: 1 to 100 letters, digits, dots, dashes, colons or underscores';

/** An application's `roles` as given (POST/PATCH /applications, KICKSTART): checked, each name once. */
export function parseRoles(value: unknown): Role[] {
  if (!Array.isArray(value) || value.length > MAX_ROLES) throw new ValidationError('roles', `must be an array of at most ${MAX_ROLES} roles, each {name, description?}`);
  const seen = new Set<string>();
  return value.map((item, i) => {
    const field = `roles[${i}]`;
    const given = typeof item === 'string' ? { name: item } : item;
    if (given === null || typeof given !== 'object' || Array.isArray(given)) throw new ValidationError(field, 'must be an object {name, description?}');
    for (const key of Object.keys(given))
      if (!['name', 'description', 'default'].includes(key)) throw new ValidationError(`${field}.${key}`, 'is not a known field (known: name, description, default)');
    const { name, description, default: isDefault } = given as { name?: unknown; description?: unknown; default?: unknown };
    if (isDefault !== undefined && typeof isDefault !== 'boolean') throw new ValidationError(`${field}.default`, 'must be true or false');
    if (typeof name !== 'string' || !ROLE_NAME.test(name)) throw new ValidationError(`${field}.name`, ROLE_RULE);
    if (seen.has(name)) throw new ValidationError(`${field}.name`, `"${name}" is listed twice`);
    seen.add(name);
    if (description !== undefined && description !== null) {
      if (typeof description !== 'string' || description.length > 500) throw new ValidationError(`${field}.description`, 'must be a string of at most 500 characters');
      assertPlainText(`${field}.description`, description);
    }
    return { name, description: typeof description === 'string' && description.trim() ? description.trim() : null, default: isDefault === true };
  });
}

/** The stored roles of an application row. */
export function storedRoles(value: unknown): Role[] {
  return fromJson<Role[]>(value, []).map((role) => ({ name: role.name, description: role.description ?? null, default: role.default === true }));
}

/** The roles a registration that names none gets: the application's defaults (none when it is unknown). */
export async function defaultRoles(db: Knex | Knex.Transaction, clientId: string): Promise<string[]> {
  return ((await applicationRoles(db, clientId)) ?? [])
    .filter((role) => role.default)
    .map((role) => role.name)
    .sort();
}

/** A list of role names as given (a registration's, an invitation's, a group's for one application). */
export function roleNames(field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_ROLES) throw new ValidationError(field, `must be an array of at most ${MAX_ROLES} role names`);
  const names = value.map((role, i) => {
    if (typeof role !== 'string' || !ROLE_NAME.test(role)) throw new ValidationError(`${field}[${i}]`, ROLE_RULE);
    return role;
  });
  return [...new Set(names)].sort();
}

/**
 * The application's declared roles, or null when no application has this client_id. Inside a
 * transaction on PostgreSQL the row is held (FOR SHARE) until it ends, so a concurrent change of the
 * application's roles (which holds it FOR UPDATE, assertRolesUnused) waits for the registration or
 * group that names one of them, or goes first and is seen (SQLite has one writer at a time).
 */
export async function applicationRoles(db: Knex | Knex.Transaction, clientId: string): Promise<Role[] | null> {
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 100) return null;
  const query = db('applications').where({ client_id: clientId }).first('roles');
  if ((db as Knex.Transaction).isTransaction && isPostgres(db as Db)) query.forShare();
  const row = await query;
  return row ? storedRoles(row.roles) : null;
}

/**
 * `roles` checked against the application's declared roles: an unknown application (`field` names
 * it) or a role it does not declare (named) is refused.
 */
export async function assertRoles(db: Knex | Knex.Transaction, clientId: string, roles: string[], field: string, applicationField = 'application'): Promise<void> {
  const declared = await applicationRoles(db, clientId);
  if (!declared) throw new ValidationError(applicationField, `no application has client_id "${clientId}"`);
  const known = new Set(declared.map((role) => role.name));
  const index = roles.findIndex((role) => !known.has(role));
  if (index >= 0) {
    const list = declared.length ? `its roles: ${declared.map((r) => r.name).join(', ')}` : 'it declares no roles';
    throw new ValidationError(`${field}[${index}]`, `"${roles[index]}" is not a role of application "${clientId}" (${list})`);
  }
}

/**
 * Before an application's roles change: a role taken off the list while registrations or groups
 * still hold it is refused (409, naming the role and how many hold it). Taking it from them first is
 * the operator's choice, made visible, rather than a silent cascade that strips users' access.
 */
export async function assertRolesUnused(db: Knex | Knex.Transaction, clientId: string, removed: string[]): Promise<void> {
  if (removed.length === 0) return;
  if ((db as Knex.Transaction).isTransaction && isPostgres(db as Db)) await db('applications').where({ client_id: clientId }).forUpdate().first('client_id');
  const registrations = await db('user_registrations').where({ client_id: clientId }).select('roles');
  for (const role of removed) {
    const users = registrations.filter((row) => fromJson<string[]>(row.roles, []).includes(role)).length;
    const [{ n }] = await db('group_roles').where({ client_id: clientId, role }).count({ n: '*' });
    const groups = Number(n);
    if (users === 0 && groups === 0) continue;
    const holders = [users ? `${users} user${users === 1 ? '' : 's'}` : '', groups ? `${groups} group${groups === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
    throw new ConflictError('roles', `the role "${role}" is still held by ${holders}: take it from them first (PATCH /users/:id/registrations/${clientId}, PATCH /groups/:id)`);
  }
}
