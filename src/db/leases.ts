// Leases on the rows of a work queue (webhook deliveries, async hook jobs): a process claims due rows
// for a while, works on them, and writes them back; only the holder of a row's lease may. A process
// that dies leaves its leases to run out, and the rows are claimed again: at least once, never twice
// within a lease.
//
// A claim is one UPDATE ... WHERE id IN (SELECT ... LIMIT n) ... RETURNING. On PostgreSQL the
// candidates are locked FOR UPDATE SKIP LOCKED, so claimers neither wait on nor take one another's
// rows; on SQLite, one writer at a time makes the statement atomic by itself. Either way the free-lease
// and caller conditions are checked again on the row updated, so a row taken meanwhile is skipped.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { isPostgres, type Db } from './knex.ts';

export type Row = Record<string, unknown>;

/** Where a queue keeps its leases. */
export interface LeaseColumns {
  table: string;
  /** The lease's end (epoch ms); null when no one holds the row. */
  until: string;
  /** The holder; a table without one uses the lease's end as the holder's token. */
  owner?: string;
}

/** Which rows a claim takes. The queue's table is aliased `q` in `join`, `where` and `orderBy`. */
export interface ClaimSpec {
  /** SQL after `FROM <table> q`, e.g. a JOIN. */
  join?: string;
  /** What makes a row due, with `?` bindings (the free-lease condition is added). */
  where: string;
  bindings?: readonly Knex.Value[];
  /** Conditions checked again on the row updated (unaliased): what another claimer changes when it takes one. */
  recheck?: string;
  orderBy: string;
  limit: number;
  /** Columns answered for each row claimed. */
  returning: readonly string[];
}

export interface Claim {
  rows: Row[];
  /** When these leases end. */
  until: number;
}

export class LeaseQueue {
  /** This holder's name (written to the owner column). */
  readonly owner = `l_${randomBytes(8).toString('hex')}`;
  readonly #db: Db;
  readonly #columns: LeaseColumns;
  readonly #leaseMs: number;

  constructor(db: Db, columns: LeaseColumns, leaseMs: number) {
    this.#db = db;
    this.#columns = columns;
    this.#leaseMs = leaseMs;
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  /** Leases up to `spec.limit` due rows no one holds to this holder, and answers them. */
  async claim(spec: ClaimSpec, now = Date.now()): Promise<Claim> {
    const { table, until, owner } = this.#columns;
    const pg = isPostgres(this.#db);
    const until_ = now + this.#leaseMs;
    const set = owner ? `${until} = ?, ${owner} = ?` : `${until} = ?`;
    const setBindings: Knex.Value[] = owner ? [until_, this.owner] : [until_];
    const candidates = `SELECT q.id FROM ${table} q ${spec.join ?? ''}
        WHERE (${spec.where}) AND (q.${until} IS NULL OR q.${until} < ?)
        ORDER BY ${spec.orderBy} LIMIT ? ${pg ? 'FOR UPDATE OF q SKIP LOCKED' : ''}`;
    // PostgreSQL may run an IN (sub-select) again per row updated, each run locking rows the last
    // one did not: ARRAY(...) runs it once, so a claim takes at most `limit` rows.
    const sql = `UPDATE ${table} SET ${set}
      WHERE ${pg ? `id = ANY(ARRAY(${candidates}))` : `id IN (${candidates})`} AND (${until} IS NULL OR ${until} < ?)${spec.recheck ? ` AND (${spec.recheck})` : ''}
      RETURNING ${spec.returning.join(', ')}`;
    const result = await this.#db.raw(sql, [...setBindings, ...(spec.bindings ?? []), now, spec.limit, now]);
    const rows: Row[] = Array.isArray(result) ? result : (result as { rows: Row[] }).rows;
    return { rows, until: until_ };
  }

  /** The columns that make a row being inserted at `now` leased to this holder (or free, with `leased` false). */
  fresh(now: number, leased = true): Row {
    const { until, owner } = this.#columns;
    const row: Row = { [until]: leased ? now + this.#leaseMs : null };
    if (owner) row[owner] = leased ? this.owner : null;
    return row;
  }

  /**
   * Writes `changes` to the rows of `ids` this holder still holds (leased until `until`, on a table
   * without an owner column), freeing their leases. Answers how many rows were written.
   */
  async settle(db: Knex | Knex.Transaction, ids: string | readonly string[], changes: Row = {}, until?: number): Promise<number> {
    const { table, until: untilColumn, owner } = this.#columns;
    const query = db(table);
    if (typeof ids === 'string') query.where({ id: ids });
    else query.whereIn('id', ids as string[]);
    if (owner) query.where(owner, this.owner);
    else if (until !== undefined) query.where(untilColumn, until);
    else throw new Error(`${table}: settling a lease needs its end (no owner column)`);
    const free: Row = { [untilColumn]: null };
    if (owner) free[owner] = null;
    return query.update({ ...changes, ...free });
  }

  /**
   * Frees every lease on rows matching `where`, whoever holds it. Only for SQLite at start, where one
   * process works a database: any lease left is a dead process's, and need not run out first.
   */
  async releaseAll(where: Row): Promise<number> {
    const { table, until, owner } = this.#columns;
    const free: Row = { [until]: null };
    if (owner) free[owner] = null;
    return this.#db(table).where(where).whereNotNull(until).update(free);
  }
}
