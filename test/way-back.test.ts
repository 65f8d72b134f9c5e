// A page with no pending sign-in is never a dead end: a used reset link, an expired activation link,
// an interaction opened in another browser or expired keep the application's branding and link
// "Back to <app>" to exactly its initiate_login_uri (without one, its first post-logout URI); with
// no application known the page is neutral and links to this server's home, "/". Mailed links
// record their application, so this holds after the sign-in that sent them has gone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestApplication, createTestUser, startLogin } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const LOGIN_URI = 'https://notes.example/login?from=tessera';
const DISPLAY_NAME = 'Notes by Acme';

/** The page's links whose text starts with `text`. */
const linksTo = (page: Page, text: RegExp) => page.doc.querySelectorAll('main a').filter((a) => text.test(a.text.trim()));

function assertBranded(page: Page, href: string) {
  assert.ok(alertText(page), `role="alert" on ${page.url}: ${page.html.slice(0, 300)}`);
  assert.equal(page.doc.querySelector('.brand-name')?.text.trim(), DISPLAY_NAME);
  const back = linksTo(page, /^Back to /);
  assert.equal(back.length, 1, `one way back on ${page.url}`);
  assert.equal(back[0]!.getAttribute('href'), href);
  assert.equal(back[0]!.text.trim(), `Back to ${DISPLAY_NAME}`);
}

function assertNeutral(page: Page) {
  assert.ok(alertText(page), `role="alert" on ${page.url}`);
  assert.equal(page.doc.querySelector('.brand-name')?.text.trim(), 'Tessera');
  assert.equal(linksTo(page, /^Back to /).length, 0);
  assert.ok(
    page.doc.querySelectorAll('main a').some((a) => a.getAttribute('href') === '/'),
    'a link to the home page',
  );
}

for (const kind of databaseKinds()) {
  describe(`a way back from pages with no pending sign-in (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      clientId = await createTestApplication(server, { branding: { display_name: DISPLAY_NAME }, initiate_login_uri: LOGIN_URI });
      await createTestUser(server, { email: 'alice@example.com', password: 'old password 1' });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    it('a used reset link: branded, with a link back to exactly initiate_login_uri, once the sign-in has gone too', async () => {
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      await browser.submit(await browser.get(`/interaction/${uid}/forgot-password`), { identifier: 'alice@example.com' });
      const link = linkIn(await smtp.waitFor('alice@example.com', /reset/i), `${server.url}/reset-password/`);
      const other = new Browser(server.url);
      const done = await other.submit(await other.get(link), { password: 'brand new password 2' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      // The sign-in that asked for the link is gone; the application is still known from the link.
      await server.server.services.db('oidc_models').where({ model: 'Interaction' }).delete();
      const used = await other.get(link);
      assert.equal(used.status, 410);
      assert.match(alertText(used) ?? '', /already been used/i);
      assertBranded(used, LOGIN_URI);
    });

    it('an expired activation link: branded, with a link back to initiate_login_uri', async () => {
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const registered = await browser.submit(await browser.get(`/interaction/${uid}/register`), {
        email: 'bob@example.com',
        password: 'correct horse battery',
        given_name: 'Bob',
        family_name: 'Lee',
      });
      assert.equal(registered.status, 200, alertText(registered) ?? '');
      const link = linkIn(await smtp.waitFor('bob@example.com', /activate/i), `${server.url}/activate/`);
      await server.server.services
        .db('action_tokens')
        .where({ kind: 'activation' })
        .whereNull('used_at')
        .update({ expires_at: Date.now() - 1000 });
      const expired = await new Browser(server.url).get(link);
      assert.equal(expired.status, 410);
      assert.match(alertText(expired) ?? '', /expired/i);
      assertBranded(expired, LOGIN_URI);
    });

    it('an interaction opened in another browser, or expired: branded, with the way back', async () => {
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const elsewhere = await new Browser(server.url).get(`/interaction/${uid}`);
      assert.equal(elsewhere.status, 400);
      assertBranded(elsewhere, LOGIN_URI);

      // Its time runs out (moved into the past rather than waiting): the same browser gets the same page.
      await server.server.services
        .db('oidc_models')
        .where({ model: 'Interaction', id: uid })
        .update({ expires_at: Date.now() - 1000 });
      const expired = await browser.get(`/interaction/${uid}`);
      assert.equal(expired.status, 400);
      assert.match(alertText(expired) ?? '', /expired/i);
      assertBranded(expired, LOGIN_URI);
    });

    it('an unknown interaction or link: a neutral page that links to the home page', async () => {
      assertNeutral(await new Browser(server.url).get('/interaction/no-such-interaction-uid'));
      assertNeutral(await new Browser(server.url).get(`/reset-password/${'x'.repeat(43)}`));
      assertNeutral(await new Browser(server.url).get(`/activate/${'y'.repeat(43)}`));
    });

    it('without initiate_login_uri: back to the first post-logout URI, else the home page, still branded', async () => {
      const withLogout = await createTestApplication(server, {
        branding: { display_name: DISPLAY_NAME },
        post_logout_redirect_uris: ['https://notes.example/signed-out'],
      });
      const first = new Browser(server.url);
      const { uid } = await startLogin(first, server, withLogout);
      assertBranded(await new Browser(server.url).get(`/interaction/${uid}`), 'https://notes.example/signed-out');

      const bare = await createTestApplication(server, { branding: { display_name: DISPLAY_NAME } });
      const { uid: bareUid } = await startLogin(new Browser(server.url), server, bare);
      const page = await new Browser(server.url).get(`/interaction/${bareUid}`);
      assert.equal(page.doc.querySelector('.brand-name')?.text.trim(), DISPLAY_NAME);
      assert.equal(linksTo(page, /^Back to /).length, 0);
      assert.ok(page.doc.querySelectorAll('main a').some((a) => a.getAttribute('href') === '/'));
    });

    it('initiate_login_uri: https, or http only on localhost; PATCH sets and clears it', async () => {
      const cases: Array<[unknown, RegExp]> = [
        ['http://notes.example/login', /^initiate_login_uri: must use https/],
        ['javascript:alert(1)', /^initiate_login_uri: must use https/],
        ['/login', /^initiate_login_uri: must be an absolute https URL/],
        ['https://notes.example/login#x', /^initiate_login_uri: must not contain a fragment/],
        ['https://user:pw@notes.example/login', /^initiate_login_uri: must not contain a user name/],
        [42, /^initiate_login_uri: must be an https URL/],
      ];
      for (const [value, message] of cases) {
        const refused = await server.admin('POST', '/applications', { name: 'Bad', redirect_uris: ['https://notes.example/cb'], initiate_login_uri: value });
        assert.equal(refused.status, 400, JSON.stringify(value));
        assert.match(refused.body.message, message, JSON.stringify(value));
      }
      const app = await server.admin('POST', '/applications', { name: 'Dev', redirect_uris: ['http://localhost:3000/cb'], initiate_login_uri: 'http://localhost:3000/login' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      assert.equal(app.body.initiate_login_uri, 'http://localhost:3000/login');
      const path = `/applications/${app.body.client_id}`;
      assert.equal((await server.admin('PATCH', path, { initiate_login_uri: 'https://dev.example/login' })).body.initiate_login_uri, 'https://dev.example/login');
      assert.equal((await server.admin('PATCH', path, { initiate_login_uri: null })).body.initiate_login_uri, null);
      assert.equal((await server.admin('GET', path)).body.initiate_login_uri, null);
    });
  });
}
