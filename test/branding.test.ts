// An application's look on the hosted pages, through the real server: a theme (light and dark
// colours, a font stack) as CSS custom properties in a stylesheet of our own origin, the footer text,
// https logos; every value validated (a bad colour, font stack or logo URL is a 400 naming the field,
// and nothing is saved); the pages' Content-Security-Policy stays strict (no inline style, no
// 'unsafe-inline'); the authenticator app's issuer is the application's name; and the console's
// preview of the sign-in page (admin-authenticated, 404 for an unknown application, an unsaved
// branding validated and shown, inert under its own policy).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { accountSignIn, ACCOUNT_PASSWORD } from './support/account.ts';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestUser, REDIRECT_URI, signIn, startLogin } from './support/hosted-pages.ts';
import { enrolTotp } from './support/mfa.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

const THEME = {
  display_name: 'Acme Notes',
  logo_uri: 'https://cdn.example.com/acme.png',
  primary_color: '#1A73E8',
  background_color: '#fdf6e3',
  text_color: '#1b1b1b',
  theme: { dark: { primary_color: '#8ab4f8', background_color: '#101418', text_color: '#eeeeee' } },
  font_stack: '"Acme Sans", Inter, -apple-system, system-ui, sans-serif',
  footer_text: 'Acme Notes, Inc. · Help: support.example.com',
};

/** The Content-Security-Policy as directive → sources. */
function policyOf(header: string | null): Map<string, string[]> {
  const policy = new Map<string, string[]>();
  for (const directive of (header ?? '').split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name) policy.set(name, values);
  }
  return policy;
}

function assertStrictStyles(header: string | null): void {
  const policy = policyOf(header);
  assert.ok(policy.has('style-src'), `a style-src in ${header}`);
  assert.ok(!policy.get('style-src')!.includes("'unsafe-inline'"), `no 'unsafe-inline' in ${header}`);
  assert.ok(!(policy.get('script-src') ?? []).includes("'unsafe-inline'"), `no inline script in ${header}`);
}

for (const kind of databaseKinds()) {
  describe(`branding (${kind})`, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer(kind, { env: { MFA_TOTP_ISSUER: 'Acme Identity' } });
    });
    after(() => server?.close());

    const createApp = async (branding: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> => {
      const created = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', branding, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.client_id;
    };

    it('a theme is CSS custom properties per colour scheme, in a stylesheet of our own origin; the footer text replaces the default', async () => {
      const clientId = await createApp(THEME);
      const read = await server.admin('GET', `/applications/${clientId}`);
      assert.equal(read.body.branding.primary_color, '#1A73E8');
      assert.equal(read.body.branding.background_color, '#fdf6e3');
      assert.deepEqual(read.body.branding.theme, { light: null, dark: { primary_color: '#8ab4f8', background_color: '#101418', text_color: '#eeeeee' } });
      assert.equal(read.body.branding.font_stack, THEME.font_stack);

      const browser = new Browser(server.url);
      const { page } = await startLogin(browser, server, clientId);
      assert.equal(page.doc.querySelector('.footer')?.text.trim(), THEME.footer_text);
      assert.doesNotMatch(page.html, /Secured by Tessera/);
      assert.equal(page.doc.querySelector('.brand-logo')?.getAttribute('src'), THEME.logo_uri);
      assert.equal(page.doc.querySelectorAll('style').length, 0, 'no inline style on a hosted page');
      assert.doesNotMatch(page.html, /\sstyle="/, 'no style attribute either');

      const link = page.doc
        .querySelectorAll('link[rel="stylesheet"]')
        .map((l) => l.getAttribute('href') ?? '')
        .find((href) => href.includes('/theme.css'));
      assert.ok(link, 'the page links its theme');
      assert.match(link, new RegExp(`^/assets/brand/${clientId}/theme\\.css\\?v=[A-Za-z0-9_-]{12}$`));
      const response = await fetch(new URL(link, server.url));
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/css/);
      const css = await response.text();
      const light = /@media \(prefers-color-scheme: light\)\{:root\{([^}]*)\}\}/.exec(css)?.[1] ?? '';
      const dark = /@media \(prefers-color-scheme: dark\)\{:root\{([^}]*)\}\}/.exec(css)?.[1] ?? '';
      assert.match(light, /--brand:#1a73e8/);
      assert.match(light, /--bg:#fdf6e3/);
      assert.match(light, /--text:#1b1b1b/);
      assert.match(dark, /--brand:#8ab4f8/);
      assert.match(dark, /--bg:#101418/);
      assert.match(dark, /--text:#eeeeee/);
      assert.doesNotMatch(dark, /#fdf6e3/, "the light background is not the dark scheme's");
      assert.match(css, /:root\{--font:"Acme Sans", Inter, -apple-system, system-ui, sans-serif;\}/);

      // A changed theme is a new stylesheet URL (no stale cache).
      const patched = await server.admin('PATCH', `/applications/${clientId}`, { branding: { background_color: '#ffffff' } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.branding.font_stack, THEME.font_stack, 'a partial branding keeps the rest');
      const again = await startLogin(new Browser(server.url), server, clientId);
      const newLink = again.page.doc
        .querySelectorAll('link[rel="stylesheet"]')
        .map((l) => l.getAttribute('href') ?? '')
        .find((href) => href.includes('/theme.css'));
      assert.ok(newLink && newLink !== link, `a new theme URL: ${newLink} after ${link}`);
    });

    it('the pages keep their strict policy with a theme', async () => {
      const clientId = await createApp(THEME);
      const browser = new Browser(server.url);
      const { page } = await startLogin(browser, server, clientId);
      const response = await fetch(page.url, { headers: { cookie: (await browser.jar.getCookieString(page.url)) ?? '' } });
      assertStrictStyles(response.headers.get('content-security-policy'));
      assert.deepEqual(policyOf(response.headers.get('content-security-policy')).get('style-src'), ["'self'"]);
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
    });

    it('without branding the footer is the default and no theme is linked', async () => {
      const clientId = await createApp({});
      const { page } = await startLogin(new Browser(server.url), server, clientId);
      assert.equal(page.doc.querySelector('.footer')?.text.trim(), 'Secured by Tessera');
      assert.ok(!page.html.includes('/theme.css'));
    });

    it('bad colours, font stacks, logo URLs and footer texts are 400s naming the field, and nothing is saved', async () => {
      const clientId = await createApp({ primary_color: '#112233' });
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ primary_color: 'red' }, 'branding.primary_color'],
        [{ background_color: '#fff' }, 'branding.background_color'],
        [{ background_color: '#ffffff;}body{display:none' }, 'branding.background_color'],
        [{ text_color: 'rgb(0,0,0)' }, 'branding.text_color'],
        [{ theme: { dark: { background_color: 'black' } } }, 'branding.theme.dark.background_color'],
        [{ theme: { light: { border_color: '#000000' } } }, 'branding.theme.light.border_color'],
        [{ theme: { sepia: {} } }, 'branding.theme.sepia'],
        [{ theme: 'dark' }, 'branding.theme'],
        [{ font_stack: 'Inter; } body { background: url(https://evil.example/x)' }, 'branding.font_stack'],
        [{ font_stack: 'url(https://evil.example/font.woff2)' }, 'branding.font_stack'],
        [{ font_stack: '"Evil\\"; } *{color:red} "' }, 'branding.font_stack'],
        [{ font_stack: 'Inter, </style><script>alert(1)</script>' }, 'branding.font_stack'],
        [{ font_stack: 'inherit' }, 'branding.font_stack'],
        [{ font_stack: 'Inter,,sans-serif' }, 'branding.font_stack'],
        [{ font_stack: 42 }, 'branding.font_stack'],
        [{ font_stack: 'Font 2, serif' }, 'branding.font_stack'],
        [{ font_stack: '--x, serif' }, 'branding.font_stack'],
        [{ logo_uri: 'http://cdn.example.com/logo.png' }, 'branding.logo_uri'],
        [{ logo_uri: 'javascript:alert(1)' }, 'branding.logo_uri'],
        [{ logo_uri: 'data:image/svg+xml,<svg/>' }, 'branding.logo_uri'],
        [{ logo_uri: 'https://user:pw@cdn.example.com/logo.png' }, 'branding.logo_uri'],
        [{ footer_text: 'line\nbreak' }, 'branding.footer_text'],
        [{ footer_text: 'x'.repeat(201) }, 'branding.footer_text'],
      ];
      for (const [branding, field] of cases) {
        const answer = await server.admin('PATCH', `/applications/${clientId}`, { branding });
        assert.equal(answer.status, 400, `${JSON.stringify(branding)}: ${JSON.stringify(answer.body)}`);
        assert.ok(JSON.stringify(answer.body).includes(field), `${JSON.stringify(branding)} names ${field}: ${JSON.stringify(answer.body)}`);
      }
      const created = await server.admin('POST', '/applications', { name: 'Bad', redirect_uris: [REDIRECT_URI], branding: { font_stack: 'url(x)' } });
      assert.equal(created.status, 400);
      assert.match(JSON.stringify(created.body), /branding\.font_stack/);
      const read = await server.admin('GET', `/applications/${clientId}`);
      assert.equal(read.body.branding.primary_color, '#112233');
      assert.equal(read.body.branding.font_stack ?? null, null);
      assert.equal(read.body.branding.logo_uri, null);
    });

    it("the authenticator app's issuer is the application's name", async () => {
      const clientId = await createApp({ display_name: 'Acme: Notes' }, { mfa: 'required' });
      await createTestUser(server, { email: 'issuer@example.com', password: 'issuer password 1' });
      const browser = new Browser(server.url);
      const { page } = await startLogin(browser, server, clientId);
      const enrol = await signIn(browser, page, 'issuer@example.com', 'issuer password 1');
      const { uri } = await enrolTotp(browser, enrol);
      const parsed = new URL(uri);
      assert.equal(parsed.searchParams.get('issuer'), 'Acme  Notes', 'the name, its colon (the label separator) made a space');
      assert.match(decodeURIComponent(parsed.pathname), /^\/Acme {2}Notes:issuer@example\.com$/);
      assert.doesNotMatch(uri, /Tessera/);
    });

    it("the account page's authenticator entry: the application's name when reached from one, MFA_TOTP_ISSUER otherwise", async () => {
      const clientId = await createApp({ display_name: 'Acme Shop' });
      const issuerOf = async (email: string, query: string): Promise<string | null> => {
        await createTestUser(server, { email, password: ACCOUNT_PASSWORD });
        const { browser, page } = await accountSignIn(server, email, ACCOUNT_PASSWORD, query);
        const setup = await browser.submit(page, {}, '#add-totp-form');
        const uri = setup.doc.querySelector('#totp-uri')?.getAttribute('href') ?? '';
        assert.match(uri, /^otpauth:\/\/totp\//, setup.html.slice(0, 300));
        return new URL(uri).searchParams.get('issuer');
      };
      assert.equal(await issuerOf('branded@example.com', `?client_id=${encodeURIComponent(clientId)}`), 'Acme Shop');
      assert.equal(await issuerOf('plain@example.com', ''), 'Acme Identity');
    });

    describe('the preview', () => {
      it('needs the admin key, answers 404 for an unknown application and 400 for an unknown page', async () => {
        const clientId = await createApp(THEME);
        const anonymous = await fetch(`${server.url}/admin/api/applications/${clientId}/preview?page=identify`);
        assert.equal(anonymous.status, 401);
        assert.doesNotMatch(await anonymous.text(), /Acme/);
        const wrongKey = await fetch(`${server.url}/admin/api/applications/${clientId}/preview`, { headers: { authorization: 'Bearer not-the-key-0123456789' } });
        assert.equal(wrongKey.status, 401);
        const unknown = await server.admin('GET', '/applications/no-such-app/preview?page=identify');
        assert.equal(unknown.status, 404);
        const unknownPost = await server.admin('POST', '/applications/no-such-app/preview', { branding: {} });
        assert.equal(unknownPost.status, 404);
        const badPage = await server.admin('GET', `/applications/${clientId}/preview?page=settings`);
        assert.equal(badPage.status, 400);
        assert.match(JSON.stringify(badPage.body), /page/);
      });

      it("shows the sign-in page in the application's branding, inert under its own strict policy", async () => {
        const clientId = await createApp(THEME);
        const response = await fetch(`${server.url}/admin/api/applications/${clientId}/preview?page=identify`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
        const html = await response.text();
        assert.match(html, /<h1>Sign in<\/h1>/);
        assert.match(html, /to continue to Acme Notes/);
        assert.ok(html.includes(THEME.footer_text));
        const style = /<style>([^<]*)<\/style>/.exec(html)?.[1];
        assert.ok(style?.includes('--bg:#fdf6e3'), 'the theme is in the page');
        const header = response.headers.get('content-security-policy');
        assertStrictStyles(header);
        const policy = policyOf(header);
        assert.deepEqual(policy.get('style-src'), ["'self'", `'sha256-${createHash('sha256').update(style!).digest('base64')}'`], 'the inline theme is allowed by its hash alone');
        assert.ok(policy.has('sandbox'), 'sandboxed');
        assert.deepEqual(policy.get('form-action'), ["'none'"]);
        assert.deepEqual(policy.get('frame-ancestors'), ["'self'"]);
        assert.equal(response.headers.get('x-frame-options'), 'SAMEORIGIN');
        assert.match(response.headers.get('cache-control') ?? '', /no-store/);

        const password = await server.admin('GET', `/applications/${clientId}/preview?page=password`);
        assert.equal(password.status, 200);
        assert.match(String(password.body), /Acme Notes/);
      });

      it('shows an unsaved branding (POST, or GET ?branding=) without saving it; a bad one is a 400 naming the field', async () => {
        const clientId = await createApp(THEME);
        const live = await server.admin('POST', `/applications/${clientId}/preview?page=identify`, {
          branding: { display_name: 'Acme Draft', footer_text: 'Draft footer', theme: { light: { background_color: '#abcdef' } } },
        });
        assert.equal(live.status, 200, String(live.body));
        assert.match(live.body, /to continue to Acme Draft/);
        assert.match(live.body, /Draft footer/);
        assert.match(live.body, /--bg:#abcdef/);
        const viaQuery = await server.admin('GET', `/applications/${clientId}/preview?branding=${encodeURIComponent(JSON.stringify({ footer_text: 'Query footer' }))}`);
        assert.equal(viaQuery.status, 200);
        assert.match(viaQuery.body, /Query footer/);
        const read = await server.admin('GET', `/applications/${clientId}`);
        assert.equal(read.body.branding.display_name, 'Acme Notes', 'nothing was saved');
        assert.equal(read.body.branding.footer_text, THEME.footer_text);

        const bad = await server.admin('POST', `/applications/${clientId}/preview`, { branding: { font_stack: 'x; } body{}' } });
        assert.equal(bad.status, 400);
        assert.match(JSON.stringify(bad.body), /branding\.font_stack/);
        const badQuery = await server.admin('GET', `/applications/${clientId}/preview?branding=${encodeURIComponent('{"primary_color":"blue"}')}`);
        assert.equal(badQuery.status, 400);
        assert.match(JSON.stringify(badQuery.body), /branding\.primary_color/);
        const extra = await server.admin('POST', `/applications/${clientId}/preview`, { name: 'x' });
        assert.equal(extra.status, 400);
        assert.match(extra.body.message, /^name: is not a known field \(known: branding\)/);
        // A preview changes nothing: the audit log does not list it as a change.
        const audit = await server.admin('GET', `/audit-log?target=${encodeURIComponent(clientId)}&limit=500`);
        assert.equal(audit.status, 200);
        const entries = Array.isArray(audit.body) ? audit.body : (audit.body.entries ?? audit.body.items ?? []);
        assert.ok(entries.length >= 1, `the creation is there: ${JSON.stringify(audit.body).slice(0, 300)}`);
        assert.ok(!entries.some((entry: { action: string }) => entry.action.includes('preview')), 'no preview in the audit log');
      });
    });
  });
}
