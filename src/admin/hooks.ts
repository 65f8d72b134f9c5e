// Admin API: hooks (CRUD, versions and deploys, dry-run tests, execution log), the event catalog and
// the template library.
import type Router from '@koa/router';
import { NotFoundError, ValidationError } from '../errors.ts';
import { ACTIONS } from '../hooks/catalog/actions.ts';
import { EVENTS, eventSpec, sampleEvent } from '../hooks/catalog/events.ts';
import { buildEvent, executeChecked } from '../hooks/runner.ts';
import { findTemplate, listTemplates } from '../hooks/templates.ts';
import type { Services } from '../services.ts';
import { hookInput, publishInput, type Actor, type RunnableHook } from '../hooks/store.ts';
import { asObject, onlyFields } from '../input.ts';
import { objectBody, optionalObjectBody, queryInt, queryString } from './body.ts';
import { REDACTED } from '../hooks/redact.ts';
import { fieldsOf, HookDraftBody } from '../api-schema/types.ts';
import { actorName } from './console-auth.ts';

/** What POST /hooks/test takes: the event to run it for, and a hook body that is not saved. */
const DRAFT_FIELDS = fieldsOf(HookDraftBody);

/**
 * Said with every dry run: the sandbox makes the hook's fetch calls for real (to the hosts it is
 * allowed), so a test of a hook that writes to a CRM writes to that CRM.
 */
export const DRY_RUN_NOTICE = 'A test run changes no data of this server, but its fetch calls are real: they reach the hosts the hook names.';

/** Who is making the change, for the version history: named as the audit log names them. */
const actorOf = (ctx: { state: Record<string, unknown> }): Actor => actorName(ctx).actor;

/** A version number from the path: a whole number from 1, else 404 (no such version). */
function versionParam(value: string | undefined): number {
  const n = /^[1-9]\d{0,8}$/.test(value ?? '') ? Number(value) : Number.NaN;
  if (!Number.isInteger(n)) throw new NotFoundError(`version ${JSON.stringify(value)}`);
  return n;
}

export function hookRoutes(router: Router, services: Services): void {
  const { hooks } = services;

  router.post('/hooks', async (ctx) => {
    const created = await hooks.create(hookInput(objectBody(ctx)), actorOf(ctx));
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
    ctx.body = await hooks.update(ctx.params.id!, hookInput(objectBody(ctx)), actorOf(ctx));
  });

  // Versions: every saved code, newest first; one with its code; deploy (the newest by default) and
  // rollback (deploy an older one again). Both answer the hook as it now runs.
  router.get('/hooks/:id/versions', async (ctx) => {
    ctx.body = await hooks.versions(ctx.params.id!);
  });

  router.get('/hooks/:id/versions/:version', async (ctx) => {
    ctx.body = await hooks.version(ctx.params.id!, versionParam(ctx.params.version));
  });

  router.post('/hooks/:id/deploy', async (ctx) => {
    const { version } = onlyFields(optionalObjectBody(ctx), ['version']);
    if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 1)) {
      throw new ValidationError('version', 'must be a version number (1, 2, …), or left out for the newest');
    }
    await hooks.get(ctx.params.id!);
    if (version !== undefined)
      await hooks.version(ctx.params.id!, version).catch((error: unknown) => {
        throw error instanceof NotFoundError ? new ValidationError('version', `hook ${ctx.params.id} has no version ${version} (GET /admin/api/hooks/${ctx.params.id}/versions lists them)`) : error;
      });
    ctx.body = await hooks.deploy(ctx.params.id!, version as number | undefined, actorOf(ctx));
  });

  router.post('/hooks/:id/versions/:version/rollback', async (ctx) => {
    ctx.body = await hooks.deploy(ctx.params.id!, versionParam(ctx.params.version), actorOf(ctx));
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
      version: hook.version,
      outcome: result.outcome,
      actions: result.actions,
      logs: result.logs,
      duration_ms: Math.round(result.duration_ms * 100) / 100,
      ...(result.error ? { error: result.error } : {}),
      notice: DRY_RUN_NOTICE,
    };
  };

  // The deployed version by default; {"version": n} tries another (a draft) without deploying it.
  router.post('/hooks/:id/test', async (ctx) => {
    const body = onlyFields(optionalObjectBody(ctx), ['event', 'version']);
    if (body.version !== undefined && (typeof body.version !== 'number' || !Number.isInteger(body.version) || body.version < 1)) {
      throw new ValidationError('version', 'must be a version number (1, 2, …), or left out for the deployed one');
    }
    const hook = body.version === undefined ? await hooks.runnable(ctx.params.id!) : await hooks.runnableVersion(ctx.params.id!, body.version as number);
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

  // The event a run got, as the log kept it (passwords, secrets, tokens, codes and links redacted):
  // the console's test run on a recorded event lays it into the editor's event.
  router.get('/hooks/:id/executions/:execution_id/event', async (ctx) => {
    const hook = await hooks.get(ctx.params.id!);
    const event = await services.executions.event(hook.id, ctx.params.execution_id!);
    if (event === undefined) throw new NotFoundError(`execution ${JSON.stringify(ctx.params.execution_id)} of hook ${hook.id}`);
    if (event === null) throw new NotFoundError(`the event of execution ${ctx.params.execution_id} (it was not kept: recorded before events were, or larger than 32 kB)`);
    ctx.set('cache-control', 'no-store');
    ctx.body = { execution_id: ctx.params.execution_id, hook_id: hook.id, event_type: String(event.type ?? hook.event), redacted: REDACTED, event };
  });

  // Every hook's runs for one user's events, newest first (the console's user page).
  router.get('/executions', async (ctx) => {
    const userId = queryString(ctx, 'user_id', 60);
    if (!userId) throw new ValidationError('user_id', "is required: the runs of one user (GET /admin/api/hooks/:id/executions lists a hook's runs)");
    ctx.body = await services.executions.listForUser(userId, queryInt(ctx, 'limit', 50, 1, 500));
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
    const created = await hooks.create({ name: template.title, mode: template.mode, enabled: true, ...options, event: template.event, code: template.code }, actorOf(ctx));
    ctx.status = 201;
    ctx.set('location', `/admin/api/hooks/${created.id}`);
    ctx.body = created;
  });
}
