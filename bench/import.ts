// Bulk import (POST /admin/api/users/import): one call of 10 000 users whose hashes are of the five
// formats (bcrypt, argon2id, Keycloak PBKDF2-SHA256 and -SHA512, scrypt), timed from the request to the
// answer, on SQLite and (with TEST_POSTGRES_URL) on a fresh PostgreSQL database. The hashes are made
// once, before the clock starts; the import itself checks their format and hashes nothing.
import { pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { createTestDatabase } from '../test/support/databases.ts';
import { BENCH_ADMIN_KEY, startBenchServer } from './tessera-server.ts';

async function hashPool(): Promise<Array<Record<string, unknown>>> {
  const pool: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 4; i++) {
    const password = `bench password ${i}`;
    const salt = randomBytes(16);
    pool.push(
      { algorithm: 'bcrypt', hash: bcrypt.hashSync(password, 10) },
      { algorithm: 'argon2id', hash: await argon2.hash(password, { type: argon2.argon2id }) },
      { algorithm: 'pbkdf2-sha256', hash: pbkdf2Sync(password, salt, 27500, 64, 'sha256').toString('base64'), salt: salt.toString('base64'), iterations: 27500 },
      { algorithm: 'pbkdf2-sha512', hash: pbkdf2Sync(password, salt, 210000, 64, 'sha512').toString('base64'), salt: salt.toString('base64'), iterations: 210000 },
      { algorithm: 'scrypt', hash: scryptSync(password, salt, 32).toString('base64'), salt: salt.toString('base64'), iterations: 16384 },
    );
  }
  return pool;
}

export async function measureImport(count = 10_000, rounds = 3): Promise<Array<Record<string, string | number>>> {
  const pool = await hashPool();
  const kinds: Array<'sqlite' | 'postgres'> = process.env.TEST_POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  const rows: Array<Record<string, string | number>> = [];
  for (const kind of kinds) {
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const database = kind === 'postgres' ? await createTestDatabase('postgres') : null;
      const server = await startBenchServer(process.cwd(), kind, database ? { DATABASE_URL: database.url } : {});
      try {
        const users = Array.from({ length: count }, (_, i) => ({ email: `bench${i}@import.example`, given_name: `User ${i}`, email_verified: true, password_hash: pool[i % pool.length] }));
        const body = JSON.stringify({ users });
        const started = performance.now();
        const response = await fetch(`${server.url}/admin/api/users/import`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' }, body });
        const answer = (await response.json()) as { created?: number };
        times.push(performance.now() - started);
        if (response.status !== 200 || answer.created !== count) throw new Error(`the import answered ${response.status}: ${JSON.stringify(answer).slice(0, 300)}`);
      } finally {
        await server.stop();
        await database?.drop();
      }
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    rows.push({ database: kind, users: count, rounds, 'median ms': Math.round(median), 'best ms': Math.round(times[0]!), 'users/s (median)': Math.round(count / (median / 1000)) });
  }
  return rows;
}

if (import.meta.main) console.table(await measureImport(Number(process.env.BENCH_IMPORT_USERS ?? 10_000), Number(process.env.BENCH_IMPORT_ROUNDS ?? 3)));
