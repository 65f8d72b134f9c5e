// Password hashing (argon2id) and the password policy.
import argon2 from 'argon2';
import { randomToken } from '../crypto.ts';
import type { Config } from '../config.ts';

export class PasswordHasher {
  readonly #options: { type: typeof argon2.argon2id; memoryCost: number; timeCost: number; parallelism: number };
  #dummyHash: Promise<string> | null = null;

  constructor(config: Config['password']) {
    this.#options = { type: argon2.argon2id, memoryCost: config.hashMemoryKiB, timeCost: config.hashIterations, parallelism: 1 };
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, this.#options);
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /** Spends the time of one verification, so an unknown account answers as slowly as a known one. */
  async verifyNothing(password: string): Promise<false> {
    this.#dummyHash ??= this.hash(randomToken());
    await this.verify(await this.#dummyHash, password);
    return false;
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
