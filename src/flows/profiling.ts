// Progressive profiling: the extra fields and consents a hook asked for (before_progressive_profiling),
// after the first registration step or after authentication before a login completes.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import type { User, UserPatch } from '../identity/users.ts';
import type { ProfileConsent, ProfileField } from '../hooks/catalog/decisions.ts';
import { updateConsents } from './consent-update.ts';
import { loginProfiled } from './journey.ts';
import { field, problemText, type FlowKit, type Guard } from './kit.ts';
import type { ProfilingStep } from './steps.ts';
import { t } from './texts.ts';

/** Fields stored in the user's own columns; any other field name becomes an attribute. */
const STANDARD_FIELDS = new Set(['given_name', 'family_name', 'phone_number', 'username']);

function currentValue(user: User | null, name: string): string {
  if (!user) return '';
  const value = STANDARD_FIELDS.has(name) ? (user as unknown as Record<string, unknown>)[name] : user.attributes[name];
  return value === null || value === undefined ? '' : String(value);
}

export function profilingRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { users } = kit.services;

  const load = async (ctx: Context) => {
    const details = await kit.interaction(ctx);
    const { step } = await kit.state(details);
    if (step.name !== 'profiling') return { details, profiling: null, user: null };
    const user = step.userId ? await users.findById(step.userId) : null;
    return { details, profiling: step, user };
  };

  const page = (ctx: Context, details: Interaction, profiling: ProfilingStep, values: Record<string, string>, granted: Set<string>, alert: string | null = null, status = 200) => {
    kit.render(
      ctx,
      'profile',
      {
        title: profiling.flow === 'registration' ? t('profile.registration.title') : t('profile.login.title'),
        uid: details.uid,
        fields: profiling.fields.map((f: ProfileField) => ({ ...f, value: values[f.name] ?? '' })),
        consents: profiling.consents.map((c: ProfileConsent) => ({ ...c, checked: granted.has(c.key) })),
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
    const values = Object.fromEntries(profiling.fields.map((f) => [f.name, currentValue(user, f.name)]));
    const granted = new Set(user ? (await kit.consents.list(user.id)).filter((c) => c.granted).map((c) => c.key) : []);
    page(ctx, details, profiling, values, granted);
  });

  router.post('/interaction/:uid/profile', ...guard, async (ctx) => {
    const { details, profiling, user } = await load(ctx);
    if (!profiling) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    const values: Record<string, string> = {};
    for (const f of profiling.fields) values[f.name] = f.type === 'checkbox' ? (field(ctx, f.name) ? 'true' : '') : field(ctx, f.name, 1000).trim();
    const granted = new Set(profiling.consents.filter((c) => field(ctx, `consent:${c.key}`) !== '').map((c) => c.key));

    const missingField = profiling.fields.find((f) => f.required && !values[f.name]);
    if (missingField) {
      page(ctx, details, profiling, values, granted, t('page.field-required', { label: missingField.label }), 400);
      return;
    }
    const missingConsent = profiling.consents.find((c) => c.required && !granted.has(c.key));
    if (missingConsent) {
      page(ctx, details, profiling, values, granted, t('profile.consent-required', { label: missingConsent.label }), 400);
      return;
    }

    if (user) {
      const patch: UserPatch = {};
      const attributes: Record<string, unknown> = {};
      for (const f of profiling.fields) {
        const value = values[f.name];
        if (!value && !f.required) continue;
        if (STANDARD_FIELDS.has(f.name)) (patch as Record<string, unknown>)[f.name] = value;
        else attributes[f.name] = f.type === 'checkbox' ? value === 'true' : f.type === 'number' ? Number(value) : value;
      }
      if (Object.keys(attributes).length > 0) patch.attributes = attributes;
      try {
        if (Object.keys(patch).length > 0) await users.update(user.id, patch);
      } catch (error) {
        if (!(error instanceof ValidationError) && !(error instanceof ConflictError)) throw error;
        const labels = Object.fromEntries(profiling.fields.map((f) => [f.name, f.label]));
        page(ctx, details, profiling, values, granted, problemText(error as ValidationError, labels), 400);
        return;
      }
      const answers = profiling.consents.map((c) => ({ key: c.key, granted: granted.has(c.key) }));
      const denied = await updateConsents(ctx, kit, user, answers, kit.clientIdOf(details));
      if (denied) {
        page(ctx, details, profiling, values, granted, denied, 403);
        return;
      }
    }

    if (profiling.flow === 'registration') {
      await kit.updateState(details, {}, { type: 'restart' });
      kit.seeOther(ctx, `/interaction/${details.uid}/registered`);
      return;
    }
    await loginProfiled(ctx, kit, details, profiling);
  });
}
