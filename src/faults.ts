// Fault points for the crash tests (issue #18): a named step of a multi-write journey at which a test
// server kills itself with SIGKILL, as a power cut would, so that the test can restart it on the same
// database and check that the journey left the old state or the new one, never a mix. Armed only
// through config.faultPoint, which is read only under NODE_ENV=test or TESSERA_TEST_FAULTS=1.

/** Every named step a test can stop the process at. */
export const FAULT_POINTS = [
  /** Password reset, inside its one transaction: the link is used up... */
  'reset.link-consumed',
  /** ...the new password is written... */
  'reset.password-set',
  /** ...every session and token is revoked; the commit is next. */
  'reset.signed-out',
  /** The reset committed; the answer is not sent yet. */
  'reset.committed',
  /** MFA enrolment, inside its one transaction: the factor is active and its recovery codes stored. */
  'mfa.enrol.activated',
  /** The enrolment committed (the codes are in the journey's state); the page is not sent yet. */
  'mfa.enrol.committed',
  /** Account activation, inside its transaction: the link is used up; the address is verified next. */
  'activation.link-consumed',
  /** Registration: the user is created; the activation link and mail are next. */
  'registration.user-created',
  /** Bulk import, inside its one transaction: the first batch of users is inserted, the rest are next. */
  'import.first-batch-written',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

let armed: FaultPoint | null = null;

/** Arms the one fault point of this process (server.ts, from config.faultPoint); null disarms. */
export function armFaultPoint(name: string | null): void {
  if (name !== null && !(FAULT_POINTS as readonly string[]).includes(name)) throw new Error(`unknown fault point ${name}: one of ${FAULT_POINTS.join(', ')}`);
  armed = name as FaultPoint | null;
}

/** The journey reached step `name`: a process armed for it dies here, at once, with nothing flushed. */
export function faultPoint(name: FaultPoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
