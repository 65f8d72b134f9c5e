// The console's roles, groups and registrations in headless Chromium: an admin declares two roles on an
// application (and hands one message to the brand), creates a group that holds one role, adds a user
// found by email and sets the member's data; taking off a role the group still holds is refused next to
// the roles (409); the admin registers the user with the other role. A real RP login with scope
// `openid roles groups` then carries both roles and the group's name. axe-core finds nothing on these
// pages and no CSP violation happens; a viewer sees it all without a single edit button, and the API
// answers the viewer's change with 403.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, Page } from 'playwright-core';
import { Browser } from './support/browser.ts';
import { type JourneyPage, launchChromium, openJourney } from './support/chromium.ts';
import { assertNoAxeViolations, consoleCast, signInToConsole } from './support/console-chromium.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const PASSWORD = 'correct horse battery';

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

/** Clicks a button that asks first, and confirms in its dialog. */
async function confirm(page: Page, button: string, question: RegExp, confirmLabel = button): Promise<void> {
  await page.getByRole('button', { name: button, exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(question).waitFor();
  await dialog.getByRole('button', { name: confirmLabel, exact: true }).click();
}

for (const kind of databaseKinds()) {
  describe(`the console's roles, groups and registrations in Chromium (${kind})`, () => {
    let server: TestServer;
    let notes: { client_id: string; client_secret: string };
    let graceId: string;
    let groupId: string;
    let admin: JourneyPage;

    before(async () => {
      server = await startTestServer(kind);
      const cast = await consoleCast(server, chrome, PASSWORD);
      ({ notes, admin } = cast);
      graceId = cast.ids['grace@example.com'];
    });
    after(async () => {
      await admin?.close();
      await server?.close();
    });

    test('declares roles on the application, closes its sign-up and hands the password reset to the brand', async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Applications' }).click();
      await page.getByRole('link', { name: 'Notes' }).click();
      const access = page.locator('[data-testid="application-access"]');
      await access.getByText('This application declares no role.').waitFor();
      // A bad name first: the API's message shows next to the roles.
      await access.getByRole('button', { name: 'Add a role' }).click();
      await page.getByLabel('Role 1 name').fill('has space');
      await access.getByRole('button', { name: 'Save roles, sign-up and messages' }).click();
      await access.locator('.field-error', { hasText: /^roles/ }).waitFor();
      await page.getByLabel('Role 1 name').fill('editor');
      await page.getByLabel('Role 1 description').fill('Writes notes');
      await access.getByRole('button', { name: 'Add a role' }).click();
      await page.getByLabel('Role 2 name').fill('billing');
      await page.getByLabel('Role 2 is given by default').check();
      await page.getByLabel('Self-service sign-up').selectOption('closed');
      await page.getByLabel('Password reset: sent by').selectOption('brand');
      await access.getByRole('button', { name: 'Save roles, sign-up and messages' }).click();
      await page.getByText('Roles, sign-up and messages saved.').waitFor();
      const app = (await server.admin('GET', `/applications/${notes.client_id}`)).body;
      assert.deepEqual(app.roles, [
        { name: 'editor', description: 'Writes notes', default: false },
        { name: 'billing', description: null, default: true },
      ]);
      assert.equal(app.registration, 'closed');
      assert.deepEqual(app.message_delivery, { password_reset: 'brand' });
      await assertNoAxeViolations(page, 'application with roles');
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('creates a group holding a role, adds a member found by email and sets her data', async () => {
      const page = admin.page;
      await page.getByRole('link', { name: 'Groups', exact: true }).click();
      await page.getByText('No group yet.').waitFor();
      await page.getByLabel('Name').fill('Writers');
      await page.getByLabel('Description').fill('People who write');
      await page.getByRole('button', { name: 'Create group' }).click();
      await page.getByRole('heading', { name: 'Writers', level: 1 }).waitFor();
      groupId = new URL(page.url()).pathname.split('/').pop()!;
      await page.getByLabel('Application', { exact: true }).selectOption(notes.client_id);
      await page.getByRole('button', { name: 'Add its roles' }).click();
      await page.locator('[data-testid="group-roles"]').getByLabel('editor').check();
      await page.getByRole('button', { name: 'Save group' }).click();
      await page.getByText('Group saved.').waitFor();
      assert.deepEqual((await server.admin('GET', `/groups/${groupId}`)).body.roles, { [notes.client_id]: ['editor'] });

      await page.getByLabel('Add a member: email, username, name or id').fill('grace@');
      await page.getByRole('button', { name: 'Find users' }).click();
      await page.getByRole('button', { name: 'Add grace@example.com' }).click();
      await page.getByText('grace@example.com added.').waitFor();
      const members = page.locator('[data-testid="group-members"]');
      await members.getByRole('link', { name: 'grace@example.com' }).waitFor();

      // Data: not JSON is refused before it is sent; then an object is saved.
      const data = page.getByLabel('Data of grace@example.com (JSON)');
      await data.fill('{team: blue');
      await page.getByRole('button', { name: 'Save data of grace@example.com' }).click();
      await members.locator('.field-error', { hasText: /^data: is not JSON/ }).waitFor();
      await data.fill('{"team": "blue"}');
      await page.getByRole('button', { name: 'Save data of grace@example.com' }).click();
      await page.getByText('Data of grace@example.com saved.').waitFor();
      const [member] = (await server.admin('GET', `/groups/${groupId}/members`)).body;
      assert.deepEqual([member.user_id, member.data], [graceId, { team: 'blue' }]);
      await assertNoAxeViolations(page, 'group with a member');

      await page.getByRole('link', { name: 'Groups', exact: true }).click();
      const row = page.locator('[data-testid="groups"] tbody tr', { hasText: 'Writers' });
      await row.waitFor();
      assert.match(await row.innerText(), /People who write\s+Notes: editor\s+1$/);
      await assertNoAxeViolations(page, 'groups list');
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('taking off a role the group still holds is refused, next to the roles', async () => {
      const page = admin.page;
      await page.goto(`${server.url}/admin/applications/${notes.client_id}`);
      const access = page.locator('[data-testid="application-access"]');
      await access.getByRole('button', { name: 'Remove role editor' }).click();
      await access.getByRole('button', { name: 'Save roles, sign-up and messages' }).click();
      await access.locator('.field-error', { hasText: /^roles: the role "editor" is still held by 1 group/ }).waitFor();
      assert.equal(await page.getByLabel('Role 1 name').getAttribute('aria-invalid'), 'true');
      assert.deepEqual(
        (await server.admin('GET', `/applications/${notes.client_id}`)).body.roles.map((r: { name: string }) => r.name),
        ['editor', 'billing'],
        'nothing changed',
      );
      await assertNoAxeViolations(page, 'application with a refused role removal');
    });

    test('registers the user with the other role on the user page, which lists her groups', async () => {
      const page = admin.page;
      await page.goto(`${server.url}/admin/users/${graceId}`);
      await page.getByText('The user is registered with no application.').waitFor();
      await page.locator('[data-testid="user-groups"]').getByRole('link', { name: 'Writers' }).waitFor();
      await page.getByLabel('Register with', { exact: true }).selectOption(notes.client_id);
      const form = page.getByRole('form', { name: 'Register with an application' });
      await form.getByLabel('billing').check();
      await form.getByRole('button', { name: 'Register' }).click();
      await page.getByText('Registered with Notes.').waitFor();
      const row = page.locator(`[data-testid="user-registrations"] tr[data-application="${notes.client_id}"]`);
      await row.getByText('verified', { exact: true }).waitFor();
      assert.equal(await row.getByLabel('billing').isChecked(), true);
      assert.equal(await row.getByLabel('editor').isChecked(), false, "the group's role is not the registration's");
      const registration = (await server.admin('GET', `/users/${graceId}/registrations/${notes.client_id}`)).body;
      assert.deepEqual([registration.roles, registration.verified], [['billing'], true]);
      await assertNoAxeViolations(page, 'user page with registrations and groups');
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('a real RP login with scope openid roles groups carries both roles and the group', async () => {
      const rp = await discoverClient(server.url, notes.client_id, notes.client_secret);
      const start = await authorizationUrl(rp, { scope: 'openid roles groups' });
      const done = await signIn(new Browser(server.url), start, 'grace@example.com', PASSWORD);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `${done.status} ${done.html.slice(0, 300)}`);
      const claims = (await exchangeCode(rp, start, done.redirectedTo!)).claims()!;
      assert.deepEqual(claims.roles, ['billing', 'editor']);
      assert.deepEqual(claims.groups, ['Writers']);
    });

    test('changing the roles and removing the registration (after a confirmation) change the next login', async () => {
      const page = admin.page;
      const row = page.locator(`[data-testid="user-registrations"] tr[data-application="${notes.client_id}"]`);
      await row.getByLabel('editor').check();
      await row.getByLabel('billing').uncheck();
      await row.getByRole('button', { name: 'Save roles in Notes' }).click();
      await page.getByText('Roles in Notes saved.').waitFor();
      assert.deepEqual((await server.admin('GET', `/users/${graceId}/registrations/${notes.client_id}`)).body.roles, ['editor']);
      await confirm(page, 'Remove registration with Notes', /^Remove the registration with Notes\?/, 'Remove registration');
      await page.getByText('The user is registered with no application.').waitFor();
      assert.equal((await server.admin('GET', `/users/${graceId}/registrations/${notes.client_id}`)).status, 404);
      const rp = await discoverClient(server.url, notes.client_id, notes.client_secret);
      const start = await authorizationUrl(rp, { scope: 'openid roles groups' });
      const done = await signIn(new Browser(server.url), start, 'grace@example.com', PASSWORD);
      assert.deepEqual((await exchangeCode(rp, start, done.redirectedTo!)).claims()!.roles, ['editor'], "the group's role alone");
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test('an admin marks a registration verified; a viewer sees roles, groups, members and registrations without an edit button; the API refuses a change', async () => {
      // A second application, so that an admin would see the form to register grace with it.
      assert.equal((await server.admin('POST', '/applications', { name: 'Ledger', redirect_uris: [CALLBACK] })).status, 201);
      const made = await server.admin('POST', `/users/${graceId}/registrations`, { application: notes.client_id, roles: ['billing'] });
      assert.equal(made.body.verified, false);
      await admin.page.reload();
      await admin.page.getByRole('button', { name: 'Mark verified' }).click();
      await admin.page.getByText('Registration with Notes verified.').waitFor();
      assert.equal(await admin.page.getByLabel('Register with', { exact: true }).locator('option', { hasText: 'Ledger' }).count(), 1, 'the admin may register grace with Ledger');
      assert.equal((await server.admin('GET', `/users/${graceId}/registrations/${notes.client_id}`)).body.verified, true);
      const viewer = await openJourney(chrome);
      try {
        const page = viewer.page;
        page.setDefaultTimeout(10_000);
        await signInToConsole(page, server.url, 'vic@example.com', PASSWORD);
        const noButtons = async (where: string, names: Array<string | RegExp>) => {
          for (const name of names) assert.equal(await page.getByRole('button', { name }).count(), 0, `${where}: no ${name} button`);
        };
        await page.goto(`${server.url}/admin/applications/${notes.client_id}`);
        await page.locator('[data-testid="application-roles"]').waitFor();
        assert.equal(await page.getByLabel('Role 1 name').inputValue(), 'editor');
        assert.equal(await page.getByLabel('Role 1 name').isDisabled(), true);
        await noButtons('application', ['Add a role', /^Remove role/, 'Save roles, sign-up and messages']);

        await page.getByRole('link', { name: 'Groups', exact: true }).click();
        await page.locator('[data-testid="groups"]').getByRole('link', { name: 'Writers' }).click();
        await page.locator('[data-testid="group-members"]').getByRole('link', { name: 'grace@example.com' }).waitFor();
        assert.equal(await page.locator('[data-testid="group-roles"]').getByLabel('editor').isDisabled(), true);
        assert.equal(await page.getByLabel('Data of grace@example.com (JSON)').inputValue(), JSON.stringify({ team: 'blue' }, null, 2));
        await noButtons('group', ['Save group', 'Delete group', 'Add its roles', /^Take /, /^Remove /, /^Save data/, 'Find users', /^Add /]);
        await assertNoAxeViolations(page, 'group, read-only');

        await page.goto(`${server.url}/admin/groups`);
        await page.locator('[data-testid="groups"]').waitFor();
        await noButtons('groups', ['Create group']);

        await page.goto(`${server.url}/admin/users/${graceId}`);
        const row = page.locator(`[data-testid="user-registrations"] tr[data-application="${notes.client_id}"]`);
        await row.getByText('billing').waitFor();
        await row.getByText('verified', { exact: true }).waitFor();
        await page.locator('[data-testid="user-groups"]').getByRole('link', { name: 'Writers' }).waitFor();
        await noButtons('user', [/^Save roles/, /^Remove registration/, 'Mark verified', 'Register']);
        assert.equal(await page.getByLabel('Register with', { exact: true }).count(), 0);
        await assertNoAxeViolations(page, 'user page, read-only');

        const status = await page.evaluate(`fetch('/admin/session').then((r) => r.json()).then((s) =>
          fetch('/admin/api/groups/${groupId}/members/${graceId}', { method: 'DELETE', headers: { 'x-csrf-token': s.csrf_token } }))
          .then((r) => r.status)`);
        assert.equal(status, 403);
        assert.equal((await server.admin('GET', `/groups/${groupId}/members`)).body.length, 1, 'the member stays');
        assert.deepEqual(viewer.violations, [], 'no CSP violation');
      } finally {
        await viewer.close();
      }
    });
  });
}
