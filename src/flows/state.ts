// What a journey remembers between its pages, kept server-side per interaction (the
// interaction_states table) and gone when the interaction expires. The interaction cookie, checked
// by the provider, binds it to the browser that started the journey. The journey is at one named
// step (flows/steps.ts); beside it, a few facts that outlive the steps.
import type { Knex } from 'knex';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { asStep, next, START, type JourneyEvent, type JourneyStep } from './steps.ts';

export interface JourneyFacts {
  /** As typed on the identify page (or found by a reset link): the password page's identifier. */
  identifier?: string;
  /** What the after_identification hooks decided about MFA for it (api.mfa.require / api.mfa.skip). */
  mfaHook?: 'require' | 'skip';
  /** The address the "check your email" page and its resend button are about. */
  activationEmail?: string;
  /**
   * The user whose password was reset through a link asked for from this journey: the account's
   * failed-login budget does not stop this journey (it proved more than a password).
   */
  resetProof?: string;
  /** 'fed': the first factor was a sign-in at an upstream provider (amr says fed, not pwd). */
  firstFactor?: 'fed';
  /** An external identity waiting for the proof of the local account it would link to. */
  externalLink?: ExternalLinkFact;
  /** The identity provider of a federated sign-in (for user.login.success). */
  externalProvider?: string;
  /** A hook asked for an identity verification (api.identityVerification.require()). */
  verificationRequired?: boolean;
  /** The user and methods of a login waiting for its verification provider's answer. */
  verifying?: { userId: string; amr: string[] };
  /** The verification step is over for this journey (verified, or skipped by a hook). */
  verification?: 'done';
  /** after_login ran already (it asked for a verification): it does not run again after it. */
  afterLoginDone?: boolean;
  /** The password that proved the user is in the breached-password corpus (event.risk.breached_password). */
  breachedPassword?: boolean;
}

export interface ExternalLinkFact {
  providerId: string;
  subject: string;
  userId: string;
  email: string;
  profile: Record<string, unknown>;
}

export interface FlowState extends JourneyFacts {
  step: JourneyStep;
}

export class FlowStates {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(uid: string, trx?: Knex.Transaction): Promise<FlowState> {
    const row = await (trx ?? this.#db)('interaction_states').where({ uid }).first();
    if (!row || Number(row.expires_at) < Date.now()) return { step: START };
    const stored = fromJson<Record<string, unknown>>(row.state, {});
    return { ...(stored as JourneyFacts), step: asStep(stored.step) };
  }

  /**
   * Merges `facts` into the state (a fact set to undefined is removed) and, with `event`, moves the
   * journey to its next step. One read and one write, as a plain merge would be; inside `trx` when
   * the move belongs to a change written there (an enrolment and its recovery codes).
   */
  async update(uid: string, expiresAt: number, facts: Partial<JourneyFacts>, event?: JourneyEvent, trx?: Knex.Transaction): Promise<FlowState> {
    const current = await this.get(uid, trx);
    const state: FlowState = { ...current, ...facts, step: event ? next(current.step, event) : current.step };
    for (const key of Object.keys(state) as Array<keyof FlowState>) {
      if (state[key] === undefined) delete state[key];
    }
    await (trx ?? this.#db)('interaction_states')
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
