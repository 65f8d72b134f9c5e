// Staged progressive profiling: before_progressive_profiling is asked for the first page (step 0)
// and again after each page the user submits (step 1, 2, …, with that page's answers). Its answer
// is the next page, a rejection of the page just submitted, or nothing more (the profiling ends).
// Pure of pages and storage: flows/profiling.ts serves the pages, flows/journey.ts and
// flows/registration.ts start the profiling.
import type { Context } from 'koa';
import type { ProfileRejection } from '../hooks/catalog/decisions.ts';
import type { EventPayloads } from '../hooks/catalog/events.ts';
import type { FlowKit } from './kit.ts';
import type { ProfilingPage } from './steps.ts';

/** A hook that asks for something new on every page still ends here (a loop would never finish). */
export const MAX_PROFILING_PAGES = 10;

export interface ProfilingAnswer {
  /** The page to show next; null: the profiling is over. */
  next: ProfilingPage | null;
  /** api.form.reject: the page just submitted is shown again with these messages, nothing kept. */
  rejections: ProfileRejection[];
}

/** The names a page asked for, as `asked` keeps them (fields by name, consents as `consent:<key>`). */
function namesOf(page: ProfilingPage): string[] {
  return [...page.fields.map((f) => f.name), ...page.consents.map((c) => `consent:${c.key}`)];
}

/**
 * Runs before_progressive_profiling after `previous` (null: before the first page) and reads its
 * answer: what it asks that no earlier page asked is the next page.
 */
export async function askProfiling(
  ctx: Context,
  kit: FlowKit,
  clientId: string | null,
  payload: Omit<EventPayloads['before_progressive_profiling'], 'step' | 'answers'>,
  previous: { page: ProfilingPage; answers: EventPayloads['before_progressive_profiling']['answers'] } | null,
): Promise<ProfilingAnswer> {
  const step = previous ? previous.page.stage : 0;
  const outcome = await kit.hook(ctx, 'before_progressive_profiling', { ...payload, step, answers: previous?.answers ?? {} }, clientId);
  const request = outcome.decision.profiling;
  if (previous && request.rejections.length > 0) return { next: null, rejections: request.rejections };
  const asked = previous ? [...previous.page.asked, ...namesOf(previous.page)] : [];
  const fields = request.fields.filter((f) => !asked.includes(f.name));
  const consents = request.consents.filter((c) => !asked.includes(`consent:${c.key}`));
  if ((fields.length === 0 && consents.length === 0) || step >= MAX_PROFILING_PAGES) return { next: null, rejections: [] };
  return { next: { stage: step + 1, fields, consents, asked }, rejections: [] };
}
