// The administration console in headless Chromium, end to end: an admin granted by the CLI signs in
// with a second factor; writes a before_id_token hook in the editor, test-runs it on the sample and
// sees the claim, saves it and finds it on the journey map; a real RP login then carries the claim;
// publishes a template with its secrets for one application; finds a user by email and disables them;
// a viewer sees no button that changes anything and the API refuses them. No CSP violation on the
// way, and axe-core finds nothing on the main pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium } from 'playwright-core';
import { Browser } from './support/browser.ts';
import { launchChromium, openJourney, type JourneyPage } from './support/chromium.ts';
import { assertNoAxeViolations, signInToConsole } from './support/console-chromium.ts';
import { grantConsole } from './support/console.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { startRpPages, type RpPages } from './support/rp-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const PASSWORD = 'correct horse battery';
const HOOK_CODE = `export default async function (event, api) {
  api.idToken.setClaim('tier', event.user.email.endsWith('@example.com') ? 'gold' : 'basic');
}`;

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

for (const kind of databaseKinds()) {
  describe(`the administration console in Chromium (${kind})`, () => {
    let server: TestServer;
    let rpPages: RpPages;
    let notes: { client_id: string; client_secret: string };
    let shop: { client_id: string };
    let admin: JourneyPage;
    let adminSecret = '';

    before(async () => {
      [server, rpPages] = await Promise.all([startTestServer(kind), startRpPages()]);
      notes = (await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [rpPages.callback] })).body;
      shop = (await server.admin('POST', '/applications', { name: 'Shop', redirect_uris: ['https://shop.example.com/cb'] })).body;
      for (const email of ['ada@example.com', 'vic@example.com', 'grace@example.com', 'mallory@example.com']) {
        const made = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true, given_name: email.split('@')[0] });
        assert.equal(made.status, 201, JSON.stringify(made.body));
      }
      await grantConsole(server, 'ada@example.com');
      await grantConsole(server, 'vic@example.com', 'viewer');
      admin = await openJourney(chrome);
      admin.page.setDefaultTimeout(10_000);
    });
    after(async () => {
      await admin?.close();
      await Promise.all([server?.close(), rpPages?.close()]);
    });

    test('an admin signs in with a second factor; the journey map passes axe-core', async () => {
      adminSecret = await signInToConsole(admin.page, server.url, 'ada@example.com', PASSWORD);
      const cookies = await admin.context.cookies(`${server.url}/admin/`);
      assert.ok(cookies.find((c) => c.name === 'tessera.console')?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(await admin.page.evaluate('document.cookie'), '', 'no cookie is readable by JavaScript');
      await admin.page.locator('[data-event="before_id_token"]').waitFor();
      await assertNoAxeViolations(admin.page, 'journey map');
    });

    test('writes a before_id_token hook in the editor, test-runs it on the sample, saves it and sees it on the map', async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Add hook to before_id_token' }).click();
      await page.getByLabel('Name').fill('Tier claim');
      assert.equal(await page.getByLabel('Lifecycle point').inputValue(), 'before_id_token');
      const editor = page.locator('.cm-content');
      await editor.waitFor();
      // Completion knows the event's api: typing "api.idT" offers idToken.
      await editor.click();
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.press('Delete');
      await page.keyboard.type('api.idT');
      await page.locator('.cm-tooltip-autocomplete').getByText('idToken', { exact: true }).waitFor();
      await page.keyboard.press('Escape');
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.insertText(HOOK_CODE);

      await page.getByRole('button', { name: 'Run test' }).click();
      const result = page.locator('[data-testid="test-result"]');
      await result.waitFor();
      const text = await result.innerText();
      assert.match(text, /success/);
      assert.match(text, /"tier"/);
      assert.match(text, /"gold"/);
      await assertNoAxeViolations(page, 'hook editor');

      await page.getByRole('button', { name: 'Create hook' }).click();
      await page.waitForURL(/\/admin\/hooks\/hook_/);
      await page.getByText('Saved: version 1.').waitFor();
      await page.getByRole('link', { name: '← Journey map' }).click();
      await page.locator('[data-event="before_id_token"] .hook-card', { hasText: 'Tier claim' }).waitFor();
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('a real RP login now carries the claim', async () => {
      const rp = await discoverClient(server.url, notes.client_id, notes.client_secret);
      const start = await authorizationUrl(rp, { redirect_uri: rpPages.callback });
      const done = await signIn(new Browser(server.url), start, 'grace@example.com', PASSWORD);
      assert.ok(done.redirectedTo?.startsWith(rpPages.callback), `${done.status} ${done.html.slice(0, 300)}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      assert.equal(tokens.claims()?.tier, 'gold');
    });

    test('publishes a template with its secrets for one application', async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Templates' }).click();
      const card = page.locator('[data-template="crm-claims"]');
      await card.getByRole('button', { name: 'Use this template' }).click();
      await card.getByLabel('CRM_URL').fill('https://crm.example.com');
      await card.getByLabel('CRM_TOKEN').fill('crm-token-123');
      await card.getByLabel('Only these:').check();
      await card.getByLabel('Shop').check();
      await card.getByRole('button', { name: 'Publish' }).click();
      await page.waitForURL(/\/admin\/hooks\/hook_/);
      const id = new URL(page.url()).pathname.split('/').pop()!;
      const hook = await server.admin('GET', `/hooks/${id}`);
      assert.equal(hook.body.event, 'before_id_token');
      assert.deepEqual(hook.body.applications, [shop.client_id]);
      assert.deepEqual(hook.body.secrets.sort(), ['CRM_TOKEN', 'CRM_URL']);
      assert.ok(!JSON.stringify(hook.body).includes('crm-token-123'), 'the secret is write-only');
    });

    test('finds a user by email and disables them, after a confirmation', async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByLabel('Email, username, name or id').fill('mallory@example.com');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: 'mallory@example.com' }).click();
      await page.locator('[data-testid="user-status"]', { hasText: 'active' }).waitFor();
      await assertNoAxeViolations(page, 'user page');
      await page.getByRole('button', { name: 'Disable user' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Disable mallory@example.com?').waitFor();
      await dialog.getByRole('button', { name: 'Disable user' }).click();
      await page.locator('[data-testid="user-status"]', { hasText: 'disabled' }).waitFor();
      const found = await server.admin('GET', '/users?email=mallory@example.com');
      assert.equal(found.body[0].status, 'disabled');
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('a viewer sees no button that changes anything, and the API answers 403', async () => {
      const viewer = await openJourney(chrome);
      try {
        const page = viewer.page;
        page.setDefaultTimeout(10_000);
        await signInToConsole(page, server.url, 'vic@example.com', PASSWORD);
        await page.locator('[data-event="before_id_token"] .hook-card', { hasText: 'Tier claim' }).waitFor();
        assert.equal(await page.getByRole('link', { name: 'New hook' }).count(), 0);
        assert.equal(await page.getByText('+ Add hook').count(), 0);
        await page.locator('.hook-card a', { hasText: 'Tier claim' }).click();
        await page.locator('.cm-content').waitFor();
        for (const name of ['Save', 'Run test', 'Delete hook', 'Add a secret']) assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
        assert.equal(await page.locator('.cm-content').getAttribute('contenteditable'), 'false', 'the code is read-only');
        await page.getByRole('link', { name: 'Users' }).click();
        await page.getByLabel('Email, username, name or id').fill('grace@example.com');
        await page.getByRole('button', { name: 'Search' }).click();
        await page.getByRole('link', { name: 'grace@example.com' }).click();
        await page.locator('[data-testid="user-status"]').waitFor();
        for (const name of ['Disable user', 'Delete user', 'Sign out everywhere', 'Save profile']) assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
        await page.getByRole('link', { name: 'Templates' }).click();
        await page.locator('[data-template="crm-claims"]').waitFor();
        assert.equal(await page.getByRole('button', { name: 'Use this template' }).count(), 0);

        // The API itself refuses, with the session and its CSRF token, as the page would send them.
        const status = await page.evaluate(`fetch('/admin/session').then((r) => r.json()).then((s) =>
          fetch('/admin/api/users', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: JSON.stringify({ email: 'x@example.com' }) }))
          .then((r) => r.status)`);
        assert.equal(status, 403);
        assert.deepEqual(viewer.violations, [], 'no CSP violation');
      } finally {
        await viewer.close();
      }
    });

    test('signing out ends the console session and the provider session', async () => {
      const page = admin.page;
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      // RP-initiated logout: the provider asks to confirm, then comes back to the console.
      await page.locator('button[name="logout"][value="yes"]').click();
      await page.getByText('You are signed out.').waitFor();
      const status = await page.evaluate(`fetch('/admin/api/users').then((r) => r.status)`);
      assert.equal(status, 401);
      await signInToConsole(page, server.url, 'ada@example.com', PASSWORD, adminSecret);
    });
  });
}
