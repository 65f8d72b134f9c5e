// Real upstream identity providers for the federation tests, on loopback: a second node-oidc-provider
// (its own keys, its own login pages, the claims parameter for verified_claims), and a GitHub-like
// OAuth 2.0 server (a small koa app: authorize with a login form, token with PKCE, /user, /user/emails).
// Both answer at http://localhost:<port>, so their cookies never mix with Tessera's (127.0.0.1).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import { exportJWK, generateKeyPair } from 'jose';
import Koa from 'koa';
import Provider from 'oidc-provider';
import { alertText, Browser, type Page } from './browser.ts';

export interface UpstreamAccount {
  email: string;
  email_verified?: boolean;
  given_name?: string;
  family_name?: string;
  verified_claims?: unknown;
}

export interface Upstream {
  url: string;
  port: number;
  /** Publishes another key in the JWKS than the one that signs (an ID token "signed by another key"). */
  publishOtherKey: boolean;
  /** Answers every request with 503 (the provider is down). */
  down: boolean;
  close(): Promise<void>;
}

async function listen(app: Koa, port: number): Promise<Server> {
  const server = createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

async function signingKey(kid: string) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

function publicPart(jwk: Record<string, unknown>) {
  const { d, p, q, dp, dq, qi, ...rest } = jwk;
  return rest;
}

/** A node-oidc-provider instance: login is `login` = an account key of `accounts` (its dev login pages). */
export async function startUpstreamOidc(options: {
  port: number;
  clients: Array<{ client_id: string; client_secret: string; redirect_uris: string[] }>;
  accounts: Record<string, UpstreamAccount>;
}): Promise<Upstream> {
  const issuer = `http://localhost:${options.port}`;
  const key = await signingKey('upstream-1');
  const other = await signingKey('someone-else');
  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' })),
    jwks: { keys: [key as never] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, claimsParameter: { enabled: true } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'], verified_claims: null },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    async findAccount(_ctx, sub) {
      const account = options.accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: account.email,
            email_verified: account.email_verified ?? true,
            given_name: account.given_name,
            family_name: account.family_name,
            verified_claims: account.verified_claims,
          };
        },
      };
    },
  });
  const state = { publishOtherKey: false, down: false };
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (state.down) {
      ctx.status = 503;
      ctx.body = 'down';
      return;
    }
    if (state.publishOtherKey && ctx.path === '/jwks') {
      ctx.type = 'application/jwk-set+json';
      ctx.body = { keys: [publicPart(other)] };
      return;
    }
    await next();
  });
  const handle = provider.callback();
  app.use(async (ctx) => {
    ctx.respond = false;
    await handle(ctx.req, ctx.res);
  });
  const server = await listen(app, options.port);
  return {
    url: issuer,
    port: options.port,
    get publishOtherKey() {
      return state.publishOtherKey;
    },
    set publishOtherKey(value) {
      state.publishOtherKey = value;
    },
    get down() {
      return state.down;
    },
    set down(value) {
      state.down = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => void server.closeAllConnections()),
  };
}

export interface GithubUser {
  id: number;
  login: string;
  name: string;
  /** The public address on /user (may be null, as on GitHub). */
  email: string | null;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
}

/** A GitHub-like OAuth 2.0 server: /login/oauth/authorize (a login form), /login/oauth/access_token, /user, /user/emails. */
export async function startGithubLike(options: { port: number; clientId: string; clientSecret: string; users: Record<string, GithubUser> }): Promise<Upstream> {
  const url = `http://localhost:${options.port}`;
  const codes = new Map<string, { login: string; redirect_uri: string; challenge: string }>();
  const tokens = new Map<string, string>();
  const state = { publishOtherKey: false, down: false };
  const app = new Koa();
  app.use(bodyParser({ enableTypes: ['form', 'json'] }));
  app.use(async (ctx) => {
    if (state.down) {
      ctx.status = 503;
      return;
    }
    const body = (ctx.request.body ?? {}) as Record<string, string>;
    if (ctx.path === '/login/oauth/authorize' && ctx.method === 'GET') {
      const q = ctx.query as Record<string, string>;
      if (q.client_id !== options.clientId || q.code_challenge_method !== 'S256' || !q.code_challenge) {
        ctx.status = 400;
        ctx.body = 'bad request';
        return;
      }
      ctx.type = 'html';
      const hidden = ['redirect_uri', 'state', 'code_challenge'].map((k) => `<input type="hidden" name="${k}" value="${q[k] ?? ''}">`).join('');
      ctx.body = `<!doctype html><form method="post" action="/login/oauth/authorize">${hidden}<input name="login"><button>Sign in</button></form><form id="deny" method="post" action="/login/oauth/authorize">${hidden}<input type="hidden" name="deny" value="1"><button>Cancel</button></form>`;
      return;
    }
    if (ctx.path === '/login/oauth/authorize' && ctx.method === 'POST') {
      const target = new URL(body.redirect_uri!);
      target.searchParams.set('state', body.state ?? '');
      if (body.deny) {
        target.searchParams.set('error', 'access_denied');
        target.searchParams.set('error_description', 'The user has denied your application access.');
      } else {
        if (!options.users[body.login ?? '']) {
          ctx.status = 401;
          ctx.body = 'unknown login';
          return;
        }
        const code = randomBytes(16).toString('hex');
        codes.set(code, { login: body.login!, redirect_uri: body.redirect_uri!, challenge: body.code_challenge! });
        target.searchParams.set('code', code);
      }
      ctx.redirect(target.toString());
      return;
    }
    if (ctx.path === '/login/oauth/access_token' && ctx.method === 'POST') {
      const grant = codes.get(body.code ?? '');
      codes.delete(body.code ?? '');
      const challenge = createHash('sha256')
        .update(body.code_verifier ?? '')
        .digest('base64url');
      ctx.type = 'json';
      if (body.client_id !== options.clientId || body.client_secret !== options.clientSecret) {
        ctx.status = 401;
        ctx.body = { error: 'incorrect_client_credentials' };
      } else if (!grant || grant.redirect_uri !== body.redirect_uri || grant.challenge !== challenge) {
        ctx.status = 400;
        ctx.body = { error: 'bad_verification_code' };
      } else {
        const token = `gho_${randomBytes(16).toString('hex')}`;
        tokens.set(token, grant.login);
        ctx.body = { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' };
      }
      return;
    }
    const login = tokens.get((ctx.get('authorization') ?? '').replace(/^Bearer /i, ''));
    const user = login ? options.users[login] : undefined;
    if ((ctx.path === '/user' || ctx.path === '/user/emails') && !user) {
      ctx.status = 401;
      ctx.body = { message: 'Bad credentials' };
      return;
    }
    if (ctx.path === '/user') {
      ctx.body = { id: user!.id, login: user!.login, name: user!.name, email: user!.email };
      return;
    }
    if (ctx.path === '/user/emails') {
      ctx.body = user!.emails;
      return;
    }
    ctx.status = 404;
  });
  const server = await listen(app, options.port);
  return {
    url,
    port: options.port,
    publishOtherKey: false,
    get down() {
      return state.down;
    },
    set down(value) {
      state.down = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => void server.closeAllConnections()),
  };
}

/**
 * A person with one browser across several sites: a Browser (own cookies) per origin, redirects
 * followed from one to the other, and a form_post page (an auto-submitting form to another site)
 * submitted as a browser's script would. Stops at a redirect to an origin it does not know (the RP).
 */
export class FederatedBrowser {
  readonly sites = new Map<string, Browser>();

  constructor(...origins: string[]) {
    for (const origin of origins) this.sites.set(new URL(origin).origin, new Browser(origin));
  }

  site(url: string): Browser {
    const browser = this.sites.get(new URL(url).origin);
    if (!browser) throw new Error(`no browser for ${url}`);
    return browser;
  }

  /** Follows a page's redirect (and form_post forms) across the known sites. */
  async follow(page: Page): Promise<Page> {
    let current = page;
    for (let hops = 0; hops < 20; hops++) {
      if (current.redirectedTo) {
        if (!this.sites.has(new URL(current.redirectedTo).origin)) return current;
        current = await this.site(current.redirectedTo).get(current.redirectedTo);
        continue;
      }
      const form = current.doc.querySelector('form[method="post"]');
      const action = form?.getAttribute('action');
      const isFormPost = action && /document\.forms\[0\]\.submit|onload|<noscript>/i.test(current.html) && new URL(action, current.url).origin !== new URL(current.url).origin;
      if (isFormPost) {
        const target = new URL(action!, current.url).toString();
        const fields = this.site(current.url).form(current).fields;
        if (!this.sites.has(new URL(target).origin)) return current;
        current = await this.site(target).post(target, fields);
        continue;
      }
      return current;
    }
    throw new Error('too many hops');
  }

  async get(url: string): Promise<Page> {
    return this.follow(await this.site(url).get(url));
  }

  async submit(page: Page, values: Record<string, string> = {}, selector = 'form'): Promise<Page> {
    return this.follow(await this.site(page.url).submit(page, values, selector));
  }
}

/** On the upstream node-oidc-provider's own pages: sign in as `login`, then confirm its consent page. */
export async function upstreamLogin(browser: FederatedBrowser, loginPage: Page, login: string): Promise<Page> {
  if (!loginPage.doc.querySelector('input[name="login"]')) throw new Error(`expected the upstream login page at ${loginPage.url}: ${alertText(loginPage) ?? loginPage.html.slice(0, 500)}`);
  let page = await browser.submit(loginPage, { login, password: 'any' });
  // Its consent page, the first time.
  if (page.doc.querySelector('input[name="prompt"][value="consent"]')) page = await browser.submit(page);
  return page;
}
