// Password hashing (argon2id) and the password policy.
import argon2 from 'argon2';
import type { Counter } from 'prom-client';
import { randomToken } from '../crypto.ts';
import type { Config } from '../config.ts';
import { isForeignHash, verifyAnyHash } from './password-formats.ts';

/** Password checks by what the password was checked against (`stored`, or `dummy` when there is no
 * account or no password: the same work, see verifyNothing) and outcome. */
export type PasswordCheckCounter = Counter<'against' | 'outcome'>;

export class PasswordHasher {
  readonly #options: { type: typeof argon2.argon2id; memoryCost: number; timeCost: number; parallelism: number };
  readonly #checks: PasswordCheckCounter | undefined;
  #dummyHash: Promise<string> | null = null;

  constructor(config: Config['password'], checks?: PasswordCheckCounter) {
    this.#options = { type: argon2.argon2id, memoryCost: config.hashMemoryKiB, timeCost: config.hashIterations, parallelism: 1 };
    this.#checks = checks;
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, this.#options);
  }

  async verify(hash: string, password: string): Promise<boolean> {
    const valid = await this.#check(hash, password);
    this.#checks?.inc({ against: 'stored', outcome: valid ? 'match' : 'mismatch' });
    return valid;
  }

  /**
   * Spends the time of one verification, so an unknown account (or one without a password) answers
   * as slowly as a known one. The dummy hash has the current parameters, like every hash once rehashed.
   */
  async verifyNothing(password: string): Promise<false> {
    this.#dummyHash ??= this.hash(randomToken());
    await this.#check(await this.#dummyHash, password);
    this.#checks?.inc({ against: 'dummy', outcome: 'mismatch' });
    return false;
  }

  /**
   * Whether a hash was made with other parameters than today's (the operator changed the cost), or
   * by another system (an imported bcrypt, PBKDF2, scrypt or argon2id hash: identity/password-formats.ts).
   */
  needsRehash(hash: string): boolean {
    if (isForeignHash(hash)) return true;
    try {
      return argon2.needsRehash(hash, this.#options);
    } catch {
      return false; // not an argon2 hash: it never verifies either
    }
  }

  async #check(hash: string, password: string): Promise<boolean> {
    if (isForeignHash(hash)) return verifyAnyHash(hash, password);
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }
}

/** Returns what is wrong with the password, or null when it meets the policy. */
export function passwordPolicyProblem(password: string, policy: Config['password'], context: { email?: string | null; username?: string | null }): string | null {
  if (password.length < policy.minLength) return `must be at least ${policy.minLength} characters`;
  if (password.length > policy.maxLength) return `must be at most ${policy.maxLength} characters`;
  const lowered = password.toLowerCase();
  if (context.email && lowered === context.email.toLowerCase()) return 'must not be your email address';
  if (context.username && lowered === context.username.toLowerCase()) return 'must not be your username';
  if (/^(.)\1*$/.test(password)) return 'must not repeat a single character';
  return null;
}
