// The knex instance for SQLite (the default, one box) or PostgreSQL (several boxes).
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { DatabaseUnavailableError } from './unavailable.ts';
import { NodeSqliteClient } from './node-sqlite-client.ts';

// PostgreSQL returns BIGINT as strings; our bigints are epoch milliseconds, well inside 2^53.
pg.types.setTypeParser(20, (value: string) => Number(value));

export type Db = Knex;

export function isPostgres(db: Db): boolean {
  return (db.client as { dialect?: string }).dialect === 'postgresql';
}

/** How long the database may take before a request is answered 503 rather than kept waiting. */
export interface DatabaseTimeouts {
  connectMs: number;
  acquireMs: number;
  /** 0: none (migrations, which may rightly run long). */
  statementMs: number;
}

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = { connectMs: 3000, acquireMs: 3000, statementMs: 4000 };

/** Where knex's own warnings go (they would be plain lines on stdout otherwise). */
export type KnexLog = (level: 'warn' | 'error' | 'debug', message: string) => void;

const require = createRequire(import.meta.url);
// knex ships no types for its dialect classes; this is the one we extend.
const Client_PG = require('knex/lib/dialects/postgres/index.js') as new (config: Knex.Config) => { _query(connection: unknown, obj: unknown): Promise<unknown> };

interface PgConnection {
  __knex__disposed?: unknown;
  connection?: { stream?: { destroy(): void } };
}

/**
 * PostgreSQL's statement_timeout cancels a slow statement on a server that answers; a server that
 * does not (frozen, or the network gone) is caught here: past the timeout the statement fails and its
 * connection is dropped (knex's pool then discards it), so neither waits for an answer that may never come.
 */
class GuardedPgClient extends Client_PG {
  override async _query(connection: PgConnection, obj: unknown): Promise<unknown> {
    const limit = (this as unknown as { config: { guardMs?: number } }).config.guardMs ?? 0;
    if (!limit) return super._query(connection, obj);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        connection.__knex__disposed = 'the database did not answer';
        connection.connection?.stream?.destroy();
        reject(new DatabaseUnavailableError(`the database did not answer within ${limit} ms`));
      }, limit);
    });
    try {
      return await Promise.race([super._query(connection, obj), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function openDatabase(databaseUrl: string, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS, log?: KnexLog): Db {
  const logger = log
    ? {
        warn: (m: unknown) => log('warn', String(m)),
        error: (m: unknown) => log('error', String(m)),
        debug: (m: unknown) => log('debug', String(m)),
        deprecate: (m: unknown) => log('warn', String(m)),
      }
    : undefined;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
    return knexFactory({
      client: NodeSqliteClient as unknown as typeof Knex.Client,
      connection: { filename: file },
      useNullAsDefault: true,
      // One connection: SQLite has one writer at a time, and statements run on this thread.
      pool: { min: 1, max: 1 },
      ...(logger ? { log: logger } : {}),
    });
  }
  const { connectMs, acquireMs, statementMs } = timeouts;
  return knexFactory({
    client: GuardedPgClient as unknown as typeof Knex.Client,
    connection: {
      connectionString: databaseUrl,
      connectionTimeoutMillis: connectMs,
      keepAlive: true,
      // A statement waiting for a lock counts too. A transaction left idle (its client gone quiet) frees its
      // locks after 5 min: longer than any webhook or hook a transaction may wait for.
      ...(statementMs ? { statement_timeout: statementMs, idle_in_transaction_session_timeout: 300_000 } : {}),
    } as Knex.PgConnectionConfig,
    pool: { min: 0, max: 10, acquireTimeoutMillis: acquireMs, createTimeoutMillis: connectMs },
    acquireConnectionTimeout: acquireMs,
    // The server's own timeout answers first; this catches a server that does not answer at all.
    ...({ guardMs: statementMs ? statementMs + 250 : 0 } as object),
    ...(logger ? { log: logger } : {}),
  });
}

/** JSON stored as text works the same on both databases. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined || value === '') return fallback;
  if (typeof value !== 'string') return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

/** SQLite answers 0/1, PostgreSQL true/false. */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}
