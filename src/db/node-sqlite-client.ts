// A knex client for SQLite through Node's own synchronous driver (node:sqlite).
//
// Why not the `sqlite3` package: it runs every statement on a libuv thread and calls back on the
// main thread, so SQLite's one connection is held across two thread hops per statement. Those hops,
// not SQLite, capped Tessera's refresh grant at ~465/s on 2 cores; here it reaches ~800/s
// (docs/BENCHMARKS.md). The cost: a statement blocks this thread while it runs, and a write that
// waits for another process's lock (busy_timeout) blocks it too. Query building, the pool of one
// connection and transactions stay knex's (its sqlite3 dialect, which this extends).
import { createRequire } from 'node:module';
import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite';
import type { Knex } from 'knex';

const require = createRequire(import.meta.url);
// knex ships no types for its dialect classes; this is the one we extend.
const Client_SQLite3 = require('knex/lib/dialects/sqlite3/index.js') as new (config: Knex.Config) => SqliteClientBase;

interface SqliteClientBase {
  connectionSettings: { filename: string };
}

interface QueryObject {
  sql: string;
  bindings?: unknown[];
  response?: unknown;
  context?: { lastID: number | bigint; changes: number | bigint };
}

/** Prepared statements kept per connection; our queries are a few hundred distinct texts. */
const STATEMENT_CACHE_SIZE = 500;

class SqliteConnection {
  readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  constructor(filename: string) {
    this.db = new DatabaseSync(filename);
    // WAL: readers never wait for the writer; other processes (the CLI, a second server) wait
    // up to 5 s for the write lock rather than failing at once.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;');
  }

  prepare(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function toSqliteValue(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.valueOf();
  return value as SQLInputValue;
}

export class NodeSqliteClient extends Client_SQLite3 {
  /** The pool's one connection (pool max 1), for the prepared fast path (src/db/prepared.ts). */
  #connection: SqliteConnection | null = null;

  _driver(): unknown {
    return { DatabaseSync };
  }

  async acquireRawConnection(): Promise<SqliteConnection> {
    this.#connection = new SqliteConnection(this.connectionSettings.filename);
    return this.#connection;
  }

  async destroyRawConnection(connection: SqliteConnection): Promise<void> {
    if (this.#connection === connection) this.#connection = null;
    connection.db.close();
  }

  /**
   * The connection's prepared statement for `sql`, to run now on this thread, or null when it may
   * not: no connection yet, or a transaction open on it (a statement run now would join that
   * transaction, and vanish with its rollback). knex's own queries wait for the pool instead.
   */
  statementNow(sql: string): StatementSync | null {
    const connection = this.#connection;
    if (connection === null || !connection.db.isOpen || connection.db.isTransaction) return null;
    return connection.prepare(sql);
  }

  /**
   * Runs `sql` once per row in one transaction of its own, now on this thread (a batch of writes
   * without knex's builder and thousands of bindings); false when it may not run now (statementNow).
   */
  runManyNow(sql: string, rows: readonly SQLInputValue[][]): boolean {
    const connection = this.#connection;
    if (connection === null || !connection.db.isOpen || connection.db.isTransaction) return false;
    const statement = connection.prepare(sql);
    connection.db.exec('BEGIN');
    try {
      for (const row of rows) statement.run(...row);
      connection.db.exec('COMMIT');
    } catch (error) {
      if (connection.db.isTransaction) connection.db.exec('ROLLBACK');
      throw error;
    }
    return true;
  }

  async _query(connection: SqliteConnection, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) throw new Error('The query is empty');
    // SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, an I/O error): knex's
    // ROLLBACK then finds none, and its error would replace the one that says what happened.
    if (/^\s*ROLLBACK/i.test(obj.sql) && !connection.db.isTransaction) {
      obj.response = { changes: 0, lastInsertRowid: 0 };
      return obj;
    }
    const statement = connection.prepare(obj.sql);
    const bindings = (obj.bindings ?? []).map(toSqliteValue);
    if (statement.columns().length > 0) {
      // Rows come with a null prototype; callers (and deepEqual) expect plain objects.
      obj.response = statement.all(...bindings).map((row) => ({ ...row }));
      return obj;
    }
    const result = statement.run(...bindings);
    obj.response = result;
    obj.context = { lastID: result.lastInsertRowid, changes: result.changes };
    return obj;
  }
}

Object.assign(NodeSqliteClient.prototype, { driverName: 'node:sqlite' });
