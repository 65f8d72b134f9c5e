// Groups (CONTRACT §9): a named set of users holding roles per application (`roles: {client_id:
// [role]}`); every member holds them in that application's tokens (registrations.ts rolesFor).
// Memberships carry a `data` object of their own (FusionAuth's member data): putting a member again
// with other data is an update. Each change writes its event and the `.complete` twin in the change's
// transaction; a group, an application or a user deleted takes its rows along (foreign keys).
import type { Knex } from 'knex';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { gatedChange } from '../webhooks/gated-change.ts';
import { NO_GATE, type Gate } from '../webhooks/transactional.ts';
import { assertPlainText } from './plain-text.ts';
import { assertRoles, roleNames } from './roles.ts';
import { fieldsOf, GroupBody, GroupMemberBody } from '../api-schema/types.ts';

export type GroupRoles = Record<string, string[]>;

export interface Group {
  id: string;
  name: string;
  description: string | null;
  roles: GroupRoles;
  created_at: string;
  updated_at: string;
}

export interface GroupInput {
  name?: string;
  description?: string | null;
  roles?: GroupRoles;
}

export interface GroupMember {
  user_id: string;
  email?: string;
  data: JsonObject;
  created_at: string;
  updated_at: string;
}

type Row = Record<string, unknown>;
const FIELDS = fieldsOf(GroupBody);
const MEMBER_FIELDS = fieldsOf(GroupMemberBody);
const READ_ONLY = ['id', 'member_count', 'created_at', 'updated_at'];
const MAX_APPLICATIONS = 100;

function iso(ms: unknown): string {
  return new Date(Number(ms)).toISOString();
}

function name(value: unknown): string {
  if (typeof value !== 'string' || !value.trim()) throw new ValidationError('name', 'is required: a non-empty string');
  if (value.length > 200) throw new ValidationError('name', 'must be at most 200 characters');
  assertPlainText('name', value);
  return value.trim();
}

function description(value: unknown): string | null {
  if (value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 1000) throw new ValidationError('description', 'must be a string of at most 1000 characters (or null)');
  assertPlainText('description', value);
  return value.trim() || null;
}

function roles(value: unknown): GroupRoles {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('roles', 'must be an object {client_id: [role]}');
  const entries = Object.entries(value);
  if (entries.length > MAX_APPLICATIONS) throw new ValidationError('roles', `must name at most ${MAX_APPLICATIONS} applications`);
  return Object.fromEntries(entries.map(([clientId, list]) => [clientId, roleNames(`roles.${clientId}`, list)]));
}

function input(body: JsonObject, creating: boolean): GroupInput {
  const raw = onlyFields(body, FIELDS, READ_ONLY);
  const out: GroupInput = {};
  if (creating || raw.name !== undefined) out.name = name(raw.name);
  if (raw.description !== undefined) out.description = description(raw.description);
  if (raw.roles !== undefined) out.roles = roles(raw.roles);
  return out;
}

/** The body of POST /groups (also a KICKSTART entry's): only known fields, name required. */
export function groupInput(body: JsonObject): GroupInput {
  return input(body, true);
}

/** The body of PATCH /groups/:id: the fields given change; `roles` replaces the whole map. */
export function groupPatch(body: JsonObject): GroupInput {
  return input(body, false);
}

/** The body of PUT /groups/:id/members/:user_id (optional): the membership's `data`. */
export function memberInput(body: JsonObject): { data: JsonObject } {
  const raw = onlyFields(body, MEMBER_FIELDS, ['user_id', 'created_at', 'updated_at']);
  if (raw.data === undefined) return { data: {} };
  if (raw.data === null || typeof raw.data !== 'object' || Array.isArray(raw.data)) throw new ValidationError('data', 'must be an object');
  if (JSON.stringify(raw.data).length > 16384) throw new ValidationError('data', 'must be at most 16 KiB of JSON');
  return { data: raw.data as JsonObject };
}

function toMember(row: Row): GroupMember {
  return {
    user_id: String(row.user_id),
    ...(typeof row.email === 'string' ? { email: row.email } : {}),
    data: fromJson<JsonObject>(row.data, {}),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export class GroupService {
  readonly #db: Db | Knex.Transaction;
  /** The transactional webhook endpoints a change waits for (gated-change.ts). */
  readonly #gate: Gate;

  constructor(db: Db | Knex.Transaction, gate: Gate = NO_GATE) {
    this.#db = db;
    this.#gate = gate;
  }

  /** The same service inside a transaction (KICKSTART). */
  transacting(trx: Knex.Transaction): GroupService {
    return new GroupService(trx);
  }

  async create(given: GroupInput): Promise<Group> {
    const groupName = name(given.name);
    return gatedChange(this.#db, this.#gate, async (tx, { now, id, record }) => {
      await this.#assertNameFree(tx, groupName, null);
      const grants = given.roles ?? {};
      await this.#assertRoles(tx, grants);
      const row = { id: `grp_${id}`, name: groupName, description: given.description ?? null, created_at: now, updated_at: now };
      await tx('groups').insert(row);
      await this.#writeRoles(tx, row.id, grants);
      const group = await this.#read(tx, row.id);
      await record(tx, 'group.create', { group });
      return group;
    });
  }

  async list(options: { limit?: number; offset?: number } = {}): Promise<Array<Group & { member_count: number }>> {
    const rows = await this.#db('groups')
      .orderBy('name', 'asc')
      .limit(options.limit ?? 100)
      .offset(options.offset ?? 0);
    if (rows.length === 0) return [];
    const ids = rows.map((row) => String(row.id));
    const roleRows = await this.#db('group_roles').whereIn('group_id', ids).orderBy(['client_id', 'role']);
    const countRows: Row[] = await this.#db('group_members').whereIn('group_id', ids).groupBy('group_id').select('group_id').count({ n: '*' });
    const counts = new Map(countRows.map((r) => [String(r.group_id), Number(r.n)]));
    return rows.map((row) => ({
      ...toGroup(
        row,
        roleRows.filter((r) => r.group_id === row.id),
      ),
      member_count: counts.get(String(row.id)) ?? 0,
    }));
  }

  async get(id: string): Promise<Group & { member_count: number }> {
    const group = await this.#read(this.#db, id);
    const [{ n }] = await this.#db('group_members').where({ group_id: id }).count({ n: '*' });
    return { ...group, member_count: Number(n) };
  }

  async update(id: string, patch: GroupInput): Promise<Group> {
    return gatedChange(this.#db, this.#gate, async (tx, { now, record }) => {
      const previous = await this.#read(tx, id);
      const changes: Row = {};
      if (patch.name !== undefined && patch.name !== previous.name) {
        await this.#assertNameFree(tx, patch.name, id);
        changes.name = patch.name;
      }
      if (patch.description !== undefined && patch.description !== previous.description) changes.description = patch.description;
      const rolesChanged = patch.roles !== undefined && JSON.stringify(normalized(patch.roles)) !== JSON.stringify(previous.roles);
      if (Object.keys(changes).length === 0 && !rolesChanged) return previous;
      if (rolesChanged) {
        await this.#assertRoles(tx, patch.roles!);
        await tx('group_roles').where({ group_id: id }).delete();
        await this.#writeRoles(tx, id, patch.roles!);
      }
      changes.updated_at = now;
      await tx('groups').where({ id }).update(changes);
      const group = await this.#read(tx, id);
      await record(tx, 'group.update', { group, previous });
      return group;
    });
  }

  /** Deletes the group; its memberships and role rows go with it (no member.remove events: group.delete says it). */
  async delete(id: string): Promise<void> {
    await gatedChange(this.#db, this.#gate, async (tx, { record }) => {
      const group = await this.#read(tx, id);
      const [{ n }] = await tx('group_members').where({ group_id: id }).count({ n: '*' });
      await tx('groups').where({ id }).delete();
      await record(tx, 'group.delete', { group, member_count: Number(n) });
    });
  }

  async members(id: string, options: { limit?: number; offset?: number } = {}): Promise<GroupMember[]> {
    await this.#read(this.#db, id);
    const rows = await this.#db('group_members')
      .join('users', 'users.id', 'group_members.user_id')
      .where({ 'group_members.group_id': id })
      .orderBy('group_members.created_at', 'asc')
      .orderBy('group_members.user_id', 'asc')
      .limit(options.limit ?? 100)
      .offset(options.offset ?? 0)
      .select('group_members.*', 'users.email');
    return rows.map(toMember);
  }

  /** The groups a user is a member of, by name, each with the membership's data and since when. */
  async groupsOf(userId: string): Promise<Array<{ id: string; name: string; data: JsonObject; joined_at: string }>> {
    const user = typeof userId === 'string' && userId.length <= 36 ? await this.#db('users').where({ id: userId }).first('id') : undefined;
    if (!user) throw new NotFoundError('user');
    const rows = await this.#db('group_members')
      .join('groups', 'groups.id', 'group_members.group_id')
      .where({ 'group_members.user_id': userId })
      .orderBy('groups.name', 'asc')
      .select('groups.id', 'groups.name', 'group_members.data', 'group_members.created_at');
    return rows.map((row) => ({ id: String(row.id), name: String(row.name), data: fromJson<JsonObject>(row.data, {}), joined_at: iso(row.created_at) }));
  }

  /** One membership, or null. */
  async member(id: string, userId: string): Promise<GroupMember | null> {
    if (typeof userId !== 'string' || userId.length > 36) return null;
    const row = await this.#db('group_members').where({ group_id: id, user_id: userId }).first();
    return row ? toMember(row) : null;
  }

  /** Adds the user (group.member.add), or changes an existing membership's data (group.member.update); the same data again changes nothing. */
  async putMember(id: string, userId: string, given: { data: JsonObject }): Promise<{ member: GroupMember; created: boolean }> {
    return gatedChange(this.#db, this.#gate, async (tx, { now, record }) => {
      const group = await this.#read(tx, id);
      const user = typeof userId === 'string' && userId.length <= 36 ? await tx('users').where({ id: userId }).first('id', 'email') : undefined;
      if (!user) throw new NotFoundError('user');
      const current = await tx('group_members').where({ group_id: id, user_id: userId }).first();
      const ref = { id: group.id, name: group.name };
      if (!current) {
        const row = { group_id: id, user_id: userId, data: toJson(given.data), created_at: now, updated_at: now };
        const inserted = await tx('group_members').insert(row).onConflict(['group_id', 'user_id']).ignore().returning('user_id');
        if (inserted.length === 0) throw new ConflictError('user_id', 'was added to the group by another request meanwhile; try again');
        const member = toMember(row);
        await record(tx, 'group.member.add', { group: ref, members: [member] });
        return { member: { ...member, email: String(user.email) }, created: true };
      }
      const before = toMember(current);
      if (JSON.stringify(before.data) === JSON.stringify(given.data)) return { member: { ...before, email: String(user.email) }, created: false };
      await tx('group_members')
        .where({ group_id: id, user_id: userId })
        .update({ data: toJson(given.data), updated_at: now });
      const member = { ...before, data: given.data, updated_at: iso(now) };
      await record(tx, 'group.member.update', { group: ref, members: [member], previous: [{ user_id: userId, data: before.data }] });
      return { member: { ...member, email: String(user.email) }, created: false };
    });
  }

  async removeMember(id: string, userId: string): Promise<void> {
    await gatedChange(this.#db, this.#gate, async (tx, { record }) => {
      const group = await this.#read(tx, id);
      const current = typeof userId === 'string' && userId.length <= 36 ? await tx('group_members').where({ group_id: id, user_id: userId }).first() : undefined;
      if (!current) throw new NotFoundError('member');
      await tx('group_members').where({ group_id: id, user_id: userId }).delete();
      await record(tx, 'group.member.remove', { group: { id: group.id, name: group.name }, members: [toMember(current)] });
    });
  }

  /** Finds a group by its name (KICKSTART's memberships name their group). */
  async findByName(groupName: string): Promise<Group | null> {
    const row = await this.#db('groups').where({ name: groupName }).first('id');
    return row ? this.#read(this.#db, String(row.id)) : null;
  }

  async #assertNameFree(tx: Knex.Transaction, groupName: string, exceptId: string | null): Promise<void> {
    const query = tx('groups').where({ name: groupName });
    if (exceptId) query.whereNot({ id: exceptId });
    if (await query.first('id')) throw new ConflictError('name', `a group named "${groupName}" exists already`);
  }

  async #assertRoles(tx: Knex.Transaction, grants: GroupRoles): Promise<void> {
    for (const [clientId, list] of Object.entries(grants)) await assertRoles(tx, clientId, list, `roles.${clientId}`, `roles.${clientId}`);
  }

  async #writeRoles(tx: Knex.Transaction, groupId: string, grants: GroupRoles): Promise<void> {
    const rows = Object.entries(grants).flatMap(([clientId, list]) => list.map((role) => ({ group_id: groupId, client_id: clientId, role })));
    if (rows.length) await tx('group_roles').insert(rows);
  }

  async #read(db: Knex | Knex.Transaction, id: string): Promise<Group> {
    const row = typeof id === 'string' && id.length <= 40 ? await db('groups').where({ id }).first() : undefined;
    if (!row) throw new NotFoundError('group');
    return toGroup(row, await db('group_roles').where({ group_id: id }).orderBy(['client_id', 'role']));
  }
}

/** A roles map as stored: applications with no role left out, names sorted. */
function normalized(grants: GroupRoles): GroupRoles {
  return Object.fromEntries(
    Object.entries(grants)
      .filter(([, list]) => list.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([clientId, list]) => [clientId, [...list].sort()]),
  );
}

function toGroup(row: Row, roleRows: Row[]): Group {
  const grants: GroupRoles = {};
  for (const r of roleRows) {
    const clientId = String(r.client_id);
    grants[clientId] = [...(grants[clientId] ?? []), String(r.role)];
  }
  return {
    id: String(row.id),
    name: String(row.name),
    description: (row.description as string | null) ?? null,
    roles: normalized(grants),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
