// Hooks as stored: validation, secrets sealed at rest (only their names ever leave), versions of the
// code (hook_versions: every saved code is numbered; hooks.code/version is the deployed one, which
// is what runs), and the per-event lookup the runner uses on every journey step (cached briefly,
// invalidated on writes).
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto.ts';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { eventSpec } from './catalog/events.ts';
import { fieldsOf, HookBody, PublishBody } from '../api-schema/types.ts';

export type HookMode = 'sync' | 'async';
export type OnError = 'fail' | 'continue';

export interface HookView {
  id: string;
  name: string;
  event: string;
  mode: HookMode;
  /** The deployed code: what journeys run. */
  code: string;
  /** The deployed version's number. */
  version: number;
  applications: string[] | null;
  enabled: boolean;
  order: number;
  /** Names only: values never leave the server. */
  secrets: string[];
  allowed_hosts: string[];
  timeout_ms: number;
  on_error: OnError;
  created_at: string;
  updated_at: string;
}

/** A hook as the admin API answers it: the stored hook and its newest version (a draft when above `version`). */
export interface HookAnswer extends HookView {
  latest_version: number;
}

/** A hook ready to run: its secrets opened. Never serialised to a client. */
export interface RunnableHook extends Omit<HookView, 'secrets'> {
  secrets: Record<string, string>;
}

/** One saved code of a hook (GET /hooks/:id/versions; `code` only for one version). */
export interface HookVersion {
  version: number;
  /** This version is the one journeys run. */
  deployed: boolean;
  created_at: string;
  /** Who saved it: "admin-api" (the API key), "kickstart", or a console admin. */
  created_by: string;
  /** Its last deploy (null when never deployed). */
  deployed_at: string | null;
  deployed_by: string | null;
  code?: string;
}

/** Who made a change, as the version history records it. */
export type Actor = string;
/** Who made a change when no one is named (KICKSTART, the CLI): the admin key, as src/admin names it. */
export const ADMIN_API_ACTOR: Actor = 'admin-key';

/** Compiles the code; returns the problem (with its line) or null. Supplied by the sandbox. */
export type CodeChecker = (code: string) => { message: string; line: number | null } | null;

export const DEFAULT_TIMEOUT_MS = 2000;
export const MAX_TIMEOUT_MS = 10000;

const HOOK_FIELDS = fieldsOf(HookBody);
const HOOK_READ_ONLY = ['id', 'version', 'latest_version', 'created_at', 'updated_at'];
const PUBLISH_FIELDS = fieldsOf(PublishBody);

/** A hook body as POST and PATCH /hooks take it (KICKSTART's `hooks` entries too): known fields only, and `draft` (PATCH). */
export function hookInput(body: JsonObject): JsonObject {
  return onlyFields(body, [...HOOK_FIELDS, 'draft'], HOOK_READ_ONLY);
}

/** The options of publishing a template (POST /templates/:name/publish): a hook body without its code and event. */
export function publishInput(body: JsonObject): JsonObject {
  return onlyFields(body, PUBLISH_FIELDS, HOOK_READ_ONLY);
}
const MAX_CODE_BYTES = 64 * 1024;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/;
const CACHE_MS = 1000;

type Row = Record<string, unknown>;

export class HookStore {
  readonly #db: Db;
  readonly #box: SecretBox;
  readonly #checkCode: CodeChecker;
  readonly #applicationExists: (clientId: string) => Promise<boolean>;
  #cache = new Map<string, { at: number; hooks: Promise<RunnableHook[]>; settled?: RunnableHook[] }>();

  constructor(db: Db, box: SecretBox, checkCode: CodeChecker, applicationExists: (clientId: string) => Promise<boolean>) {
    this.#db = db;
    this.#box = box;
    this.#checkCode = checkCode;
    this.#applicationExists = applicationExists;
  }

  async create(input: Record<string, unknown>, actor: Actor = ADMIN_API_ACTOR): Promise<HookAnswer> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('body', 'must be a JSON object');
    if (input.draft !== undefined) throw new ValidationError('draft', 'a new hook deploys its first version; create it with "enabled": false to keep it from running, then PATCH drafts');
    const valid = await this.#validate(input, null);
    const now = Date.now();
    const row: Row = { id: `hook_${randomUUID().replaceAll('-', '')}`, version: 1, created_at: now, updated_at: now, ...valid };
    await this.#db.transaction(async (tx) => {
      await tx('hooks').insert(row);
      await tx('hook_versions').insert({ hook_id: row.id, version: 1, code: row.code, created_by: actor, created_at: now, deployed_by: actor, deployed_at: now });
    });
    this.#cache.clear();
    return { ...this.#view(row), latest_version: 1 };
  }

  async list(): Promise<HookAnswer[]> {
    const latest = new Map<string, number>();
    for (const r of (await this.#db('hook_versions').select('hook_id').max({ latest: 'version' }).groupBy('hook_id')) as Row[]) latest.set(String(r.hook_id), Number(r.latest));
    return (await this.#db('hooks').orderBy([{ column: 'event' }, { column: 'order' }, { column: 'created_at' }])).map((r) => this.#answer(r, latest.get(String(r.id))));
  }

  async get(id: string): Promise<HookAnswer> {
    const row = await this.#row(id);
    return this.#answer(row, await this.#latestVersion(this.#db, id));
  }

  /** The versions of a hook, newest first (without their code). */
  async versions(id: string): Promise<HookVersion[]> {
    const hook = await this.#row(id);
    const rows = await this.#db('hook_versions').where({ hook_id: hook.id }).orderBy('version', 'desc').select('version', 'created_by', 'created_at', 'deployed_by', 'deployed_at');
    return rows.map((r) => this.#versionView(r, Number(hook.version)));
  }

  /** One version of a hook, with its code. */
  async version(id: string, version: number): Promise<HookVersion> {
    const hook = await this.#row(id);
    const row = await this.#versionRow(this.#db, id, version);
    return { ...this.#versionView(row, Number(hook.version)), code: String(row.code) };
  }

  /** A version of the hook ready to run (a dry run of a draft): the hook as stored, with that version's code. */
  async runnableVersion(id: string, version: number): Promise<RunnableHook> {
    const hook = await this.#row(id);
    const row = await this.#versionRow(this.#db, id, version);
    return { ...this.#runnable(hook), code: String(row.code), version };
  }

  /**
   * Deploys a version (the newest when none is named): journeys run it from now on. Deploying an
   * older one is a rollback; the versions in between stay listed and can be deployed again.
   */
  async deploy(id: string, version: number | undefined, actor: Actor = ADMIN_API_ACTOR): Promise<HookAnswer> {
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new ValidationError('version', 'must be a version number (1, 2, …), or left out for the newest');
    await this.#db.transaction(async (tx) => {
      const hook = await this.#row(id, tx);
      const target = version ?? (await this.#latestVersion(tx, id));
      const row = await this.#versionRow(tx, id, target);
      const now = Date.now();
      await tx('hooks').where({ id }).update({ code: row.code, version: target, updated_at: now });
      await tx('hook_versions').where({ hook_id: hook.id, version: target }).update({ deployed_by: actor, deployed_at: now });
    });
    this.#cache.clear();
    return this.get(id);
  }

  /** The hook with its secrets opened, for a test run. */
  /**
   * A hook that is not saved (POST /hooks/test): the body is checked exactly as POST /hooks checks
   * it, and nothing is written. `name` and `mode` may be left out (a draft runs like a sync hook).
   */
  async draft(input: Record<string, unknown>): Promise<RunnableHook> {
    const mode = typeof input.event === 'string' && eventSpec(input.event)?.sync === false ? 'async' : 'sync';
    const row = await this.#validate({ name: 'draft', mode, ...input }, null);
    const now = Date.now();
    return this.#runnable({ ...row, id: 'draft', version: 0, created_at: now, updated_at: now });
  }

  async runnable(id: string): Promise<RunnableHook> {
    return this.#runnable(await this.#row(id));
  }

  /**
   * Changes a hook. A `code` that differs from the newest version is saved as the next version and
   * deployed, unless `draft: true` (then it is saved only: journeys keep running the deployed one).
   */
  async update(id: string, input: Record<string, unknown>, actor: Actor = ADMIN_API_ACTOR): Promise<HookAnswer> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('body', 'must be a JSON object');
    const { draft = false, ...fields } = input;
    if (typeof draft !== 'boolean') throw new ValidationError('draft', 'must be true or false');
    if (draft && fields.code === undefined) throw new ValidationError('draft', 'saves code without deploying it: give "code" with it');
    if (draft && Object.keys(fields).some((field) => field !== 'code')) {
      throw new ValidationError('draft', 'a draft holds code only: change the other fields in a PATCH of their own (they apply at once)');
    }
    const current = await this.#row(id);
    const changes: Row = await this.#validate(fields, current);
    await this.#db.transaction(async (tx) => {
      if (changes.code !== undefined) {
        const latest = await tx('hook_versions').where({ hook_id: id }).orderBy('version', 'desc').first();
        const now = Date.now();
        let version = Number(latest?.version ?? current.version);
        if (!latest || latest.code !== changes.code) {
          version = Math.max(version, Number(current.version)) + 1;
          const saved = await tx('hook_versions')
            .insert({ hook_id: id, version, code: changes.code, created_by: actor, created_at: now })
            .onConflict(['hook_id', 'version'])
            .ignore()
            .returning('version');
          // Two saves at once computed the same number: the other one won.
          if (saved.length === 0) throw new ConflictError('code', 'another change of this hook was saved at the same moment: read it and try again');
        }
        if (draft || version === Number(current.version)) delete changes.code;
        else {
          changes.version = version;
          await tx('hook_versions').where({ hook_id: id, version }).update({ deployed_by: actor, deployed_at: now });
        }
      }
      changes.updated_at = Date.now();
      await tx('hooks').where({ id }).update(changes);
    });
    this.#cache.clear();
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      if ((await tx('hooks').where({ id }).delete()) === 0) throw new NotFoundError('hook');
      await tx('hook_versions').where({ hook_id: id }).delete();
    });
    this.#cache.clear();
  }

  /** Enabled hooks for an event and application, in order. Cached for a second. */
  forEvent(event: string, applicationId: string | null): Promise<RunnableHook[]> {
    const key = `${event}\u0000${applicationId ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.hooks;
    const hooks = this.#load(event, applicationId);
    const entry: { at: number; hooks: Promise<RunnableHook[]>; settled?: RunnableHook[] } = { at: Date.now(), hooks };
    this.#cache.set(key, entry);
    hooks.then(
      (loaded) => {
        entry.settled = loaded;
      },
      () => this.#cache.delete(key),
    );
    return hooks;
  }

  /** forEvent's answer when it is cached and loaded, without waiting; undefined when it would have to read. */
  forEventNow(event: string, applicationId: string | null): RunnableHook[] | undefined {
    const cached = this.#cache.get(`${event}\u0000${applicationId ?? ''}`);
    return cached && Date.now() - cached.at < CACHE_MS ? cached.settled : undefined;
  }

  async #load(event: string, applicationId: string | null): Promise<RunnableHook[]> {
    const rows = await this.#db('hooks')
      .where({ event, enabled: true })
      .orderBy([{ column: 'order' }, { column: 'created_at' }]);
    return rows.map((row) => this.#runnable(row)).filter((hook) => hook.applications === null || (applicationId !== null && hook.applications.includes(applicationId)));
  }

  async #row(id: string, db: Db = this.#db): Promise<Row> {
    const row = typeof id === 'string' && id.length <= 40 ? await db('hooks').where({ id }).first() : undefined;
    if (!row) throw new NotFoundError('hook');
    return row;
  }

  async #versionRow(db: Db, id: string, version: number): Promise<Row> {
    const row = Number.isInteger(version) && version > 0 ? await db('hook_versions').where({ hook_id: id, version }).first() : undefined;
    if (!row) throw new NotFoundError(`version ${version} of hook ${id}`);
    return row;
  }

  async #latestVersion(db: Db, id: string): Promise<number> {
    const row = await db('hook_versions').where({ hook_id: id }).max({ latest: 'version' }).first();
    return Number(row?.latest ?? 0);
  }

  #answer(row: Row, latest: number | undefined): HookAnswer {
    return { ...this.#view(row), latest_version: Math.max(latest ?? 0, Number(row.version)) };
  }

  #versionView(row: Row, deployed: number): HookVersion {
    const at = (value: unknown) => (value === null || value === undefined ? null : new Date(Number(value)).toISOString());
    return {
      version: Number(row.version),
      deployed: Number(row.version) === deployed,
      created_at: at(row.created_at)!,
      created_by: String(row.created_by),
      deployed_at: at(row.deployed_at),
      deployed_by: row.deployed_by === null || row.deployed_by === undefined ? null : String(row.deployed_by),
    };
  }

  #view(row: Row): HookView {
    const { secrets, ...rest } = this.#runnable(row);
    return { ...rest, secrets: Object.keys(secrets) };
  }

  #runnable(row: Row): RunnableHook {
    return {
      id: String(row.id),
      name: String(row.name),
      event: String(row.event),
      mode: row.mode as HookMode,
      code: String(row.code),
      version: Number(row.version),
      applications: fromJson<string[] | null>(row.applications, null),
      enabled: toBool(row.enabled),
      order: Number(row.order),
      secrets: row.secrets_enc ? fromJson<Record<string, string>>(this.#box.open(String(row.secrets_enc)), {}) : {},
      allowed_hosts: fromJson<string[]>(row.allowed_hosts, []),
      timeout_ms: Number(row.timeout_ms),
      on_error: row.on_error as OnError,
      created_at: new Date(Number(row.created_at)).toISOString(),
      updated_at: new Date(Number(row.updated_at)).toISOString(),
    };
  }

  /** Validates the given fields (all of them when creating) and answers the columns to write. */
  async #validate(input: Record<string, unknown>, current: Row | null): Promise<Row> {
    const out: Row = {};
    const creating = current === null;
    const has = (field: string) => input[field] !== undefined;

    if (creating || has('name')) {
      if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200) throw new ValidationError('name', 'is required (a string of at most 200 characters)');
      out.name = input.name.trim();
    }
    const event = creating || has('event') ? input.event : current!.event;
    const spec = typeof event === 'string' ? eventSpec(event) : undefined;
    if (!spec) throw new ValidationError('event', `must be one of the events listed by GET /admin/api/events, got ${JSON.stringify(event)}`);
    if (creating || has('event')) out.event = spec.name;

    const mode = creating || has('mode') ? input.mode : current!.mode;
    if (mode !== 'sync' && mode !== 'async') throw new ValidationError('mode', 'must be "sync" or "async"');
    if (mode === 'sync' && !spec.sync) throw new ValidationError('mode', `${spec.name} happens after the journey can change: it runs async only`);
    if (creating || has('mode') || has('event')) out.mode = mode;

    if (creating || has('code')) {
      if (typeof input.code !== 'string' || !input.code.trim()) throw new ValidationError('code', 'is required (the hook module source)');
      if (Buffer.byteLength(input.code) > MAX_CODE_BYTES) throw new ValidationError('code', `must be at most ${MAX_CODE_BYTES / 1024} KiB`);
      const problem = this.#checkCode(input.code);
      if (problem) throw new ValidationError('code', `does not compile${problem.line ? ` (line ${problem.line})` : ''}: ${problem.message}`);
      out.code = input.code;
    }

    if (has('applications') || creating) {
      const apps = input.applications ?? null;
      if (apps !== null) {
        if (!Array.isArray(apps) || apps.some((a) => typeof a !== 'string')) throw new ValidationError('applications', 'must be an array of client_ids (or omitted for every application)');
        for (const [i, clientId] of (apps as string[]).entries()) {
          if (!(await this.#applicationExists(clientId))) throw new ValidationError(`applications[${i}]`, `no application has client_id ${JSON.stringify(clientId)}`);
        }
      }
      out.applications = apps === null ? null : toJson([...new Set(apps as string[])]);
    }
    if (has('enabled') || creating) {
      const enabled = input.enabled ?? true;
      if (typeof enabled !== 'boolean') throw new ValidationError('enabled', 'must be true or false');
      out.enabled = enabled;
    }
    if (has('order') || creating) {
      const order = input.order ?? 0;
      if (!Number.isInteger(order) || Math.abs(order as number) > 1_000_000) throw new ValidationError('order', 'must be a whole number');
      out.order = order;
    }
    // Creating stores the given secrets. An update MERGES: each named secret is set, `null` removes
    // it, and secrets not named are kept (their values cannot be read back, so a replace would make
    // the operator re-send every one to change one).
    if (has('secrets') || creating) {
      const given = input.secrets ?? {};
      if (given === null || typeof given !== 'object' || Array.isArray(given)) throw new ValidationError('secrets', 'must be an object of NAME: "value" (on PATCH, NAME: null removes one)');
      const secrets: Record<string, string> = creating ? {} : this.#runnable(current).secrets;
      for (const [name, value] of Object.entries(given)) {
        if (!SECRET_NAME.test(name)) throw new ValidationError(`secrets.${name}`, 'names are letters, digits and _ (at most 64)');
        if (value === null && !creating) {
          delete secrets[name];
          continue;
        }
        if (typeof value !== 'string' || value.length > 4096) throw new ValidationError(`secrets.${name}`, `must be a string of at most 4096 characters${creating ? '' : ', or null to remove it'}`);
        secrets[name] = value;
      }
      if (Object.keys(secrets).length > 100) throw new ValidationError('secrets', 'at most 100 secrets per hook');
      out.secrets_enc = Object.keys(secrets).length ? this.#box.seal(JSON.stringify(secrets)) : null;
    }
    if (has('allowed_hosts') || creating) {
      const hosts = input.allowed_hosts ?? [];
      if (!Array.isArray(hosts) || hosts.length > 50) throw new ValidationError('allowed_hosts', 'must be an array of "host[:port]" (at most 50)');
      for (const [i, host] of hosts.entries()) {
        if (typeof host !== 'string' || !HOST.test(host)) throw new ValidationError(`allowed_hosts[${i}]`, 'must be "host" or "host:port" (IPv6 in brackets)');
      }
      out.allowed_hosts = toJson((hosts as string[]).map((h) => h.toLowerCase()));
    }
    if (has('timeout_ms') || creating) {
      const timeout = input.timeout_ms ?? DEFAULT_TIMEOUT_MS;
      if (!Number.isInteger(timeout) || (timeout as number) < 1 || (timeout as number) > MAX_TIMEOUT_MS)
        throw new ValidationError('timeout_ms', `must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
      out.timeout_ms = timeout;
    }
    if (has('on_error') || creating) {
      const onError = input.on_error ?? 'fail';
      if (onError !== 'fail' && onError !== 'continue') throw new ValidationError('on_error', 'must be "fail" or "continue"');
      out.on_error = onError;
    }
    return out;
  }
}
