// What an endpoint subscribes to: event types (exact, a prefix wildcard such as "user.login.*", or
// "*"), and optionally the applications whose events it wants. Events that carry secrets (the
// transactional messages, with their links) reach an endpoint only when it names them or their
// prefix: "*" does not include them. One module so validation, fan-out and the dispatcher's wake-up
// filter cannot disagree.
import { ValidationError } from '../errors.ts';
import { WEBHOOK_EVENT_TYPES } from './outbox.ts';

/** Types under this prefix carry secrets (links that sign a user in or reset a password). */
export const SECRET_EVENT_PREFIX = 'message.';

export interface Subscription {
  events: ReadonlySet<string>;
  /** Client ids; null means every application. */
  applications: ReadonlySet<string> | null;
  /** With `applications`: also the events that concern no application. */
  includeUnscoped: boolean;
}

function carriesSecrets(type: string): boolean {
  return type.startsWith(SECRET_EVENT_PREFIX);
}

/** An event's data as the delivery log shows it: a transactional message's link is a secret, so it is left out. */
export function dataForLog(type: string, data: unknown): unknown {
  if (!carriesSecrets(type) || !data || typeof data !== 'object' || !('link' in data)) return data;
  return { ...data, link: '[redacted]' };
}

/** Does one pattern ("*", "user.*" or an exact type) take events of `type`? */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return !carriesSecrets(type);
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

export function matchesType(patterns: Iterable<string>, type: string): boolean {
  for (const pattern of patterns) if (patternMatches(pattern, type)) return true;
  return false;
}

/** The application an event concerns, from its data; null when it concerns none. */
export function eventApplication(data: unknown): string | null {
  if (!data || typeof data !== 'object') return null;
  const id = (data as { application_id?: unknown }).application_id;
  return typeof id === 'string' && id !== '' ? id : null;
}

export function wantsEvent(subscription: Subscription, type: string, applicationId: string | null): boolean {
  if (!matchesType(subscription.events, type)) return false;
  if (subscription.applications === null) return true;
  return applicationId === null ? subscription.includeUnscoped : subscription.applications.has(applicationId);
}

/** The body's `events`: exact types, prefix wildcards of known types, or ["*"] alone. */
export function validEventPatterns(value: unknown, known: readonly string[] = WEBHOOK_EVENT_TYPES): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError('events', 'must be a non-empty array of event types, prefix wildcards such as "user.login.*", or ["*"] for all');
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    const field = `events[${i}]`;
    if (typeof item !== 'string') throw new ValidationError(field, 'must be a string');
    if (item.endsWith('.*')) {
      const prefix = item.slice(0, -1);
      if (!known.some((type) => type.startsWith(prefix))) throw new ValidationError(field, `matches no event type: no type starts with "${prefix}"`);
    } else if (item !== '*' && !known.includes(item)) {
      throw new ValidationError(field, `must be "*", a prefix wildcard such as "user.*", or one of ${known.join(', ')}`);
    }
    if (!out.includes(item)) out.push(item);
  });
  if (out.includes('*') && out.some((pattern) => !pattern.startsWith(SECRET_EVENT_PREFIX) && pattern !== '*')) {
    throw new ValidationError('events', '"*" means every event (but the transactional messages, which are named on their own) and must not be listed with others');
  }
  return out;
}

/** The body's `applications`: null (every application) or a non-empty list of client ids, checked by `exists`. */
export async function validApplications(value: unknown, exists: (clientIds: string[]) => Promise<Set<string>>): Promise<string[] | null> {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length === 0) throw new ValidationError('applications', 'must be a non-empty array of client_ids, or null for every application');
  const ids: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item === '' || item.length > 100) throw new ValidationError(`applications[${i}]`, 'must be a client_id');
    if (!ids.includes(item)) ids.push(item);
  });
  const found = await exists(ids);
  const missing = ids.findIndex((id) => !found.has(id));
  if (missing >= 0) throw new ValidationError(`applications[${value.indexOf(ids[missing])}]`, `no application has client_id "${ids[missing]}"`);
  return ids;
}
