// The keys this instance uses, kept in step with the database without a restart: every
// KEY_REFRESH_INTERVAL (and right after a rotation made here, when a pending key's activation time
// comes, and on PostgreSQL when another instance announces a change with NOTIFY) the key set is read
// again and, when it changed, handed to the provider: the JWKS it publishes, the key that signs ID
// tokens and JWT access tokens, and the cookie keys (the first signs, all verify). The interval is the
// bound; the notification only makes it sooner (a lost one costs nothing but the wait).
//
// oidc-provider takes its keys at construction and offers no way to change them later (its maintainer's
// advice is a rolling restart); a rolling restart would not publish a new key everywhere before it signs.
// So the provider's own keystore initialiser is run again on the new set (it replaces the keystore and
// the JWKS it answers, nothing else), and the cookie keys array, shared with the koa app, is updated in
// place. test/key-rotation.test.ts fails if an upgrade of oidc-provider changes either.
import type Provider from 'oidc-provider';
import pg from 'pg';
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import { isPostgres, type Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { type KeySet, loadKeys } from './keys.ts';

/** The PostgreSQL channel on which key changes are announced. */
const CHANNEL = 'tessera_keys';

function fingerprint(keys: KeySet): string {
  return `${keys.signing.map((key) => key.kid).join(',')}|${keys.cookie.join(',')}`;
}

export class KeyRing {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #refreshMs: number;
  #keys: KeySet;
  #provider: Provider | null = null;
  #interval: NodeJS.Timeout | null = null;
  #activation: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;
  #listener: pg.Client | null = null;
  #relisten: NodeJS.Timeout | null = null;

  constructor(db: Db, initial: KeySet, options: { refreshMs: number; log: Logger }) {
    this.#db = db;
    this.#keys = initial;
    this.#refreshMs = options.refreshMs;
    this.#log = options.log;
  }

  /** The key set in force here. */
  get current(): KeySet {
    return this.#keys;
  }

  /** Starts refreshing the keys of `provider`, which was built with `current`. */
  start(provider: Provider): void {
    this.#provider = provider;
    this.#interval = setInterval(() => void this.refresh(), this.#refreshMs);
    this.#interval.unref();
    this.#scheduleActivation();
    if (isPostgres(this.#db)) void this.#listen();
  }

  /** Tells the other instances (PostgreSQL) that the keys changed, so they refresh before their interval ends. */
  async announce(): Promise<void> {
    if (!isPostgres(this.#db)) return;
    await this.#db.raw('SELECT pg_notify(?, ?)', [CHANNEL, '']).catch((err: unknown) => this.#log.warn({ err }, 'key change not announced; other instances see it at their next refresh'));
  }

  /** A connection of its own that LISTENs; lost, it is opened again one interval later. */
  async #listen(): Promise<void> {
    if (!this.#provider) return;
    const settings = (this.#db.client as { connectionSettings: pg.ClientConfig }).connectionSettings;
    const client = new pg.Client({ ...settings, statement_timeout: undefined } as pg.ClientConfig);
    this.#listener = client;
    const lost = (err?: unknown) => {
      if (this.#listener !== client) return;
      this.#listener = null;
      client.end().catch(() => {});
      if (err) this.#log.debug({ err }, 'key change listener lost; listening again at the next interval');
      if (this.#provider) {
        this.#relisten = setTimeout(() => void this.#listen(), this.#refreshMs);
        this.#relisten.unref();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => void this.refresh());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // Stopped while connecting: this connection must not keep the process alive.
      if (this.#listener !== client) await client.end();
    } catch (err) {
      lost(err);
    }
  }

  stop(): void {
    if (this.#interval) clearInterval(this.#interval);
    if (this.#activation) clearTimeout(this.#activation);
    if (this.#relisten) clearTimeout(this.#relisten);
    this.#interval = null;
    this.#activation = null;
    this.#provider = null;
    const listener = this.#listener;
    this.#listener = null;
    listener?.end().catch(() => {});
  }

  /** Reads the keys again and applies them if they changed; a database that does not answer keeps the current ones. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#load().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    let keys: KeySet;
    try {
      keys = await loadKeys(this.#db);
    } catch (err) {
      this.#log.warn({ err }, 'keys could not be refreshed; the current ones stay in use');
      return;
    }
    if (keys.signing.length === 0 || keys.cookie.length === 0) return;
    const changed = fingerprint(keys) !== fingerprint(this.#keys);
    this.#keys = keys;
    if (changed && this.#provider) {
      this.#apply(this.#provider, keys);
      this.#log.info({ signing_kid: keys.signing[0]!.kid, published: keys.signing.map((key) => key.kid) }, 'keys refreshed');
    }
    this.#scheduleActivation();
  }

  #apply(provider: Provider, keys: KeySet): void {
    initializeKeystore.call(provider, { keys: keys.signing });
    const cookieKeys = provider.keys as string[];
    cookieKeys.splice(0, cookieKeys.length, ...keys.cookie);
  }

  /** A pending key signs from its activation time: look again then. */
  #scheduleActivation(): void {
    if (this.#activation) clearTimeout(this.#activation);
    this.#activation = null;
    const at = this.#keys.nextActivation;
    if (at === null || !this.#provider) return;
    this.#activation = setTimeout(() => void this.refresh(), Math.min(Math.max(0, at - Date.now()) + 5, 2 ** 31 - 1));
    this.#activation.unref();
  }
}
