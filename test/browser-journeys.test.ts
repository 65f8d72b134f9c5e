// The journeys that only a real browser with JavaScript on can walk: response_mode=form_post and
// RP-initiated logout without a live session end on oidc-provider's auto-submitting form page, whose
// one inline script our Content-Security-Policy must allow (by its hash) and nothing else. Headless
// Chromium signs in through the hosted pages; a relying party on loopback receives the POST and
// exchanges the code with openid-client. Every other hosted page keeps script-src 'none'.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser as Chromium, Page as ChromiumPage } from 'playwright-core';
import { parsePolicy, DEFAULT_POLICY } from '../src/http/csp.ts';
import { Browser } from './support/browser.ts';
import { launchChromium, openJourney, type JourneyPage } from './support/chromium.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, discoverClient, exchangeCode, signIn, type AuthorizationStart, type RelyingParty } from './support/rp.ts';
import { startRpPages, type RpPages } from './support/rp-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ARRIVAL_TIMEOUT_MS = 15_000;

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

/** Waits until the page shows `url` (any query); fails saying where the journey stopped instead. */
async function arriveAt(journey: JourneyPage, url: string, what: string): Promise<void> {
  const target = new URL(url);
  try {
    await journey.page.waitForURL((at) => at.origin === target.origin && at.pathname === target.pathname, { timeout: ARRIVAL_TIMEOUT_MS, waitUntil: 'load' });
  } catch {
    const body = await journey.page
      .locator('body')
      .innerText()
      .catch(() => '(no body)');
    assert.fail(`${what}: the browser stayed on ${journey.page.url()} showing ${JSON.stringify(body.slice(0, 300))}; CSP violations: ${JSON.stringify(journey.violations)}`);
  }
}

/** The sha256 sources of script-src, and whether anything but them (or 'none' alone) is allowed. */
function scriptSources(csp: string | null): string[] {
  assert.ok(csp, 'the page has a Content-Security-Policy');
  return parsePolicy(csp).get('script-src') ?? [];
}

/** Every policy directive except script-src, as sent: the form_post pages must not differ there. */
function withoutScriptSrc(csp: string): Map<string, string[]> {
  const policy = parsePolicy(csp);
  policy.delete('script-src');
  return policy;
}

/** The identify, MFA and MFA enrolment pages offer a passkey (test/passkeys-browser.test.ts). */
const PASSKEY_PAGES = /^\/interaction\/[^/]+(\/mfa(\/enrol)?)?$/;

/**
 * The invariant over every page of our server that the journey received: script-src is 'none'
 * (our own script only, 'self', on the pages that offer a passkey), except on the provider's
 * form_post pages (`formPostPaths`), where it is exactly one sha256 hash and the rest of the policy is the default's (form-action included). Answers how many form_post pages were seen.
 */
function assertScriptPolicies(journey: JourneyPage, server: TestServer, formPostPaths: RegExp | null): number {
  let formPosts = 0;
  const pages = journey.documents.filter((doc) => new URL(doc.url).origin === server.url && doc.contentType.startsWith('text/html') && doc.status < 300);
  assert.ok(pages.length > 0, 'the journey received pages from the server');
  for (const doc of pages) {
    const sources = scriptSources(doc.csp);
    if (formPostPaths?.test(new URL(doc.url).pathname) && sources.length === 1 && /^'sha256-[A-Za-z0-9+/]+=*'$/.test(sources[0]!)) {
      formPosts += 1;
      assert.deepEqual(withoutScriptSrc(doc.csp!), withoutScriptSrc(DEFAULT_POLICY), `${doc.url}: only script-src differs from the default policy`);
    } else if (PASSKEY_PAGES.test(new URL(doc.url).pathname)) {
      // The pages that offer a passkey load our one script (public/passkeys.js), nothing inline.
      assert.deepEqual(sources, ["'self'"], `${doc.url} allows only its own script (${doc.csp})`);
    } else {
      assert.deepEqual(sources, ["'none'"], `${doc.url} keeps script-src 'none' (${doc.csp})`);
    }
  }
  return formPosts;
}

async function signInWithChromium(page: ChromiumPage, start: AuthorizationStart, email: string, password: string): Promise<void> {
  await page.goto(start.url.toString());
  await page.locator('input[name="identifier"]').fill(email);
  await page.locator('form.stack button[type="submit"]').click();
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form.stack button[type="submit"]').click();
}

for (const kind of databaseKinds()) {
  describe(`browser journeys in headless Chromium (${kind})`, () => {
    let server: TestServer;
    let rpPages: RpPages;
    let rp: RelyingParty;
    const email = 'grace@example.com';
    const password = 'correct horse battery';

    before(async () => {
      [server, rpPages] = await Promise.all([startTestServer(kind), startRpPages()]);
      const app = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [rpPages.callback],
        post_logout_redirect_uris: [rpPages.loggedOut],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const user = await server.admin('POST', '/users', { email, password, given_name: 'Grace', family_name: 'Hopper', email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
    });
    after(async () => {
      await Promise.all([server?.close(), rpPages?.close()]);
    });

    /** Signs in with the form browser (no JavaScript needed): answers the ID token. */
    async function idTokenWithoutChromium(): Promise<string> {
      const start = await authorizationUrl(rp, { redirect_uri: rpPages.callback });
      const done = await signIn(new Browser(server.url), start, email, password);
      assert.ok(done.redirectedTo?.startsWith(rpPages.callback), `${done.status} ${done.html.slice(0, 300)}`);
      const tokens = await exchangeCode(rp, start, done.redirectedTo!);
      return tokens.id_token!;
    }

    test('response_mode=form_post: Chromium signs in, the page POSTs code and state to the RP, the code exchanges for tokens', async () => {
      const journey = await openJourney(chrome);
      try {
        const start = await authorizationUrl(rp, { redirect_uri: rpPages.callback, response_mode: 'form_post' });
        const before = rpPages.callbacks.length;
        await signInWithChromium(journey.page, start, email, password);
        await arriveAt(journey, rpPages.callback, 'the form_post page submits to the redirect_uri');

        const hits = rpPages.callbacks.slice(before);
        assert.equal(hits.length, 1, 'the RP received one callback');
        const hit = hits[0]!;
        assert.equal(hit.method, 'POST');
        assert.equal(hit.params.get('state'), start.state);
        assert.ok(hit.params.get('code'), `the POST carries a code: ${hit.body}`);
        assert.equal(new URL(hit.url).search, '', 'the response is in the body, not the query');
        assert.equal(await journey.page.locator('#rp').innerText(), 'RP callback');

        // openid-client reads the POSTed form as the authorization response, as a real RP would.
        const callback = new Request(rpPages.callback, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: hit.body });
        const tokens = await exchangeCode(rp, start, callback);
        assert.ok(tokens.access_token);
        assert.equal(tokens.claims()?.iss, server.url);
        assert.equal(tokens.claims()?.aud, rp.clientId);

        assert.deepEqual(journey.violations, [], 'no CSP violation on the way');
        assert.equal(assertScriptPolicies(journey, server, /^\/auth(\/|$)/), 1, 'one form_post page, allowed by its hash');
      } finally {
        await journey.close();
      }
    });

    test('RP-initiated logout with a live session: the confirmation page signs out and returns to post_logout_redirect_uri', async () => {
      const journey = await openJourney(chrome);
      try {
        const start = await authorizationUrl(rp, { redirect_uri: rpPages.callback });
        const before = rpPages.callbacks.length;
        await signInWithChromium(journey.page, start, email, password);
        await arriveAt(journey, rpPages.callback, 'the code comes back on the query');
        const tokens = await exchangeCode(rp, start, rpPages.callbacks[before]!.url);

        const logoutsBefore = rpPages.logouts.length;
        await journey.page.goto(oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: rpPages.loggedOut, state: 'live-1' }).toString());
        await journey.page.locator('button[name="logout"][value="yes"]').click();
        await arriveAt(journey, rpPages.loggedOut, 'the confirmed logout returns to the RP');
        assert.deepEqual(
          rpPages.logouts.slice(logoutsBefore).map((hit) => hit.params.get('state')),
          ['live-1'],
        );

        // The session is gone: the next authorization asks for the identifier again.
        await journey.page.goto((await authorizationUrl(rp, { redirect_uri: rpPages.callback })).url.toString());
        await journey.page.locator('input[name="identifier"]').waitFor();

        assert.deepEqual(journey.violations, [], 'no CSP violation on the way');
        assert.equal(assertScriptPolicies(journey, server, null), 0, 'no page needed a script');
      } finally {
        await journey.close();
      }
    });

    test('RP-initiated logout without a session (id_token_hint): the browser ends on post_logout_redirect_uri, not a blank page', async () => {
      const idToken = await idTokenWithoutChromium();
      const journey = await openJourney(chrome);
      try {
        const before = rpPages.logouts.length;
        await journey.page.goto(oidc.buildEndSessionUrl(rp.config, { id_token_hint: idToken, post_logout_redirect_uri: rpPages.loggedOut, state: 'hint-1' }).toString());
        await arriveAt(journey, rpPages.loggedOut, 'the logout form_post page submits itself');
        assert.deepEqual(
          rpPages.logouts.slice(before).map((hit) => hit.params.get('state')),
          ['hint-1'],
        );
        assert.equal(await journey.page.locator('#rp').innerText(), 'RP logged out');
        assert.deepEqual(journey.violations, [], 'no CSP violation on the way');
        assert.equal(assertScriptPolicies(journey, server, /^\/session\/end$/), 1, 'one form_post page, allowed by its hash');
      } finally {
        await journey.close();
      }
    });

    test('RP-initiated logout without a session (client_id only): the browser ends on post_logout_redirect_uri', async () => {
      const journey = await openJourney(chrome);
      try {
        const before = rpPages.logouts.length;
        const url = oidc.buildEndSessionUrl(rp.config, { client_id: rp.clientId, post_logout_redirect_uri: rpPages.loggedOut, state: 'client-1' });
        await journey.page.goto(url.toString());
        await arriveAt(journey, rpPages.loggedOut, 'the logout form_post page submits itself');
        assert.deepEqual(
          rpPages.logouts.slice(before).map((hit) => hit.params.get('state')),
          ['client-1'],
        );
        assert.deepEqual(journey.violations, [], 'no CSP violation on the way');
        assert.equal(assertScriptPolicies(journey, server, /^\/session\/end$/), 1, 'one form_post page, allowed by its hash');
      } finally {
        await journey.close();
      }
    });

    test('the form_post page allows exactly the sha256 of the script it carries', async () => {
      const url = `${server.url}/session/end?${new URLSearchParams({ client_id: rp.clientId, post_logout_redirect_uri: rpPages.loggedOut })}`;
      const response = await fetch(url, { headers: { accept: 'text/html' } });
      assert.equal(response.status, 200);
      const html = await response.text();
      const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);
      assert.equal(scripts.length, 1, `one inline script: ${html}`);
      assert.equal((html.match(/<script/g) ?? []).length, 1, 'and no other script element');
      const digest = createHash('sha256').update(scripts[0]!).digest('base64');
      const csp = response.headers.get('content-security-policy')!;
      assert.deepEqual(scriptSources(csp), [`'sha256-${digest}'`]);
      assert.doesNotMatch(csp, /unsafe-/);
      assert.deepEqual(withoutScriptSrc(csp), withoutScriptSrc(DEFAULT_POLICY));
    });

    test("every other hosted page keeps script-src 'none' (the identify page: only our passkey script)", async () => {
      const journey = await openJourney(chrome);
      try {
        const { page } = journey;
        const policies: Record<string, string[]> = {};
        const visit = async (name: string, url: string) => {
          const response = await page.goto(url);
          assert.ok(response, `${name}: a response`);
          assert.match(response.headers()['content-type'] ?? '', /^text\/html/, `${name} is a page`);
          policies[name] = scriptSources(response.headers()['content-security-policy'] ?? null);
        };
        await visit('identify', (await authorizationUrl(rp, { redirect_uri: rpPages.callback })).url.toString());
        const interaction = new URL(page.url()).pathname;
        assert.match(interaction, /^\/interaction\/[^/]+$/);
        for (const step of ['forgot-password', 'forgot-username', 'register']) await visit(step, `${server.url}${interaction}/${step}`);
        await page.goto(`${server.url}${interaction}`);
        await page.locator('input[name="identifier"]').fill(email);
        await page.locator('form.stack button[type="submit"]').click();
        await page.locator('input[name="password"]').waitFor();
        await visit('password', page.url());
        await page.locator('input[name="password"]').fill(password);
        await page.locator('form.stack button[type="submit"]').click();
        await arriveAt(journey, rpPages.callback, 'the sign-in completes');

        await visit('provider error page', `${server.url}/auth?client_id=unknown`);
        await visit('our error page', `${server.url}/interaction/unknown`);
        await visit('reset-password with a bad token', `${server.url}/reset-password/not-a-token`);
        await visit('signed out', `${server.url}/session/end/success?client_id=${rp.clientId}`);
        // The logout confirmation (a live session) is our own page: it needs no script either.
        await visit('logout confirmation', `${server.url}/session/end?client_id=${rp.clientId}`);
        assert.ok(await page.locator('button[name="logout"]').count(), 'the confirmation page, not the form_post page');

        // The identify page offers a passkey: it loads our one script (public/passkeys.js), nothing else.
        const expected = Object.fromEntries(Object.keys(policies).map((name) => [name, name === 'identify' ? ["'self'"] : ["'none'"]]));
        assert.deepEqual(policies, expected);
        assert.deepEqual(journey.violations, []);
      } finally {
        await journey.close();
      }
    });
  });
}
