// npm run screenshots: the console's journey map, hook editor and user page as PNGs in
// docs/screenshots/, taken in headless Chromium (playwright-core, as the browser tests) from a
// throwaway server on loopback with a little sample data (a hook with a draft, a real RP login that
// ran it, a registration and a group), signed in as a granted admin with TOTP.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, openJourney } from '../test/support/chromium.ts';
import { signInToConsole } from '../test/support/console-chromium.ts';
import { grantConsole } from '../test/support/console.ts';
import { Browser } from '../test/support/browser.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from '../test/support/rp.ts';
import { startTestServer } from '../test/support/server.ts';

const OUT = join(import.meta.dirname, '..', 'docs', 'screenshots');
const PASSWORD = 'correct horse battery';

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const server = await startTestServer('sqlite');
  const chrome = await launchChromium();
  try {
    const roles = [{ name: 'editor', description: 'Writes notes' }, { name: 'billing' }];
    const notes = (await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], roles })).body;
    const users: Record<string, string> = {};
    for (const email of ['ada@example.com', 'grace@example.com']) {
      users[email] = (await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true, given_name: email.split('@')[0] })).body.id;
    }
    // The user page shows grace's registration (one role) and her group (the other).
    await server.admin('POST', `/users/${users['grace@example.com']}/registrations`, { application: notes.client_id, roles: ['billing'], verified: true });
    const writers = (await server.admin('POST', '/groups', { name: 'Writers', roles: { [notes.client_id]: ['editor'] } })).body;
    await server.admin('PUT', `/groups/${writers.id}/members/${users['grace@example.com']}`, { data: { team: 'blue' } });
    const made = await server.admin('POST', '/hooks', {
      name: 'Tier claim',
      mode: 'sync',
      event: 'before_id_token',
      applications: [notes.client_id],
      code: "export default async function (event, api) {\n  api.idToken.setClaim('tier', event.user.email.endsWith('@example.com') ? 'gold' : 'basic');\n}\n",
    });
    if (made.status !== 201) throw new Error(`POST /hooks: ${made.status} ${JSON.stringify(made.body)}`);
    const hook = made.body;
    const welcome = await server.admin('POST', '/hooks', {
      name: 'Welcome mail',
      event: 'after_registration',
      mode: 'async',
      code: 'export default async function (event, api) {\n  console.log(event.user.email);\n}\n',
    });
    if (welcome.status !== 201) throw new Error(`POST /hooks: ${welcome.status} ${JSON.stringify(welcome.body)}`);
    await grantConsole(server, 'ada@example.com');
    // A real login, so the execution log and grace's page have a run; then a draft to compare.
    const rp = await discoverClient(server.url, notes.client_id, notes.client_secret);
    const start = await authorizationUrl(rp);
    const done = await signIn(new Browser(server.url), start, 'grace@example.com', PASSWORD);
    if (!done.redirectedTo) throw new Error(`the RP login of grace stopped at ${done.url}`);
    await exchangeCode(rp, start, done.redirectedTo);
    await server.admin('PATCH', `/hooks/${hook.id}`, {
      code: "export default async function (event, api) {\n  const gold = event.user.email.endsWith('@example.com');\n  api.idToken.setClaim('tier', gold ? 'gold' : 'basic');\n}\n",
      draft: true,
    });

    const journey = await openJourney(chrome);
    const page = journey.page;
    await page.setViewportSize({ width: 1280, height: 900 });
    page.setDefaultTimeout(20_000);
    await signInToConsole(page, server.url, 'ada@example.com', PASSWORD);
    await page.locator('[data-event="before_id_token"] .hook-card', { hasText: 'Tier claim' }).waitFor();
    await page.screenshot({ path: join(OUT, 'journey-map.png'), fullPage: true });

    await page.goto(`${server.url}/admin/hooks/${hook.id}`);
    await page.locator('.cm-content').waitFor();
    await page
      .getByRole('button', { name: /^Test on this event/ })
      .first()
      .click();
    await page.getByRole('button', { name: 'Run test' }).click();
    await page.locator('[data-testid="test-result"]').waitFor();
    await page.locator('tr[data-version="2"]').getByRole('button', { name: 'Compare version 2' }).click();
    await page.locator('[data-testid="version-diff"]').waitFor();
    await page.screenshot({ path: join(OUT, 'hook-editor.png'), fullPage: true });

    const grace = (await server.admin('GET', '/users?email=grace@example.com')).body[0];
    await page.goto(`${server.url}/admin/users/${grace.id}`);
    await page.locator('[data-testid="user-runs"]').waitFor();
    await page.locator('[data-testid="user-registrations"]').waitFor();
    await page.locator('[data-testid="user-groups"]').waitFor();
    await page.screenshot({ path: join(OUT, 'user-page.png'), fullPage: true });
    await journey.close();
    console.log(`screenshots in ${OUT}: journey-map.png, hook-editor.png, user-page.png`);
  } finally {
    await chrome.close();
    await server.close();
  }
}

await main();
