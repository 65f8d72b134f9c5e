// Helpers for the account page (/account) driven without JavaScript: signing in through the hosted
// pages (and the second step when asked), the page's forms by id, the events the changes wrote.
import assert from 'node:assert/strict';
import { alertText, Browser, type Page } from './browser.ts';
import { totp } from './mfa.ts';
import type { TestServer } from './server.ts';

export const ACCOUNT_PASSWORD = 'account page password 1';

export function isAccountPage(page: Page): boolean {
  return new URL(page.url).pathname === '/account' && page.doc.querySelector('h1')?.text.trim() === 'Your account';
}

export function assertAccountPage(page: Page, what = 'the account page'): void {
  assert.ok(isAccountPage(page), `${what}: expected the account page, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 400)}`);
}

/**
 * From a page that is the identify step (a first sign-in, or a step-up): identifier (when asked),
 * password, and the TOTP code when the second step is asked; answers the page it ends on.
 */
export async function passSignIn(browser: Browser, page: Page, email: string, password: string, totpSecret?: string): Promise<Page> {
  assert.ok(page.doc.querySelector('input[name="identifier"]'), `expected the identify page, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 300)}`);
  const passwordPage = await browser.submit(page, { identifier: email });
  let next = await browser.submit(passwordPage, { password });
  if (next.doc.querySelector('form#mfa-code input[name="code"]')) {
    assert.ok(totpSecret, `a second step was asked: ${next.url}`);
    // A step later than any code used so far: one code is never accepted twice.
    next = await browser.submit(next, { code: totp(totpSecret, 1) }, 'form#mfa-code');
  }
  return next;
}

/** A new browser signed in to /account; answers it and the account page. */
export async function accountSignIn(server: TestServer, email: string, password = ACCOUNT_PASSWORD, query = ''): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser(server.url);
  const first = await browser.get(`/account${query}`);
  const page = await passSignIn(browser, first, email, password);
  assertAccountPage(page, `signing in as ${email}`);
  return { browser, page };
}

/** The data of the webhook events of `type` written so far about the user (the outbox, in order). */
export async function eventsOf(server: TestServer, type: string, userId: string): Promise<any[]> {
  const rows = await server.server.services.db('webhook_events').where({ type }).orderBy('created_at', 'asc');
  return rows.map((row) => JSON.parse(String(row.data))).filter((data) => data.user_id === userId || data.user?.id === userId);
}
