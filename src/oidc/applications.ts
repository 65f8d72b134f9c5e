// Applications: the OIDC clients, with their branding. The client secret is encrypted at rest and
// returned once, at creation (or when rotated).
import type { AdapterPayload } from 'oidc-provider';
import { randomToken, type SecretBox } from '../crypto.ts';
import { fromJson, toBool, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { grantsByClient, grantsOf, parseGrants, replaceGrants, type ResourceServerGrant } from './resource-grants.ts';
import { assertPlainText } from '../identity/plain-text.ts';
import { assertRolesUnused, parseRoles, storedRoles, type Role } from '../identity/roles.ts';
import { fieldsOf, ApplicationBody } from '../api-schema/types.ts';
import { isLocale, LOCALES, type Locale } from '../i18n/locales.ts';
import { messageDeliveryInput, type MessageDelivery } from '../messaging/transactional.ts';

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
/** Multi-factor authentication per application: never asked by policy, asked of users who enrolled, asked of everyone. */
const MFA_POLICIES = ['off', 'optional', 'required'] as const;
export type MfaPolicy = (typeof MFA_POLICIES)[number];
/** Whether a sign-in needs an identity verification at a verification provider (CONTRACT §8). */
const VERIFICATION_POLICIES = ['off', 'required'] as const;
export type VerificationPolicy = (typeof VERIFICATION_POLICIES)[number];
/**
 * Which claims an ID token carries: "scopes", those of every scope granted (as Auth0, Okta and
 * Keycloak issue them); "strict", OpenID Connect's strict reading: when the access token can fetch
 * them from userinfo, the ID token holds only sub (and the claims asked for by name).
 */
const ID_TOKEN_CLAIMS = ['scopes', 'strict'] as const;
export type IdTokenClaims = (typeof ID_TOKEN_CLAIMS)[number];
/** Whether anyone may sign up for the application on the hosted pages (CONTRACT §9). */
const REGISTRATION_POLICIES = ['open', 'closed'] as const;
export type RegistrationPolicy = (typeof REGISTRATION_POLICIES)[number];

/** One colour scheme of an application's pages: each a #rrggbb colour, null for the default. */
export interface ThemeColors {
  primary_color: string | null;
  background_color: string | null;
  text_color: string | null;
}

export interface Branding {
  display_name: string | null;
  logo_uri: string | null;
  primary_color: string | null;
  /** The page background and text colours of the light scheme (the dark one's are `theme.dark`'s). */
  background_color?: string | null;
  text_color?: string | null;
  /** Per-scheme colours, honoured through prefers-color-scheme; they win over the flat ones. */
  theme?: { light: ThemeColors | null; dark: ThemeColors | null } | null;
  /** A CSS font-family list (names and generic families only: no url(), no other CSS). */
  font_stack?: string | null;
  /** Plain text that replaces the pages' "Secured by Tessera" footer. */
  footer_text?: string | null;
}

export interface Application {
  client_id: string;
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
  third_party: boolean;
  branding: Branding;
  mfa: MfaPolicy;
  identity_verification: VerificationPolicy;
  /** How long "remember this device" skips MFA on a browser; 0: not offered. */
  remember_device_days: number;
  /** Where a page with no pending sign-in sends the user back to; null: see brandOf's fallback. */
  initiate_login_uri: string | null;
  id_token_claims: IdTokenClaims;
  /** The APIs this application gets tokens for, with the scopes it may have of each. */
  resource_servers: ResourceServerGrant[];
  /** Which transactional messages the brand sends itself (from the `message.*` webhooks). */
  message_delivery: MessageDelivery;
  /** The roles the application declares; registrations and groups hold some of them. */
  roles: Role[];
  registration: RegistrationPolicy;
  /** The language of its hosted pages and mails when neither ui_locales nor Accept-Language names one we speak. */
  default_locale: Locale;
  created_at: string;
  updated_at: string;
}

export interface ApplicationInput {
  name?: unknown;
  redirect_uris?: unknown;
  post_logout_redirect_uris?: unknown;
  grant_types?: unknown;
  token_endpoint_auth_method?: unknown;
  client_id?: unknown;
  client_secret?: unknown;
  third_party?: unknown;
  branding?: unknown;
  mfa?: unknown;
  identity_verification?: unknown;
  remember_device_days?: unknown;
  initiate_login_uri?: unknown;
  id_token_claims?: unknown;
  resource_servers?: unknown;
  message_delivery?: unknown;
  roles?: unknown;
  registration?: unknown;
  default_locale?: unknown;
}

const APPLICATION_FIELDS = fieldsOf(ApplicationBody);
const APPLICATION_READ_ONLY = ['created_at', 'updated_at'];

/** The body of POST and PATCH /applications (also a KICKSTART entry): only known fields. */
export function applicationInput(body: JsonObject): ApplicationInput {
  return onlyFields(body, APPLICATION_FIELDS, APPLICATION_READ_ONLY) as ApplicationInput;
}

interface StoredMetadata {
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
}

/** Extra checks oidc-provider applies to client metadata; the provider supplies it. */
export type MetadataValidator = (metadata: AdapterPayload) => Promise<void>;

const CLIENT_ID = /^[A-Za-z0-9._~-]{3,100}$/;
const COLOR = /^#[0-9a-fA-F]{6}$/;

function uriList(field: string, value: unknown, required: boolean): string[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value)) throw new ValidationError(field, 'must be an array of URLs');
  if (required && value.length === 0) throw new ValidationError(field, 'must hold at least one URL');
  if (value.length > 50) throw new ValidationError(field, 'must hold at most 50 URLs');
  return value.map((item, i) => {
    if (typeof item !== 'string') throw new ValidationError(`${field}[${i}]`, 'must be a string');
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new ValidationError(`${field}[${i}]`, 'must be an absolute URL');
    }
    if (url.hash) throw new ValidationError(`${field}[${i}]`, 'must not contain a fragment');
    if (['javascript:', 'data:', 'file:'].includes(url.protocol)) throw new ValidationError(`${field}[${i}]`, 'must not use this scheme');
    return item;
  });
}

function color(field: string, value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !COLOR.test(value)) throw new ValidationError(field, 'must be a hex colour like #1a73e8');
  return value.toLowerCase();
}

const THEME_COLORS = ['primary_color', 'background_color', 'text_color'] as const;

function themeColors(field: string, value: unknown, current: ThemeColors | null): ThemeColors | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, 'must be an object of colours or null');
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input))
    if (!(THEME_COLORS as readonly string[]).includes(key)) throw new ValidationError(`${field}.${key}`, 'is not a theme colour (primary_color, background_color, text_color)');
  const out: ThemeColors = { ...(current ?? { primary_color: null, background_color: null, text_color: null }) };
  for (const key of THEME_COLORS) if (input[key] !== undefined) out[key] = color(`${field}.${key}`, input[key]);
  return out;
}

function theme(value: unknown, current: Branding['theme']): Branding['theme'] {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('branding.theme', 'must be an object with light and/or dark, or null');
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) if (key !== 'light' && key !== 'dark') throw new ValidationError(`branding.theme.${key}`, 'is not a colour scheme (light, dark)');
  const out = { light: current?.light ?? null, dark: current?.dark ?? null };
  if (input.light !== undefined) out.light = themeColors('branding.theme.light', input.light, out.light);
  if (input.dark !== undefined) out.dark = themeColors('branding.theme.dark', input.dark, out.dark);
  return out.light || out.dark ? out : null;
}

/**
 * A family name CSS may hold unquoted (CSS identifiers, such as -apple-system, separated by single
 * spaces), or a quoted one without quotes or backslashes inside.
 */
const FONT_FAMILY = /^(?:-?[A-Za-z][A-Za-z0-9-]*(?: -?[A-Za-z][A-Za-z0-9-]*)*|"[A-Za-z0-9 ._-]+"|'[A-Za-z0-9 ._-]+')$/;
const CSS_WIDE = new Set(['inherit', 'initial', 'unset', 'revert', 'revert-layer', 'default']);

/** A font-family list by a strict grammar: comma-separated family names, nothing else of CSS. */
export function fontStack(field: string, value: unknown): string | null {
  if (value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 300) throw new ValidationError(field, 'must be a CSS font-family list of at most 300 characters');
  const families = value.split(',').map((family) => family.trim());
  if (families.length > 12) throw new ValidationError(field, 'must list at most 12 font families');
  for (const family of families) {
    if (!FONT_FAMILY.test(family) || CSS_WIDE.has(family.toLowerCase())) {
      throw new ValidationError(field, 'must be a comma-separated list of font family names (letters, digits, spaces, hyphens; quoted names may hold . and _), like "Inter", system-ui, sans-serif');
    }
  }
  return families.join(', ');
}

/** A branding object as the API takes it (merged over `current`), every value validated; throws ValidationError naming the field. */
export function branding(value: unknown, current?: Branding): Branding {
  const base: Branding = current ?? { display_name: null, logo_uri: null, primary_color: null };
  if (value === undefined) return base;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('branding', 'must be an object');
  const input = value as Record<string, unknown>;
  const out = { ...base };
  if (input.display_name !== undefined) {
    if (input.display_name !== null && (typeof input.display_name !== 'string' || input.display_name.length > 200)) {
      throw new ValidationError('branding.display_name', 'must be a string of at most 200 characters');
    }
    if (typeof input.display_name === 'string') assertPlainText('branding.display_name', input.display_name);
    out.display_name = (input.display_name as string | null) || null;
  }
  if (input.logo_uri !== undefined) {
    if (input.logo_uri !== null) {
      // https only: the pages' CSP admits images from 'self', https: and data: alone, and a mixed-content
      // http logo would not show on an https page anyway.
      const message = "must be an https URL (the pages' Content-Security-Policy admits no other)";
      if (typeof input.logo_uri !== 'string' || input.logo_uri.length > 2000 || !/^https:\/\//i.test(input.logo_uri)) throw new ValidationError('branding.logo_uri', message);
      let url: URL;
      try {
        url = new URL(input.logo_uri);
      } catch {
        throw new ValidationError('branding.logo_uri', message);
      }
      if (url.username || url.password) throw new ValidationError('branding.logo_uri', 'must not carry credentials');
    }
    out.logo_uri = (input.logo_uri as string | null) || null;
  }
  if (input.primary_color !== undefined) {
    if (input.primary_color !== null && (typeof input.primary_color !== 'string' || !COLOR.test(input.primary_color))) {
      throw new ValidationError('branding.primary_color', 'must be a hex colour like #1a73e8');
    }
    out.primary_color = (input.primary_color as string | null) || null;
  }
  if (input.background_color !== undefined) out.background_color = color('branding.background_color', input.background_color);
  if (input.text_color !== undefined) out.text_color = color('branding.text_color', input.text_color);
  if (input.theme !== undefined) out.theme = theme(input.theme, base.theme ?? null);
  if (input.font_stack !== undefined) out.font_stack = fontStack('branding.font_stack', input.font_stack);
  if (input.footer_text !== undefined) {
    if (input.footer_text !== null && (typeof input.footer_text !== 'string' || input.footer_text.length > 200)) {
      throw new ValidationError('branding.footer_text', 'must be a string of at most 200 characters');
    }
    if (typeof input.footer_text === 'string') assertPlainText('branding.footer_text', input.footer_text);
    out.footer_text = (input.footer_text as string | null)?.trim() || null;
  }
  return out;
}

function verificationPolicy(value: unknown): VerificationPolicy {
  if (!VERIFICATION_POLICIES.includes(value as VerificationPolicy)) throw new ValidationError('identity_verification', `must be one of ${VERIFICATION_POLICIES.join(', ')}`);
  return value as VerificationPolicy;
}

function mfaPolicy(value: unknown): MfaPolicy {
  if (!MFA_POLICIES.includes(value as MfaPolicy)) throw new ValidationError('mfa', `must be one of ${MFA_POLICIES.join(', ')}`);
  return value as MfaPolicy;
}

function rememberDeviceDays(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 365) {
    throw new ValidationError('remember_device_days', 'must be a whole number of days from 0 (not offered) to 365');
  }
  return value;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An https URL (http only on this machine, for development), never anything a link could abuse. */
function initiateLoginUri(value: unknown): string | null {
  const field = 'initiate_login_uri';
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > 2000) throw new ValidationError(field, 'must be an https URL of at most 2000 characters (or null)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(field, 'must be an absolute https URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new ValidationError(field, 'must use https (http only on localhost)');
  }
  if (url.hash || value.includes('#')) throw new ValidationError(field, 'must not contain a fragment');
  if (url.username || url.password) throw new ValidationError(field, 'must not contain a user name or password');
  return value;
}

function idTokenClaims(value: unknown): IdTokenClaims {
  if (!ID_TOKEN_CLAIMS.includes(value as IdTokenClaims)) throw new ValidationError('id_token_claims', `must be one of ${ID_TOKEN_CLAIMS.join(', ')}`);
  return value as IdTokenClaims;
}

function registrationPolicy(value: unknown): RegistrationPolicy {
  if (!REGISTRATION_POLICIES.includes(value as RegistrationPolicy)) throw new ValidationError('registration', `must be one of ${REGISTRATION_POLICIES.join(', ')}`);
  return value as RegistrationPolicy;
}

function defaultLocale(value: unknown): Locale {
  if (!isLocale(value)) throw new ValidationError('default_locale', `must be one of ${LOCALES.join(', ')}`);
  return value;
}

function toApplication(row: Record<string, unknown>, grants: ResourceServerGrant[]): Application {
  const metadata = fromJson<StoredMetadata>(row.metadata, { redirect_uris: [], post_logout_redirect_uris: [], grant_types: [], token_endpoint_auth_method: 'client_secret_basic' });
  return {
    client_id: String(row.client_id),
    name: String(row.name),
    ...metadata,
    third_party: toBool(row.third_party),
    branding: fromJson<Branding>(row.branding, { display_name: null, logo_uri: null, primary_color: null }),
    mfa: MFA_POLICIES.includes(row.mfa as MfaPolicy) ? (row.mfa as MfaPolicy) : 'optional',
    identity_verification: row.identity_verification === 'required' ? 'required' : 'off',
    remember_device_days: Number(row.remember_device_days ?? 0),
    initiate_login_uri: typeof row.initiate_login_uri === 'string' ? row.initiate_login_uri : null,
    id_token_claims: ID_TOKEN_CLAIMS.includes(row.id_token_claims as IdTokenClaims) ? (row.id_token_claims as IdTokenClaims) : 'scopes',
    resource_servers: grants,
    message_delivery: fromJson<MessageDelivery>(row.message_delivery, {}),
    roles: storedRoles(row.roles),
    registration: row.registration === 'closed' ? 'closed' : 'open',
    default_locale: isLocale(row.default_locale) ? row.default_locale : 'en',
    created_at: new Date(Number(row.created_at)).toISOString(),
    updated_at: new Date(Number(row.updated_at)).toISOString(),
  };
}

const APPLICATION_CACHE_MS = 1000;

interface CachedApplication {
  app: Application;
  metadata: AdapterPayload;
}

export class ApplicationService {
  readonly #cache = new Map<string, { at: number; entry: Promise<CachedApplication | null> }>();
  readonly #db: Db;
  readonly #box: SecretBox;
  #validator: MetadataValidator | null = null;

  constructor(db: Db, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /** The provider is built after this service; it hands over its metadata checks once it exists. */
  useValidator(validator: MetadataValidator): void {
    this.#validator = validator;
  }

  async create(input: ApplicationInput): Promise<Application & { client_secret?: string }> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('body', 'must be a JSON object');
    if (typeof input.name !== 'string' || !input.name.trim()) throw new ValidationError('name', 'is required');
    if (input.name.length > 200) throw new ValidationError('name', 'must be at most 200 characters');
    assertPlainText('name', input.name);
    let clientId: string;
    if (input.client_id === undefined) {
      clientId = randomToken(16);
    } else {
      if (typeof input.client_id !== 'string' || !CLIENT_ID.test(input.client_id)) {
        throw new ValidationError('client_id', 'must be 3 to 100 letters, digits or ._~-');
      }
      clientId = input.client_id;
    }
    const metadata = this.#metadata(input, undefined);
    const publicClient = metadata.token_endpoint_auth_method === 'none';
    let secret: string | undefined;
    if (input.client_secret !== undefined) {
      if (publicClient) throw new ValidationError('client_secret', 'a public client (token_endpoint_auth_method "none") has no secret');
      if (typeof input.client_secret !== 'string' || input.client_secret.length < 16 || input.client_secret.length > 200) {
        throw new ValidationError('client_secret', 'must be a string of 16 to 200 characters');
      }
      secret = input.client_secret;
    } else if (!publicClient) {
      secret = randomToken(32);
    }
    const thirdParty = input.third_party === undefined ? false : input.third_party;
    if (typeof thirdParty !== 'boolean') throw new ValidationError('third_party', 'must be true or false');
    const brand = branding(input.branding);
    const mfa = input.mfa === undefined ? 'optional' : mfaPolicy(input.mfa);
    const verification = input.identity_verification === undefined ? 'off' : verificationPolicy(input.identity_verification);
    const rememberDays = input.remember_device_days === undefined ? 0 : rememberDeviceDays(input.remember_device_days);
    const loginUri = input.initiate_login_uri === undefined ? null : initiateLoginUri(input.initiate_login_uri);
    const claimsSetting = input.id_token_claims === undefined ? 'scopes' : idTokenClaims(input.id_token_claims);
    const delivery = input.message_delivery === undefined ? {} : messageDeliveryInput(input.message_delivery);
    const grants = input.resource_servers === undefined ? [] : await parseGrants(this.#db, input.resource_servers);
    const roles = input.roles === undefined ? [] : parseRoles(input.roles);
    const registration = input.registration === undefined ? 'open' : registrationPolicy(input.registration);
    const locale = input.default_locale === undefined ? 'en' : defaultLocale(input.default_locale);
    await this.#validate(clientId, input.name, metadata, secret, loginUri);

    const now = Date.now();
    const row = {
      client_id: clientId,
      name: input.name.trim(),
      client_secret_enc: secret ? this.#box.seal(secret) : null,
      metadata: toJson(metadata),
      third_party: thirdParty,
      branding: toJson(brand),
      mfa,
      identity_verification: verification,
      remember_device_days: rememberDays,
      initiate_login_uri: loginUri,
      id_token_claims: claimsSetting,
      message_delivery: toJson(delivery),
      roles: toJson(roles),
      registration,
      default_locale: locale,
      created_at: now,
      updated_at: now,
    };
    // The application and its resource servers are saved together, or not at all.
    const inserted = await this.#db.transaction(async (trx) => {
      const ids = await trx('applications').insert(row).onConflict('client_id').ignore().returning('client_id');
      if (ids.length > 0) await replaceGrants(trx, clientId, grants);
      return ids;
    });
    if (inserted.length === 0) throw new ConflictError('client_id', 'is already in use');
    this.#cache.delete(clientId);
    return { ...toApplication(row, grants), ...(secret ? { client_secret: secret } : {}) };
  }

  async find(clientId: string): Promise<Application | null> {
    const entry = await this.#cached(clientId);
    return entry ? { ...entry.app } : null;
  }

  /**
   * Every token request reads its client: rows are kept for a second (and dropped at once when this
   * process changes them), so a burst of grants does not re-read and re-decrypt the same client.
   * Another process's change shows within that second.
   */
  #cached(clientId: string): Promise<CachedApplication | null> {
    // Every stored client_id matches CLIENT_ID; anything else (a NUL byte, a huge string) is unknown.
    if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) return Promise.resolve(null);
    const hit = this.#cache.get(clientId);
    if (hit && Date.now() - hit.at < APPLICATION_CACHE_MS) return hit.entry;
    const entry = this.#db('applications')
      .where({ client_id: clientId })
      .first()
      .then(async (row) => {
        if (!row) return null;
        const app = toApplication(row, await grantsOf(this.#db, clientId));
        return { app, metadata: this.#toClientMetadata(app, row.client_secret_enc ? this.#box.open(row.client_secret_enc) : undefined) };
      });
    this.#cache.set(clientId, { at: Date.now(), entry });
    entry.catch(() => this.#cache.delete(clientId));
    if (this.#cache.size > 10_000) this.#cache.clear();
    return entry;
  }

  /** What is stored now (the admin API, updates), not the token path's copy of the last second. */
  async get(clientId: string): Promise<Application> {
    this.#cache.delete(clientId);
    const app = await this.find(clientId);
    if (!app) throw new NotFoundError('application');
    return app;
  }

  async list(): Promise<Application[]> {
    const grants = await grantsByClient(this.#db);
    return (await this.#db('applications').orderBy('created_at', 'asc')).map((row) => toApplication(row, grants.get(String(row.client_id)) ?? []));
  }

  async count(): Promise<number> {
    const [{ n }] = await this.#db('applications').count({ n: '*' });
    return Number(n);
  }

  async update(clientId: string, input: ApplicationInput): Promise<Application & { client_secret?: string }> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('body', 'must be a JSON object');
    const current = await this.get(clientId);
    if (input.client_id !== undefined && input.client_id !== clientId) throw new ValidationError('client_id', 'cannot be changed');
    const changes: Record<string, unknown> = {};
    let name = current.name;
    if (input.name !== undefined) {
      if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200) throw new ValidationError('name', 'must be a non-empty string of at most 200 characters');
      assertPlainText('name', input.name);
      name = input.name.trim();
      changes.name = name;
    }
    const metadata = this.#metadata(input, current);
    let secret: string | undefined;
    const row = await this.#db('applications').where({ client_id: clientId }).first();
    let sealed: string | null = row.client_secret_enc ?? null;
    if (metadata.token_endpoint_auth_method === 'none') {
      if (input.client_secret !== undefined) throw new ValidationError('client_secret', 'a public client has no secret');
      sealed = null;
    } else if (input.client_secret !== undefined) {
      // "client_secret": "rotate" asks for a new generated secret.
      if (input.client_secret === 'rotate') secret = randomToken(32);
      else if (typeof input.client_secret === 'string' && input.client_secret.length >= 16 && input.client_secret.length <= 200) secret = input.client_secret;
      else throw new ValidationError('client_secret', 'must be a string of 16 to 200 characters, or "rotate"');
      sealed = this.#box.seal(secret);
    } else if (!sealed) {
      secret = randomToken(32);
      sealed = this.#box.seal(secret);
    }
    if (input.third_party !== undefined) {
      if (typeof input.third_party !== 'boolean') throw new ValidationError('third_party', 'must be true or false');
      changes.third_party = input.third_party;
    }
    changes.branding = toJson(branding(input.branding, current.branding));
    if (input.mfa !== undefined) changes.mfa = mfaPolicy(input.mfa);
    if (input.identity_verification !== undefined) changes.identity_verification = verificationPolicy(input.identity_verification);
    if (input.remember_device_days !== undefined) changes.remember_device_days = rememberDeviceDays(input.remember_device_days);
    if (input.initiate_login_uri !== undefined) changes.initiate_login_uri = initiateLoginUri(input.initiate_login_uri);
    if (input.id_token_claims !== undefined) changes.id_token_claims = idTokenClaims(input.id_token_claims);
    // An object given replaces the application's delivery settings (unnamed messages: Tessera sends them).
    if (input.message_delivery !== undefined) changes.message_delivery = toJson(messageDeliveryInput(input.message_delivery));
    if (input.registration !== undefined) changes.registration = registrationPolicy(input.registration);
    if (input.default_locale !== undefined) changes.default_locale = defaultLocale(input.default_locale);
    // A list given replaces the application's roles; one still held by someone cannot go (409).
    const roles = input.roles === undefined ? undefined : parseRoles(input.roles);
    if (roles) changes.roles = toJson(roles);
    // A list given replaces the application's resource servers (like redirect_uris).
    const grants = input.resource_servers === undefined ? undefined : await parseGrants(this.#db, input.resource_servers);
    const loginUri = changes.initiate_login_uri === undefined ? current.initiate_login_uri : (changes.initiate_login_uri as string | null);
    await this.#validate(clientId, name, metadata, sealed ? (secret ?? this.#box.open(sealed)) : undefined, loginUri);
    changes.metadata = toJson(metadata);
    changes.client_secret_enc = sealed;
    changes.updated_at = Date.now();
    await this.#db.transaction(async (trx) => {
      if (roles) {
        const kept = new Set(roles.map((role) => role.name));
        await assertRolesUnused(
          trx,
          clientId,
          current.roles.map((role) => role.name).filter((role) => !kept.has(role)),
        );
      }
      await trx('applications').where({ client_id: clientId }).update(changes);
      if (grants) await replaceGrants(trx, clientId, grants);
    });
    this.#cache.delete(clientId);
    return { ...(await this.get(clientId)), ...(secret ? { client_secret: secret } : {}) };
  }

  /** Deletes the application; its registrations and the groups' roles for it go too (foreign keys). */
  async delete(clientId: string): Promise<void> {
    if (!(await this.find(clientId))) throw new NotFoundError('application');
    const count = await this.#db('applications').where({ client_id: clientId }).delete();
    this.#cache.delete(clientId);
    if (count === 0) throw new NotFoundError('application');
  }

  /**
   * A token that stands for what the client's metadata is now: the same object for as long as the
   * application is cached, a new one once it is read again (changed here, or a second gone by).
   * The provider's client built from that metadata is reused while it holds (client-reuse.ts).
   */
  async clientVersion(clientId: string): Promise<object | null> {
    return this.#cached(clientId);
  }

  /** The client as oidc-provider reads it (through the adapter). */
  async clientMetadata(clientId: string): Promise<AdapterPayload | undefined> {
    const entry = await this.#cached(clientId);
    return entry ? { ...entry.metadata } : undefined;
  }

  #toClientMetadata(app: Pick<Application, 'client_id' | 'name' | 'branding' | 'initiate_login_uri'> & StoredMetadata, secret: string | undefined): AdapterPayload {
    return {
      client_id: app.client_id,
      ...(secret ? { client_secret: secret } : {}),
      client_name: app.branding?.display_name ?? app.name,
      redirect_uris: app.redirect_uris,
      post_logout_redirect_uris: app.post_logout_redirect_uris,
      grant_types: app.grant_types,
      response_types: app.grant_types.includes('authorization_code') ? ['code'] : [],
      token_endpoint_auth_method: app.token_endpoint_auth_method as AdapterPayload['token_endpoint_auth_method'],
      ...(app.branding?.logo_uri ? { logo_uri: app.branding.logo_uri } : {}),
      // oidc-provider takes only https here; an http://localhost one (development) stays ours alone.
      ...(app.initiate_login_uri?.startsWith('https:') ? { initiate_login_uri: app.initiate_login_uri } : {}),
    };
  }

  #metadata(input: ApplicationInput, current: Application | undefined): StoredMetadata {
    let grantTypes = current?.grant_types ?? ['authorization_code', 'refresh_token'];
    if (input.grant_types !== undefined) {
      if (!Array.isArray(input.grant_types) || input.grant_types.length === 0) throw new ValidationError('grant_types', `must be a non-empty array of ${GRANT_TYPES.join(', ')}`);
      for (const [i, grant] of input.grant_types.entries()) {
        if (!GRANT_TYPES.includes(grant)) throw new ValidationError(`grant_types[${i}]`, `must be one of ${GRANT_TYPES.join(', ')}`);
      }
      grantTypes = [...new Set(input.grant_types as string[])];
    }
    const usesRedirects = grantTypes.includes('authorization_code');
    const redirectUris = input.redirect_uris === undefined && current ? current.redirect_uris : uriList('redirect_uris', input.redirect_uris, usesRedirects);
    const postLogout = input.post_logout_redirect_uris === undefined && current ? current.post_logout_redirect_uris : uriList('post_logout_redirect_uris', input.post_logout_redirect_uris, false);
    let method = current?.token_endpoint_auth_method ?? 'client_secret_basic';
    if (input.token_endpoint_auth_method !== undefined) {
      if (!AUTH_METHODS.includes(input.token_endpoint_auth_method as never)) throw new ValidationError('token_endpoint_auth_method', `must be one of ${AUTH_METHODS.join(', ')}`);
      method = input.token_endpoint_auth_method as string;
    }
    if (method === 'none' && grantTypes.includes('client_credentials')) {
      throw new ValidationError('grant_types', 'client_credentials needs a confidential client (a token_endpoint_auth_method other than "none")');
    }
    return { redirect_uris: redirectUris, post_logout_redirect_uris: postLogout, grant_types: grantTypes, token_endpoint_auth_method: method };
  }

  async #validate(clientId: string, name: string, metadata: StoredMetadata, secret: string | undefined, initiateLoginUri: string | null): Promise<void> {
    if (!this.#validator) return;
    try {
      await this.#validator(
        this.#toClientMetadata(
          {
            client_id: clientId,
            name,
            branding: { display_name: null, logo_uri: null, primary_color: null },
            initiate_login_uri: initiateLoginUri,
            ...metadata,
          },
          secret,
        ),
      );
    } catch (error) {
      const description = (error as { error_description?: string }).error_description ?? (error as Error).message;
      const field = /redirect/.test(description) ? 'redirect_uris' : /initiate_login_uri/.test(description) ? 'initiate_login_uri' : 'application';
      throw new ValidationError(field, description);
    }
  }
}
