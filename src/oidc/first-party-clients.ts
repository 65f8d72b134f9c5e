// The server's own OIDC clients (the console at /admin, the account page at /account): confidential
// clients (code + PKCE) of this very server, each created at first start (and put back if deleted,
// changed through the admin API, or if ISSUER changed); the secret is generated once, sealed in the
// settings table, and only the server itself holds it.
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { randomToken, type SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import { getOrCreateSetting } from '../db/settings.ts';
import { ConflictError } from '../errors.ts';
import type { ApplicationService } from './applications.ts';

export interface FirstPartyClientSpec {
  clientId: string;
  /** The settings row holding the sealed secret. */
  secretSetting: string;
  name: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  mfa: 'off' | 'optional' | 'required';
}

export interface FirstPartyClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
}

/** Makes sure the client's application exists as it must be; answers its credentials. */
export async function ensureFirstPartyClient(db: Db, box: SecretBox, applications: ApplicationService, spec: FirstPartyClientSpec): Promise<FirstPartyClient> {
  const sealed = (await getOrCreateSetting(db, spec.secretSetting, () => box.seal(randomToken(32)))).value;
  const clientSecret = box.open(sealed);
  const { clientId, redirectUri, postLogoutRedirectUri } = spec;
  const credentials = { clientId, clientSecret, redirectUri, postLogoutRedirectUri };
  const wanted = {
    name: spec.name,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutRedirectUri],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    mfa: spec.mfa,
  };
  const existing = await applications.find(clientId);
  if (!existing) {
    try {
      await applications.create({ ...wanted, client_id: clientId, client_secret: clientSecret });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // another instance created it at the same moment
    }
    return credentials;
  }
  // Someone changed it through the admin API (a rotated secret, another URI, another MFA policy): put it back.
  const metadata = await applications.clientMetadata(clientId);
  const drifted = metadata?.client_secret !== clientSecret || existing.redirect_uris.join(' ') !== redirectUri || existing.post_logout_redirect_uris.join(' ') !== postLogoutRedirectUri;
  if (drifted || existing.mfa !== spec.mfa) {
    await applications.update(clientId, { ...wanted, client_secret: clientSecret });
  }
  return credentials;
}

/** What a first-party sign-in keeps in a signed cookie between the redirect out and the callback. */
export interface LoginState {
  state: string;
  nonce: string;
  verifier: string;
  at: number;
}

export function newLoginState(): LoginState {
  return { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), at: Date.now() };
}

/** The authorization request of a first-party sign-in (code + PKCE S256, state, nonce), with `extra` parameters. */
export async function authorizationRequestUrl(config: oidc.Configuration, redirectUri: string, state: LoginState, extra: Record<string, string>): Promise<URL> {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(state.verifier),
    code_challenge_method: 'S256',
    state: state.state,
    nonce: state.nonce,
    ...extra,
  });
}

/** Keeps the sign-in's state (and `extra`) in an HttpOnly, signed, SameSite=Lax cookie only the callback's path sees. */
export function writeLoginState(ctx: Context, cookie: { name: string; path: string; ttlMs: number }, state: LoginState): void {
  ctx.cookies.set(cookie.name, Buffer.from(JSON.stringify(state)).toString('base64url'), {
    path: cookie.path,
    maxAge: cookie.ttlMs,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    overwrite: true,
    signed: true,
  });
}

/** The sign-in's state, once (the cookie is cleared), or null when missing, forged or older than the cookie's ttl. */
export function takeLoginState<T extends LoginState>(ctx: Context, cookie: { name: string; path: string; ttlMs: number }): T | null {
  const raw = ctx.cookies.get(cookie.name, { signed: true });
  ctx.cookies.set(cookie.name, null, { path: cookie.path, signed: true });
  try {
    const state = raw ? (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T) : null;
    return state && Date.now() - state.at <= cookie.ttlMs ? state : null;
  } catch {
    return null;
  }
}

/** The callback's code exchanged (PKCE, state and nonce checked); throws when it fails. */
export async function exchangeCallbackCode(config: oidc.Configuration, redirectUri: string, querystring: string, state: LoginState) {
  const current = new URL(redirectUri);
  current.search = querystring;
  return oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: state.verifier, expectedState: state.state, expectedNonce: state.nonce, idTokenExpected: true });
}
