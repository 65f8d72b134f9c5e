// Helpers for suites that drive the hosted pages: an application, an authorization request built by
// hand (code + PKCE S256), and the identify → password steps.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { alertText, type Browser, type Page } from './browser.ts';
import type { ReceivedMail, SmtpReceiver } from './smtp.ts';
import type { TestServer } from './server.ts';

export const REDIRECT_URI = 'http://localhost:8976/callback';

/** A first-party public client (PKCE), created through the service (the admin API may not exist yet). */
export async function createTestApplication(server: TestServer, extra: Record<string, unknown> = {}): Promise<string> {
  const app = await server.server.services.applications.create({
    name: 'Test App',
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    ...extra,
  });
  return app.client_id;
}

export async function createTestUser(server: TestServer, input: Record<string, unknown>): Promise<string> {
  const user = await server.server.services.users.create({ email_verified: true, ...input } as never, 'admin');
  return user.id;
}

export function authorizationUrl(server: TestServer, clientId: string): { url: string; state: string; verifier: string } {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const url = new URL('/auth', server.url);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.toString(), state, verifier };
}

/** Starts an authorization request in the browser; answers the identify page and the interaction uid. */
export async function startLogin(browser: Browser, server: TestServer, clientId: string): Promise<{ page: Page; uid: string; state: string }> {
  const { url, state } = authorizationUrl(server, clientId);
  const page = await browser.get(url);
  assert.equal(page.status, 200, page.html.slice(0, 500));
  const match = /\/interaction\/([^/?#]+)$/.exec(new URL(page.url).pathname);
  assert.ok(match, `expected the identify page, got ${page.url}`);
  assert.ok(page.doc.querySelector('input[name="identifier"]'), 'the identify page has an identifier field');
  return { page, uid: match[1]!, state };
}

/** identify → password; answers the page after the password (or the redirect to the application). */
export async function signIn(browser: Browser, identifyPage: Page, identifier: string, password: string): Promise<Page> {
  const passwordPage = await browser.submit(identifyPage, { identifier });
  assert.equal(passwordPage.status, 200, passwordPage.html.slice(0, 500));
  assert.ok(passwordPage.doc.querySelector('input[name="password"]'), `expected the password page, got ${passwordPage.url}: ${alertText(passwordPage)}`);
  return browser.submit(passwordPage, { password });
}

/** Asserts the journey ended at the application's callback with a code and the right state. */
export function assertCodeRedirect(page: Page, state: string): string {
  assert.ok(page.redirectedTo, `expected a redirect to the application, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 300)}`);
  const callback = new URL(page.redirectedTo);
  assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  assert.equal(callback.searchParams.get('state'), state);
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${page.redirectedTo}`);
  return code;
}

/** Waits until `to` has received `count` mails; answers the newest. */
export async function waitForMailCount(smtp: SmtpReceiver, to: string, count: number, timeoutMs = 5000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = smtp.mails.filter((m) => m.to.includes(to.toLowerCase()));
    if (mails.length >= count) return mails[count - 1]!;
    if (Date.now() > deadline) throw new Error(`expected ${count} mails to ${to}, got ${mails.length}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function mailsTo(smtp: SmtpReceiver, to: string): ReceivedMail[] {
  return smtp.mails.filter((m) => m.to.includes(to.toLowerCase()));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
