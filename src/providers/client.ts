// Talking to an upstream provider as a relying party, through openid-client: the authorization URL
// (code + PKCE S256, state, and a nonce for OpenID providers), and on the way back the code exchange
// with every check openid-client makes (state, issuer, nonce, the ID token's signature against the
// provider's JWKS, its audience and lifetime), then the userinfo, mapped onto our user's fields.
// A generic OAuth 2.0 provider (GitHub-style) has no ID token: its userinfo endpoint is read instead.
import { importPKCS8, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import type { Json } from '../hooks/catalog/actions.ts';
import { ProviderUnreachable } from './http.ts';
import type { ClaimMapping } from './presets.ts';
import type { IdentityProvider, IdentityProviderStore } from './store.ts';

type FetchFn = (url: string, init: never) => Promise<Response>;

/** The external identity, as our fields (the mapping applied) and as the provider sent it. */
export interface ExternalProfile {
  subject: string;
  email: string | null;
  email_verified: boolean;
  given_name: string | null;
  family_name: string | null;
  name: string | null;
  username: string | null;
  /** The claims the provider sent (ID token and userinfo merged), for hooks. */
  claims: Record<string, Json>;
  /** OpenID Connect for Identity Assurance: the verified_claims the provider answered, if any. */
  verified_claims: Json | null;
}

/** What must come back with the answer: kept server-side with the pending sign-in. */
export interface Checks {
  state: string;
  nonce: string | null;
  verifier: string;
}

/** Why a sign-in at a provider failed, as the page tells it. */
export class ProviderAnswerError extends Error {
  readonly kind: 'provider_error' | 'refused' | 'unreachable';
  constructor(kind: ProviderAnswerError['kind'], message: string) {
    super(message);
    this.kind = kind;
  }
}

/** The claims parameter asking an identity-assurance provider for verified_claims (IdA 1.0). */
export const VERIFIED_CLAIMS_REQUEST = {
  verification: { trust_framework: null, time: null, assurance_level: null },
  claims: { given_name: null, family_name: null, birthdate: null, nationalities: null, address: null },
};

const CACHE_MS = 10 * 60 * 1000;

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (!path) return undefined;
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function textClaim(claims: Record<string, unknown>, path: string, max = 320): string | null {
  const value = claimAt(claims, path);
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, max) : null;
}

/** Maps the provider's claims onto our fields; the subject is required. */
export function mapProfile(claims: Record<string, Json>, mapping: ClaimMapping): ExternalProfile {
  const subject = textClaim(claims, mapping.subject, 255);
  if (!subject) throw new ProviderAnswerError('refused', `the provider's answer has no ${mapping.subject || 'subject'} claim`);
  const verified = claimAt(claims, mapping.email_verified);
  return {
    subject,
    email: textClaim(claims, mapping.email),
    // Apple sends "true" as a string.
    email_verified: verified === true || verified === 'true',
    given_name: textClaim(claims, mapping.given_name, 200),
    family_name: textClaim(claims, mapping.family_name, 200),
    name: textClaim(claims, mapping.name, 200),
    username: textClaim(claims, mapping.username, 64),
    claims,
    verified_claims: (claims.verified_claims as Json | undefined) ?? null,
  };
}

export class ProviderClients {
  readonly #store: IdentityProviderStore;
  readonly #fetch: FetchFn;
  readonly #redirectUri: string;
  #cache = new Map<string, { config: oidc.Configuration; until: number; version: string }>();

  constructor(store: IdentityProviderStore, fetch: (url: string, init: never) => Promise<Response>, redirectUri: string) {
    this.#store = store;
    this.#fetch = fetch;
    this.#redirectUri = redirectUri;
  }

  get redirectUri(): string {
    return this.#redirectUri;
  }

  /** The authorization request to send the browser to, and the checks to keep for its answer. */
  async start(provider: IdentityProvider, options: { claims?: Record<string, unknown>; loginHint?: string } = {}): Promise<{ url: URL; checks: Checks }> {
    const config = await this.#configuration(provider);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = provider.type === 'oidc' ? oidc.randomNonce() : null;
    const params: Record<string, string> = {
      redirect_uri: this.#redirectUri,
      scope: provider.scopes.join(' '),
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (nonce) params.nonce = nonce;
    if (provider.response_mode === 'form_post') params.response_mode = 'form_post';
    if (options.claims) params.claims = JSON.stringify(options.claims);
    if (options.loginHint) params.login_hint = options.loginHint;
    return { url: oidc.buildAuthorizationUrl(config, params), checks: { state, nonce, verifier } };
  }

  /** Exchanges the answer (the callback's parameters) for the user's profile; every check is openid-client's. */
  async finish(provider: IdentityProvider, answer: Record<string, string>, checks: Checks): Promise<ExternalProfile> {
    try {
      const config = await this.#configuration(provider);
      const current = new URL(this.#redirectUri);
      for (const [key, value] of Object.entries(answer)) current.searchParams.set(key, value);
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        ...(checks.nonce ? { expectedNonce: checks.nonce, idTokenExpected: true } : {}),
      });
      let claims: Record<string, Json> = {};
      if (provider.type === 'oidc') {
        const idToken = tokens.claims();
        if (!idToken) throw new ProviderAnswerError('refused', 'the provider sent no ID token');
        claims = { ...(idToken as Record<string, Json>) };
        if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
          const info = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
          claims = { ...claims, ...(info as Record<string, Json>), sub: idToken.sub };
        }
        // Apple sends the name once, in the form_post answer's `user` field.
        if (answer.user) claims = { ...appleUser(answer.user), ...claims };
      } else {
        claims = await this.#json(config, tokens.access_token, provider.userinfo_endpoint!);
        if (provider.emails_endpoint && !claims.email_verified) {
          const emails = await this.#json(config, tokens.access_token, provider.emails_endpoint);
          const list = Array.isArray(emails) ? (emails as Array<Record<string, Json>>) : [];
          const primary = list.find((e) => e.primary === true && e.verified === true) ?? list.find((e) => e.verified === true);
          if (primary && typeof primary.email === 'string') claims = { ...claims, email: primary.email, email_verified: true };
        }
      }
      return mapProfile(claims, provider.claims);
    } catch (error) {
      throw explain(error);
    }
  }

  async #json(config: oidc.Configuration, accessToken: string, url: string): Promise<Record<string, Json>> {
    const response = await oidc.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, new Headers({ accept: 'application/json' }));
    if (!response.ok) throw new ProviderAnswerError('refused', `the provider's ${new URL(url).pathname} answered ${response.status}`);
    const body = (await response.json()) as unknown;
    if (body === null || typeof body !== 'object') throw new ProviderAnswerError('refused', `the provider's ${new URL(url).pathname} did not answer a JSON object`);
    return body as Record<string, Json>;
  }

  async #configuration(provider: IdentityProvider): Promise<oidc.Configuration> {
    const version = provider.updated_at;
    const cached = this.#cache.get(provider.id);
    if (cached && cached.version === version && cached.until > Date.now()) return cached.config;
    const secret = await this.#store.clientSecret(provider.id);
    const insecure = [provider.issuer, provider.authorization_endpoint, provider.token_endpoint].some((u) => u?.startsWith('http:'));
    let config: oidc.Configuration;
    try {
      if (provider.type === 'oidc') {
        const auth = await this.#clientAuth(provider, secret, null);
        config = await oidc.discovery(new URL(provider.issuer!), provider.client_id, undefined, auth, {
          [oidc.customFetch]: this.#fetch as never,
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
        });
        const methods = config.serverMetadata().token_endpoint_auth_methods_supported;
        if (secret && methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
          config = new oidc.Configuration(config.serverMetadata(), provider.client_id, undefined, await this.#clientAuth(provider, secret, 'post'));
        }
        // Every ID token's signature is checked against the provider's JWKS.
        oidc.enableNonRepudiationChecks(config);
      } else {
        config = new oidc.Configuration(
          { issuer: new URL(provider.authorization_endpoint!).origin, authorization_endpoint: provider.authorization_endpoint!, token_endpoint: provider.token_endpoint! },
          provider.client_id,
          undefined,
          await this.#clientAuth(provider, secret, 'post'),
        );
      }
    } catch (error) {
      // No usable metadata (an error answer, not JSON, the wrong issuer): the provider is not available.
      const problem = explain(error);
      throw problem.kind === 'refused' ? new ProviderAnswerError('unreachable', problem.message) : problem;
    }
    config[oidc.customFetch] = this.#fetch as never;
    if (insecure) oidc.allowInsecureRequests(config);
    this.#cache.set(provider.id, { config, until: Date.now() + CACHE_MS, version });
    return config;
  }

  async #clientAuth(provider: IdentityProvider, secret: string | null, method: 'post' | null): Promise<oidc.ClientAuth> {
    if (!secret) return oidc.None();
    if (provider.apple) return oidc.ClientSecretPost(await appleClientSecret(provider, secret));
    return method === 'post' || provider.type === 'oauth2' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
  }
}

/** Apple's client secret: an ES256 JWT signed with the .p8 key, for at most six months (here: 5 minutes). */
export async function appleClientSecret(provider: IdentityProvider, privateKeyPem: string): Promise<string> {
  const key = await importPKCS8(privateKeyPem, 'ES256');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: provider.apple!.key_id })
    .setIssuer(provider.apple!.team_id)
    .setSubject(provider.client_id)
    .setAudience(provider.issuer ?? 'https://appleid.apple.com')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

function appleUser(raw: string): Record<string, Json> {
  try {
    const user = JSON.parse(raw) as { name?: { firstName?: unknown; lastName?: unknown } };
    const out: Record<string, Json> = {};
    if (typeof user.name?.firstName === 'string') out.given_name = user.name.firstName;
    if (typeof user.name?.lastName === 'string') out.family_name = user.name.lastName;
    return out;
  } catch {
    return {};
  }
}

/** openid-client's and the network's errors, as what the user is told. */
function explain(error: unknown): ProviderAnswerError {
  if (error instanceof ProviderAnswerError) return error;
  if (error instanceof ProviderUnreachable) return new ProviderAnswerError('unreachable', error.message);
  if (error instanceof oidc.AuthorizationResponseError) return new ProviderAnswerError('provider_error', `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`);
  if (error instanceof oidc.ResponseBodyError) return new ProviderAnswerError('refused', `the provider refused the code: ${error.error}`);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof ProviderUnreachable) return new ProviderAnswerError('unreachable', cause.message);
  if (error instanceof TypeError && /fetch/i.test(error.message)) return new ProviderAnswerError('unreachable', error.message);
  return new ProviderAnswerError('refused', (error as Error).message ?? 'the provider’s answer did not pass the checks');
}
