// A tiny key/value store for server-wide settings (admin key hash, encryption key).
import type { Db } from './knex.ts';

export async function getSetting(db: Db, key: string): Promise<string | null> {
  const row = await db('settings').where({ key }).first();
  return row ? String(row.value) : null;
}

/** Stores the value unless one is already there (two boxes starting at once agree on the first). */
export async function getOrCreateSetting(db: Db, key: string, create: () => string): Promise<{ value: string; created: boolean }> {
  const existing = await getSetting(db, key);
  if (existing !== null) return { value: existing, created: false };
  const value = create();
  await db('settings').insert({ key, value, updated_at: Date.now() }).onConflict('key').ignore();
  const stored = await getSetting(db, key);
  return { value: stored ?? value, created: stored === value };
}

export async function putSetting(db: Db, key: string, value: string): Promise<void> {
  await db('settings').insert({ key, value, updated_at: Date.now() }).onConflict('key').merge();
}
