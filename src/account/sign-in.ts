// Signing in to the account page. The page is an OIDC client of this server (src/account/client.ts):
// code + PKCE through the same hosted pages as any application, the code exchanged here, the tokens
// kept here; the browser gets only an HttpOnly session cookie (path /account). The ID token's
// auth_time and amr are kept with the session: a sensitive change (email, password, factors,
// deletion) needs a sign-in no older than ACCOUNT_REAUTH_SECONDS (and, for a factor's removal, one
// that proved a second factor), else the browser goes through a fresh sign-in (`prompt=login`,
// `max_age=0`, acr loa:2 when a factor must be proved) and comes back to the page it left.
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { User } from '../identity/users.ts';
import { FlowError, type FlowKit } from '../flows/kit.ts';
import { t } from '../flows/texts.ts';
import { authorizationRequestUrl, exchangeCallbackCode, newLoginState, takeLoginState, writeLoginState, type LoginState } from '../oidc/first-party-clients.ts';
import { ACCOUNT_CLIENT_ID, brandableClient, ensureAccountClient } from './client.ts';
import type { AccountSession } from './sessions.ts';

export const ACCOUNT_COOKIE = 'tessera.account';
const LOGIN_COOKIE = 'tessera.account_login';
const LOGIN_TTL_MS = 10 * 60 * 1000;
/** The pages a sign-in may come back to: the account page and its own sub-pages, never another URL. */
const RETURN_PATH = /^\/account(?:\/[a-z-]{1,40})?(?:#[a-z-]{1,40})?$/;

const LOGIN = { name: LOGIN_COOKIE, path: '/account/callback', ttlMs: LOGIN_TTL_MS };

interface AccountLoginState extends LoginState {
  returnTo: string;
  clientId: string | null;
  /** A step-up of this session (the sha256 of its id): the sign-in must be the same user's. */
  stepUp: string | null;
}

export interface SignedIn {
  session: AccountSession;
  user: User;
}

/** What a change needs: a sign-in at most ACCOUNT_REAUTH_SECONDS old; `mfa`: one that proved a second factor. */
export interface Freshness {
  mfa?: boolean;
}

export function safeReturn(path: unknown): string {
  return typeof path === 'string' && RETURN_PATH.test(path) ? path : '/account';
}

function cookieOptions(ctx: Context, path: string, maxAge: number) {
  return { path, maxAge, httpOnly: true, sameSite: 'lax', secure: ctx.secure, overwrite: true } as const;
}

export class AccountSignIn {
  readonly #kit: FlowKit;
  #discovered: Promise<oidc.Configuration> | null = null;

  constructor(kit: FlowKit) {
    this.#kit = kit;
  }

  async #configuration() {
    const { db, box, applications, config } = this.#kit.services;
    // Checked at each sign-in (cheap): an account application changed through the API is put back.
    const credentials = await ensureAccountClient(db, box, applications, config.issuer);
    this.#discovered ??= oidc
      .discovery(new URL(config.issuer), ACCOUNT_CLIENT_ID, undefined, oidc.ClientSecretBasic(credentials.clientSecret), {
        execute: config.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error) => {
        this.#discovered = null;
        throw error;
      });
    return { oidcConfig: await this.#discovered, credentials };
  }

  /** The signed-in session of this browser and its user (still active), or null. */
  async current(ctx: Context): Promise<SignedIn | null> {
    const id = ctx.cookies.get(ACCOUNT_COOKIE);
    if (!id) return null;
    const session = await this.#kit.services.account.sessions.find(id);
    if (!session) return null;
    const user = await this.#kit.services.users.findById(session.userId);
    if (!user || user.status !== 'active') return null;
    return { session, user };
  }

  /** Whether the session's last sign-in is recent enough for a change that needs `freshness`. */
  isFresh(session: AccountSession, freshness: Freshness = {}): boolean {
    const maxAgeMs = this.#kit.services.config.account.reauthSeconds * 1000;
    if (Date.now() - session.authTime > maxAgeMs) return false;
    return !freshness.mfa || session.amr.includes('mfa');
  }

  /** The URL that starts a (step-up) sign-in and comes back to `returnTo`. */
  stepUpUrl(returnTo: string, freshness: Freshness = {}): string {
    const query = new URLSearchParams({ return: safeReturn(returnTo), step_up: '1', ...(freshness.mfa ? { mfa: '1' } : {}) });
    return `/account/login?${query}`;
  }

  /** GET /account/login: off to the authorization endpoint. */
  async start(ctx: Context): Promise<void> {
    const { oidcConfig, credentials } = await this.#configuration();
    const signedIn = ctx.query.step_up === '1' ? await this.current(ctx) : null;
    const clientId = brandableClient(ctx.query.client_id) ?? signedIn?.session.clientId ?? null;
    const state: AccountLoginState = {
      ...newLoginState(),
      returnTo: safeReturn(ctx.query.return),
      clientId,
      stepUp: signedIn?.session.idHash ?? null,
    };
    writeLoginState(ctx, LOGIN, state);
    const params: Record<string, string> = {
      // Asked for so that the ID token carries auth_time: a provider session older than the account
      // session's lifetime signs in again anyway.
      max_age: String(this.#kit.services.config.account.sessionSeconds),
    };
    // The hosted sign-in pages wear the branding of the application the account page was reached from.
    if (clientId) params.tessera_brand = clientId;
    if (signedIn) {
      params.prompt = 'login';
      params.max_age = '0';
      params.login_hint = signedIn.user.email;
      if (ctx.query.mfa === '1') params.acr_values = 'urn:tessera:loa:2';
    }
    ctx.set('cache-control', 'no-store');
    ctx.redirect((await authorizationRequestUrl(oidcConfig, credentials.redirectUri, state, params)).toString());
  }

  /** GET /account/callback: the code exchanged, the session opened (or its proof renewed). */
  async callback(ctx: Context): Promise<void> {
    const state = takeLoginState<AccountLoginState>(ctx, LOGIN);
    const again = [{ href: '/account/login', text: t('account.sign-in-again') }];
    const failed = (message: string) => new FlowError(400, t('account.sign-in.failed.title'), message, again, { wayBack: true });
    if (!state) throw failed(t('account.sign-in.expired'));
    ctx.state.brand = await this.#kit.brand(state.clientId);
    if (typeof ctx.query.error === 'string') throw failed(t('account.sign-in.not-finished'));
    const { oidcConfig, credentials } = await this.#configuration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await exchangeCallbackCode(oidcConfig, credentials.redirectUri, ctx.querystring, state);
    } catch (error) {
      (ctx.state.log ?? this.#kit.services.log).info({ err: error }, 'account sign-in: the code exchange failed');
      throw failed(t('account.sign-in.not-finished'));
    }
    const claims = tokens.claims()!;
    const proof = {
      idToken: tokens.id_token ?? null,
      authTime: typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : Date.now(),
      amr: Array.isArray(claims.amr) ? (claims.amr as unknown[]).filter((v): v is string => typeof v === 'string') : [],
    };
    const sessions = this.#kit.services.account.sessions;
    ctx.set('cache-control', 'no-store');
    const signedIn = state.stepUp ? await this.current(ctx) : null;
    if (signedIn && signedIn.session.idHash === state.stepUp) {
      if (signedIn.user.id !== claims.sub) {
        // Someone else signed in on the step-up page: this session is not theirs to go on with.
        await sessions.close(signedIn.session.idHash);
        ctx.cookies.set(ACCOUNT_COOKIE, null, { path: '/account' });
        throw failed(t('account.sign-in.other-user'));
      }
      await sessions.reauthenticated(signedIn.session.idHash, proof);
    } else {
      const opened = await sessions.open(claims.sub, proof, state.clientId);
      ctx.cookies.set(ACCOUNT_COOKIE, opened.id, cookieOptions(ctx, '/account', opened.expiresAt - Date.now()));
    }
    ctx.redirect(state.returnTo);
  }

  /** Ends the account session; answers where the browser goes to end the provider's session too. */
  async signOut(ctx: Context, signedIn: SignedIn | null): Promise<string> {
    if (signedIn) await this.#kit.services.account.sessions.close(signedIn.session.idHash);
    ctx.cookies.set(ACCOUNT_COOKIE, null, { path: '/account' });
    const configured = await this.#configuration().catch(() => null);
    if (!configured || !signedIn?.session.idToken) return '/account/signed-out';
    return oidc.buildEndSessionUrl(configured.oidcConfig, { id_token_hint: signedIn.session.idToken, post_logout_redirect_uri: configured.credentials.postLogoutRedirectUri }).toString();
  }

  /** Forgets this browser's account session (the account is gone, or every session was signed out). */
  forget(ctx: Context): void {
    ctx.cookies.set(ACCOUNT_COOKIE, null, { path: '/account' });
  }
}
