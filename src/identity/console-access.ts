// Who may sign in to the administration console, and with which role: `admin` may change anything
// the admin API changes, `viewer` only reads. Granted by `tessera admin grant <email>` or KICKSTART
// (`console: {admins: [email]}`); a user without a grant is refused at sign-in and on every request.
import type { Db } from '../db/knex.ts';
import { ValidationError } from '../errors.ts';

export const CONSOLE_ROLES = ['admin', 'viewer'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export function consoleRole(value: unknown, field = 'role'): ConsoleRole {
  if (typeof value === 'string' && (CONSOLE_ROLES as readonly string[]).includes(value)) return value as ConsoleRole;
  throw new ValidationError(field, `must be one of ${CONSOLE_ROLES.join(', ')}`);
}

export class ConsoleAccess {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Gives a user console access (or changes their role). */
  async grant(userId: string, role: ConsoleRole): Promise<void> {
    const now = Date.now();
    await this.#db('console_admins').insert({ user_id: userId, role, created_at: now, updated_at: now }).onConflict('user_id').merge(['role', 'updated_at']);
  }

  async revoke(userId: string): Promise<boolean> {
    return (await this.#db('console_admins').where({ user_id: userId }).delete()) > 0;
  }

  /** The user's role, or null when they have no console access. */
  async roleOf(userId: string): Promise<ConsoleRole | null> {
    const row = await this.#db('console_admins').where({ user_id: userId }).first('role');
    return row ? (row.role as ConsoleRole) : null;
  }
}
