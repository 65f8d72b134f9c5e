// What a journey remembers between its pages, kept server-side per interaction (the
// interaction_states table) and gone when the interaction expires. The interaction cookie, checked
// by the provider, binds it to the browser that started the journey.
import { fromJson, toJson, type Db } from '../db/knex.ts';
import type { ProfileConsent, ProfileField } from './actions.ts';

export interface FlowState {
  /** As typed on the identify page. */
  identifier?: string;
  /** Set once a password (or another factor) proved who the user is, while extra steps remain. */
  authenticatedUserId?: string;
  /** The address the "check your email" page and its resend button are about. */
  activationEmail?: string;
  /**
   * The user whose password was reset through a link asked for from this journey: the account's
   * failed-login budget does not stop this journey (it proved more than a password).
   */
  resetProof?: string;
  /** What the after_identification hooks decided about MFA (api.mfa.require / api.mfa.skip). */
  mfaHook?: 'require' | 'skip';
  /** The second-factor step, once the password proved who the user is (see flows/mfa.ts). */
  mfa?: MfaState;
  /** The authentication methods done (RFC 8176 amr), for the login result; ["pwd"] when unset. */
  amr?: string[];
  /** Fields and consents a hook asked for, waiting on the profile page. */
  profiling?: {
    flow: 'registration' | 'login';
    /** null when the registration only pretended to create an account (the email was taken). */
    userId: string | null;
    fields: ProfileField[];
    consents: ProfileConsent[];
  };
}

export interface MfaState {
  /** The user whose password was right; not signed in until the second factor is done. */
  userId: string;
  /** The factor being challenged, or being enrolled when `enrolling`. */
  factorId?: string;
  enrolling?: boolean;
  /** The user chose to type a recovery code. */
  recovery?: boolean;
  /** The second factor is done; the recovery codes page waits for "Continue". */
  done?: boolean;
}

export class FlowStates {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(uid: string): Promise<FlowState> {
    const row = await this.#db('interaction_states').where({ uid }).first();
    if (!row || Number(row.expires_at) < Date.now()) return {};
    return fromJson<FlowState>(row.state, {});
  }

  /** Merges `patch` into the state (a key set to undefined is removed). */
  async update(uid: string, expiresAt: number, patch: Partial<FlowState>): Promise<FlowState> {
    const state = { ...(await this.get(uid)), ...patch };
    for (const key of Object.keys(state) as Array<keyof FlowState>) {
      if (state[key] === undefined) delete state[key];
    }
    await this.#db('interaction_states')
      .insert({ uid, state: toJson(state), expires_at: expiresAt })
      .onConflict('uid')
      .merge({ state: toJson(state), expires_at: expiresAt });
    return state;
  }

  async clear(uid: string): Promise<void> {
    await this.#db('interaction_states').where({ uid }).delete();
  }

  /** Deletes the states of expired interactions. */
  prune(now = Date.now()): Promise<number> {
    return this.#db('interaction_states').where('expires_at', '<', now).delete();
  }
}
