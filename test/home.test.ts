// GET / answers something useful: an HTML page for browsers and JSON for scripts, both with the
// issuer and links to discovery, the JWKS and health (no console link: there is no console yet),
// the page under the same Content-Security-Policy as every hosted page.
import assert from 'node:assert/strict';
import { parse } from 'node-html-parser';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`GET / (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server?.close();
    });

    test("a browser gets an HTML page with the issuer and the links, under the pages' CSP", async () => {
      const response = await fetch(`${server.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      const html = await response.text();
      const doc = parse(html);
      assert.match(doc.querySelector('main')?.text ?? '', new RegExp(`issuer ${server.url.replace(/[.]/g, '\\.')}`));
      const hrefs = doc.querySelectorAll('main a').map((a) => a.getAttribute('href'));
      assert.deepEqual(hrefs, ['/.well-known/openid-configuration', '/jwks', '/health']);
      assert.ok(!hrefs.some((href) => href?.startsWith('/admin')), 'no console link');

      // The same policy as a hosted page of the journey (here the error page of an unknown interaction).
      const page = await fetch(`${server.url}/interaction/unknown`, { headers: { accept: 'text/html' } });
      await page.arrayBuffer();
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const csp = response.headers.get('content-security-policy');
      assert.ok(csp?.includes("script-src 'none'"), `CSP: ${csp}`);
      assert.equal(csp, page.headers.get('content-security-policy'));
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
    });

    test('a script asking for JSON gets the issuer and absolute links that work', async () => {
      const response = await fetch(`${server.url}/`, { headers: { accept: 'application/json' } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('vary') ?? '', /accept/i);
      const body = (await response.json()) as { issuer: string; links: Record<string, string> };
      assert.equal(body.issuer, server.url);
      assert.deepEqual(Object.keys(body.links).sort(), ['health', 'jwks_uri', 'openid_configuration']);
      const discovery = (await (await fetch(body.links.openid_configuration!)).json()) as { issuer: string; jwks_uri: string };
      assert.equal(discovery.issuer, server.url);
      assert.equal(discovery.jwks_uri, body.links.jwks_uri);
      assert.deepEqual(await (await fetch(body.links.health!)).json(), { status: 'ok' });
    });
  });
}
