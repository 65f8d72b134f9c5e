// The second factors of multi-factor authentication: TOTP (an authenticator app), one-time codes by
// email and by SMS, and recovery codes. The one place that reads and writes the mfa_* tables; the
// login journey and the admin API both call it.
//
// Secrets at rest: the TOTP secret is sealed (SecretBox); one-time codes and recovery codes are kept
// only as HMAC-SHA256 under a server key, compared in constant time. A code is single use, expires,
// and dies after a few wrong guesses (counted atomically BEFORE the comparison, so that parallel
// guesses cannot slip past the limit). A TOTP code is accepted once: the last time step used is kept
// and a step at or before it is refused.
import { createHmac, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import * as OTPAuth from 'otpauth';
import type { Config } from '../config.ts';
import { constantTimeEqual, sha256Hex, type SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import { getOrCreateSetting } from '../db/settings.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import { emailProblem, isValidPhone, normalizeEmail, normalizePhone } from './normalize.ts';
import { assertPlainText } from './plain-text.ts';

export type FactorType = 'totp' | 'email' | 'sms' | 'passkey' | 'recovery_codes';
/** The factors a user signs in with; recovery codes only stand in for them. */
export type ChallengeType = Exclude<FactorType, 'recovery_codes'>;

export interface Factor {
  id: string;
  user_id: string;
  type: FactorType;
  status: 'pending' | 'active';
  /** Where codes go: the email address or phone number (email and sms factors). */
  target: string | null;
  created_at: string;
  confirmed_at: string | null;
  last_used_at: string | null;
  /** Recovery codes not used yet (recovery_codes only). */
  remaining_codes?: number;
}

export type CodeCheck = 'ok' | 'invalid' | 'expired' | 'exhausted' | 'none' | 'replayed';

const RECOVERY_CODE_COUNT = 10;
const TOTP_PERIOD = 30;
const TOTP_DIGITS = 6;
const CODE_DIGITS = 6;
/** Unambiguous letters and digits for recovery codes (no 0/o, 1/l/i). */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

type Row = Record<string, unknown>;

function iso(ms: unknown): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

function toFactor(row: Row): Factor {
  return {
    id: String(row.id),
    user_id: String(row.user_id),
    type: row.type as FactorType,
    status: row.status as Factor['status'],
    target: (row.target as string | null) ?? null,
    created_at: iso(row.created_at)!,
    confirmed_at: iso(row.confirmed_at),
    last_used_at: iso(row.last_used_at),
  };
}

/** "ada@example.com" → "a••@example.com", "+15551234567" → "•••••••••4567": for pages, not for the admin API. */
export function maskTarget(type: FactorType, target: string | null): string {
  if (!target) return '';
  if (type === 'email') {
    const [local = '', domain = ''] = target.split('@');
    return `${local.slice(0, 1)}${'•'.repeat(Math.max(2, Math.min(local.length - 1, 6)))}@${domain}`;
  }
  return `${'•'.repeat(Math.max(0, target.length - 4))}${target.slice(-4)}`;
}

/** Only the digits of a typed code ("123 456" and "123-456" are "123456"). */
function digitsOf(code: string): string {
  return code.replace(/[\s-]/g, '');
}

function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}

export class FactorService {
  readonly #db: Db;
  readonly #box: SecretBox;
  readonly #config: Config['mfa'];
  #key: Promise<Buffer> | null = null;

  constructor(db: Db, box: SecretBox, config: Config['mfa']) {
    this.#db = db;
    this.#box = box;
    this.#config = config;
  }

  get config(): Config['mfa'] {
    return this.#config;
  }

  /** The server key of the code hashes, generated once and shared by every box through settings. */
  async #hashKey(): Promise<Buffer> {
    this.#key ??= getOrCreateSetting(this.#db, 'mfa_code_hmac_key', () => randomBytes(32).toString('base64'))
      .then(({ value }) => Buffer.from(value, 'base64'))
      .catch((error: unknown) => {
        this.#key = null;
        throw error;
      });
    return this.#key;
  }

  async #hash(purpose: string, value: string): Promise<string> {
    return createHmac('sha256', await this.#hashKey())
      .update(`${purpose}:${value}`)
      .digest('hex');
  }

  // ---- reading -----------------------------------------------------------------------------------

  /** Every factor of the user (pending enrolments included), oldest first; never a secret. */
  async list(userId: string): Promise<Factor[]> {
    const rows = await this.#db('mfa_factors').where({ user_id: userId }).orderBy('created_at', 'asc').orderBy('id', 'asc');
    const factors = rows.map(toFactor);
    const recovery = factors.find((f) => f.type === 'recovery_codes');
    if (recovery) recovery.remaining_codes = await this.remainingRecoveryCodes(userId);
    return factors;
  }

  /** The active factors a user can be challenged with (no recovery codes, no pending enrolment). */
  async active(userId: string): Promise<Factor[]> {
    const rows = await this.#db('mfa_factors').where({ user_id: userId, status: 'active' }).whereNot({ type: 'recovery_codes' }).orderBy('created_at', 'asc').orderBy('id', 'asc');
    return rows.map(toFactor);
  }

  async hasActiveFactor(userId: string): Promise<boolean> {
    const row = await this.#db('mfa_factors').where({ user_id: userId, status: 'active' }).whereNot({ type: 'recovery_codes' }).first('id');
    return Boolean(row);
  }

  async find(userId: string, factorId: string): Promise<Factor | null> {
    if (typeof factorId !== 'string' || factorId.length > 60 || factorId.includes('\u0000')) return null;
    const row = await this.#db('mfa_factors').where({ id: factorId, user_id: userId }).first();
    return row ? toFactor(row) : null;
  }

  async remainingRecoveryCodes(userId: string): Promise<number> {
    const [{ n }] = await this.#db('mfa_recovery_codes').where({ user_id: userId }).whereNull('used_at').count({ n: '*' });
    return Number(n);
  }

  // ---- enrolment ---------------------------------------------------------------------------------

  /**
   * Starts a TOTP enrolment: a pending factor with a new secret. Any other pending enrolment of the
   * user is dropped (one at a time).
   */
  async startTotp(userId: string): Promise<Factor> {
    await this.#dropPending(userId);
    const secret = new OTPAuth.Secret({ size: 20 });
    const now = Date.now();
    const row = {
      id: newId('mf'),
      user_id: userId,
      type: 'totp',
      status: 'pending',
      target: null,
      secret_enc: this.#box.seal(secret.base32),
      last_used_step: null,
      created_at: now,
      confirmed_at: null,
      last_used_at: null,
    };
    await this.#db('mfa_factors').insert(row);
    return toFactor(row);
  }

  /** The secret of a TOTP factor (base32) and its otpauth:// URI, for the enrolment page only. */
  async totpProvisioning(factor: Factor, accountName: string, issuer = this.#config.totpIssuer): Promise<{ secret: string; uri: string }> {
    const secret = await this.#totpSecret(factor.id);
    const totp = new OTPAuth.TOTP({ issuer, label: accountName, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD, secret: OTPAuth.Secret.fromBase32(secret) });
    return { secret, uri: totp.toString() };
  }

  /** Starts an email or SMS enrolment: a pending factor for the address or number. */
  async startOtpFactor(userId: string, type: 'email' | 'sms', rawTarget: string): Promise<Factor> {
    let target: string;
    if (type === 'email') {
      const problem = emailProblem(rawTarget);
      if (problem) throw new ValidationError('email', problem);
      target = normalizeEmail(rawTarget);
    } else {
      assertPlainText('phone_number', rawTarget);
      target = normalizePhone(rawTarget);
      if (!isValidPhone(target)) throw new ValidationError('phone_number', 'must be a phone number in international format, such as +15551234567');
    }
    await this.#dropPending(userId);
    const now = Date.now();
    const row = {
      id: newId('mf'),
      user_id: userId,
      type,
      status: 'pending',
      target,
      secret_enc: null,
      last_used_step: null,
      created_at: now,
      confirmed_at: null,
      last_used_at: null,
    };
    await this.#db('mfa_factors').insert(row);
    return toFactor(row);
  }

  /**
   * Makes a confirmed enrolment active, with its user.two-factor.method.add event in the same
   * transaction. Answers the factor, and the recovery codes when the user had none (shown once).
   */
  async activate(factor: Factor, within?: Knex.Transaction, applicationId: string | null = null): Promise<{ factor: Factor; recoveryCodes: string[] | null }> {
    // Read before the transaction: on SQLite it holds the one connection (a caller passing `within`
    // has called ready() before opening it).
    if (!within) await this.#hashKey();
    const write = async (trx: Knex.Transaction) => {
      let recoveryCodes: string[] | null = null;
      const now = Date.now();
      const changed = await trx('mfa_factors').where({ id: factor.id, status: 'pending' }).update({ status: 'active', confirmed_at: now, last_used_at: now });
      if (changed === 0) throw new NotFoundError('factor');
      await recordEvent(trx, 'user.two-factor.method.add', { user_id: factor.user_id, factor: { id: factor.id, type: factor.type }, application_id: applicationId });
      const existing = await trx('mfa_factors').where({ user_id: factor.user_id, type: 'recovery_codes' }).first('id');
      if (!existing) recoveryCodes = await this.#createRecoveryCodes(trx, factor.user_id);
      const stored = await trx('mfa_factors').where({ id: factor.id }).first();
      return { factor: toFactor(stored), recoveryCodes };
    };
    return within ? write(within) : this.#db.transaction(write);
  }

  /** Loads what a write inside a caller's transaction needs (the code hash key): call it before opening one. */
  async ready(): Promise<void> {
    await this.#hashKey();
  }

  /** New recovery codes for the user (the old ones stop working); answered once, in the clear. */
  async regenerateRecoveryCodes(userId: string): Promise<string[]> {
    await this.#hashKey();
    return this.#db.transaction(async (trx) => {
      await trx('mfa_factors').where({ user_id: userId, type: 'recovery_codes' }).delete();
      return this.#createRecoveryCodes(trx, userId);
    });
  }

  async #createRecoveryCodes(trx: Knex.Transaction, userId: string): Promise<string[]> {
    const factorId = newId('mf');
    const now = Date.now();
    await trx('mfa_factors').insert({
      id: factorId,
      user_id: userId,
      type: 'recovery_codes',
      status: 'active',
      target: null,
      secret_enc: null,
      last_used_step: null,
      created_at: now,
      confirmed_at: now,
      last_used_at: null,
    });
    const codes: string[] = [];
    for (let i = 0; i < RECOVERY_CODE_COUNT; i++) {
      let raw = '';
      for (let j = 0; j < 10; j++) raw += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
      codes.push(`${raw.slice(0, 5)}-${raw.slice(5)}`);
      await trx('mfa_recovery_codes').insert({
        id: newId('rc'),
        factor_id: factorId,
        user_id: userId,
        code_hash: await this.#hash('recovery', raw),
        used_at: null,
      });
    }
    return codes;
  }

  async #dropPending(userId: string): Promise<void> {
    await this.#db('mfa_factors').where({ user_id: userId, status: 'pending' }).delete();
  }

  // ---- removal -----------------------------------------------------------------------------------

  /**
   * Removes one factor, with its user.two-factor.method.remove event in the same transaction. When
   * no factor to sign in with is left, the recovery codes, pending enrolments and remembered devices
   * go too. Answers the removed factor when its removal is a change to announce (it was active).
   */
  async remove(userId: string, factorId: string, within?: Knex.Transaction): Promise<Factor[]> {
    if (typeof factorId !== 'string' || factorId.length > 60 || factorId.includes('\u0000')) throw new NotFoundError('factor');
    const write = async (trx: Knex.Transaction) => {
      const row = await trx('mfa_factors').where({ id: factorId, user_id: userId }).first();
      if (!row) throw new NotFoundError('factor');
      const factor = toFactor(row);
      await trx('mfa_factors').where({ id: factor.id }).delete();
      const left = await trx('mfa_factors').where({ user_id: userId, status: 'active' }).whereNot({ type: 'recovery_codes' }).first('id');
      if (!left) {
        await trx('mfa_factors').where({ user_id: userId }).delete();
        await trx('mfa_remembered_devices').where({ user_id: userId }).delete();
      }
      if (factor.status !== 'active') return [];
      await recordEvent(trx, 'user.two-factor.method.remove', { user_id: userId, factor: { id: factor.id, type: factor.type } });
      return [factor];
    };
    return within ? write(within) : this.#db.transaction(write);
  }

  /**
   * Removes every factor, the recovery codes and the remembered devices of the user. Answers the
   * active factors removed (each announced by user.two-factor.method.remove, in the same transaction).
   */
  async removeAll(userId: string, within?: Knex.Transaction): Promise<Factor[]> {
    const write = async (trx: Knex.Transaction) => {
      const all = (await trx('mfa_factors').where({ user_id: userId }).orderBy('created_at', 'asc').orderBy('id', 'asc')).map(toFactor);
      await trx('mfa_factors').where({ user_id: userId }).delete();
      await trx('mfa_remembered_devices').where({ user_id: userId }).delete();
      const removed = all.filter((f) => f.status === 'active' && f.type !== 'recovery_codes');
      for (const f of removed) {
        await recordEvent(trx, 'user.two-factor.method.remove', { user_id: userId, factor: { id: f.id, type: f.type } });
      }
      return removed;
    };
    return within ? write(within) : this.#db.transaction(write);
  }

  // ---- one-time codes by email and SMS -----------------------------------------------------------

  /**
   * Whether a new code may go to this factor now: a resend (the last code is still waiting, unused)
   * not sooner than the resend interval after it, and never more than the hourly allowance. Answers
   * the seconds to wait, or 0.
   */
  async resendWait(factorId: string): Promise<number> {
    const now = Date.now();
    const recent = await this.#db('mfa_codes')
      .where({ factor_id: factorId })
      .where('created_at', '>', now - 3600_000)
      .orderBy('created_at', 'desc')
      .select('created_at', 'used_at', 'expires_at');
    if (recent.length >= this.#config.codesPerHour) {
      const oldest = Number(recent[this.#config.codesPerHour - 1]!.created_at);
      return Math.max(1, Math.ceil((oldest + 3600_000 - now) / 1000));
    }
    const waiting = recent[0] && (recent[0].used_at === null || recent[0].used_at === undefined) && Number(recent[0].expires_at) > now;
    const last = waiting ? Number(recent[0]!.created_at) : null;
    if (last !== null && now - last < this.#config.resendIntervalSeconds * 1000) {
      return Math.max(1, Math.ceil((last + this.#config.resendIntervalSeconds * 1000 - now) / 1000));
    }
    return 0;
  }

  /** Whether the newest code of the factor can still be used (unused, unexpired, attempts left). */
  async hasWaitingCode(factorId: string): Promise<boolean> {
    const latest = await this.#db('mfa_codes').where({ factor_id: factorId }).orderBy('created_at', 'desc').orderBy('id', 'desc').first();
    return Boolean(latest) && (latest.used_at === null || latest.used_at === undefined) && Number(latest.expires_at) > Date.now() && Number(latest.attempts) < this.#config.maxCodeAttempts;
  }

  /** A new code for an email or SMS factor; earlier codes of the factor stop working. Answers it in the clear, to send. */
  async issueCode(factor: Factor): Promise<string> {
    if (factor.type !== 'email' && factor.type !== 'sms') throw new Error('codes are sent to email and sms factors only');
    const code = String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
    const now = Date.now();
    const hash = await this.#hash(`code:${factor.id}`, code);
    await this.#db.transaction(async (trx) => {
      await trx('mfa_codes').where({ factor_id: factor.id }).whereNull('used_at').update({ used_at: now });
      await trx('mfa_codes').insert({
        id: newId('mc'),
        factor_id: factor.id,
        code_hash: hash,
        attempts: 0,
        expires_at: now + this.#config.codeTtlSeconds * 1000,
        used_at: null,
        created_at: now,
      });
    });
    return code;
  }

  /** Checks a code sent to the factor: the newest one only, unused, unexpired, within its attempts. */
  async verifyCode(factor: Factor, typed: string): Promise<CodeCheck> {
    const db = this.#db;
    const latest = await db('mfa_codes').where({ factor_id: factor.id }).orderBy('created_at', 'desc').orderBy('id', 'desc').first();
    if (!latest || (latest.used_at !== null && latest.used_at !== undefined)) return 'none';
    if (Number(latest.expires_at) <= Date.now()) return 'expired';
    // The attempt is counted first, atomically; a code past its attempts is refused unchecked.
    const counted = await db('mfa_codes').where({ id: latest.id }).whereNull('used_at').where('attempts', '<', this.#config.maxCodeAttempts).increment('attempts', 1);
    if (counted === 0) return 'exhausted';
    const code = digitsOf(typed);
    const hash = await this.#hash(`code:${factor.id}`, code);
    if (!/^\d+$/.test(code) || !constantTimeEqual(hash, String(latest.code_hash))) return 'invalid';
    const used = await db('mfa_codes').where({ id: latest.id }).whereNull('used_at').update({ used_at: Date.now() });
    if (used === 0) return 'none';
    await this.#touch(factor.id);
    return 'ok';
  }

  // ---- TOTP ----------------------------------------------------------------------------------------

  async #totpSecret(factorId: string): Promise<string> {
    const row = await this.#db('mfa_factors').where({ id: factorId }).first('secret_enc');
    if (!row?.secret_enc) throw new NotFoundError('factor');
    return this.#box.open(String(row.secret_enc));
  }

  /**
   * Checks a TOTP code (the current time step, or one step either side for clock drift). A step at
   * or before the last accepted one is a replay and is refused.
   */
  async verifyTotp(factor: Factor, typed: string, now = Date.now()): Promise<CodeCheck> {
    if (factor.type !== 'totp') return 'invalid';
    const code = digitsOf(typed);
    const secret = OTPAuth.Secret.fromBase32(await this.#totpSecret(factor.id));
    const current = Math.floor(now / 1000 / TOTP_PERIOD);
    let matched: number | null = null;
    for (const step of [current - 1, current, current + 1]) {
      const expected = OTPAuth.TOTP.generate({ secret, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD, timestamp: step * TOTP_PERIOD * 1000 });
      // Every candidate is compared, whatever matched before: the time spent says nothing.
      if (constantTimeEqual(expected, code) && matched === null) matched = step;
    }
    if (matched === null) return 'invalid';
    const claimed = await this.#db('mfa_factors')
      .where({ id: factor.id })
      .where((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', matched))
      .update({ last_used_step: matched, last_used_at: Date.now() });
    return claimed === 1 ? 'ok' : 'replayed';
  }

  // ---- recovery codes ----------------------------------------------------------------------------

  /** Uses one recovery code of the user: each works once. */
  async useRecoveryCode(userId: string, typed: string): Promise<CodeCheck> {
    const raw = typed.toLowerCase().replace(/[\s-]/g, '');
    if (raw.length !== 10) return 'invalid';
    const hash = await this.#hash('recovery', raw);
    const rows = await this.#db('mfa_recovery_codes').where({ user_id: userId }).whereNull('used_at').select('id', 'code_hash');
    let found: string | null = null;
    for (const row of rows) {
      if (constantTimeEqual(hash, String(row.code_hash)) && found === null) found = String(row.id);
    }
    if (!found) return 'invalid';
    const used = await this.#db('mfa_recovery_codes').where({ id: found }).whereNull('used_at').update({ used_at: Date.now() });
    if (used === 0) return 'invalid';
    await this.#db('mfa_factors').where({ user_id: userId, type: 'recovery_codes' }).update({ last_used_at: Date.now() });
    return 'ok';
  }

  async #touch(factorId: string): Promise<void> {
    await this.#db('mfa_factors').where({ id: factorId }).update({ last_used_at: Date.now() });
  }

  // ---- remembered devices ------------------------------------------------------------------------

  /** Remembers this browser for the user: answers the token for its cookie. */
  async rememberDevice(userId: string, days: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.#db('mfa_remembered_devices').insert({ id: sha256Hex(token), user_id: userId, created_at: now, expires_at: now + days * 86400_000 });
    return token;
  }

  /** Whether the token remembers this browser for the user, remembered less than `days` ago. */
  async isRemembered(userId: string, token: string | null | undefined, days: number): Promise<boolean> {
    if (!token || days <= 0 || token.length > 100) return false;
    const now = Date.now();
    const row = await this.#db('mfa_remembered_devices')
      .where({ id: sha256Hex(token), user_id: userId })
      .where('expires_at', '>', now)
      .where('created_at', '>', now - days * 86400_000)
      .first('id');
    return Boolean(row);
  }

  /** Deletes what has expired: spent codes, old remembered devices. */
  async prune(now = Date.now()): Promise<void> {
    await this.#db('mfa_codes')
      .where('created_at', '<', now - 86400_000)
      .delete();
    await this.#db('mfa_remembered_devices').where('expires_at', '<', now).delete();
    await this.#db('mfa_factors')
      .where({ status: 'pending' })
      .where('created_at', '<', now - 86400_000)
      .delete();
  }
}
