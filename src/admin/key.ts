// The admin API key in force. Only its sha256 is stored (settings `admin_api_key_sha256`, as
// "<source>:<hash>"), with where it came from:
// - `env`: ADMIN_API_KEY, written at every start that names it;
// - `generated`: made by a start without ADMIN_API_KEY and printed once;
// - `rotated`: made by `tessera admin rotate-key` and printed once.
// A start without ADMIN_API_KEY keeps a generated or rotated key, but replaces one that came from the
// environment (the operator removed it: it must stop working) or whose origin is unknown (a bare hash
// written before the source was kept), and prints the new key once.
//
// Every instance on one database reads the stored hash, and re-reads it at most every few seconds,
// so a key rotated by the command line (or by another instance's start) takes effect everywhere
// within ADMIN_KEY_REFRESH_MS without a restart.
import { randomToken, sha256Hex } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import { getSetting, putSetting } from '../db/settings.ts';

export type AdminKeySource = 'env' | 'generated' | 'rotated';

export interface AdminKeyState {
  source: AdminKeySource;
  hash: string;
}

const SETTING = 'admin_api_key_sha256';
const SOURCES: readonly string[] = ['env', 'generated', 'rotated'];
const ADMIN_KEY_REFRESH_MS = 5000;

/** The stored value: its source and hash (`unknown` for a bare hash from an older version). */
function parseStoredKey(value: string): { source: AdminKeySource | 'unknown'; hash: string } {
  const at = value.indexOf(':');
  const source = value.slice(0, at);
  if (at > 0 && SOURCES.includes(source)) return { source: source as AdminKeySource, hash: value.slice(at + 1) };
  return { source: 'unknown', hash: value };
}

/** A short, safe-to-log name for a key: the start of its sha256 (never the key). */
export function keyFingerprint(hash: string): string {
  return hash.slice(0, 12);
}

function newAdminKey(): string {
  return `tsk_${randomToken(32)}`;
}

async function readStored(db: Db): Promise<{ raw: string; source: AdminKeySource | 'unknown'; hash: string } | null> {
  const raw = await getSetting(db, SETTING);
  return raw === null ? null : { raw, ...parseStoredKey(raw) };
}

export interface EstablishedKey extends AdminKeyState {
  /** Why an earlier key was replaced by a generated one, if it was. */
  replaced: 'env-removed' | 'unknown-origin' | null;
}

/**
 * Decides the key in force at start. `announce` gets the new key when one is generated here (once);
 * when several instances start at once, only the one whose key was stored announces it.
 */
export async function establishAdminKey(db: Db, envKey: string | null, announce: (key: string) => void): Promise<EstablishedKey> {
  if (envKey) {
    const hash = sha256Hex(envKey);
    await putSetting(db, SETTING, `env:${hash}`);
    return { source: 'env', hash, replaced: null };
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const stored = await readStored(db);
    if (stored && (stored.source === 'generated' || stored.source === 'rotated')) {
      return { source: stored.source, hash: stored.hash, replaced: null };
    }
    const key = newAdminKey();
    const hash = sha256Hex(key);
    const value = `generated:${hash}`;
    // Compare-and-set: of instances starting at once, one replaces the old value and prints its key.
    // The value is random, so reading it back means this instance's write is the one that stands.
    if (stored === null) await db('settings').insert({ key: SETTING, value, updated_at: Date.now() }).onConflict('key').ignore();
    else await db('settings').where({ key: SETTING, value: stored.raw }).update({ value, updated_at: Date.now() });
    if ((await getSetting(db, SETTING)) === value) {
      announce(key);
      const replaced = stored === null ? null : stored.source === 'env' ? 'env-removed' : 'unknown-origin';
      return { source: 'generated', hash, replaced };
    }
  }
  throw new Error('could not settle the admin API key: the stored value kept changing');
}

/** `tessera admin rotate-key`: a new key in force on every instance; answers it (shown once). */
export async function rotateAdminKey(db: Db): Promise<{ key: string; previous: AdminKeySource | 'unknown' | null }> {
  const previous = await readStored(db);
  const key = newAdminKey();
  await putSetting(db, SETTING, `rotated:${sha256Hex(key)}`);
  return { key, previous: previous?.source ?? null };
}

/** The hash in force, re-read from the database at most every `refreshMs`. */
export class AdminKeyCache {
  readonly #db: Db;
  readonly #refreshMs: number;
  #hash: string;
  #loadedAt = Date.now();
  #loading: Promise<string> | null = null;

  constructor(db: Db, initial: string, refreshMs = ADMIN_KEY_REFRESH_MS) {
    this.#db = db;
    this.#hash = initial;
    this.#refreshMs = refreshMs;
  }

  async hash(): Promise<string> {
    if (Date.now() - this.#loadedAt < this.#refreshMs) return this.#hash;
    this.#loading ??= readStored(this.#db)
      .then((stored) => {
        // No stored key (a wiped settings table) leaves the last one known in force.
        if (stored) this.#hash = stored.hash;
        this.#loadedAt = Date.now();
        return this.#hash;
      })
      .finally(() => {
        this.#loading = null;
      });
    return this.#loading;
  }
}
