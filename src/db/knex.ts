// The knex instance for SQLite (the default, one box) or PostgreSQL (several boxes).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { NodeSqliteClient } from './node-sqlite-client.ts';

// PostgreSQL returns BIGINT as strings; our bigints are epoch milliseconds, well inside 2^53.
pg.types.setTypeParser(20, (value: string) => Number(value));

export type Db = Knex;

export function isPostgres(db: Db): boolean {
  return db.client.config.client === 'pg';
}

export function openDatabase(databaseUrl: string): Db {
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
    return knexFactory({
      client: NodeSqliteClient as unknown as typeof Knex.Client,
      connection: { filename: file },
      useNullAsDefault: true,
      // One connection: SQLite has one writer at a time, and statements run on this thread.
      pool: { min: 1, max: 1 },
    });
  }
  return knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 } });
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
