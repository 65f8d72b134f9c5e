// The login journey as a state machine: the named steps an interaction can be at, the events that
// move it, and next(), the one place where a step follows from another. Pure: flows/state.ts stores
// the result, flows/journey.ts and the flow modules raise the events. docs/ARCHITECTURE.md draws it
// ("The login journey"); test/unit/journey-steps.test.ts holds the two together.
import type { Json } from '../hooks/catalog/actions.ts';
import type { ProfileConsent, ProfileField } from '../hooks/catalog/decisions.ts';

export type JourneyStep =
  /** Nothing proved yet: the identify page, and the password page once an identifier is known. */
  | { name: 'identify' }
  /** A password proved the user, who now chooses how to receive codes (no factor yet: enrolment). */
  | { name: 'mfa'; mode: 'enrol'; userId: string }
  /** The second factor: a code of `factorId`, or the first code of a factor being enrolled (`confirm`). */
  | { name: 'mfa'; mode: 'code' | 'confirm'; userId: string; factorId: string }
  /** The second factor as a recovery code (`factorId`: the factor offered before, if any). */
  | { name: 'mfa'; mode: 'recovery'; userId: string; factorId: string | null }
  /**
   * An enrolment ended: the recovery codes page waits for "Continue". `codes`: the new recovery codes,
   * sealed (SecretBox), written with the enrolment itself so that the page shows them until "Continue".
   */
  | { name: 'recovery-codes'; userId: string; amr: string[]; codes?: string }
  /** Every factor asked for is done; the journey's last hooks run (profiling, after_login). */
  | { name: 'proved'; userId: string; amr: string[] }
  /** Fields and consents a hook asked for, after a login's factors: page `stage` (1, 2, …) of the profiling. */
  | ({ name: 'profiling'; flow: 'login'; userId: string; amr: string[] } & ProfilingPage)
  /** Fields and consents a hook asked for at sign-up, before the account exists (it is `signUp`, as typed so far). */
  | ({ name: 'profiling'; flow: 'registration'; signUp: PendingSignUp } & ProfilingPage);

/** One page of a staged profiling: its number, what it asks, and what earlier pages asked already. */
export interface ProfilingPage {
  stage: number;
  fields: ProfileField[];
  consents: ProfileConsent[];
  /** Field names and `consent:<key>`s asked by earlier pages of this profiling (not asked again). */
  asked: string[];
}

/**
 * A sign-up whose profiling pages come before the account: what the registration form and the pages
 * gave so far. The password is kept only as this server's hash of it; the state goes with the interaction.
 */
export interface PendingSignUp {
  email: string;
  passwordHash: string;
  given_name: string | null;
  family_name: string | null;
  /** Fields stored in the user's own columns (phone_number, username, …), from the pages. */
  profile: Record<string, string>;
  /** before_registration's api.user.setAttribute, then the pages' other fields. */
  attributes: Record<string, Json>;
  metadata: Record<string, Json>;
  consents: Record<string, boolean>;
}

export type StepName = JourneyStep['name'];
export type MfaStep = Extract<JourneyStep, { name: 'mfa' }>;
export type ProfilingStep = Extract<JourneyStep, { name: 'profiling' }>;

export type JourneyEvent =
  /** A new identifier, a registration, or a registration's profile done: the journey starts over. */
  | { type: 'restart' }
  /** The password proved the user and MFA is asked; the user has no factor. */
  | { type: 'mfa.enrol'; userId: string }
  /** A factor's code is asked: after the password, or another factor chosen on the code page. */
  | { type: 'mfa.challenge'; userId: string; factorId: string }
  /** On the code page: "use a recovery code". */
  | { type: 'mfa.recovery' }
  /** The user chose a method to enrol: the new factor's first code confirms it. */
  | { type: 'mfa.confirm'; factorId: string }
  /** The new factor is confirmed; its recovery codes (sealed) are shown. */
  | { type: 'mfa.enrolled'; amr: string[]; codes?: string }
  /** Every factor asked for is done: no MFA was needed, the code was right, or the codes were seen. */
  | { type: 'proved'; userId: string; amr: string[] }
  /** A hook asked for fields or consents (before_progressive_profiling). */
  | { type: 'profiling'; step: ProfilingStep };

type EventType = JourneyEvent['type'];

/**
 * From which steps each event moves the journey ('any': from every step). The password and identify
 * pages stay open through the whole journey, so their events start from anywhere.
 */
export const MOVES: Record<EventType, { from: StepName[] | 'any'; to: StepName }> = {
  restart: { from: 'any', to: 'identify' },
  'mfa.enrol': { from: 'any', to: 'mfa' },
  'mfa.challenge': { from: 'any', to: 'mfa' },
  'mfa.recovery': { from: ['mfa'], to: 'mfa' },
  'mfa.confirm': { from: ['mfa'], to: 'mfa' },
  'mfa.enrolled': { from: ['mfa'], to: 'recovery-codes' },
  proved: { from: 'any', to: 'proved' },
  profiling: { from: 'any', to: 'profiling' },
};

export const START: JourneyStep = { name: 'identify' };
export const STEP_NAMES: readonly StepName[] = ['identify', 'mfa', 'recovery-codes', 'proved', 'profiling'];

/**
 * The step after `from` when `event` happens. An event that does not apply to `from` (a page of a
 * step the journey has since left, in another tab) leaves the step as it is.
 */
export function next(from: JourneyStep, event: JourneyEvent): JourneyStep {
  const allowed = MOVES[event.type].from;
  if (allowed !== 'any' && !allowed.includes(from.name)) return from;
  switch (event.type) {
    case 'restart':
      return START;
    case 'mfa.enrol':
      return { name: 'mfa', mode: 'enrol', userId: event.userId };
    case 'mfa.challenge':
      return { name: 'mfa', mode: 'code', userId: event.userId, factorId: event.factorId };
    case 'mfa.recovery': {
      const mfa = from as MfaStep;
      return { name: 'mfa', mode: 'recovery', userId: mfa.userId, factorId: mfa.mode === 'enrol' ? null : mfa.factorId };
    }
    case 'mfa.confirm': {
      const mfa = from as MfaStep;
      return { name: 'mfa', mode: 'confirm', userId: mfa.userId, factorId: event.factorId };
    }
    case 'mfa.enrolled': {
      const mfa = from as MfaStep;
      // A code confirms a new factor; a passkey is confirmed by its creation, on the enrolment page.
      return mfa.mode === 'confirm' || mfa.mode === 'enrol' ? { name: 'recovery-codes', userId: mfa.userId, amr: event.amr, ...(event.codes ? { codes: event.codes } : {}) } : from;
    }
    case 'proved':
      return { name: 'proved', userId: event.userId, amr: event.amr };
    case 'profiling':
      // A login's profile follows its factors (or its previous page); a registration's may come at any time.
      if (event.step.flow === 'login' && !(from.name === 'proved' || (from.name === 'profiling' && from.flow === 'login'))) return from;
      if (event.step.flow === 'login' && (from as { userId?: unknown }).userId !== event.step.userId) return from;
      return event.step;
  }
}

/** A stored step read back: anything else (an older record, a damaged one) is the start. */
export function asStep(value: unknown): JourneyStep {
  if (!value || typeof value !== 'object') return START;
  const name = (value as { name?: unknown }).name;
  if (!STEP_NAMES.includes(name as StepName)) return START;
  // A profiling page stored before profiling had stages: a registration's cannot go on (its account
  // was created the old way), a login's is its first page.
  if (name === 'profiling') {
    const page = value as Partial<ProfilingStep> & { signUp?: unknown };
    if (page.flow === 'registration' && !page.signUp) return START;
    return { stage: 1, asked: [], ...(value as object) } as unknown as JourneyStep;
  }
  return value as JourneyStep;
}
