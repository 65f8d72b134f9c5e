// Admin API: hooks (CRUD, dry-run tests, execution log), the event catalog and the template library.
import type Router from '@koa/router';
import { NotFoundError, ValidationError } from '../errors.ts';
import { ACTIONS } from '../hooks/catalog/actions.ts';
import { EVENTS, eventSpec, sampleEvent } from '../hooks/catalog/events.ts';
import { buildEvent, executeChecked } from '../hooks/runner.ts';
import { findTemplate, listTemplates } from '../hooks/templates.ts';
import type { Services } from '../services.ts';
import { hookInput, publishInput, type RunnableHook } from '../hooks/store.ts';
import { asObject, onlyFields } from '../input.ts';
import { objectBody, optionalObjectBody, queryInt } from './body.ts';
import { fieldsOf, HookDraftBody } from '../api-schema/types.ts';

/** What POST /hooks/test takes: the event to run it for, and a hook body that is not saved. */
const DRAFT_FIELDS = fieldsOf(HookDraftBody);

export function hookRoutes(router: Router, services: Services): void {
  const { hooks } = services;

  router.post('/hooks', async (ctx) => {
    const created = await hooks.create(hookInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/hooks/${created.id}`);
    ctx.body = created;
  });

  router.get('/hooks', async (ctx) => {
    ctx.body = await hooks.list();
  });

  router.get('/hooks/:id', async (ctx) => {
    ctx.body = await hooks.get(ctx.params.id!);
  });

  router.patch('/hooks/:id', async (ctx) => {
    ctx.body = await hooks.update(ctx.params.id!, hookInput(objectBody(ctx)));
  });

  router.delete('/hooks/:id', async (ctx) => {
    await hooks.delete(ctx.params.id!);
    ctx.status = 204;
  });

  // A dry run: the same sandbox, limits and action checks as a journey, but nothing is applied,
  // queued or recorded. The given event fields are laid over the catalog's sample event.
  const dryRun = async (hook: RunnableHook, given: Record<string, unknown>) => {
    const spec = eventSpec(hook.event)!;
    const sample = sampleEvent(spec);
    const { id: _id, type: _type, hook: _hook, secrets: _secrets, application, request, created_at: _at, ...fields } = sample;
    const event = await buildEvent(spec, { ...fields, application, request, ...given }, { applicationId: null, ip: null, userAgent: null, locale: null }, async () => null);
    const result = await executeChecked(services.sandbox, spec, hook, event);
    return {
      outcome: result.outcome,
      actions: result.actions,
      logs: result.logs,
      duration_ms: Math.round(result.duration_ms * 100) / 100,
      ...(result.error ? { error: result.error } : {}),
    };
  };

  router.post('/hooks/:id/test', async (ctx) => {
    const hook = await hooks.runnable(ctx.params.id!);
    const body = optionalObjectBody(ctx);
    ctx.body = await dryRun(hook, body.event === undefined ? {} : asObject(body.event, 'event'));
  });

  // Code that is not saved yet: checked as POST /hooks checks it, run as above, and not stored.
  router.post('/hooks/test', async (ctx) => {
    const { event_type, event, ...rest } = onlyFields(objectBody(ctx), DRAFT_FIELDS);
    if (typeof event_type !== 'string') throw new ValidationError('event_type', 'is required: one of the events listed by GET /admin/api/events');
    const hook = await hooks.draft({ ...rest, event: event_type });
    ctx.body = await dryRun(hook, event === undefined ? {} : asObject(event, 'event'));
  });

  router.get('/hooks/:id/executions', async (ctx) => {
    await hooks.get(ctx.params.id!);
    const limit = queryInt(ctx, 'limit', 50, 1, 500);
    ctx.body = await services.executions.list(ctx.params.id!, limit);
  });

  router.get('/events', async (ctx) => {
    ctx.body = EVENTS.map((spec) => ({
      name: spec.name,
      fires: spec.fires,
      sync: spec.sync,
      refusal: spec.refusal,
      actions: spec.actions.map((action) => ({ type: action, signature: ACTIONS[action].signature })),
      fields: spec.fields,
      sample: sampleEvent(spec),
    }));
  });

  router.get('/templates', async (ctx) => {
    ctx.body = listTemplates();
  });

  router.post('/templates/:name/publish', async (ctx) => {
    const template = findTemplate(ctx.params.name!);
    if (!template) throw new NotFoundError('template');
    const options = publishInput(optionalObjectBody(ctx));
    if (options.mode !== undefined && options.mode !== template.mode && template.mode === 'async') {
      throw new ValidationError('mode', `${template.name} is written to run async`);
    }
    const given = options.secrets;
    if (given === undefined || (given !== null && typeof given === 'object' && !Array.isArray(given))) {
      const values = (given ?? {}) as Record<string, unknown>;
      const missing = template.required_secrets.filter((name) => typeof values[name] !== 'string' || values[name] === '');
      if (missing.length > 0) {
        throw new ValidationError(
          'secrets',
          `${template.name} needs ${missing.join(', ')}: give ${missing.length > 1 ? 'them' : 'it'} as {"secrets": {${missing.map((n) => `"${n}": "…"`).join(', ')}}}`,
        );
      }
    }
    const created = await hooks.create({ name: template.title, mode: template.mode, enabled: true, ...options, event: template.event, code: template.code });
    ctx.status = 201;
    ctx.set('location', `/admin/api/hooks/${created.id}`);
    ctx.body = created;
  });
}
