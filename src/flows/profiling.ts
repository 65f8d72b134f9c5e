// Progressive profiling's pages: the fields and consents before_progressive_profiling asked for, one
// page per stage (flows/profiling-stages.ts asks the hook). After a login's factors each accepted
// page is saved to the account; at sign-up the pages come before the account exists and are kept
// with the journey until the last one passes (flows/sign-up.ts then creates the account).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import type { Json } from '../hooks/catalog/actions.ts';
import type { ProfileConsent, ProfileField, ProfileRejection } from '../hooks/catalog/decisions.ts';
import { publicUser, type User, type UserPatch } from '../identity/users.ts';
import { updateConsents } from './consent-update.ts';
import { loginProfiled } from './journey.ts';
import { field, problemText, type FlowKit, type Guard } from './kit.ts';
import { askProfiling } from './profiling-stages.ts';
import { completeSignUp, signUpUser } from './sign-up.ts';
import type { PendingSignUp, ProfilingStep } from './steps.ts';
import { t } from './texts.ts';
import { WebhookRefused } from '../webhooks/transactional.ts';

/** Fields stored in the user's own columns; any other field name becomes an attribute. */
const STANDARD_FIELDS = new Set(['given_name', 'family_name', 'phone_number', 'username']);

function currentValue(user: User | null, signUp: PendingSignUp | null, name: string): string {
  let value: unknown;
  if (signUp) value = STANDARD_FIELDS.has(name) ? ((signUp as unknown as Record<string, unknown>)[name] ?? signUp.profile[name]) : signUp.attributes[name];
  else if (user) value = STANDARD_FIELDS.has(name) ? (user as unknown as Record<string, unknown>)[name] : (user.attributes as Record<string, unknown>)[name];
  return value === null || value === undefined ? '' : String(value);
}

/** A page's typed values as the hook and the account get them: numbers as numbers, checkboxes as booleans. */
function answersOf(fields: ProfileField[], values: Record<string, string>): Record<string, Json> {
  const answers: Record<string, Json> = {};
  for (const f of fields) {
    const value = values[f.name] ?? '';
    if (f.type === 'checkbox') answers[f.name] = value === 'true';
    else if (!value) continue;
    else answers[f.name] = f.type === 'number' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return answers;
}

/** A page's answers split into the account's own columns and its attributes. */
function patchOf(fields: ProfileField[], answers: Record<string, Json>): { standard: Record<string, string>; attributes: Record<string, Json> } {
  const standard: Record<string, string> = {};
  const attributes: Record<string, Json> = {};
  for (const f of fields) {
    if (!Object.hasOwn(answers, f.name)) continue;
    if (STANDARD_FIELDS.has(f.name)) standard[f.name] = String(answers[f.name]);
    else attributes[f.name] = answers[f.name]!;
  }
  return { standard, attributes };
}

export function profilingRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { users } = kit.services;

  const load = async (ctx: Context) => {
    const details = await kit.interaction(ctx);
    const { step } = await kit.state(details);
    if (step.name !== 'profiling') return { details, profiling: null, user: null };
    const user = step.flow === 'login' ? await users.findById(step.userId) : null;
    return { details, profiling: step, user };
  };

  const page = (
    ctx: Context,
    details: Interaction,
    profiling: ProfilingStep,
    values: Record<string, string>,
    granted: Set<string>,
    problem: { alert?: string; rejections?: ProfileRejection[] } = {},
    status = 200,
  ) => {
    const errors = new Map((problem.rejections ?? []).map((r) => [r.field, r.message]));
    const onPage = new Set([...profiling.fields.map((f) => f.name), ...profiling.consents.map((c) => c.key)]);
    // The messages of fields on the page stand by them; any other one is the page's alert.
    const alert = problem.alert ?? (problem.rejections?.find((r) => !onPage.has(r.field))?.message || (errors.size > 0 ? t('profile.check-fields') : null));
    kit.render(
      ctx,
      'profile',
      {
        title: profiling.flow === 'registration' ? t('profile.registration.title') : t('profile.login.title'),
        uid: details.uid,
        stage: profiling.stage,
        fields: profiling.fields.map((f: ProfileField) => ({ ...f, value: values[f.name] ?? '', error: errors.get(f.name) ?? '' })),
        consents: profiling.consents.map((c: ProfileConsent) => ({ ...c, checked: granted.has(c.key), error: errors.get(c.key) ?? '' })),
        // The way back: a sign-up starts over at its form, a login at the identify page.
        back:
          profiling.flow === 'registration'
            ? { href: `/interaction/${details.uid}/register`, text: t('profile.back.registration') }
            : { href: `/interaction/${details.uid}`, text: t('profile.back.login') },
        alert,
      },
      status,
    );
  };

  router.get('/interaction/:uid/profile', ...guard, async (ctx) => {
    const { details, profiling, user } = await load(ctx);
    if (!profiling) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    const signUp = profiling.flow === 'registration' ? profiling.signUp : null;
    const values = Object.fromEntries(profiling.fields.map((f) => [f.name, currentValue(user, signUp, f.name)]));
    const granted = new Set(signUp ? Object.keys(signUp.consents).filter((key) => signUp.consents[key]) : user ? (await kit.consents.list(user.id)).filter((c) => c.granted).map((c) => c.key) : []);
    page(ctx, details, profiling, values, granted);
  });

  router.post('/interaction/:uid/profile', ...guard, async (ctx) => {
    const { details, profiling, user } = await load(ctx);
    if (!profiling) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    if (profiling.flow === 'login' && !user) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    const values: Record<string, string> = {};
    for (const f of profiling.fields) values[f.name] = f.type === 'checkbox' ? (field(ctx, f.name) ? 'true' : '') : field(ctx, f.name, 1000).trim();
    const granted = new Set(profiling.consents.filter((c) => field(ctx, `consent:${c.key}`) !== '').map((c) => c.key));

    const missingField = profiling.fields.find((f) => f.required && !values[f.name]);
    if (missingField) {
      page(ctx, details, profiling, values, granted, { alert: t('page.field-required', { label: missingField.label }) }, 400);
      return;
    }
    const missingConsent = profiling.consents.find((c) => c.required && !granted.has(c.key));
    if (missingConsent) {
      page(ctx, details, profiling, values, granted, { alert: t('profile.consent-required', { label: missingConsent.label }) }, 400);
      return;
    }

    const answers = answersOf(profiling.fields, values);
    const consentAnswers = profiling.consents.map((c) => ({ key: c.key, granted: granted.has(c.key) }));
    const clientId = kit.clientIdOf(details);
    const labels = Object.fromEntries(profiling.fields.map((f) => [f.name, f.label]));
    const { standard, attributes } = patchOf(profiling.fields, answers);

    if (profiling.flow === 'registration') {
      // Nothing is written before the last page passes: the answers go with the journey.
      const consents = { ...profiling.signUp.consents, ...Object.fromEntries(consentAnswers.map((c) => [c.key, c.granted])) };
      const { next, rejections } = await askProfiling(ctx, kit, clientId, { flow: 'registration', user: signUpUser(profiling.signUp), consents }, { page: profiling, answers });
      if (rejections.length > 0) {
        page(ctx, details, profiling, values, granted, { rejections }, 400);
        return;
      }
      const signUp: PendingSignUp = {
        ...profiling.signUp,
        profile: { ...profiling.signUp.profile, ...standard },
        attributes: { ...profiling.signUp.attributes, ...attributes },
        consents,
      };
      if (next) {
        await kit.updateState(details, {}, { type: 'profiling', step: { name: 'profiling', flow: 'registration', signUp, ...next } });
        kit.seeOther(ctx, `/interaction/${details.uid}/profile`);
        return;
      }
      const refused = await completeSignUp(ctx, kit, details, signUp);
      if (refused) page(ctx, details, profiling, values, granted, { alert: problemText(refused, labels) }, 400);
      return;
    }

    const account = user!;
    // The hook sees the consents as they will be once this page is kept.
    const consents = { ...(await kit.consentMap(account.id)), ...Object.fromEntries(consentAnswers.map((c) => [c.key, c.granted])) };
    const { next, rejections } = await askProfiling(ctx, kit, clientId, { flow: 'login', user: publicUser(account), consents }, { page: profiling, answers });
    if (rejections.length > 0) {
      page(ctx, details, profiling, values, granted, { rejections }, 400);
      return;
    }
    const patch: UserPatch = { ...standard };
    if (Object.keys(attributes).length > 0) patch.attributes = attributes;
    try {
      // The user's own change: it waits for transactional webhook endpoints, like an operator's.
      if (Object.keys(patch).length > 0) await users.update(account.id, patch, 'user.update', { transactional: true, applicationId: clientId });
    } catch (error) {
      if (error instanceof WebhookRefused) {
        page(ctx, details, profiling, values, granted, { alert: t('profile.refused') }, 409);
        return;
      }
      if (!(error instanceof ValidationError) && !(error instanceof ConflictError)) throw error;
      page(ctx, details, profiling, values, granted, { alert: problemText(error as ValidationError, labels) }, 400);
      return;
    }
    // after_consent_update's sync hooks may refuse the change: the page says why, nothing is saved.
    const denied = await updateConsents(ctx, kit, account, consentAnswers, clientId);
    if (denied) {
      page(ctx, details, profiling, values, granted, { alert: denied }, 403);
      return;
    }
    if (next) {
      await kit.updateState(details, {}, { type: 'profiling', step: { ...profiling, ...next } });
      kit.seeOther(ctx, `/interaction/${details.uid}/profile`);
      return;
    }
    await loginProfiled(ctx, kit, details, profiling);
  });
}
