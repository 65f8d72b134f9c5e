// The administration console's sign-in and its hold on the admin API, without a browser's
// JavaScript: access granted with the real `tessera admin grant`, a sign-in through the hosted pages
// with a second factor, the HttpOnly session cookie and its CSRF header, the viewer's read-only role,
// the console's access token as a bearer, and sign-out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CLIENT_ID } from '../src/admin/console-client.ts';
import { consoleSignIn, grantConsole, tesseraAdmin, withSession } from './support/console.ts';
import { databaseKinds } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { alertText } from './support/browser.ts';

const PASSWORD = 'correct horse battery';

for (const kind of databaseKinds()) {
  describe(`console access (${kind})`, () => {
    let server: TestServer;
    const createUser = async (email: string) => {
      const made = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id as string;
    };

    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server?.close());

    test('the console is an application of this server, created at start, with MFA required', async () => {
      const app = await server.admin('GET', `/applications/${CONSOLE_CLIENT_ID}`);
      assert.equal(app.status, 200);
      assert.equal(app.body.mfa, 'required');
      assert.deepEqual(app.body.redirect_uris, [`${server.url}/admin/callback`]);
      assert.equal(app.body.client_secret, undefined, 'its secret is never shown');
    });

    test('GET /admin serves the single-page app under a CSP allowing only its own scripts', async () => {
      const response = await fetch(`${server.url}/admin`);
      assert.equal(response.status, 200);
      const html = await response.text();
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/);
      const nonce = /style-src 'self' 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
      assert.ok(nonce, csp);
      assert.ok(html.includes(`content="${nonce}"`), 'the page knows its nonce');
      assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script');
      const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1];
      assert.ok(script, html);
      const js = await fetch(new URL(script, server.url));
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      assert.match(js.headers.get('cache-control') ?? '', /immutable/);
      assert.equal((await fetch(`${server.url}/admin/assets/..%2f..%2fpackage.json`)).status, 404);
    });

    test('an admin granted by the CLI signs in with a second factor and uses the admin API through the session', async () => {
      const id = await createUser('ada@example.com');
      await grantConsole(server, 'ada@example.com');
      const { browser, page } = await consoleSignIn(server, 'ada@example.com', PASSWORD);
      assert.equal(new URL(page.url).pathname, '/admin/', `ends on the console: ${page.status} ${page.url} ${alertText(page) ?? ''}`);
      const cookies = await browser.jar.getCookies(`${server.url}/admin/`);
      const session = cookies.find((c) => c.key === 'tessera.console');
      assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(session?.sameSite, 'strict');

      const me = await withSession(browser, 'GET', '/admin/session');
      assert.equal(me.status, 200);
      assert.equal(me.body.user.id, id);
      assert.equal(me.body.role, 'admin');
      assert.ok(!JSON.stringify(me.body).includes('eyJ'), 'no token reaches the page');

      assert.equal((await withSession(browser, 'GET', '/admin/api/users?email=ada@example.com')).status, 200);
      const noCsrf = await withSession(browser, 'POST', '/admin/api/resource-servers', { body: { identifier: 'https://api.example.com', name: 'API' } });
      assert.equal(noCsrf.status, 403);
      assert.match(noCsrf.body.message, /x-csrf-token/);
      const wrongCsrf = await withSession(browser, 'POST', '/admin/api/resource-servers', { body: { identifier: 'https://api.example.com', name: 'API' }, csrf: 'x'.repeat(32) });
      assert.equal(wrongCsrf.status, 403);
      const made = await withSession(browser, 'POST', '/admin/api/resource-servers', { body: { identifier: 'https://api.example.com', name: 'API' }, csrf: me.body.csrf_token });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      // Every form of the path is still behind the guard: without the cookie, 401.
      assert.equal((await fetch(`${server.url}/ADMIN/api/users`)).status, 401);

      const out = await withSession(browser, 'POST', '/admin/logout', { csrf: me.body.csrf_token });
      assert.equal(out.status, 200);
      assert.match(out.body.end_session_url, /\/session\/end\?/);
      assert.equal((await withSession(browser, 'GET', '/admin/api/users')).status, 401, 'the session is gone');
      assert.equal((await withSession(browser, 'GET', '/admin/session')).status, 401);
    });

    test('a viewer reads but every change answers 403; a user without a grant cannot sign in', async () => {
      await createUser('vic@example.com');
      await grantConsole(server, 'vic@example.com', 'viewer');
      const { browser } = await consoleSignIn(server, 'vic@example.com', PASSWORD);
      const me = await withSession(browser, 'GET', '/admin/session');
      assert.equal(me.body.role, 'viewer');
      assert.equal((await withSession(browser, 'GET', '/admin/api/hooks')).status, 200);
      for (const [method, path, body] of [
        ['POST', '/admin/api/users', { email: 'new@example.com' }],
        ['PATCH', `/admin/api/applications/${CONSOLE_CLIENT_ID}`, { name: 'x' }],
        ['DELETE', '/admin/api/users/nobody', undefined],
        ['POST', '/admin/api/hooks/test', { event_type: 'after_login', code: 'export default async () => {}' }],
      ] as const) {
        const answer = await withSession(browser, method, path, { body, csrf: me.body.csrf_token });
        assert.equal(answer.status, 403, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error, 'forbidden');
      }

      await createUser('eve@example.com');
      const refused = await consoleSignIn(server, 'eve@example.com', PASSWORD);
      assert.equal(refused.page.status, 403);
      assert.match(alertText(refused.page) ?? '', /no console access/);
      assert.ok(refused.page.doc.querySelector('a[href="/admin/"]'), 'the error page has a way back');
      assert.equal((await withSession(refused.browser, 'GET', '/admin/api/users')).status, 401);
    });

    test('revoking access ends the sessions; the CLI refuses unknown emails and roles', async () => {
      await createUser('rita@example.com');
      await grantConsole(server, 'rita@example.com');
      const { browser } = await consoleSignIn(server, 'rita@example.com', PASSWORD);
      assert.equal((await withSession(browser, 'GET', '/admin/api/users')).status, 200);
      const revoke = await tesseraAdmin(server, ['revoke', 'rita@example.com']);
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.equal((await withSession(browser, 'GET', '/admin/api/users')).status, 401);

      const unknown = await tesseraAdmin(server, ['grant', 'ghost@example.com']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /no user has the email ghost@example.com/);
      const badRole = await tesseraAdmin(server, ['grant', 'rita@example.com', '--role', 'owner']);
      assert.equal(badRole.code, 2);
      assert.match(badRole.stderr, /--role: must be admin or viewer/);
    });

    test('the console application cannot be weakened through the API: MFA off is put back at the next sign-in', async () => {
      const patched = await server.admin('PATCH', `/applications/${CONSOLE_CLIENT_ID}`, { mfa: 'off' });
      assert.equal(patched.status, 200);
      await createUser('max@example.com');
      await grantConsole(server, 'max@example.com');
      const { page } = await consoleSignIn(server, 'max@example.com', PASSWORD);
      assert.equal(new URL(page.url).pathname, '/admin/');
      assert.equal((await server.admin('GET', `/applications/${CONSOLE_CLIENT_ID}`)).body.mfa, 'required');
    });
  });
}
