// A real relying party (openid-client) that signs in through the hosted pages with the Browser.
import * as oidc from 'openid-client';
import type { Browser, Page } from './browser.ts';

export const CALLBACK = 'http://rp.test/callback';
export const LOGGED_OUT = 'http://rp.test/logged-out';

export interface RelyingParty {
  config: oidc.Configuration;
  clientId: string;
}

export async function discoverClient(issuer: string, clientId: string, clientSecret: string | null): Promise<RelyingParty> {
  const config = await oidc.discovery(new URL(issuer), clientId, undefined, clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });
  // Makes openid-client verify every ID token's signature against the issuer's JWKS.
  oidc.enableNonRepudiationChecks(config);
  return { config, clientId };
}

export interface AuthorizationStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export async function authorizationUrl(rp: RelyingParty, params: Record<string, string> = {}): Promise<AuthorizationStart> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: CALLBACK,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, state, nonce, verifier };
}

/** Identify, then password: answers the page where the journey stopped (redirectedTo set on success). */
export async function signIn(browser: Browser, start: AuthorizationStart | URL, identifier: string, password: string): Promise<Page> {
  const url = start instanceof URL ? start : start.url;
  const first = await browser.get(url.toString());
  if (first.redirectedTo) return first; // an existing session signs in without pages
  const passwordPage = await browser.submit(first, { identifier });
  return browser.submit(passwordPage, { password });
}

/** callback: the URL the RP was redirected to, or the Request of a response_mode=form_post POST. */
export async function exchangeCode(rp: RelyingParty, start: AuthorizationStart, callback: string | Request) {
  return oidc.authorizationCodeGrant(rp.config, typeof callback === 'string' ? new URL(callback) : callback, {
    pkceCodeVerifier: start.verifier,
    expectedState: start.state,
    expectedNonce: start.nonce,
  });
}
