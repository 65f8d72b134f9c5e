// The console in headless Chromium: sign-in through the hosted pages (password, then TOTP enrolment
// or a code), and axe-core run inside the page (evaluated through the DevTools protocol, which the
// console's CSP does not govern, so the page's own policy stays as it is).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser as Chromium, Page } from 'playwright-core';
import { type JourneyPage, openJourney } from './chromium.ts';
import { grantConsole } from './console.ts';
import { totp } from './mfa.ts';
import { CALLBACK } from './rp.ts';
import type { TestServer } from './server.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Signs in from the console's sign-in button; answers the TOTP secret (enrolled when none is given). */
export async function signInToConsole(page: Page, origin: string, email: string, password: string, secret?: string): Promise<string> {
  await page.goto(`${origin}/admin/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.locator('input[name="identifier"]').fill(email);
  await page.locator('form.stack button[type="submit"]').click();
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form.stack button[type="submit"]').click();
  let enrolled = secret;
  if (!enrolled) {
    await page.locator('#m-totp').check();
    await page.locator('#mfa-enrol button[type="submit"]').click();
    enrolled = ((await page.locator('#totp-secret').textContent()) ?? '').trim(); // inside a closed <details>: textContent, not innerText
    await page.locator('input[name="code"]').fill(totp(enrolled));
    await page.locator('#mfa-code button[type="submit"]').click();
    await page.getByRole('button', { name: 'I saved them, continue' }).click();
  } else {
    await page.locator('input[name="code"]').fill(totp(enrolled, 1));
    await page.locator('#mfa-code button[type="submit"]').click();
  }
  await page.getByRole('heading', { name: 'Journeys and hooks' }).waitFor();
  return enrolled;
}

/** axe-core's violations on the page as it is now (WCAG 2 A and AA rules). */
export async function axeViolations(page: Page): Promise<Array<{ id: string; help: string; nodes: string[] }>> {
  await page.evaluate(AXE_SOURCE);
  const result = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    .then((r) => r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })))`)) as Array<{ id: string; help: string; nodes: string[] }>;
  return result;
}

export async function assertNoAxeViolations(page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${what}: axe-core violations`);
}

export interface ConsoleCast {
  /** An application "Notes" redirecting to the RP's callback. */
  notes: { client_id: string; client_secret: string };
  /** The users' ids by email: ada (console admin), grace (no console access), vic (console viewer). */
  ids: Record<'ada@example.com' | 'grace@example.com' | 'vic@example.com', string>;
  /** ada's console, signed in (a second factor enrolled on the way). */
  admin: JourneyPage;
}

/** The console tests' cast on a fresh server: the application, the three users with `password`, their console roles, and ada signed in. */
export async function consoleCast(server: TestServer, chrome: Chromium, password: string): Promise<ConsoleCast> {
  const notes = (await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK] })).body;
  const ids: Record<string, string> = {};
  for (const email of ['ada@example.com', 'grace@example.com', 'vic@example.com']) {
    const made = await server.admin('POST', '/users', { email, password, email_verified: true });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    ids[email] = made.body.id;
  }
  await grantConsole(server, 'ada@example.com');
  await grantConsole(server, 'vic@example.com', 'viewer');
  const admin = await openJourney(chrome);
  admin.page.setDefaultTimeout(10_000);
  await signInToConsole(admin.page, server.url, 'ada@example.com', password);
  return { notes, ids: ids as ConsoleCast['ids'], admin };
}
