// The keys this instance uses, kept in step with the database without a restart: every
// KEY_REFRESH_INTERVAL (and right after a rotation made here, and when a pending key's activation time
// comes) the key set is read again and, when it changed, handed to the provider: the JWKS it publishes,
// the key that signs ID tokens and JWT access tokens, and the cookie keys (the first signs, all verify).
//
// oidc-provider takes its keys at construction and offers no way to change them later (its maintainer's
// advice is a rolling restart); a rolling restart would not publish a new key everywhere before it signs.
// So the provider's own keystore initialiser is run again on the new set (it replaces the keystore and
// the JWKS it answers, nothing else), and the cookie keys array, shared with the koa app, is updated in
// place. test/key-rotation.test.ts fails if an upgrade of oidc-provider changes either.
import type Provider from 'oidc-provider';
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { type KeySet, loadKeys } from './keys.ts';

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
  }

  stop(): void {
    if (this.#interval) clearInterval(this.#interval);
    if (this.#activation) clearTimeout(this.#activation);
    this.#interval = null;
    this.#activation = null;
    this.#provider = null;
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
