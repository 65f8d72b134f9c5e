// Identity providers (CONTRACT §8): the one place that reads and writes the identity_providers
// table. The body's fields are kept as given; what a preset fills in is merged when a provider is
// read (resolve), so the answer shows the settings in force. The client secret is encrypted at rest
// (SecretBox, as application and hook secrets are) and never answered.
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto.ts';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { assertPlainText } from '../identity/plain-text.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { OAUTH2_CLAIMS, OIDC_CLAIMS, PRESET_NAMES, PRESETS, type ClaimMapping, type PresetName } from './presets.ts';

const TYPES = ['oidc', 'oauth2'] as const;
const LINKING = ['verified_email', 'never'] as const;
const PURPOSES = ['login', 'verification'] as const;
const URL_FIELDS = ['issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'emails_endpoint'] as const;
const CLAIM_FIELDS = Object.keys(OIDC_CLAIMS) as Array<keyof ClaimMapping>;

const FIELDS = [
  'name',
  'type',
  'preset',
  ...URL_FIELDS,
  'client_id',
  'client_secret',
  'scopes',
  'claims',
  'linking',
  'trusted_domains',
  'applications',
  'enabled',
  'purpose',
  'response_mode',
  'apple',
] as const;
const READ_ONLY = ['id', 'has_client_secret', 'created_at', 'updated_at'];

export type ProviderType = (typeof TYPES)[number];
export type Linking = (typeof LINKING)[number];
export type Purpose = (typeof PURPOSES)[number];

/** What was given (POST, then PATCHes merged in), as stored. */
interface StoredSettings {
  issuer?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  userinfo_endpoint?: string;
  emails_endpoint?: string;
  client_id: string;
  scopes?: string[];
  claims?: Partial<ClaimMapping>;
  linking: Linking;
  trusted_domains: string[];
  applications: string[] | null;
  response_mode?: 'query' | 'form_post';
  apple?: { team_id: string; key_id: string };
}

/** A provider as the admin API answers it and as the flows use it: the preset merged in. */
export interface IdentityProvider {
  id: string;
  name: string;
  type: ProviderType;
  preset: PresetName | null;
  purpose: Purpose;
  issuer: string | null;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  userinfo_endpoint: string | null;
  emails_endpoint: string | null;
  client_id: string;
  scopes: string[];
  claims: ClaimMapping;
  /** verified_email: a verified address of a local account links once the user proves that account. */
  linking: Linking;
  /** Domains whose verified addresses this provider may link without the local account's proof. */
  trusted_domains: string[];
  /** The applications that offer it; null: every application. */
  applications: string[] | null;
  enabled: boolean;
  response_mode: 'query' | 'form_post';
  /** Apple: the client secret is a JWT signed with the .p8 key given as client_secret. */
  apple: { team_id: string; key_id: string } | null;
  button: { label: string; color: string; text_color: string };
  has_client_secret: boolean;
  created_at: string;
  updated_at: string;
}

type Row = Record<string, unknown>;

function iso(ms: unknown): string {
  return new Date(Number(ms)).toISOString();
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new ValidationError(field, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

function text(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ValidationError(field, 'is required: a non-empty string');
  if (value.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
  return value.trim();
}

function httpUrl(field: string, value: unknown): string {
  const raw = text(field, value, 2000);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(field, 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(field, 'must use https (or http)');
  if (url.username || url.password) throw new ValidationError(field, 'must not contain credentials');
  if (url.hash) throw new ValidationError(field, 'must not contain a fragment');
  return raw;
}

function stringList(field: string, value: unknown, pattern: RegExp, max = 50): string[] {
  if (!Array.isArray(value)) throw new ValidationError(field, 'must be an array of strings');
  if (value.length > max) throw new ValidationError(field, `must hold at most ${max} entries`);
  return [
    ...new Set(
      value.map((item, i) => {
        if (typeof item !== 'string' || !pattern.test(item)) throw new ValidationError(`${field}[${i}]`, 'is not well formed');
        return item;
      }),
    ),
  ];
}

function claimMapping(value: unknown): Partial<ClaimMapping> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('claims', 'must be an object mapping our fields to the provider’s claims');
  const out: Partial<ClaimMapping> = {};
  for (const [key, claim] of Object.entries(value)) {
    if (!CLAIM_FIELDS.includes(key as keyof ClaimMapping)) throw new ValidationError(`claims.${key}`, `is not a known field (known: ${CLAIM_FIELDS.join(', ')})`);
    if (typeof claim !== 'string' || claim.length > 200 || !/^[A-Za-z0-9_.:-]*$/.test(claim))
      throw new ValidationError(`claims.${key}`, 'must be a claim name (dots reach into objects; empty: not provided)');
    out[key as keyof ClaimMapping] = claim;
  }
  return out;
}

function appleSettings(value: unknown): { team_id: string; key_id: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('apple', 'must be an object {team_id, key_id}');
  const input = onlyFields(value as JsonObject, ['team_id', 'key_id']);
  return { team_id: text('apple.team_id', input.team_id, 20), key_id: text('apple.key_id', input.key_id, 20) };
}

const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const CLIENT_ID = /^[A-Za-z0-9._~-]{3,100}$/;

/** The effective settings: the given ones over the preset's over the type's defaults. */
function resolve(row: Row): IdentityProvider {
  const stored = fromJson<StoredSettings>(row.settings, { client_id: '', linking: 'verified_email', trusted_domains: [], applications: null });
  const preset = row.preset ? PRESETS[row.preset as PresetName] : null;
  const type = row.type as ProviderType;
  const pick = (field: (typeof URL_FIELDS)[number]) => stored[field] ?? preset?.[field] ?? null;
  return {
    id: String(row.id),
    name: String(row.name),
    type,
    preset: (row.preset as PresetName | null) ?? null,
    purpose: row.purpose as Purpose,
    issuer: pick('issuer'),
    authorization_endpoint: pick('authorization_endpoint'),
    token_endpoint: pick('token_endpoint'),
    userinfo_endpoint: pick('userinfo_endpoint'),
    emails_endpoint: pick('emails_endpoint'),
    client_id: stored.client_id,
    scopes: stored.scopes ?? preset?.scopes ?? (type === 'oidc' ? ['openid', 'email', 'profile'] : []),
    claims: { ...(type === 'oidc' ? OIDC_CLAIMS : OAUTH2_CLAIMS), ...preset?.claims, ...stored.claims },
    linking: stored.linking,
    trusted_domains: stored.trusted_domains,
    applications: stored.applications,
    enabled: toBool(row.enabled),
    response_mode: stored.response_mode ?? preset?.response_mode ?? 'query',
    apple: stored.apple ?? null,
    button: { label: String(row.name), color: preset?.color ?? '#ffffff', text_color: preset?.text_color ?? '#1f1f1f' },
    has_client_secret: row.client_secret_enc !== null && row.client_secret_enc !== undefined,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** The body of POST / PATCH /identity-providers: only known fields. */
export function identityProviderInput(body: JsonObject): JsonObject {
  return onlyFields(body, FIELDS, READ_ONLY);
}

export class IdentityProviderStore {
  readonly #db: Db;
  readonly #box: SecretBox;
  /** Whether a client_id names an application (applications must exist). */
  readonly #applicationExists: (clientId: string) => Promise<boolean>;

  constructor(db: Db, box: SecretBox, applicationExists: (clientId: string) => Promise<boolean>) {
    this.#db = db;
    this.#box = box;
    this.#applicationExists = applicationExists;
  }

  async create(input: JsonObject): Promise<IdentityProvider> {
    const body = identityProviderInput(input);
    const preset = body.preset === undefined || body.preset === null ? null : oneOf('preset', body.preset, PRESET_NAMES);
    const type = body.type === undefined && preset ? PRESETS[preset].type : oneOf('type', body.type, TYPES);
    if (preset && PRESETS[preset].type !== type) throw new ValidationError('type', `the ${preset} preset is of type ${PRESETS[preset].type}`);
    const name = body.name === undefined && preset ? PRESETS[preset].label : text('name', body.name, 200);
    assertPlainText('name', name);
    const purpose = body.purpose === undefined ? 'login' : oneOf('purpose', body.purpose, PURPOSES);
    const settings: StoredSettings = { client_id: '', linking: 'verified_email', trusted_domains: [], applications: null };
    await this.#apply(settings, body, true);
    const secret = await this.#secret(body, settings, preset);
    this.#complete(type, preset, purpose, settings);
    const now = Date.now();
    const row = {
      id: randomUUID(),
      name,
      type,
      preset,
      purpose,
      settings: toJson(settings),
      client_secret_enc: secret === null ? null : this.#box.seal(secret),
      enabled: body.enabled === undefined ? true : bool('enabled', body.enabled),
      created_at: now,
      updated_at: now,
    };
    await this.#db('identity_providers').insert(row);
    return resolve(row);
  }

  async update(id: string, input: JsonObject): Promise<IdentityProvider> {
    const body = identityProviderInput(input);
    const row = await this.#row(id);
    for (const fixed of ['type', 'preset', 'purpose'] as const) {
      if (body[fixed] !== undefined && body[fixed] !== row[fixed]) throw new ValidationError(fixed, 'cannot be changed: create another provider');
    }
    const settings = fromJson<StoredSettings>(row.settings, { client_id: '', linking: 'verified_email', trusted_domains: [], applications: null });
    await this.#apply(settings, body, false);
    const preset = (row.preset as PresetName | null) ?? null;
    this.#complete(row.type as ProviderType, preset, row.purpose as Purpose, settings);
    const changes: Row = { settings: toJson(settings), updated_at: Date.now() };
    if (body.name !== undefined) {
      changes.name = text('name', body.name, 200);
      assertPlainText('name', changes.name as string);
    }
    if (body.enabled !== undefined) changes.enabled = bool('enabled', body.enabled);
    if (body.client_secret !== undefined) {
      const secret = await this.#secret(body, settings, preset);
      changes.client_secret_enc = secret === null ? null : this.#box.seal(secret);
    }
    await this.#db('identity_providers').where({ id }).update(changes);
    return resolve(await this.#row(id));
  }

  async get(id: string): Promise<IdentityProvider> {
    return resolve(await this.#row(id));
  }

  async find(id: string): Promise<IdentityProvider | null> {
    if (typeof id !== 'string' || id.length > 36) return null;
    const row = await this.#db('identity_providers').where({ id }).first();
    return row ? resolve(row) : null;
  }

  async list(): Promise<IdentityProvider[]> {
    return (await this.#db('identity_providers').orderBy('created_at', 'asc')).map(resolve);
  }

  /** The enabled providers of `purpose` an application offers, in the order they were added. */
  async forApplication(clientId: string | null, purpose: Purpose = 'login'): Promise<IdentityProvider[]> {
    const all = await this.#db('identity_providers').where({ purpose, enabled: true }).orderBy('created_at', 'asc');
    return all.map(resolve).filter((p) => p.applications === null || (clientId !== null && p.applications.includes(clientId)));
  }

  async delete(id: string): Promise<void> {
    const deleted = await this.#db('identity_providers').where({ id }).delete();
    if (deleted === 0) throw new NotFoundError('identity provider');
  }

  /** The client secret in clear, for a call to the provider; null when none was given. */
  async clientSecret(id: string): Promise<string | null> {
    const row = await this.#db('identity_providers').where({ id }).first('client_secret_enc');
    return row?.client_secret_enc ? this.#box.open(String(row.client_secret_enc)) : null;
  }

  async #row(id: string): Promise<Row> {
    const row = typeof id === 'string' && id.length <= 36 ? await this.#db('identity_providers').where({ id }).first() : undefined;
    if (!row) throw new NotFoundError('identity provider');
    return row;
  }

  async #apply(settings: StoredSettings, body: JsonObject, creating: boolean): Promise<void> {
    for (const field of URL_FIELDS) {
      if (body[field] === null) delete settings[field];
      else if (body[field] !== undefined) settings[field] = httpUrl(field, body[field]);
    }
    if (creating || body.client_id !== undefined) {
      settings.client_id = text('client_id', body.client_id, 200);
      if (!CLIENT_ID.test(settings.client_id) && !/^[\x21-\x7e]{1,200}$/.test(settings.client_id)) throw new ValidationError('client_id', 'must be printable ASCII');
    }
    if (body.scopes !== undefined) settings.scopes = stringList('scopes', body.scopes, SCOPE);
    if (body.claims !== undefined) settings.claims = claimMapping(body.claims);
    if (body.linking !== undefined) settings.linking = oneOf('linking', body.linking, LINKING);
    if (body.trusted_domains !== undefined) settings.trusted_domains = stringList('trusted_domains', body.trusted_domains, DOMAIN).map((d) => d.toLowerCase());
    if (body.response_mode !== undefined) settings.response_mode = oneOf('response_mode', body.response_mode, ['query', 'form_post'] as const);
    if (body.apple !== undefined) settings.apple = appleSettings(body.apple);
    if (body.applications === null) settings.applications = null;
    else if (body.applications !== undefined) {
      const list = stringList('applications', body.applications, /^[\x21-\x7e]{1,100}$/, 500);
      for (const [i, clientId] of list.entries()) {
        if (!(await this.#applicationExists(clientId))) throw new ValidationError(`applications[${i}]`, `no application ${clientId}`);
      }
      settings.applications = list;
    }
  }

  /** Checks that the type's endpoints are there once the preset is merged in. */
  #complete(type: ProviderType, preset: PresetName | null, purpose: Purpose, settings: StoredSettings): void {
    const effective = (field: (typeof URL_FIELDS)[number]) => settings[field] ?? (preset ? PRESETS[preset][field] : undefined);
    if (type === 'oidc' && !effective('issuer')) throw new ValidationError('issuer', 'is required for an OpenID Connect provider (its discovery document is read from it)');
    if (type === 'oauth2') {
      for (const field of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint'] as const) {
        if (!effective(field)) throw new ValidationError(field, 'is required for an OAuth 2.0 provider');
      }
    }
    if (purpose === 'verification' && type !== 'oidc') throw new ValidationError('type', 'a verification provider must be an OpenID provider (oidc)');
    if (preset === 'apple' && !settings.apple) throw new ValidationError('apple', 'is required for the apple preset: {team_id, key_id} (client_secret is the .p8 private key)');
  }

  async #secret(body: JsonObject, settings: StoredSettings, preset: PresetName | null): Promise<string | null> {
    if (body.client_secret === undefined || body.client_secret === null) return null;
    const secret = text('client_secret', body.client_secret, 8000);
    if (preset === 'apple' || settings.apple) {
      if (!secret.includes('PRIVATE KEY')) throw new ValidationError('client_secret', 'must be the .p8 private key (PEM) for the apple preset');
    }
    return secret;
  }
}

function bool(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
  return value;
}
