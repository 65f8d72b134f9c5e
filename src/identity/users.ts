// Users: the one place that reads and writes the users table. Flows and the admin API both call it.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { preparedStatements, USE_KNEX, type PreparedStatements } from '../db/prepared.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { recordEvent, type PassedEvent, type WebhookEventType } from '../webhooks/outbox.ts';
import { NO_GATE, type TransactionalWebhooks } from '../webhooks/transactional.ts';
import { emailLookupForms, legacyEmailForm } from './email-address.ts';
import { emailProblem, hasControlCharacters, isValidPhone, isValidUsername, normalizeEmail, normalizeIdentifier, normalizePhone, normalizeUsername } from './normalize.ts';
import { assertPlainText } from './plain-text.ts';
import type { BreachedPasswords } from './breached-passwords.ts';
import { passwordPolicyProblem, type PasswordHasher } from './passwords.ts';
import { fieldsOf, UserBody } from '../api-schema/types.ts';

export type UserStatus = 'active' | 'pending' | 'disabled';
export type UserSource = 'registration' | 'admin' | 'migration' | 'kickstart' | 'invitation' | 'external' | 'import';
export type Json = Record<string, unknown>;

export interface User {
  id: string;
  email: string;
  username: string | null;
  given_name: string | null;
  family_name: string | null;
  phone_number: string | null;
  email_verified: boolean;
  phone_number_verified: boolean;
  status: UserStatus;
  source: UserSource;
  has_password: boolean;
  attributes: Json;
  metadata: Json;
  login_count: number;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface NewUser {
  email: string;
  password?: string | null;
  username?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  phone_number?: string | null;
  email_verified?: boolean;
  phone_number_verified?: boolean;
  status?: UserStatus;
  attributes?: Json;
  metadata?: Json;
  /**
   * Instead of `password`: a password already checked and hashed by this server (a sign-up whose
   * profiling pages came before the account). Never read from a request body (not in USER_FIELDS).
   */
  prehashed_password?: string;
}

export type UserPatch = Partial<Omit<NewUser, 'status' | 'prehashed_password'>>;

const USER_FIELDS = fieldsOf(UserBody);
const USER_READ_ONLY = ['id', 'status', 'source', 'has_password', 'login_count', 'last_login_at', 'created_at', 'updated_at'];

/** The body of POST /users (also a KICKSTART entry): only known fields. */
export function userInput(body: JsonObject): NewUser {
  if ('status' in body) throw new ValidationError('status', 'cannot be set here: use POST /users/:id/disable and /enable');
  return onlyFields(body, USER_FIELDS, USER_READ_ONLY) as unknown as NewUser;
}

/** The body of PATCH /users/:id: only known fields, and not the status. */
export function userPatch(body: JsonObject): UserPatch {
  if ('status' in body) throw new ValidationError('status', 'cannot be set here: use POST /users/:id/disable and /enable');
  return onlyFields(body, USER_FIELDS, USER_READ_ONLY) as UserPatch;
}

const NAME_MAX = 200;
/** What a breached password is told (registration, reset, change, the admin API). */
export const BREACHED_MESSAGE = 'is in a list of passwords exposed in data breaches: choose another one';
const FIND_BY_ID_SQL = 'SELECT * FROM users WHERE id = ? LIMIT 1';

type Row = Record<string, unknown>;

function iso(ms: unknown): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

export function toUser(row: Row): User {
  return {
    id: String(row.id),
    email: String(row.email),
    username: (row.username as string | null) ?? null,
    given_name: (row.given_name as string | null) ?? null,
    family_name: (row.family_name as string | null) ?? null,
    phone_number: (row.phone_number as string | null) ?? null,
    email_verified: toBool(row.email_verified),
    phone_number_verified: toBool(row.phone_number_verified),
    status: row.status as UserStatus,
    source: row.source as UserSource,
    has_password: row.password_hash !== null && row.password_hash !== undefined,
    attributes: fromJson<Json>(row.attributes, {}),
    metadata: fromJson<Json>(row.metadata, {}),
    login_count: Number(row.login_count ?? 0),
    last_login_at: iso(row.last_login_at),
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

/** The user as webhooks and hooks see it: no secrets. */
export function publicUser(user: User): User {
  return { ...user };
}

function optionalName(field: string, value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
  assertPlainText(field, value);
  const trimmed = value.trim();
  if (trimmed.length > NAME_MAX) throw new ValidationError(field, `must be at most ${NAME_MAX} characters`);
  return trimmed || null;
}

/** An address that the email rule accepts, in canonical form; a ValidationError naming `email` otherwise. */
function validEmail(raw: string): string {
  const problem = emailProblem(raw);
  if (problem) throw new ValidationError('email', problem);
  return normalizeEmail(raw);
}

function jsonObject(field: string, value: unknown): Json | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, 'must be an object');
  if (JSON.stringify(value).length > 16384) throw new ValidationError(field, 'must be at most 16 KiB of JSON');
  return value as Json;
}

function optionalBool(field: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
  return value;
}

/**
 * Signs an account out everywhere (its sessions, grants, codes and tokens), inside `db` when it is a
 * transaction. The OIDC layer owns those (src/oidc/adapter.ts revokeAccount); server.ts hands it in.
 */
export type AccountRevoker = (db: Knex | Knex.Transaction, accountId: string, reason: RevokeReason) => Promise<unknown>;

/** Why an account's tokens were revoked (jwt.refresh-token.revoke's `reason`). */
export type RevokeReason = 'revocation' | 'sign_out' | 'password_reset' | 'locked' | 'disabled' | 'deleted' | 'access_revoked';

/** An email or username another account has: a 409 naming the field, and the account that has it. */
export class DuplicateLoginId extends ConflictError {
  readonly loginId: string;
  readonly loginIdType: 'email' | 'username';
  readonly existingUserId: string;

  constructor(type: 'email' | 'username', loginId: string, existingUserId: string) {
    super(type, type === 'email' ? 'is already registered' : 'is already taken');
    this.loginIdType = type;
    this.loginId = loginId;
    this.existingUserId = existingUserId;
  }
}

/** user.loginId.duplicate.create / .update: the webhook says what the page (sign-up) may not. */
export async function recordDuplicateLoginId(db: Knex, error: DuplicateLoginId, attempt: { userId?: string; applicationId: string | null }): Promise<void> {
  const data = { login_id: error.loginId, login_id_type: error.loginIdType, existing_user_id: error.existingUserId, application_id: attempt.applicationId };
  if (attempt.userId === undefined) await recordEvent(db, 'user.loginId.duplicate.create', data);
  else await recordEvent(db, 'user.loginId.duplicate.update', { user_id: attempt.userId, ...data });
}

export interface UpdateOptions {
  /** The application the change came through (null: an operator). */
  applicationId?: string | null;
  /** Wait for transactional webhook endpoints before the commit (the admin API). */
  transactional?: boolean;
}

export class UserService {
  readonly #db: Db;
  readonly #passwords: PasswordHasher;
  readonly #policy: Config['password'];
  readonly #revoke: AccountRevoker;
  readonly #breached: BreachedPasswords | null;
  /** SQLite's prepared fast path for findById, read on every token request (findAccount). */
  readonly #prepared: PreparedStatements | null;
  #gate: Pick<TransactionalWebhooks, 'pass'> = NO_GATE;

  constructor(db: Db, passwords: PasswordHasher, policy: Config['password'], revoke: AccountRevoker, breached: BreachedPasswords | null = null) {
    this.#db = db;
    this.#breached = breached;
    this.#prepared = preparedStatements(db);
    this.#passwords = passwords;
    this.#policy = policy;
    this.#revoke = revoke;
  }

  get passwords(): PasswordHasher {
    return this.#passwords;
  }

  /** Transactional webhook endpoints, asked before the changes that say `transactional` commit. */
  useGate(gate: Pick<TransactionalWebhooks, 'pass'>): void {
    this.#gate = gate;
  }

  get gate(): Pick<TransactionalWebhooks, 'pass'> {
    return this.#gate;
  }

  /**
   * Validates a new password against the policy and the breached-password corpus (and the range API
   * when one is set: identity/breached-passwords.ts); throws a ValidationError naming `field`.
   */
  async checkPassword(password: unknown, context: { email?: string | null; username?: string | null }, field = 'password'): Promise<string> {
    const checked = this.#policyChecked(password, context, field);
    if (this.#breached && (await this.#breached.isBreached(checked))) throw new ValidationError(field, BREACHED_MESSAGE);
    return checked;
  }

  /** The policy's rules and the bundled corpus, without I/O (a bulk import checks thousands). */
  checkPasswordOffline(password: unknown, context: { email?: string | null; username?: string | null }, field = 'password'): string {
    const checked = this.#policyChecked(password, context, field);
    if (this.#breached?.inCorpus(checked)) throw new ValidationError(field, BREACHED_MESSAGE);
    return checked;
  }

  /** Whether a password that proved right at sign-in is a breached one (flagged: user.password.breach). */
  async isBreached(password: string): Promise<boolean> {
    return this.#breached ? this.#breached.isBreached(password) : false;
  }

  #policyChecked(password: unknown, context: { email?: string | null; username?: string | null }, field: string): string {
    if (typeof password !== 'string') throw new ValidationError(field, 'must be a string');
    const problem = passwordPolicyProblem(password, this.#policy, context);
    if (problem) throw new ValidationError(field, problem);
    return password;
  }

  /**
   * Validates a new user's fields and answers its row (no password hash yet: `password_hash` is
   * null), with the checked plain password if one was given. Shared by create and the bulk import.
   */
  newUserRow(input: NewUser, source: UserSource, now = Date.now()): { row: Row; password: string | null } {
    const raw = input as unknown as Record<string, unknown>;
    if (typeof raw.email !== 'string' || raw.email.trim() === '') throw new ValidationError('email', 'is required');
    const email = validEmail(raw.email);
    const username = this.#validUsername(raw.username);
    const password = raw.password === undefined || raw.password === null ? null : this.#policyChecked(raw.password, { email, username }, 'password');
    const phone = this.#validPhone(raw.phone_number);
    const status = (raw.status as UserStatus | undefined) ?? 'active';
    const row: Row = {
      id: randomUUID(),
      email,
      username: username ?? null,
      password_hash: null,
      given_name: optionalName('given_name', raw.given_name) ?? null,
      family_name: optionalName('family_name', raw.family_name) ?? null,
      phone_number: phone ?? null,
      email_verified: optionalBool('email_verified', raw.email_verified) ?? false,
      phone_number_verified: optionalBool('phone_number_verified', raw.phone_number_verified) ?? false,
      status,
      source,
      attributes: toJson(jsonObject('attributes', raw.attributes) ?? {}),
      metadata: toJson(jsonObject('metadata', raw.metadata) ?? {}),
      login_count: 0,
      last_login_at: null,
      created_at: now,
      updated_at: now,
    };
    return { row, password };
  }

  /**
   * Creates a user and its webhook events in one transaction. Every field is validated first, so a
   * bad input never leaves a half-written user. With `origin.transactional` (and no `trx`),
   * transactional webhook endpoints get user.create before the commit and may refuse it
   * (WebhookRefused, nothing written); `origin.within` writes more in that transaction (a sign-up's
   * registration). A taken email or username is a DuplicateLoginId, and a user.loginId.duplicate.create event.
   */
  async create(
    input: NewUser,
    source: UserSource,
    trx?: Knex.Transaction,
    origin: { applicationId?: string | null; transactional?: boolean; within?: (tx: Knex.Transaction, user: User) => Promise<void> } = {},
  ): Promise<User> {
    const { row, password } = this.newUserRow(input, source);
    const email = row.email as string;
    const username = row.username as string | null;
    if (password !== null && this.#breached && (await this.#breached.isBreached(password))) throw new ValidationError('password', BREACHED_MESSAGE);
    row.password_hash = typeof input.prehashed_password === 'string' ? input.prehashed_password : password === null ? null : await this.#passwords.hash(password);

    // An invited user is created pending (CONTRACT §9): the events say so, and which application invited them.
    const context = { application_id: origin.applicationId ?? null, ...(source === 'invitation' ? { invited: true } : {}) };
    const duplicate = (error: unknown) => this.#duplicate(error, { applicationId: origin.applicationId ?? null });
    let passed: PassedEvent | null = null;
    if (origin.transactional && !trx) {
      // A taken address is refused before any endpoint hears of the change (and again in the transaction).
      await this.#assertUnique(this.#db, email, username ?? null, null).catch(duplicate);
      passed = await this.#gate.pass('user.create', { user: publicUser(toUser(row)), ...context });
    }
    const write = async (tx: Knex.Transaction) => {
      await this.#assertUnique(tx, email, username ?? null, null);
      await tx('users').insert(row);
      const user = toUser(row);
      await recordEvent(tx, 'user.create', { user: publicUser(user), ...context }, passed);
      // A registration with the application (and its events) is the caller's, in this transaction
      // (identity/registrations.ts): `origin.within` when create opens the transaction itself.
      if (origin.within) await origin.within(tx, user);
      return user;
    };
    return trx ? write(trx) : this.#db.transaction(write).catch(duplicate);
  }

  /** Records user.loginId.duplicate.* for a DuplicateLoginId (outside the refused change), and throws the error on. */
  async #duplicate(error: unknown, attempt: { userId?: string; applicationId: string | null }): Promise<never> {
    if (error instanceof DuplicateLoginId) await recordDuplicateLoginId(this.#db, error, attempt);
    throw error;
  }

  async findById(id: string): Promise<User | null> {
    if (typeof id !== 'string' || id.length > 36) return null;
    const fast = this.#prepared ? this.#prepared.get(FIND_BY_ID_SQL, id) : USE_KNEX;
    const row = fast !== USE_KNEX ? fast : await this.#db('users').where({ id }).first();
    return row ? toUser(row) : null;
  }

  async getById(id: string): Promise<User> {
    const user = await this.findById(id);
    if (!user) throw new NotFoundError('user');
    return user;
  }

  /** Finds by an address as typed: its canonical form, or the form an older account was stored in. */
  async findByEmail(email: string): Promise<User | null> {
    if (hasControlCharacters(email)) return null;
    const forms = emailLookupForms(email);
    const rows = await this.#db('users').whereIn('email', forms).limit(forms.length);
    // Two accounts that fold to one address can only predate the rule: the one typed literally wins.
    const row = forms.map((form) => rows.find((r) => r.email === form)).find(Boolean);
    return row ? toUser(row) : null;
  }

  /** Finds by email or username, as typed on the login page. */
  async findByIdentifier(identifier: string): Promise<User | null> {
    const { kind, value } = normalizeIdentifier(identifier);
    if (!value || hasControlCharacters(value)) return null;
    if (kind === 'email') return this.findByEmail(identifier);
    const row = await this.#db('users').where({ username: value }).first();
    return row ? toUser(row) : null;
  }

  async list(options: { email?: string; q?: string; limit?: number; offset?: number } = {}): Promise<User[]> {
    const query = this.#db('users')
      .orderBy('created_at', 'desc')
      .limit(Math.min(options.limit ?? 50, 200))
      .offset(options.offset ?? 0);
    if (options.email && hasControlCharacters(options.email)) return [];
    if (options.email) query.whereIn('email', emailLookupForms(options.email));
    // q: the console's search, a part of the email, username or name (any case), or the exact id.
    if (options.q) {
      if (hasControlCharacters(options.q)) return [];
      const like = `%${options.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.where((w) => {
        w.where('id', options.q!);
        for (const column of ['email', 'username', 'given_name', 'family_name']) w.orWhereRaw(`lower(${column}) like ? escape '\\'`, [like]);
      });
    }
    return (await query).map(toUser);
  }

  /**
   * Changes the profile. With `options.transactional`, transactional webhook endpoints get the event
   * (user.update) with the user as it will be before the commit, and the commit refuses (409) a user
   * changed meanwhile. A changed email is also user.email.update; a taken email or username a
   * DuplicateLoginId and user.loginId.duplicate.update.
   */
  async update(id: string, patch: UserPatch, eventType: WebhookEventType = 'user.update', options: UpdateOptions = {}): Promise<User> {
    const currentRow = typeof id === 'string' && id.length <= 36 ? await this.#db('users').where({ id }).first() : undefined;
    if (!currentRow) throw new NotFoundError('user');
    const current = toUser(currentRow);
    const raw = patch as Record<string, unknown>;
    const changes: Row = {};
    if (raw.email !== undefined) {
      if (typeof raw.email !== 'string') throw new ValidationError('email', 'must be a string');
      // Sending back the address as stored is no change, even one the rule would refuse today.
      const email = legacyEmailForm(raw.email) === current.email ? current.email : validEmail(raw.email);
      if (email !== current.email) {
        changes.email = email;
        if (raw.email_verified === undefined) changes.email_verified = false;
      }
    }
    if (raw.username !== undefined) changes.username = this.#validUsername(raw.username) ?? null;
    for (const field of ['given_name', 'family_name'] as const) {
      const value = optionalName(field, raw[field]);
      if (value !== undefined) changes[field] = value;
    }
    if (raw.phone_number !== undefined) changes.phone_number = this.#validPhone(raw.phone_number) ?? null;
    for (const field of ['email_verified', 'phone_number_verified'] as const) {
      const value = optionalBool(field, raw[field]);
      if (value !== undefined) changes[field] = value;
    }
    const attributes = jsonObject('attributes', raw.attributes);
    if (attributes) changes.attributes = toJson({ ...current.attributes, ...attributes });
    const metadata = jsonObject('metadata', raw.metadata);
    if (metadata) changes.metadata = toJson({ ...current.metadata, ...metadata });
    if (raw.password !== undefined) {
      const password = await this.checkPassword(raw.password, { email: (changes.email as string) ?? current.email, username: current.username });
      changes.password_hash = await this.#passwords.hash(password);
    }
    if (Object.keys(changes).length === 0) return current;
    changes.updated_at = Date.now();
    const applicationId = options.applicationId ?? null;
    const duplicate = (error: unknown) => this.#duplicate(error, { userId: id, applicationId });
    const loginIds = 'email' in changes || 'username' in changes;
    const assertUnique = (db: Knex) => this.#assertUnique(db, (changes.email as string | undefined) ?? null, (changes.username as string | null | undefined) ?? null, id);

    let passed: PassedEvent | null = null;
    if (options.transactional) {
      if (loginIds) await assertUnique(this.#db).catch(duplicate);
      passed = await this.#gate.pass(eventType, { user: publicUser(toUser({ ...currentRow, ...changes })) });
    }
    return this.#db
      .transaction(async (tx) => {
        if (loginIds) await assertUnique(tx);
        // The account may have been deleted since it was read: then there is nothing to change. What
        // transactional endpoints accepted was this change of the user as read: not of a newer one.
        const where = passed ? { id, updated_at: currentRow.updated_at } : { id };
        if ((await tx('users').where(where).update(changes)) === 0) {
          if (!passed || !(await tx('users').where({ id }).first('id'))) throw new NotFoundError('user');
          throw new ConflictError('user', 'changed while the request was being handled; try again');
        }
        const user = toUser(await tx('users').where({ id }).first());
        await recordEvent(tx, eventType, { user: publicUser(user) }, passed);
        if (changes.email !== undefined) await recordEvent(tx, 'user.email.update', { user: publicUser(user), previous_email: current.email, email: user.email, application_id: applicationId });
        if (changes.password_hash && eventType !== 'user.password.update') await recordEvent(tx, 'user.password.update', { user_id: id, application_id: applicationId });
        return user;
      })
      .catch(duplicate);
  }

  /** Throws a 409 when the user is no longer as `user` was read (the check of a change made behind transactional endpoints). */
  async assertUnchanged(trx: Knex.Transaction, user: User): Promise<void> {
    const row = await trx('users').where({ id: user.id }).first();
    if (!row) throw new NotFoundError('user');
    if (toUser(row).updated_at !== user.updated_at) throw new ConflictError('user', 'changed while the request was being handled; try again');
  }

  /** Sets a new password (already checked against the policy by the caller or here). */
  async setPassword(id: string, password: string, eventType: WebhookEventType = 'user.password.update'): Promise<User> {
    return this.update(id, { password }, eventType);
  }

  /** Hashes a password checked against the policy, before a transaction that writes it (writePassword). */
  async hashPassword(password: string, context: { email?: string | null; username?: string | null }): Promise<string> {
    return this.#passwords.hash(await this.checkPassword(password, context));
  }

  /** Writes a password hashed by hashPassword inside the caller's transaction, with its events as update() writes them. */
  async writePassword(trx: Knex.Transaction, id: string, hash: string, eventType: WebhookEventType = 'user.password.update', applicationId: string | null = null): Promise<User> {
    if ((await trx('users').where({ id }).update({ password_hash: hash, updated_at: Date.now() })) === 0) throw new NotFoundError('user');
    const user = toUser(await trx('users').where({ id }).first());
    await recordEvent(trx, eventType, { user: publicUser(user), application_id: applicationId });
    if (eventType !== 'user.password.update') await recordEvent(trx, 'user.password.update', { user_id: id, application_id: applicationId });
    return user;
  }

  /**
   * The user confirmed a new address (the account page's mailed link): it becomes the account's
   * address, verified, inside the caller's transaction (with the link's use), with user.update and
   * user.email.update (old and new). Refused when the address was taken meanwhile (409).
   */
  async changeEmail(trx: Knex.Transaction, id: string, rawEmail: string, applicationId: string | null = null): Promise<User> {
    const email = validEmail(rawEmail);
    const row = await trx('users').where({ id }).first();
    if (!row) throw new NotFoundError('user');
    const before = toUser(row);
    if (before.email === email) return before;
    await this.#assertUnique(trx, email, null, id);
    await trx('users').where({ id }).update({ email, email_verified: true, updated_at: Date.now() });
    const user = toUser(await trx('users').where({ id }).first());
    await recordEvent(trx, 'user.update', { user: publicUser(user) });
    await recordEvent(trx, 'user.email.update', { user: publicUser(user), previous_email: before.email, email, application_id: applicationId });
    return user;
  }

  /**
   * A sync hook's api.user.setAttribute / setMetadata, merged key by key into the stored values
   * inside the change's transaction (hooks/change.ts), announced as user.update when `announce`.
   */
  async enrich(trx: Knex.Transaction, id: string, changes: { attributes: Json; metadata: Json }, announce = true): Promise<User> {
    const row = await trx('users').where({ id }).first();
    if (!row) throw new NotFoundError('user');
    if (Object.keys(changes.attributes).length === 0 && Object.keys(changes.metadata).length === 0) return toUser(row);
    const current = toUser(row);
    const updated = {
      attributes: toJson({ ...current.attributes, ...changes.attributes }),
      metadata: toJson({ ...current.metadata, ...changes.metadata }),
      updated_at: Date.now(),
    };
    await trx('users').where({ id }).update(updated);
    const user = toUser({ ...row, ...updated });
    if (announce) await recordEvent(trx, 'user.update', { user: publicUser(user) });
    return user;
  }

  /**
   * Keeps a password another system vouched for (lazy migration: a hook accepted it in
   * before_password_validation). It is not held to today's policy, so the user is never asked for
   * it again; only its length is bounded.
   */
  async adoptPassword(id: string, password: string, applicationId: string | null = null): Promise<void> {
    if (typeof password !== 'string' || password.length === 0 || password.length > this.#policy.maxLength) return;
    const hash = await this.#passwords.hash(password);
    await this.#db.transaction(async (tx) => {
      await tx('users').where({ id }).update({ password_hash: hash, updated_at: Date.now() });
      await recordEvent(tx, 'user.password.update', { user_id: id, application_id: applicationId });
    });
  }

  async verifyPassword(user: User | null, password: string): Promise<boolean> {
    if (!user) return this.#passwords.verifyNothing(password);
    const row = await this.#db('users').where({ id: user.id }).select('password_hash').first();
    if (!row?.password_hash) return this.#passwords.verifyNothing(password);
    const hash = String(row.password_hash);
    const valid = await this.#passwords.verify(hash, password);
    if (valid && this.#passwords.needsRehash(hash)) {
      // The hashing cost changed since this hash was made: store the password under today's. Only
      // if the hash is still the one checked (a password change meanwhile wins).
      const fresh = await this.#passwords.hash(password);
      await this.#db('users').where({ id: user.id, password_hash: hash }).update({ password_hash: fresh });
    }
    return valid;
  }

  /**
   * Signs the account out everywhere: its sessions, grants, codes and tokens are deleted (the
   * account stays), and so are its remembered devices, so the next sign-in asks the second factor
   * again (a password reset ends here too). Disabling and deleting an account revoke the tokens in
   * their own transaction.
   */
  async signOutEverywhere(id: string, trx?: Knex.Transaction, reason: RevokeReason = 'sign_out'): Promise<void> {
    const write = async (tx: Knex.Transaction) => {
      const row = await tx('users').where({ id }).first('id');
      if (!row) throw new NotFoundError('user');
      await this.#revoke(tx, id, reason);
      await tx('mfa_remembered_devices').where({ user_id: id }).delete();
    };
    if (typeof id !== 'string' || id.length > 36) throw new NotFoundError('user');
    await (trx ? write(trx) : this.#db.transaction(write));
  }

  /**
   * Sets the status. With `trx` (a change behind sync hooks, hooks/change.ts), `current` is the user as
   * read before the hooks ran: the change is refused (409) when the status changed meanwhile.
   */
  async setStatus(id: string, status: UserStatus, within?: { trx: Knex.Transaction; current: User }): Promise<User> {
    const current = within?.current ?? (await this.getById(id));
    if (current.status === status) return current;
    const eventType: WebhookEventType | null = status === 'disabled' ? 'user.deactivate' : current.status === 'disabled' ? 'user.reactivate' : null;
    const write = async (tx: Knex.Transaction) => {
      if ((await tx('users').where({ id, status: current.status }).update({ status, updated_at: Date.now() })) === 0) {
        const now = await tx('users').where({ id }).first();
        if (!now) throw new NotFoundError('user');
        // A concurrent request made the same change: done, once (its own events were written with it).
        if (now.status === status) return toUser(now);
        throw new ConflictError('status', 'changed while the request was being handled; try again');
      }
      const user = toUser(await tx('users').where({ id }).first());
      if (eventType) await recordEvent(tx, eventType, { user: publicUser(user) });
      // A disabled account is signed out everywhere: enabling it again does not bring old tokens back.
      if (status === 'disabled') await this.#revoke(tx, id, 'disabled');
      return user;
    };
    return within ? write(within.trx) : this.#db.transaction(write);
  }

  /** Marks the email verified and activates a pending account (inside `trx` when given). */
  async verifyEmail(id: string, trx?: Knex.Transaction, applicationId: string | null = null): Promise<User> {
    const write = async (tx: Knex.Transaction) => {
      const row = await tx('users').where({ id }).first();
      if (!row) throw new NotFoundError('user');
      const status = row.status === 'pending' ? 'active' : row.status;
      await tx('users').where({ id }).update({ email_verified: true, status, updated_at: Date.now() });
      const user = toUser(await tx('users').where({ id }).first());
      await recordEvent(tx, 'user.email.verified', { user: publicUser(user), application_id: applicationId });
      return user;
    };
    return trx ? write(trx) : this.#db.transaction(write);
  }

  /**
   * `details`: more of the user.login.success event (the identity provider of a federated sign-in);
   * `also`: more writes of the same transaction (the sign-in's threat signals, identity/threats.ts).
   */
  async recordLogin(id: string, applicationId: string | null, details: Record<string, unknown> = {}, also?: (tx: Knex.Transaction) => Promise<void>): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await also?.(tx);
      const now = Date.now();
      await tx('users')
        .where({ id })
        .update({ last_login_at: now, login_count: tx.raw('login_count + 1') });
      await recordEvent(tx, 'user.login.success', { user_id: id, application_id: applicationId, ...details });
    });
  }

  /**
   * Deletes the user; its sessions and tokens stop working because findAccount no longer finds it.
   * Inside `trx` when given (the user.delete event then carries the user as that transaction has it).
   * `passed`: user.delete as transactional endpoints accepted it (the caller checked assertUnchanged).
   */
  async delete(id: string, trx?: Knex.Transaction, passed: PassedEvent | null = null): Promise<User> {
    if (typeof id !== 'string' || id.length > 36) throw new NotFoundError('user');
    const write = async (tx: Knex.Transaction) => {
      const row = await tx('users').where({ id }).first();
      if (!row) throw new NotFoundError('user');
      const user = toUser(row);
      await tx('users').where({ id }).delete();
      await this.#revoke(tx, id, 'deleted');
      await recordEvent(tx, 'user.delete', { user: publicUser(user) }, passed);
      return user;
    };
    return trx ? write(trx) : this.#db.transaction(write);
  }

  #validUsername(value: unknown): string | null | undefined {
    if (value === undefined) return undefined;
    if (value === null || value === '') return null;
    if (typeof value !== 'string') throw new ValidationError('username', 'must be a string');
    assertPlainText('username', value);
    const username = normalizeUsername(value);
    if (!isValidUsername(username)) {
      throw new ValidationError('username', 'must be 3 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
    }
    return username;
  }

  #validPhone(value: unknown): string | null | undefined {
    if (value === undefined) return undefined;
    if (value === null || value === '') return null;
    if (typeof value !== 'string') throw new ValidationError('phone_number', 'must be a string');
    assertPlainText('phone_number', value);
    const phone = normalizePhone(value);
    if (!isValidPhone(phone)) throw new ValidationError('phone_number', 'must be in E.164 form, e.g. +15551234567');
    return phone;
  }

  async #assertUnique(tx: Knex | Knex.Transaction, email: string | null, username: string | null, exceptId: string | null): Promise<void> {
    if (email) {
      // Any stored form of the same mailbox counts, so a look-alike of an older account is taken too.
      const q = tx('users').whereIn('email', emailLookupForms(email));
      if (exceptId) q.whereNot({ id: exceptId });
      const taken = await q.first('id');
      if (taken) throw new DuplicateLoginId('email', email, String(taken.id));
    }
    if (username) {
      const q = tx('users').where({ username });
      if (exceptId) q.whereNot({ id: exceptId });
      const taken = await q.first('id');
      if (taken) throw new DuplicateLoginId('username', username, String(taken.id));
    }
  }
}
