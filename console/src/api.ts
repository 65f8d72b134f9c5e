// The console's only way to the server: the admin API (and /admin/session, /admin/logout) with the
// session cookie the browser sends by itself, and the CSRF token echoed in a header on changes.
// The console never holds a token.
import type { Static } from '@sinclair/typebox';
import type * as schemas from '../../src/api-schema/types.ts';

/** An API refusal: its status, code, message, and the field the message names ("email: ..."). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | null;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
    const named = /^([A-Za-z_][\w.[\]-]*): /.exec(message);
    this.field = named ? named[1]!.replace(/\[\d+\]/g, '').split('.')[0]! : null;
  }
}

export interface Session {
  user: { id: string; email: string; name: string | null };
  role: 'admin' | 'viewer';
  csrf_token: string;
  expires_at: string;
}

let csrf = '';

export async function loadSession(): Promise<Session | null> {
  const response = await fetch('/admin/session', { credentials: 'same-origin' });
  if (response.status === 401) return null;
  if (!response.ok) throw new ApiError(response.status, 'session', `session: the server answered ${response.status}`);
  const session = (await response.json()) as Session;
  csrf = session.csrf_token;
  return session;
}

export async function request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path.startsWith('/admin/') ? path : `/admin/api${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign('/admin/login');
    throw new ApiError(401, 'unauthorized', 'session: signed out, signing in again');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as { error?: string; message?: string };
    throw new ApiError(response.status, problem.error ?? 'error', problem.message ?? `the server answered ${response.status}`);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body),
  del: (path: string) => request<void>('DELETE', path),
};

export async function signOut(): Promise<void> {
  const answer = await request<{ end_session_url: string }>('POST', '/admin/logout');
  window.location.assign(answer.end_session_url);
}

// The shapes the pages read (as the admin API answers them). The newer ones are the answer schemas
// of the OpenAPI document itself (types only: nothing of the server is bundled), so they cannot drift.
export type HookVersion = Static<typeof schemas.HookVersion>;
export type Execution = Static<typeof schemas.Execution>;
export type ExecutionEvent = Static<typeof schemas.ExecutionEvent>;
export type WebhookEvent = Static<typeof schemas.WebhookEvent>;
export type AuditEntry = Static<typeof schemas.AuditEntry>;
export type Consent = Static<typeof schemas.Consent>;
export type IdentityProvider = Static<typeof schemas.IdentityProvider>;
export type GrantedApplication = Static<typeof schemas.GrantedApplication>;
export type Registration = Static<typeof schemas.UserRegistration>;
export type Group = Static<typeof schemas.Group>;
export type GroupMember = Static<typeof schemas.GroupMember>;
export type UserGroup = Static<typeof schemas.UserGroup>;
export type RoleDefinition = { name: string; description?: string | null; default?: boolean };
export type Sender = 'tessera' | 'brand';

export interface EventSpec {
  name: string;
  fires: string;
  sync: boolean;
  actions: Array<{ type: string; signature: string }>;
  fields: Record<string, string>;
  sample: Record<string, unknown>;
}

export interface Hook {
  id: string;
  name: string;
  event: string;
  mode: 'sync' | 'async';
  code: string;
  /** The deployed version: what journeys run. */
  version: number;
  /** The newest saved version (a draft when above `version`). */
  latest_version: number;
  applications: string[] | null;
  enabled: boolean;
  order: number;
  secrets: string[];
  allowed_hosts: string[];
  timeout_ms: number;
  on_error: 'fail' | 'continue';
  created_at: string;
  updated_at: string;
}

export interface HookStats {
  hook_id: string;
  runs: number;
  errors: number;
  p95_ms: number | null;
  last_run_at: string | null;
}

export interface TestResult {
  outcome: string;
  actions: unknown[];
  logs: string[];
  duration_ms: number;
  error?: string;
}

export interface Template {
  name: string;
  title: string;
  event: string;
  mode: 'sync' | 'async';
  secrets: string[];
  required_secrets: string[];
  purpose: string;
  code: string;
}

export interface ThemeColors {
  primary_color: string | null;
  background_color: string | null;
  text_color: string | null;
}

export interface Application {
  client_id: string;
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
  third_party: boolean;
  branding: {
    display_name: string | null;
    logo_uri: string | null;
    primary_color: string | null;
    background_color?: string | null;
    text_color?: string | null;
    theme?: { light?: ThemeColors | null; dark?: ThemeColors | null } | null;
    font_stack?: string | null;
    footer_text?: string | null;
  };
  mfa: 'off' | 'optional' | 'required';
  remember_device_days: number;
  initiate_login_uri: string | null;
  roles: RoleDefinition[];
  registration: 'open' | 'closed';
  message_delivery: Partial<Record<string, Sender>>;
  /** The language of its hosted pages and mails when the request names none Tessera speaks. */
  default_locale: 'en' | 'fr' | 'de' | 'es';
  client_secret?: string;
  created_at: string;
}

export interface User {
  id: string;
  email: string;
  username: string | null;
  given_name: string | null;
  family_name: string | null;
  phone_number: string | null;
  email_verified: boolean;
  status: string;
  login_count?: number;
  last_login_at?: string | null;
  created_at: string;
  [key: string]: unknown;
}
