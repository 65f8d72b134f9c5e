// The brand's look in a real browser (headless Chromium). The console's live preview: an admin opens
// an application, types a footer text and a background colour, and the framed preview (the server's
// own sign-in page, GET /admin/api/applications/:client_id/preview with the unsaved branding) shows
// them before anything is saved; saving puts them on the real sign-in page; no CSP violation on the
// way (the preview's inline theme is allowed by its hash, the console frames it under frame-ancestors
// 'self'). The sign-in page itself: light and dark theme colours by prefers-color-scheme, the font stack.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium } from 'playwright-core';
import { Browser } from './support/browser.ts';
import { launchChromium, openJourney, type JourneyPage } from './support/chromium.ts';
import { assertNoAxeViolations, signInToConsole } from './support/console-chromium.ts';
import { grantConsole } from './support/console.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, REDIRECT_URI, startLogin } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const PASSWORD = 'correct horse battery';

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

for (const kind of databaseKinds()) {
  describe(`the console's brand preview in Chromium (${kind})`, () => {
    let server: TestServer;
    let admin: JourneyPage;
    let clientId: string;

    before(async () => {
      server = await startTestServer(kind);
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', branding: { display_name: 'Acme Notes' } });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      clientId = app.body.client_id;
      const made = await server.admin('POST', '/users', { email: 'ada@example.com', password: PASSWORD, email_verified: true });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      await grantConsole(server, 'ada@example.com');
      admin = await openJourney(chrome);
      admin.page.setDefaultTimeout(10_000);
    });
    after(async () => {
      await admin?.close();
      await server?.close();
    });

    test('typing a footer and a colour shows them in the framed preview before saving; saving puts them on the sign-in page', async () => {
      const page = admin.page;
      await signInToConsole(page, server.url, 'ada@example.com', PASSWORD);
      await page.goto(`${server.url}/admin/applications/${clientId}`);
      const frame = page.frameLocator('iframe.preview-frame');
      await frame.locator('h1', { hasText: 'Sign in' }).waitFor();
      assert.equal((await frame.locator('.footer').textContent())?.trim(), 'Secured by Tessera');

      await page.getByLabel('Footer text').fill('Acme Notes, Inc.');
      await page.getByLabel('Background colour (#rrggbb, light scheme)').fill('#fdf6e3');
      await frame.locator('.footer', { hasText: 'Acme Notes, Inc.' }).waitFor();
      const background = await frame
        .locator('body')
        .evaluate((body) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(body).backgroundColor);
      assert.equal(background, 'rgb(253, 246, 227)', 'the unsaved background is on the preview');
      assert.equal((await server.admin('GET', `/applications/${clientId}`)).body.branding.footer_text ?? null, null, 'nothing saved yet');

      await assertNoAxeViolations(page, 'application page with its preview');
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      const saved = await server.admin('GET', `/applications/${clientId}`);
      assert.equal(saved.body.branding.footer_text, 'Acme Notes, Inc.');
      assert.equal(saved.body.branding.background_color, '#fdf6e3');
      const { page: signInPage } = await startLogin(new Browser(server.url), server, clientId);
      assert.equal(signInPage.doc.querySelector('.footer')?.text.trim(), 'Acme Notes, Inc.');
      assert.deepEqual(admin.violations, [], 'no CSP violation');
    });

    test("the sign-in page honours prefers-color-scheme: the theme's light and dark colours, and its font stack", async () => {
      const patched = await server.admin('PATCH', `/applications/${clientId}`, {
        branding: { background_color: '#fdf6e3', theme: { dark: { background_color: '#101418', text_color: '#eeeeee' } }, font_stack: 'Georgia, serif' },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const { url } = authorizationUrl(server, clientId);
      const look = async (colorScheme: 'light' | 'dark') => {
        const context = await chrome.newContext({ colorScheme });
        try {
          const page = await context.newPage();
          await page.goto(url);
          await page.locator('input[name="identifier"]').waitFor();
          return await page.locator('body').evaluate((body) => {
            const style = (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string; color: string; fontFamily: string } }).getComputedStyle(body);
            return { background: style.backgroundColor, color: style.color, font: style.fontFamily };
          });
        } finally {
          await context.close();
        }
      };
      const light = await look('light');
      assert.equal(light.background, 'rgb(253, 246, 227)');
      assert.equal(light.font, 'Georgia, serif');
      const dark = await look('dark');
      assert.equal(dark.background, 'rgb(16, 20, 24)');
      assert.equal(dark.color, 'rgb(238, 238, 238)');
      assert.equal(dark.font, 'Georgia, serif');
    });
  });
}
