// Passkeys (WebAuthn, through @simplewebauthn/server): the ceremonies' options and their checks, and
// the credentials. A passkey is also a second factor of its user (a row of mfa_factors, type
// "passkey", identity/factors.ts), so the MFA rule, removals and their webhooks treat it like any
// factor; this module keeps what WebAuthn needs beside it (passkey_credentials).
//
// Whoever starts a ceremony gives a `binding` (what asked: "interaction:<uid>", an account session)
// and a purpose; the challenge is random, kept server-side with both (and the user it is for), and
// used once: an answer is accepted only when its challenge is found unused under the same binding
// and purpose, and it is spent before the signature is even looked at. A replayed answer therefore
// finds its challenge spent. The RP ID is the issuer's host, the expected origin the issuer's origin.
//
// Counters: an authenticator that reports signature counters must report a larger one each time; a
// counter that does not grow means two copies of one key (a cloned authenticator) or a replay, and
// is refused and logged. The stored counter only moves forward (a conditional update).
import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import type { Factor, FactorService } from './factors.ts';

/** What a ceremony is for: adding a passkey, a second factor after the password, a sign-in without one. */
export type PasskeyPurpose = 'register' | 'mfa' | 'passwordless';

export interface PasskeyConfig {
  /** The relying party's ID: the issuer's host name. */
  rpId: string;
  /** The origin the browser must report: the issuer's origin. */
  origin: string;
  /** The name authenticators show. */
  rpName: string;
}

export interface Passkey {
  /** The id of its factor (mfa_factors), which the admin API and the factor list use. */
  id: string;
  user_id: string;
  credential_id: string;
  name: string;
  transports: string[];
  /** singleDevice: bound to one authenticator; multiDevice: may be synced (backup eligible). */
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  aaguid: string | null;
  counter: number;
  created_at: string;
  last_used_at: string | null;
}

/** Why a passkey answer was refused (for the log and the caller's message; the user sees one text per kind). */
export type PasskeyRefusal =
  /** The challenge is unknown, spent, expired, or was not for this binding, purpose or user: a replay looks like this. */
  | 'challenge'
  /** No such credential here (or not the user's). */
  | 'unknown_credential'
  /** The signature, origin, RP ID, user presence or verification did not check out. */
  | 'invalid'
  /** The signature counter did not grow: a cloned authenticator, or a replay. */
  | 'counter'
  /** The credential is registered here already. */
  | 'duplicate';

export class PasskeyError extends Error {
  readonly reason: PasskeyRefusal;
  constructor(reason: PasskeyRefusal, detail: string) {
    super(detail);
    this.name = 'PasskeyError';
    this.reason = reason;
  }
}

/** A registration that checked out, not stored yet (store() writes it, inside the caller's transaction). */
export interface VerifiedPasskey {
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  aaguid: string | null;
}

const CHALLENGE_TTL_MS = 5 * 60_000;
const TIMEOUT_MS = 120_000;
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

type Row = Record<string, unknown>;

function iso(ms: unknown): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

function toPasskey(row: Row): Passkey {
  return {
    id: String(row.factor_id),
    user_id: String(row.user_id),
    credential_id: String(row.credential_id),
    name: String(row.name),
    transports: row.transports ? String(row.transports).split(',') : [],
    device_type: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backed_up: Boolean(row.backed_up),
    aaguid: (row.aaguid as string | null) ?? null,
    counter: Number(row.counter),
    created_at: iso(row.created_at)!,
    last_used_at: iso(row.last_used_at),
  };
}

/** Whether the key may live outside one authenticator (a synced passkey): amr `swk`, else `hwk`. */
export function isSynced(passkey: Pick<Passkey, 'device_type' | 'backed_up'>): boolean {
  return passkey.device_type === 'multiDevice' || passkey.backed_up;
}

/** The challenge an answer carries (from its clientDataJSON), or null when it has none. */
function challengeOf(response: { response?: { clientDataJSON?: unknown } }): string | null {
  const encoded = response.response?.clientDataJSON;
  if (typeof encoded !== 'string' || encoded.length > 4096) return null;
  try {
    const data = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && data.challenge.length <= 100 ? data.challenge : null;
  } catch {
    return null;
  }
}

/** An answer as the browser script posted it (JSON), or null when it is not one. */
export function parseCredentialResponse(text: string): (RegistrationResponseJSON & AuthenticationResponseJSON) | null {
  if (!text || text.length > 32_000) return null;
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (!value || typeof value !== 'object' || typeof value.id !== 'string' || typeof value.rawId !== 'string' || value.type !== 'public-key') return null;
    if (!value.response || typeof value.response !== 'object') return null;
    value.clientExtensionResults ??= {};
    return value as unknown as RegistrationResponseJSON & AuthenticationResponseJSON;
  } catch {
    return null;
  }
}

export class PasskeyService {
  readonly #db: Db;
  readonly #factors: FactorService;
  readonly #config: PasskeyConfig;
  readonly #log: Logger;

  constructor(db: Db, factors: FactorService, config: PasskeyConfig, log: Logger) {
    this.#db = db;
    this.#factors = factors;
    this.#config = config;
    this.#log = log;
  }

  get config(): PasskeyConfig {
    return this.#config;
  }

  // ---- reading -----------------------------------------------------------------------------------

  /** The user's passkeys, oldest first (no key material but the public key's absence). */
  async list(userId: string): Promise<Passkey[]> {
    const rows = await this.#db('passkey_credentials').where({ user_id: userId }).orderBy('created_at', 'asc').orderBy('factor_id', 'asc');
    return rows.map(toPasskey);
  }

  async find(userId: string, factorId: string): Promise<Passkey | null> {
    if (typeof factorId !== 'string' || factorId.length > 60) return null;
    const row = await this.#db('passkey_credentials').where({ user_id: userId, factor_id: factorId }).first();
    return row ? toPasskey(row) : null;
  }

  // ---- challenges --------------------------------------------------------------------------------

  /** A new challenge: its bytes for the options (the library base64url-encodes them), stored as base64url. */
  async #issueChallenge(purpose: PasskeyPurpose, binding: string, userId: string | null): Promise<Uint8Array<ArrayBuffer>> {
    const bytes = new Uint8Array(randomBytes(32));
    const challenge = Buffer.from(bytes).toString('base64url');
    await this.#db('passkey_challenges').insert({ challenge, purpose, binding, user_id: userId, expires_at: Date.now() + CHALLENGE_TTL_MS, used_at: null });
    return bytes;
  }

  /**
   * Spends the challenge an answer carries: once, only under the binding, purpose and user it was
   * issued for, before it expires. Anything else is a PasskeyError('challenge').
   */
  async #spendChallenge(response: { response?: { clientDataJSON?: unknown } }, purpose: PasskeyPurpose, binding: string, userId: string | null): Promise<string> {
    const challenge = challengeOf(response);
    if (!challenge) throw new PasskeyError('invalid', 'the answer carries no challenge');
    const query = this.#db('passkey_challenges').where({ challenge, purpose, binding }).whereNull('used_at').where('expires_at', '>', Date.now());
    if (userId) query.where({ user_id: userId });
    else query.whereNull('user_id');
    const spent = await query.update({ used_at: Date.now() });
    if (spent !== 1) {
      const known = await this.#db('passkey_challenges').where({ challenge }).first('used_at', 'binding');
      const why = !known
        ? 'unknown challenge'
        : known.used_at !== null && known.used_at !== undefined
          ? 'challenge already used (a replayed answer)'
          : 'challenge expired or issued for another ceremony';
      throw new PasskeyError('challenge', why);
    }
    return challenge;
  }

  // ---- registration ------------------------------------------------------------------------------

  /** Options for navigator.credentials.create(): a discoverable credential, the user's own passkeys excluded. */
  async registrationOptions(binding: string, user: { id: string; email: string; name?: string | null }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.list(user.id);
    const challenge = await this.#issueChallenge('register', binding, user.id);
    return generateRegistrationOptions({
      rpName: this.#config.rpName,
      rpID: this.#config.rpId,
      userName: user.email,
      userDisplayName: user.name || user.email,
      userID: new TextEncoder().encode(user.id),
      challenge,
      timeout: TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports as AuthenticatorTransport[] })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
  }

  /** Checks a registration answer (its challenge spent first); answers the credential to store. */
  async verifyRegistration(binding: string, userId: string, response: RegistrationResponseJSON): Promise<VerifiedPasskey> {
    const challenge = await this.#spendChallenge(response, 'register', binding, userId);
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.#config.origin,
        expectedRPID: this.#config.rpId,
        requireUserVerification: false,
      });
    } catch (error) {
      throw new PasskeyError('invalid', (error as Error).message);
    }
    if (!verified.verified) throw new PasskeyError('invalid', 'the registration did not verify');
    const { credential, credentialDeviceType, credentialBackedUp, aaguid } = verified.registrationInfo;
    const taken = await this.#db('passkey_credentials').where({ credential_id: credential.id }).first('factor_id');
    if (taken) throw new PasskeyError('duplicate', 'the credential is registered already');
    return {
      userId,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (response.response.transports ?? []).filter((t) => TRANSPORTS.has(t)),
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
      aaguid: aaguid && aaguid !== '00000000-0000-0000-0000-000000000000' ? aaguid : null,
    };
  }

  /**
   * Writes a verified registration inside `trx`: its factor (active, announced by
   * user.two-factor.method.add with type "passkey") and its credential; the user's first factor
   * also gets recovery codes (answered once, in the clear). Call factors.ready() before opening `trx`.
   */
  async store(
    verified: VerifiedPasskey,
    trx: Knex.Transaction,
    options: { name?: string | null; applicationId?: string | null; factorId?: string } = {},
  ): Promise<{ passkey: Passkey; factor: Factor; recoveryCodes: string[] | null }> {
    const now = Date.now();
    const factorId = options.factorId ?? newPasskeyFactorId();
    const name = (options.name ?? '').replace(/\s+/g, ' ').trim().slice(0, 100) || (verified.deviceType === 'multiDevice' ? 'Synced passkey' : 'Passkey');
    await trx('mfa_factors').insert({
      id: factorId,
      user_id: verified.userId,
      type: 'passkey',
      status: 'pending',
      target: null,
      secret_enc: null,
      last_used_step: null,
      created_at: now,
      confirmed_at: null,
      last_used_at: null,
    });
    await trx('passkey_credentials').insert({
      factor_id: factorId,
      user_id: verified.userId,
      credential_id: verified.credentialId,
      public_key: verified.publicKey,
      counter: verified.counter,
      transports: verified.transports.join(',') || null,
      device_type: verified.deviceType,
      backed_up: verified.backedUp,
      aaguid: verified.aaguid,
      name,
      created_at: now,
      last_used_at: now,
    });
    const pending: Factor = {
      id: factorId,
      user_id: verified.userId,
      type: 'passkey',
      status: 'pending',
      target: null,
      created_at: new Date(now).toISOString(),
      confirmed_at: null,
      last_used_at: null,
    };
    const { factor, recoveryCodes } = await this.#factors.activate(pending, trx, options.applicationId ?? null);
    const row = await trx('passkey_credentials').where({ factor_id: factorId }).first();
    return { passkey: toPasskey(row), factor, recoveryCodes };
  }

  /** Renames a passkey of the user (the account page). */
  async rename(userId: string, factorId: string, name: string): Promise<boolean> {
    const clean = name.replace(/\s+/g, ' ').trim().slice(0, 100);
    if (!clean) return false;
    return (await this.#db('passkey_credentials').where({ user_id: userId, factor_id: factorId }).update({ name: clean })) === 1;
  }

  // ---- authentication ----------------------------------------------------------------------------

  /**
   * Options for navigator.credentials.get(). With a user (a second factor): their passkeys only.
   * Without (a passwordless sign-in): no list at all, the authenticator offers its discoverable
   * credentials, so the options say nothing about any account; user verification is then required.
   */
  async authenticationOptions(binding: string, purpose: 'mfa' | 'passwordless', userId: string | null = null): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const allow = userId ? (await this.list(userId)).map((p) => ({ id: p.credential_id, transports: p.transports as AuthenticatorTransport[] })) : undefined;
    const challenge = await this.#issueChallenge(purpose, binding, userId);
    return generateAuthenticationOptions({
      rpID: this.#config.rpId,
      challenge,
      timeout: TIMEOUT_MS,
      allowCredentials: allow,
      userVerification: purpose === 'passwordless' ? 'required' : 'preferred',
    });
  }

  /**
   * Checks an authentication answer: its challenge (spent first, whatever follows), the credential
   * (the user's, when `userId` is given), the signature, origin and RP ID, user verification for a
   * passwordless sign-in, and the counter. Answers the passkey used (its counter and use recorded).
   */
  async verifyAuthentication(
    binding: string,
    purpose: 'mfa' | 'passwordless',
    response: AuthenticationResponseJSON,
    userId: string | null = null,
  ): Promise<{ passkey: Passkey; userVerified: boolean }> {
    const challenge = await this.#spendChallenge(response, purpose, binding, userId);
    if (typeof response.id !== 'string' || response.id.length > 1400) throw new PasskeyError('unknown_credential', 'malformed credential id');
    const row = await this.#db('passkey_credentials').where({ credential_id: response.id }).first();
    if (!row || (userId && String(row.user_id) !== userId)) throw new PasskeyError('unknown_credential', 'no such credential for this ceremony');
    const stored = toPasskey(row);
    if (purpose === 'passwordless' && response.response.userHandle) {
      const handle = Buffer.from(response.response.userHandle, 'base64url').toString('utf8');
      if (handle !== stored.user_id) throw new PasskeyError('unknown_credential', 'the user handle is not the credential owner');
    }
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.#config.origin,
        expectedRPID: this.#config.rpId,
        credential: { id: stored.credential_id, publicKey: Buffer.from(String(row.public_key), 'base64url'), counter: stored.counter, transports: stored.transports as AuthenticatorTransport[] },
        requireUserVerification: purpose === 'passwordless',
      });
    } catch (error) {
      const message = (error as Error).message;
      if (/counter/i.test(message)) this.#cloneSuspected(stored, message);
      throw new PasskeyError(/counter/i.test(message) ? 'counter' : 'invalid', message);
    }
    if (!verified.verified) throw new PasskeyError('invalid', 'the assertion did not verify');
    const { newCounter, credentialBackedUp, userVerified } = verified.authenticationInfo;
    const now = Date.now();
    // The counter only moves forward: a parallel answer with the same counter loses here.
    const update = this.#db('passkey_credentials').where({ factor_id: stored.id });
    if (newCounter > 0 || stored.counter > 0) update.where('counter', '<', newCounter);
    const moved = await update.update({ counter: newCounter, backed_up: credentialBackedUp, last_used_at: now });
    if (moved !== 1) {
      this.#cloneSuspected(stored, `counter ${newCounter} did not grow past the stored one`);
      throw new PasskeyError('counter', 'the signature counter did not grow');
    }
    await this.#db('mfa_factors').where({ id: stored.id }).update({ last_used_at: now });
    return { passkey: { ...stored, counter: newCounter, backed_up: credentialBackedUp, last_used_at: new Date(now).toISOString() }, userVerified };
  }

  #cloneSuspected(passkey: Passkey, detail: string): void {
    this.#log.warn(
      { user: passkey.user_id, factor: passkey.id, stored_counter: passkey.counter, detail },
      'passkey refused: its signature counter did not grow (a cloned authenticator or a replayed answer)',
    );
  }

  /** Deletes spent and expired challenges. */
  async prune(now = Date.now()): Promise<void> {
    await this.#db('passkey_challenges').where('expires_at', '<', now).delete();
  }
}

/** The id a new passkey's factor will have (to name it to hooks before it is stored). */
export function newPasskeyFactorId(): string {
  return `mf_${randomBytes(16).toString('hex')}`;
}

/** The relying party of an issuer: its host is the RP ID, its origin the only origin accepted. */
export function passkeyConfig(issuer: string, rpName = 'Tessera'): PasskeyConfig {
  const url = new URL(issuer);
  return { rpId: url.hostname, origin: url.origin, rpName };
}
