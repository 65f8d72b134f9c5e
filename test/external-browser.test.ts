// An external sign-in in a real browser (headless Chromium): "Continue with …" on the identify page,
// the upstream node-oidc-provider's own login and consent pages, its form_post answer (a cross-site
// POST, which carries none of Tessera's SameSite=Lax cookies) to /external/callback, and on to the RP
// with a code that openid-client exchanges. Requests that would leave loopback (the upstream dev
// pages' web font) are aborted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium } from 'playwright-core';
import { launchChromium, openJourney } from './support/chromium.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, discoverClient, exchangeCode, type RelyingParty } from './support/rp.ts';
import { startRpPages, type RpPages } from './support/rp-pages.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';
import { startUpstreamOidc, type Upstream } from './support/upstream.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

// One database kind: what this suite shows is the browser's side; both databases run the HTTP suite.
for (const kind of databaseKinds().slice(0, 1)) {
  describe(`external sign-in in headless Chromium (${kind})`, () => {
    let server: TestServer;
    let upstream: Upstream;
    let rpPages: RpPages;
    let rp: RelyingParty;

    before(async () => {
      const port = await freePort();
      [server, rpPages] = await Promise.all([startTestServer(kind, { env: { IDENTITY_PROVIDER_ALLOWED_HOSTS: `localhost:${port}` } }), startRpPages()]);
      upstream = await startUpstreamOidc({
        port,
        clients: [{ client_id: 'tessera', client_secret: 'upstream-secret-0123456789', redirect_uris: [`${server.url}/external/callback`] }],
        accounts: { grace: { email: 'grace@upstream.test', given_name: 'Grace' } },
      });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [rpPages.callback] });
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const provider = await server.admin('POST', '/identity-providers', {
        name: 'Upstream ID',
        type: 'oidc',
        issuer: upstream.url,
        client_id: 'tessera',
        client_secret: 'upstream-secret-0123456789',
        response_mode: 'form_post',
      });
      assert.equal(provider.status, 201, JSON.stringify(provider.body));
    });
    after(async () => {
      await Promise.all([server?.close(), upstream?.close(), rpPages?.close()]);
    });

    test('Continue with the provider, its login and consent, its form_post answer, and the RP gets a code', async () => {
      const journey = await openJourney(chrome);
      try {
        await journey.context.route(
          (url) => !LOOPBACK.has(url.hostname),
          (route) => route.abort(),
        );
        const start = await authorizationUrl(rp, { redirect_uri: rpPages.callback });
        const { page } = journey;
        await page.goto(start.url.toString());
        const button = page.getByRole('link', { name: 'Continue with Upstream ID' });
        assert.equal(await button.count(), 1, 'one accessible "Continue with" link');
        await button.click();
        await page.locator('input[name="login"]').fill('grace');
        await page.locator('input[name="password"]').fill('any');
        await page.locator('button[type="submit"]').click();
        await page.locator('button[type="submit"]', { hasText: 'Continue' }).click();
        await page.waitForURL((at) => at.origin === rpPages.origin, { timeout: 15_000, waitUntil: 'load' });
        const hit = rpPages.callbacks.at(-1)!;
        assert.equal(hit.params.get('state'), start.state);
        const tokens = await exchangeCode(rp, start, hit.url);
        const claims = tokens.claims()!;
        assert.deepEqual(claims.amr, ['fed']);
        assert.equal((await server.admin('GET', `/users/${claims.sub}`)).body.email, 'grace@upstream.test');
        // The callback was a cross-site POST: it went through without any of our cookies.
        const tesseraPages = journey.documents.filter((d) => d.url.startsWith(server.url));
        assert.ok(
          tesseraPages.some((d) => d.url.startsWith(`${server.url}/external/callback`) && d.status === 303),
          JSON.stringify(tesseraPages.map((d) => [d.url, d.status])),
        );
        assert.deepEqual(
          journey.violations.filter((v) => v.url.startsWith(server.url)),
          [],
          'no CSP violation on our pages',
        );
      } finally {
        await journey.close();
      }
    });
  });
}
