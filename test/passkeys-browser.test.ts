// Passkeys in a real browser: headless Chromium with its virtual authenticator (DevTools protocol
// WebAuthn.enable + WebAuthn.addVirtualAuthenticator, through playwright-core's CDP session), our
// page script (public/passkeys.js) under the pages' CSP, and openid-client as the relying party.
// A user enrols a passkey during MFA enrolment, signs in with it and no password, uses it as the
// second factor after the password; a captured assertion posted again is refused with a clear message.
// The issuer is http://localhost:<port> (the server listens on 127.0.0.1): an IP address cannot be an RP ID.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, CDPSession } from 'playwright-core';
import { parsePolicy } from '../src/http/csp.ts';
import { launchChromium, openJourney, type JourneyPage } from './support/chromium.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, discoverClient, exchangeCode, type RelyingParty } from './support/rp.ts';
import { startRpPages, type RpPages } from './support/rp-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ARRIVAL_TIMEOUT_MS = 15_000;
const PASSWORD = 'correct horse battery';

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

/** Waits for the page at `pathname` (a RegExp or an exact URL); fails saying where the journey stopped. */
async function arriveAt(journey: JourneyPage, where: string | RegExp, what: string): Promise<void> {
  try {
    await journey.page.waitForURL((at) => (typeof where === 'string' ? at.origin + at.pathname === where : where.test(at.pathname)), { timeout: ARRIVAL_TIMEOUT_MS, waitUntil: 'load' });
  } catch {
    const body = await journey.page
      .locator('body')
      .innerText()
      .catch(() => '(no body)');
    assert.fail(`${what}: the browser stayed on ${journey.page.url()} showing ${JSON.stringify(body.slice(0, 300))}; CSP violations: ${JSON.stringify(journey.violations)}`);
  }
}

/** A virtual platform authenticator with resident keys and user verification, answering by itself. */
async function virtualAuthenticator(journey: JourneyPage): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await journey.context.newCDPSession(journey.page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

for (const kind of databaseKinds()) {
  describe(`passkeys in headless Chromium with a virtual authenticator (${kind})`, () => {
    let server: TestServer;
    let rpPages: RpPages;
    let rp: RelyingParty;
    let origin: string;
    const email = 'ada@example.com';

    before(async () => {
      [server, rpPages] = await Promise.all([startTestServer(kind, { issuerHost: 'localhost' }), startRpPages()]);
      origin = server.env.ISSUER!;
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [rpPages.callback], mfa: 'required' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(origin, app.body.client_id, app.body.client_secret);
      const user = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
    });
    after(async () => {
      await Promise.all([server?.close(), rpPages?.close()]);
    });

    /** The claims of the ID token for the callback the browser reached last. */
    const claimsOfLastCallback = async (start: Awaited<ReturnType<typeof authorizationUrl>>) => {
      const hit = rpPages.callbacks.at(-1)!;
      return (await exchangeCode(rp, start, hit.url)).claims()!;
    };

    test('enrol a passkey during MFA, sign in with it and no password, use it as the second factor; a replayed assertion is refused', async () => {
      const journey = await openJourney(chrome);
      try {
        const { cdp, authenticatorId } = await virtualAuthenticator(journey);
        const { page } = journey;

        // 1. Password, then the MFA enrolment page offers a passkey; the browser creates one.
        const s1 = await authorizationUrl(rp, { redirect_uri: rpPages.callback });
        await page.goto(s1.url.toString());
        assert.equal(await page.locator('input[name="identifier"]').getAttribute('autocomplete'), 'username webauthn', 'conditional UI: the browser may offer passkeys in autofill');
        await page.locator('input[name="identifier"]').fill(email);
        await page.locator('form.stack button[type="submit"]').click();
        await page.locator('input[name="password"]').fill(PASSWORD);
        await page.locator('form.stack button[type="submit"]').click();
        await arriveAt(journey, /\/mfa\/enrol$/, 'MFA is required and Ada has no factor');
        await page.locator('#mfa-enrol-passkey button[type="submit"]').click();
        await arriveAt(journey, /\/mfa\/enrol\/passkey$/, 'the passkey was created and posted');
        await page.locator('form[action$="/mfa/continue"] button[type="submit"]').click();
        await arriveAt(journey, rpPages.callback, 'after the recovery codes, back to the application');
        const enrolled = await claimsOfLastCallback(s1);
        assert.deepEqual(enrolled.amr, ['pwd', 'hwk', 'mfa'], 'a device-bound passkey (not backup eligible): hwk');
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        assert.equal(credentials.length, 1, 'the authenticator holds one credential');
        assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential (a passkey)');

        // 2. No password. Conditional UI first: the identify page asks for a passkey in the username
        // field's autofill, and the virtual authenticator picks it as a user would; no button, no password.
        const isPasskeyPost = (request: { method(): string; url(): string }) => request.method() === 'POST' && /\/interaction\/[^/]+\/passkey$/.test(new URL(request.url()).pathname);
        const s2 = await authorizationUrl(rp, { redirect_uri: rpPages.callback, prompt: 'login' });
        const autofilled = page.waitForRequest(isPasskeyPost);
        await page.goto(s2.url.toString());
        await autofilled;
        await arriveAt(journey, rpPages.callback, 'the passkey offered by autofill signs in');
        const conditional = await claimsOfLastCallback(s2);
        assert.equal(conditional.sub, enrolled.sub);
        assert.deepEqual(conditional.amr, ['hwk', 'user', 'mfa'], 'possession and user verification: MFA is satisfied, no second step');

        // Then a browser without conditional UI: the "Sign in with a passkey" button.
        await journey.context.addInitScript('PublicKeyCredential.isConditionalMediationAvailable = async () => false;');
        const s2b = await authorizationUrl(rp, { redirect_uri: rpPages.callback, prompt: 'login' });
        await page.goto(s2b.url.toString());
        await page.locator('#passkey-sign-in button[type="submit"]').waitFor({ state: 'visible' });
        const posted = page.waitForRequest(isPasskeyPost);
        await page.locator('#passkey-sign-in button[type="submit"]').click();
        const assertion = await posted;
        await arriveAt(journey, rpPages.callback, 'the passkey alone signs in');
        const passwordless = await claimsOfLastCallback(s2b);
        assert.equal(passwordless.sub, enrolled.sub);
        assert.deepEqual(passwordless.amr, ['hwk', 'user', 'mfa']);
        assert.equal(passwordless.acr, 'urn:tessera:loa:2');
        const after2 = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!;
        assert.ok(after2.signCount > credentials[0]!.signCount, 'the signature counter grew');

        // 3. The captured assertion, posted again: to its own interaction (used up) and to a live one.
        const body = assertion.postData()!;
        assert.match(body, /response=/);
        const again = await page.request.post(assertion.url(), { headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: body, maxRedirects: 0 });
        assert.ok(again.status() >= 400, `the replay to its own interaction is refused (${again.status()})`);
        const callbacks = rpPages.callbacks.length;
        assert.equal(callbacks, 3, 'no new callback');
        const s3 = await authorizationUrl(rp, { redirect_uri: rpPages.callback, prompt: 'login' });
        await page.goto(s3.url.toString());
        const live = new URL(page.url()).pathname;
        const replay = await page.request.post(`${origin}${live}/passkey`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: body, maxRedirects: 0 });
        assert.equal(replay.status(), 400, 'the replay into a live sign-in is refused');
        assert.match(await replay.text(), /role="alert"[^>]*>\s*<p>This passkey answer was already used or has expired, so it was refused\./);
        assert.equal(rpPages.callbacks.length, callbacks, 'still no new callback');

        // 4. The passkey as the second factor after the password.
        await page.locator('input[name="identifier"]').fill(email);
        await page.locator('form.stack button[type="submit"]').click();
        await page.locator('input[name="password"]').fill(PASSWORD);
        await page.locator('form.stack button[type="submit"]').click();
        await arriveAt(journey, /\/mfa$/, 'MFA asks for the passkey');
        await page.locator('#mfa-passkey button[type="submit"]').click();
        await arriveAt(journey, rpPages.callback, 'the passkey as the second factor');
        assert.deepEqual((await claimsOfLastCallback(s3)).amr, ['pwd', 'hwk', 'mfa']);

        // The pages ran our one script and nothing else.
        assert.deepEqual(journey.violations, [], 'no CSP violation on the way');
        const passkeyPages = journey.documents.filter(
          (doc) => doc.url.startsWith(origin) && doc.contentType.startsWith('text/html') && /\/interaction\/[^/]+(\/mfa(\/enrol)?)?$/.test(new URL(doc.url).pathname) && doc.status === 200,
        );
        assert.ok(passkeyPages.length >= 3, 'the identify, enrolment and MFA pages were seen');
        for (const doc of passkeyPages) assert.deepEqual(parsePolicy(doc.csp ?? '').get('script-src'), ["'self'"], `${doc.url}: script-src 'self' only`);
      } finally {
        await journey.close();
      }
    });

    test('the account page adds a passkey (after its recent sign-in); it then signs in without a password', async () => {
      const other = 'bea@example.com';
      const made = await server.admin('POST', '/users', { email: other, password: PASSWORD, email_verified: true });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const plain = await server.admin('POST', '/applications', { name: 'Plain', redirect_uris: [rpPages.callback] });
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      const plainRp = await discoverClient(origin, plain.body.client_id, plain.body.client_secret);
      const journey = await openJourney(chrome);
      try {
        const { cdp, authenticatorId } = await virtualAuthenticator(journey);
        const { page } = journey;
        await page.goto(`${origin}/account`);
        await page.locator('input[name="identifier"]').fill(other);
        await page.locator('form.stack button[type="submit"]').first().click();
        await page.locator('input[name="password"]').fill(PASSWORD);
        await page.locator('form.stack button[type="submit"]').first().click();
        await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
        await page.locator('#add-passkey-form button[type="submit"]').click();
        await page.getByRole('heading', { level: 1, name: 'Add a passkey' }).waitFor();
        await page.locator('#account-passkey button[type="submit"]').click();
        // The first second step: its recovery codes are shown once.
        await page.getByText('Your passkey is added').waitFor();
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        assert.equal(credentials.length, 1, 'the browser holds the new passkey');
        const factors = (await server.admin('GET', `/users/${made.body.id}/factors`)).body as Array<{ type: string; status: string }>;
        assert.ok(
          factors.some((f) => f.type === 'passkey' && f.status === 'active'),
          JSON.stringify(factors),
        );

        // A sign-in at an application with that passkey alone, in a browser signed out (the same
        // authenticator): the identify page's autofill offers the passkey, and it signs in.
        await journey.context.clearCookies();
        const start = await authorizationUrl(plainRp, { redirect_uri: rpPages.callback });
        await page.goto(start.url.toString());
        await arriveAt(journey, rpPages.callback, "the account page's passkey signs in");
        const claims = (await exchangeCode(plainRp, start, rpPages.callbacks.at(-1)!.url)).claims()!;
        assert.equal(claims.sub, made.body.id);
        assert.ok((claims.amr as string[]).includes('hwk'), JSON.stringify(claims.amr));
        assert.deepEqual(journey.violations, [], 'no CSP violation on the way');
      } finally {
        await journey.close();
      }
    });
  });
}
