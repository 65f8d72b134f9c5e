// Faults of the database rather than of the request: it does not answer (frozen, stopped, unreachable,
// out of connections), is busy (SQLite's write lock held too long) or full. They are answered 503 with
// Retry-After (src/http/middleware.ts, the provider's server_error in server.ts) and need no restart:
// the next request tries again.

/** What a 503 asks the client to wait, in seconds. */
export const RETRY_AFTER_SECONDS = 5;

/** The database did not answer in time (our own timeouts, src/db/knex.ts). */
export class DatabaseUnavailableError extends Error {
  readonly code = 'DB_UNAVAILABLE';
  /** oidc-provider answers an error with its statusCode. */
  readonly statusCode = 503;
  readonly status = 503;
  readonly expose = false;
}

// SQLSTATE classes and codes: 08 connection exception; 53 insufficient resources (disk full, out of
// memory, too many connections); 57014 statement timeout; 57P01–57P03 shutting down or starting;
// 55P03 lock timeout.
const PG_CODES = /^(08...|53...|57014|57P0[1-3]|55P03)$/;
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'DB_UNAVAILABLE']);
// node:sqlite's primary result codes: SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_IOERR 10, SQLITE_FULL 13.
const SQLITE_CODES = new Set([5, 6, 10, 13]);
// pg and knex say these in words only.
const MESSAGES = /Connection terminated|timeout expired|not queryable|Timeout acquiring a connection|Query read timeout/;

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const { code, errcode, name, message } = err as { code?: unknown; errcode?: unknown; name?: unknown; message?: unknown };
  if (err instanceof DatabaseUnavailableError || name === 'KnexTimeoutError') return true;
  if (typeof code === 'string' && (NODE_CODES.has(code) || PG_CODES.test(code))) return true;
  if (code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number') return SQLITE_CODES.has(errcode & 0xff);
  return typeof message === 'string' && MESSAGES.test(message);
}
