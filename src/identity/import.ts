// Bulk import (POST /admin/api/users/import, CONTRACT §9): up to 10 000 users a call, each with the
// fields POST /users takes and optionally a password hash made by another system
// (identity/password-formats.ts). All or nothing, as FusionAuth's Import API: every entry is
// checked first (its fields, its hash's format, its address and username against the other entries
// and the stored users); any problem and nothing is written, the answer names each bad index. A
// valid call is written in one transaction (multi-row inserts) with one user.bulk.create event, so a
// user is either fully imported with the rest or not at all; a user created meanwhile with one of
// the addresses makes the insert fail and the transaction roll back whole (409).
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { ClientError, ConflictError, ValidationError } from '../errors.ts';
import { asObject } from '../input.ts';
import { faultPoint } from '../faults.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import { emailLookupForms } from './email-address.ts';
import { HashFormatError, storedFormOf } from './password-formats.ts';
import { userInput, type UserService } from './users.ts';

export const IMPORT_MAX_USERS = 10_000;
/** Rows per INSERT: well inside SQLite's and PostgreSQL's bound on bound parameters (18 columns each). */
const INSERT_CHUNK = 500;
/** Plain passwords hashed at once (libuv's default thread pool has 4 threads). */
const HASH_CONCURRENCY = 4;
/** Addresses per look-up of existing users. */
const LOOKUP_CHUNK = 500;

export interface ImportError {
  index: number;
  /** The field of the entry that is wrong (`email`, `password_hash.hash`…), when one is. */
  field: string | null;
  message: string;
}

export interface ImportResult {
  created: number;
  errors: ImportError[];
}

/** The import was refused: nothing was written; `errors` names each bad entry. */
export class ImportRefused extends ClientError {
  readonly errors: ImportError[];
  constructor(errors: ImportError[]) {
    const first = errors[0]!;
    super(400, 'invalid_request', `users[${first.index}]${first.field ? `.${first.field}` : ''}: ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more: see errors)` : ''}`);
    this.errors = errors;
  }
}

type Row = Record<string, unknown>;

function errorOf(index: number, error: unknown): ImportError {
  if (error instanceof HashFormatError) return { index, field: error.field ? `password_hash.${error.field}` : 'password_hash', message: error.message };
  if (error instanceof ValidationError || error instanceof ConflictError) {
    // ValidationError's message is "field: text"; keep the field apart.
    const field = (error as { field?: string }).field ?? null;
    const message = field && error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
    return { index, field, message };
  }
  throw error;
}

export class UserImporter {
  readonly #db: Db;
  readonly #users: UserService;

  constructor(db: Db, users: UserService) {
    this.#db = db;
    this.#users = users;
  }

  /** Checks every entry, then writes all of them in one transaction; ImportRefused when any is bad. */
  async import(body: unknown): Promise<ImportResult> {
    const entries = this.#entries(body);
    const errors: ImportError[] = [];
    const rows: Array<{ index: number; row: Row; password: string | null }> = [];
    const now = Date.now();
    for (const [index, entry] of entries.entries()) {
      // The whole body was checked for NUL characters by #entries: an entry needs only to be an object.
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        errors.push({ index, field: null, message: 'must be a JSON object (a user)' });
        continue;
      }
      try {
        const object = entry as Record<string, unknown>;
        const { password_hash: hash, ...fields } = object;
        const input = userInput(fields);
        const { row, password } = this.#users.newUserRow(input, 'import', now);
        if (hash !== undefined && password !== null) throw new ValidationError('password', 'give password or password_hash, not both');
        if (password !== null) this.#users.checkPasswordOffline(password, { email: row.email as string, username: row.username as string | null });
        if (hash !== undefined && hash !== null) row.password_hash = storedFormOf(hash);
        rows.push({ index, row, password });
      } catch (error) {
        errors.push(errorOf(index, error));
      }
    }
    errors.push(...this.#duplicatesWithin(rows));
    errors.push(...(await this.#taken(rows)));
    if (errors.length > 0) throw new ImportRefused(errors.sort((a, b) => a.index - b.index));

    // A plain password is hashed with today's argon2id (slow by design: give password_hash for bulk).
    // argon2 hashes on libuv's thread pool: a few at once use its threads, more would only queue.
    const plain = rows.filter((entry) => entry.password !== null);
    for (let at = 0; at < plain.length; at += HASH_CONCURRENCY) {
      await Promise.all(plain.slice(at, at + HASH_CONCURRENCY).map(async (entry) => (entry.row.password_hash = await this.#users.passwords.hash(entry.password!))));
    }

    await this.#db.transaction(async (tx) => {
      for (let at = 0; at < rows.length; at += INSERT_CHUNK) {
        try {
          await tx('users').insert(rows.slice(at, at + INSERT_CHUNK).map((entry) => entry.row));
        } catch (error) {
          if (isUniqueViolation(error)) throw new ConflictError('users', 'an address or username was registered while the import ran: nothing was imported, try again');
          throw error;
        }
        if (at === 0) faultPoint('import.first-batch-written');
      }
      await this.#announce(tx, rows);
    });
    return { created: rows.length, errors: [] };
  }

  #entries(body: unknown): unknown[] {
    const object = asObject(body, 'body');
    for (const key of Object.keys(object)) if (key !== 'users') throw new ValidationError(key, 'is not a known field (known: users)');
    const users = object.users;
    if (!Array.isArray(users)) throw new ValidationError('users', 'must be an array of users');
    if (users.length === 0) throw new ValidationError('users', 'must hold at least one user');
    if (users.length > IMPORT_MAX_USERS) throw new ValidationError('users', `must hold at most ${IMPORT_MAX_USERS} users a call`);
    return users;
  }

  /** The same address (any stored form of it) or username twice in the call: every later one is an error. */
  #duplicatesWithin(rows: Array<{ index: number; row: Row }>): ImportError[] {
    const errors: ImportError[] = [];
    const emails = new Map<string, number>();
    const usernames = new Map<string, number>();
    for (const { index, row } of rows) {
      const forms = emailLookupForms(row.email as string);
      const first = forms.map((form) => emails.get(form)).find((i) => i !== undefined);
      if (first !== undefined) errors.push({ index, field: 'email', message: `is the same address as users[${first}]` });
      else for (const form of forms) emails.set(form, index);
      const username = row.username as string | null;
      if (username) {
        const seen = usernames.get(username);
        if (seen !== undefined) errors.push({ index, field: 'username', message: `is the same username as users[${seen}]` });
        else usernames.set(username, index);
      }
    }
    return errors;
  }

  /** Addresses and usernames already registered. */
  async #taken(rows: Array<{ index: number; row: Row }>): Promise<ImportError[]> {
    const byForm = new Map<string, number>();
    const byUsername = new Map<string, number>();
    for (const { index, row } of rows) {
      for (const form of emailLookupForms(row.email as string)) if (!byForm.has(form)) byForm.set(form, index);
      const username = row.username as string | null;
      if (username && !byUsername.has(username)) byUsername.set(username, index);
    }
    const errors: ImportError[] = [];
    const forms = [...byForm.keys()];
    for (let at = 0; at < forms.length; at += LOOKUP_CHUNK) {
      const found = await this.#db('users')
        .whereIn('email', forms.slice(at, at + LOOKUP_CHUNK))
        .select('email');
      for (const { email } of found) errors.push({ index: byForm.get(String(email))!, field: 'email', message: 'is already registered' });
    }
    const names = [...byUsername.keys()];
    for (let at = 0; at < names.length; at += LOOKUP_CHUNK) {
      const found = await this.#db('users')
        .whereIn('username', names.slice(at, at + LOOKUP_CHUNK))
        .select('username');
      for (const { username } of found) errors.push({ index: byUsername.get(String(username))!, field: 'username', message: 'is already taken' });
    }
    // One address can match through two forms: one error per index and field.
    const seen = new Set<string>();
    return errors.filter((error) => {
      const key = `${error.index}:${error.field}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  async #announce(tx: Knex.Transaction, rows: Array<{ row: Row }>): Promise<void> {
    await recordEvent(tx, 'user.bulk.create', { count: rows.length, users: rows.map(({ row }) => ({ id: row.id, email: row.email })) });
  }
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === '23505' || /UNIQUE constraint failed/i.test(e.message ?? '') || e.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
