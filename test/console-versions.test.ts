// The console's versions, recorded events, user page and audit log in headless Chromium: an admin
// saves a hook's new code as a draft (a real RP login still gets the deployed behaviour), sees the
// diff against version 1, deploys version 2 after a confirmation (the next login gets the new
// claim), rolls back to version 1 (the next login gets the old one again); picks a real run from the
// execution log and test-runs the unsaved code on its event; sees the user's applications, hook
// runs and webhook events; finds the deploy and rollback in the audit log; adds and deletes an
// identity provider. axe-core finds nothing on these pages, and no CSP violation happens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, Page } from 'playwright-core';
import { Browser } from './support/browser.ts';
import { launchChromium, openJourney, type JourneyPage } from './support/chromium.ts';
import { assertNoAxeViolations, consoleCast, signInToConsole } from './support/console-chromium.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const PASSWORD = 'correct horse battery';
const V1 = `export default async function (event, api) {
  api.idToken.setClaim('tier', 'v1');
}`;
const V2 = `export default async function (event, api) {
  api.idToken.setClaim('tier', 'v2:' + event.user.email);
}`;

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

/**
 * Replaces the editor's whole document with `code`: emptied first, as a person would, since Chromium
 * inserting over highlighted text first writes styled spans of its own (which the CSP refuses).
 */
async function typeCode(page: Page, code: string): Promise<void> {
  const editor = page.locator('.cm-content');
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
}

/** Clicks a button that asks first, and confirms in its dialog. */
async function confirm(page: Page, button: string, question: RegExp): Promise<void> {
  await page.getByRole('button', { name: button, exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(question).waitFor();
  await dialog.getByRole('button', { name: button, exact: true }).click();
}

for (const kind of databaseKinds()) {
  describe(`the console's versions, recorded events, user page and audit log in Chromium (${kind})`, () => {
    let server: TestServer;
    let notes: { client_id: string; client_secret: string };
    let hookId: string;
    let graceId: string;
    let admin: JourneyPage;

    /** A real RP login of grace: the tier claim of her ID token. */
    const tierClaim = async (): Promise<unknown> => {
      const rp = await discoverClient(server.url, notes.client_id, notes.client_secret);
      const start = await authorizationUrl(rp);
      const done = await signIn(new Browser(server.url), start, 'grace@example.com', PASSWORD);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `${done.status} ${done.html.slice(0, 300)}`);
      return (await exchangeCode(rp, start, done.redirectedTo!)).claims()?.tier;
    };

    before(async () => {
      server = await startTestServer(kind);
      hookId = (await server.admin('POST', '/hooks', { name: 'Tier', event: 'before_id_token', mode: 'sync', code: V1 })).body.id;
      const cast = await consoleCast(server, chrome, PASSWORD);
      ({ notes, admin } = cast);
      graceId = cast.ids['grace@example.com'];
    });
    after(async () => {
      await admin?.close();
      await server?.close();
    });

    test('a draft is saved without running; its diff shows; deploying it changes the next login', async () => {
      const page = admin.page;
      assert.equal(await tierClaim(), 'v1');
      await page.locator('.hook-card a', { hasText: 'Tier' }).click();
      await page.locator('.cm-content').waitFor();
      await typeCode(page, V2);
      await page.getByRole('button', { name: 'Save as draft' }).click();
      await page.getByText('Saved as draft: version 2. Journeys still run version 1.').waitFor();
      await page.locator('[data-testid="hook-version"]', { hasText: 'draft v2' }).waitFor();
      assert.equal(await tierClaim(), 'v1', 'a draft does not run');

      // v1 against the editor (which holds v2): one line out, one in.
      await page.locator('tr[data-version="1"]').getByRole('button', { name: 'Compare version 1' }).click();
      const diff = page.locator('[data-testid="version-diff"]');
      await diff.waitFor();
      assert.match(await diff.innerText(), /1 line added, 1 removed/);
      assert.equal((await diff.locator('del').innerText()).trim().replace(/^\d+\s+-\s+/, ''), "api.idToken.setClaim('tier', 'v1');");
      assert.equal((await diff.locator('ins').innerText()).trim().replace(/^\d+\s+\+\s+/, ''), "api.idToken.setClaim('tier', 'v2:' + event.user.email);");
      await assertNoAxeViolations(page, 'hook editor with versions and a diff');

      await confirm(page, 'Deploy v2', /^Deploy version 2\?/);
      await page.getByText('Deployed: journeys run version 2.').waitFor();
      await page.locator('[data-testid="hook-version"]', { hasText: 'deployed v2' }).waitFor();
      assert.equal(await tierClaim(), 'v2:grace@example.com');
      assert.equal((await server.admin('GET', `/hooks/${hookId}`)).body.version, 2);
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('rolling back to version 1, after a confirmation, brings back its behaviour', async () => {
      const page = admin.page;
      const v1 = page.locator('tr[data-version="1"]');
      await v1.getByRole('button', { name: 'Compare version 1' }).click();
      await page.getByLabel('the deployed version (v2)').check();
      await page.locator('[data-testid="version-diff"]', { hasText: 'v2 (deployed) → v1' }).waitFor();
      await confirm(page, 'Roll back to v1', /^Roll back to version 1\?/);
      await page.getByText('Rolled back: journeys run version 1 again.').waitFor();
      await page.locator('tr[data-version="2"]', { hasText: 'draft' }).waitFor();
      assert.equal(await tierClaim(), 'v1');
      const versions = (await server.admin('GET', `/hooks/${hookId}/versions`)).body;
      assert.deepEqual(
        versions.map((v: { version: number; deployed: boolean }) => [v.version, v.deployed]),
        [
          [2, false],
          [1, true],
        ],
      );
      assert.ok(versions[1].deployed_by.startsWith('console:'), 'the rollback is recorded as the console admin’s');
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('test-runs the unsaved code on a real event picked from the execution log', async () => {
      const page = admin.page;
      await typeCode(page, V2.replace("'v2:'", "'replayed:'"));
      await page.getByRole('button', { name: 'Refresh' }).last().click();
      const newest = page.locator('section[aria-labelledby="log-title"] tbody tr').first();
      // The log says what it lists: every failure and denial, a sample of the successes under load.
      assert.match(await page.locator('section[aria-labelledby="log-title"] .hint').innerText(), /Every failed or denied run is listed/);
      await newest.getByRole('button', { name: /^Test on this event of / }).click();
      await page.locator('[data-testid="recorded-event"]').waitFor();
      const payload = await page.getByLabel('Event (recorded; edit it as you like)').inputValue();
      assert.equal(JSON.parse(payload).user.email, 'grace@example.com', 'the real event, not the sample (ada)');
      await page.getByRole('button', { name: 'Run test' }).click();
      const result = page.locator('[data-testid="test-result"]');
      await result.waitFor();
      assert.match(await result.innerText(), /"replayed:grace@example\.com"/);
      await assertNoAxeViolations(page, 'hook editor with a recorded event');
      assert.equal((await server.admin('GET', `/hooks/${hookId}`)).body.latest_version, 2, 'a test run saves nothing');
    });

    test("the user page shows the user's applications, consents, hook runs and webhook events", async () => {
      const page = admin.page;
      // A consent as progressive profiling records it (the consent service the hosted pages use).
      await server.server.services.consents.set(graceId, [{ key: 'newsletter', granted: true }]);
      await page.goto(`${server.url}/admin/users/${graceId}`);
      await page.locator('[data-testid="user-status"]').waitFor();
      await page.getByRole('button', { name: 'Revoke Notes' }).waitFor();
      const runs = page.locator('[data-testid="user-runs"]');
      await runs.getByRole('link', { name: 'Tier' }).first().waitFor();
      assert.ok((await runs.locator('tbody tr').count()) >= 4, 'one run per login');
      await page.locator('[data-testid="user-webhook-events"]', { hasText: 'user.login.success' }).waitFor();
      assert.match(await page.locator('[data-testid="user-consents"] tbody tr').innerText(), /newsletter\s+granted/);
      await assertNoAxeViolations(page, 'user page with activity');
    });

    test("the audit log shows the console admin's deploy and rollback, filtered by action", async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Audit log' }).click();
      const log = page.locator('[data-testid="audit-log"]');
      await log.getByText('POST /hooks/:id/versions/:version/rollback').waitFor();
      await page.getByLabel('Action (e.g. PATCH /hooks/:id)').fill('POST /hooks/:id/deploy');
      await page.getByRole('button', { name: 'Filter' }).click();
      await log.getByText('POST /hooks/:id/deploy').waitFor();
      // A locator wait, not a string predicate: the console's CSP refuses eval, and Playwright evals those.
      await log.locator('tbody tr').nth(1).waitFor({ state: 'detached' });
      assert.equal(await log.locator('tbody tr').count(), 1, 'only the deploy is listed');
      assert.match(await log.locator('tbody tr').innerText(), /console admin/);
      await assertNoAxeViolations(page, 'audit log');
    });

    test('adds an identity provider from a preset, and deletes it after a confirmation', async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Identity providers' }).click();
      await page.getByText('No identity provider yet.').waitFor();
      await page.getByLabel('Name (the button’s label)').or(page.getByLabel("Name (the button's label)")).fill('Google');
      await page.getByLabel('Preset').selectOption('google');
      await page.getByLabel('Client id').fill('google-client-1');
      await page.getByLabel('Client secret (write-only)').fill('google-secret-1');
      await page.getByRole('button', { name: 'Create' }).click();
      const table = page.locator('[data-testid="identity-providers"]');
      await table.getByText('google-client-1').waitFor();
      assert.ok(!(await page.content()).includes('google-secret-1'), 'the secret is write-only');
      await assertNoAxeViolations(page, 'identity providers');
      await confirm(page, 'Delete Google', /^Delete Google\?/);
      await page.getByText('No identity provider yet.').waitFor();
      assert.deepEqual((await server.admin('GET', '/identity-providers')).body, []);
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('a viewer compares versions but cannot deploy, roll back, save a draft or test-run; the API refuses a deploy', async () => {
      const viewer = await openJourney(chrome);
      try {
        const page = viewer.page;
        page.setDefaultTimeout(10_000);
        await signInToConsole(page, server.url, 'vic@example.com', PASSWORD);
        await page.goto(`${server.url}/admin/hooks/${hookId}`);
        await page.locator('tr[data-version="2"]', { hasText: 'draft' }).waitFor();
        await page.locator('tr[data-version="2"]').getByRole('button', { name: 'Compare version 2' }).click();
        await page.locator('[data-testid="version-diff"]').waitFor();
        await page.locator('section[aria-labelledby="log-title"] tbody tr').first().waitFor();
        for (const name of ['Deploy v2', 'Save as draft', 'Save and deploy', 'Run test', 'Load v2 into the editor']) {
          assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
        }
        assert.equal(await page.getByRole('button', { name: /^Roll back|^Test on this event/ }).count(), 0);
        await page.getByRole('link', { name: 'Identity providers' }).click();
        await page.getByRole('heading', { name: 'Identity providers' }).waitFor();
        assert.equal(await page.getByRole('button', { name: 'Create' }).count(), 0);
        await page.getByRole('link', { name: 'Audit log' }).click();
        await page.locator('[data-testid="audit-log"]').waitFor();
        const status = await page.evaluate(`fetch('/admin/session').then((r) => r.json()).then((s) =>
          fetch('/admin/api/hooks/${hookId}/deploy', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: '{"version": 2}' }))
          .then((r) => r.status)`);
        assert.equal(status, 403);
        assert.equal((await server.admin('GET', `/hooks/${hookId}`)).body.version, 1);
        assert.deepEqual(viewer.violations, [], 'no CSP violation');
      } finally {
        await viewer.close();
      }
    });
  });
}
