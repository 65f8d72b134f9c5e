// The console in headless Chromium: sign-in through the hosted pages (password, then TOTP enrolment
// or a code), and axe-core run inside the page (evaluated through the DevTools protocol, which the
// console's CSP does not govern, so the page's own policy stays as it is).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { totp } from './mfa.ts';

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
