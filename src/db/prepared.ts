// Hand-written prepared statements for the hottest statements of the token path (the OIDC adapter's
// find and upsert, the user read of findAccount), run at once on SQLite's one connection. Through
// knex each costs its query builder, the pool's acquire and release and a few promise turns (about
// 0.2 ms of CPU a read, docs/BENCHMARKS.md §6); the statement itself takes microseconds.
// PostgreSQL keeps knex: there a statement is a round trip to another process over a pool of
// connections, beside which the builder's cost is small, and knex's pool and transactions stay the
// one place that manages connections.
import type { SQLInputValue } from 'node:sqlite';
import type { Db } from './knex.ts';
import { NodeSqliteClient } from './node-sqlite-client.ts';

export type Row = Record<string, unknown>;

/** The fast path could not run the statement now (a transaction holds the connection): use knex. */
export const USE_KNEX = Symbol('use knex');

export interface PreparedStatements {
  /** The first row of a read, undefined when there is none. */
  get(sql: string, ...params: SQLInputValue[]): Row | undefined | typeof USE_KNEX;
  /** Runs a write; false when it did not run. */
  run(sql: string, ...params: SQLInputValue[]): boolean;
  /** Runs a write once per row, in one transaction of its own; false when it did not run. */
  runMany(sql: string, rows: readonly SQLInputValue[][]): boolean;
}

/** The fast path on SQLite (node:sqlite); null on PostgreSQL. */
export function preparedStatements(db: Db): PreparedStatements | null {
  const client = db.client as unknown;
  if (!(client instanceof NodeSqliteClient)) return null;
  return {
    get(sql, ...params) {
      const statement = client.statementNow(sql);
      return statement === null ? USE_KNEX : (statement.get(...params) as Row | undefined);
    },
    run(sql, ...params) {
      const statement = client.statementNow(sql);
      if (statement === null) return false;
      statement.run(...params);
      return true;
    },
    runMany(sql, rows) {
      return client.runManyNow(sql, rows);
    },
  };
}
