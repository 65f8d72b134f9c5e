// Passkeys without a browser: a software authenticator (test/support/webauthn.ts) answers the
// options the hosted pages carry, as the page script would post them. Enrolment during MFA,
// passwordless sign-in and passkey as a second factor as openid-client sees them (amr, acr), and
// every refusal: another origin, another RP ID, an unknown credential, a counter going backwards
// (a cloned authenticator), a replayed answer, an answer for another interaction, no CSRF token.
// Then the admin API lists the passkey with the user's factors and removes it (webhooks).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { recoveryCodesOf } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, LOGGED_OUT, signIn, type AuthorizationStart, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { passkeyOptionsOf, SoftAuthenticator } from './support/webauthn.ts';

const LOA2 = 'urn:tessera:loa:2';
const PASSWORD = 'correct horse battery';
const SIGN_IN_FORM = 'form#passkey-sign-in';
const MFA_FORM = 'form#mfa-passkey';
const ENROL_FORM = 'form#mfa-enrol-passkey';

for (const kind of databaseKinds()) {
  describe(`passkeys, server side (${kind})`, () => {
    let server: TestServer;
    let rp: RelyingParty;
    let relaxed: RelyingParty;
    const logLines: Array<Record<string, any>> = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });

    before(async () => {
      server = await startTestServer(kind, { log: createLogger('info', sink) });
      const createApp = async (body: Record<string, unknown>) => {
        const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], post_logout_redirect_uris: [LOGGED_OUT], ...body });
        assert.equal(app.status, 201, JSON.stringify(app.body));
        return discoverClient(server.url, app.body.client_id, app.body.client_secret);
      };
      rp = await createApp({ mfa: 'required' });
      relaxed = await createApp({ mfa: 'off' });
    });
    after(() => server.close());

    const createUser = async (email: string): Promise<string> => {
      const user = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      return user.body.id;
    };
    const claimsAt = async (client: RelyingParty, start: AuthorizationStart, page: Page) => {
      assert.ok(page.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 400)}`);
      return (await exchangeCode(client, start, page.redirectedTo!)).claims()!;
    };
    /** Signs in with the password to the MFA-required app and enrols a passkey there; answers the authenticator. */
    const enrolled = async (email: string, authenticator = new SoftAuthenticator(server.url)) => {
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const enrolPage = await signIn(browser, start, email, PASSWORD);
      assert.match(enrolPage.url, /\/mfa\/enrol$/);
      const answer = authenticator.create(passkeyOptionsOf(enrolPage, ENROL_FORM));
      const codesPage = await browser.submit(enrolPage, { response: JSON.stringify(answer) }, ENROL_FORM);
      assert.equal(recoveryCodesOf(codesPage).length, 10, `recovery codes follow the enrolment: ${alertText(codesPage) ?? codesPage.html.slice(0, 300)}`);
      const claims = await claimsAt(rp, start, await browser.submit(codesPage));
      return { authenticator, claims };
    };
    /** Opens the identify page of a new authorization to `client`. */
    const identifyPage = async (client: RelyingParty, browser = new Browser(server.url)) => {
      const start = await authorizationUrl(client);
      const page = await browser.get(start.url.toString());
      assert.ok(page.doc.querySelector(SIGN_IN_FORM), 'the identify page offers a passkey');
      return { browser, start, page };
    };

    test('enrolment during MFA, then a passwordless sign-in and a second factor: amr and acr as RFC 8176 says', async () => {
      const email = 'pat@example.com';
      const userId = await createUser(email);
      const { authenticator, claims } = await enrolled(email);
      assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa'], 'a device-bound passkey after the password: hwk');
      assert.equal(claims.acr, LOA2);

      // Passwordless: no identifier typed, the discoverable credential names the user.
      const { browser, start, page } = await identifyPage(rp);
      const options = passkeyOptionsOf(page, SIGN_IN_FORM);
      assert.equal(options.allowCredentials, undefined, 'the passwordless request names no account');
      assert.equal(options.userVerification, 'required');
      assert.equal(options.rpId, '127.0.0.1');
      const done = await browser.submit(page, { response: JSON.stringify(authenticator.get(options)) }, SIGN_IN_FORM);
      const pwless = await claimsAt(rp, start, done);
      assert.equal(pwless.sub, userId);
      assert.deepEqual(pwless.amr, ['hwk', 'user', 'mfa'], 'the passkey alone is two factors: the MFA policy asks no more');
      assert.equal(pwless.acr, LOA2);

      // As the second factor after the password.
      const b2 = new Browser(server.url);
      const s2 = await authorizationUrl(rp);
      const mfaPage = await signIn(b2, s2, email, PASSWORD);
      const mfaOptions = passkeyOptionsOf(mfaPage, MFA_FORM);
      assert.equal(mfaOptions.allowCredentials.length, 1, 'the second factor asks for this user’s passkeys');
      const second = await claimsAt(rp, s2, await b2.submit(mfaPage, { response: JSON.stringify(authenticator.get(mfaOptions)) }, MFA_FORM));
      assert.deepEqual(second.amr, ['pwd', 'hwk', 'mfa']);

      // The admin API lists it among the factors, with its details and no key.
      const factors = (await server.admin('GET', `/users/${userId}/factors`)).body;
      const passkey = factors.find((f: any) => f.type === 'passkey');
      assert.ok(passkey, JSON.stringify(factors));
      assert.equal(passkey.status, 'active');
      assert.equal(passkey.passkey.device_type, 'singleDevice');
      assert.equal(passkey.passkey.backed_up, false);
      assert.deepEqual(passkey.passkey.transports, ['internal']);
      assert.equal(passkey.passkey.counter, 2);
      assert.ok(passkey.passkey.last_used_at);
      assert.equal(JSON.stringify(passkey).includes('public_key'), false);
      assert.ok(factors.some((f: any) => f.type === 'recovery_codes'));

      // The service the account page calls renames it (the user's own passkeys only).
      const service = server.server.services.passkeys;
      assert.equal(await service.rename(userId, passkey.id, '  Work   laptop '), true);
      assert.equal(await service.rename('someone-else', passkey.id, 'Mine now'), false);
      assert.equal((await service.find(userId, passkey.id))?.name, 'Work laptop');

      // Removed by an operator: the passkey no longer signs in; the webhooks told both changes.
      assert.equal((await server.admin('DELETE', `/users/${userId}/factors/${passkey.id}`)).status, 204);
      const again = await identifyPage(rp);
      const refused = await again.browser.submit(again.page, { response: JSON.stringify(authenticator.get(passkeyOptionsOf(again.page, SIGN_IN_FORM))) }, SIGN_IN_FORM);
      assert.equal(refused.status, 400);
      assert.match(alertText(refused) ?? '', /not registered here/);
      const events = await server.server.services.db('webhook_events').whereIn('type', ['user.two-factor.method.add', 'user.two-factor.method.remove']).orderBy('created_at');
      const mine = events.map((e: any) => ({ type: e.type, data: JSON.parse(e.data) })).filter((e: any) => e.data.user_id === userId);
      assert.deepEqual(
        mine.map((e: any) => [e.type, e.data.factor.type, e.data.factor.id]),
        [
          ['user.two-factor.method.add', 'passkey', passkey.id],
          ['user.two-factor.method.remove', 'passkey', passkey.id],
        ],
      );
    });

    test('a synced passkey (backup eligible) gives amr swk', async () => {
      const email = 'sync@example.com';
      await createUser(email);
      const { authenticator, claims } = await enrolled(email, new SoftAuthenticator(server.url, { synced: true }));
      assert.deepEqual(claims.amr, ['pwd', 'swk', 'mfa']);
      const { browser, start, page } = await identifyPage(relaxed);
      const done = await browser.submit(page, { response: JSON.stringify(authenticator.get(passkeyOptionsOf(page, SIGN_IN_FORM))) }, SIGN_IN_FORM);
      assert.deepEqual((await claimsAt(relaxed, start, done)).amr, ['swk', 'user', 'mfa']);
    });

    test('refused: another origin, another RP ID, no user verification, an unknown credential, a counter going backwards, a replay, another interaction', async () => {
      const email = 'eve-target@example.com';
      await createUser(email);
      const { authenticator } = await enrolled(email);
      const attempt = async (lie: Parameters<SoftAuthenticator['get']>[1], expected: RegExp, what: string, other?: SoftAuthenticator) => {
        const { browser, page } = await identifyPage(relaxed);
        const answer = (other ?? authenticator).get(passkeyOptionsOf(page, SIGN_IN_FORM), lie);
        const result = await browser.submit(page, { response: JSON.stringify(answer) }, SIGN_IN_FORM);
        assert.equal(result.redirectedTo, null, `${what}: no sign-in`);
        assert.equal(result.status, 400, `${what}: ${result.status}`);
        assert.match(alertText(result) ?? '', expected, what);
      };
      await attempt({ origin: 'https://evil.example' }, /could not be verified/, 'another origin');
      await attempt({ rpId: 'evil.example' }, /could not be verified/, 'another RP ID');
      await attempt({ uv: false }, /could not be verified/, 'no user verification on a passwordless sign-in');
      const stranger = new SoftAuthenticator(server.url);
      stranger.create({ challenge: 'x', rp: {}, user: { id: 'eA' } });
      await attempt({}, /not registered here/, 'an unknown credential', stranger);
      // A good sign-in sets the counter the server knows; then one that does not grow past it.
      const good = await identifyPage(relaxed);
      await claimsAt(relaxed, good.start, await good.browser.submit(good.page, { response: JSON.stringify(authenticator.get(passkeyOptionsOf(good.page, SIGN_IN_FORM))) }, SIGN_IN_FORM));
      const counter = authenticator.credentials[0]!.counter;
      await attempt({ counter }, /may have been copied/, 'a counter that does not grow (a cloned authenticator)');
      await attempt({ counter: Math.max(0, counter - 1) }, /may have been copied/, 'a counter going backwards');
      const warnings = logLines.filter((l) => l.level === 40 && /cloned authenticator/.test(l.msg));
      assert.equal(warnings.length, 2, 'each refused counter is logged as a possible clone');
      assert.equal(warnings[0]!.stored_counter, counter);
      assert.equal(/clientDataJSON|authenticatorData/.test(JSON.stringify(logLines)), false, 'the answers themselves are never logged');
      await attempt({ challenge: 'bm90LWEtY2hhbGxlbmdlLWZyb20tdGhpcy1zZXJ2ZXI' }, /already used or has expired/, 'a challenge this server never issued');

      // A good answer works once: posted again (same interaction, or another one), it is refused.
      const { browser, start, page } = await identifyPage(relaxed);
      const answer = JSON.stringify(authenticator.get(passkeyOptionsOf(page, SIGN_IN_FORM)));
      const form = browser.form(page, SIGN_IN_FORM);
      // Another interaction of the same browser first: its challenge is not this one.
      const other = await identifyPage(relaxed, browser);
      const elsewhere = await browser.submit(other.page, { response: answer }, SIGN_IN_FORM);
      assert.equal(elsewhere.status, 400);
      assert.match(alertText(elsewhere) ?? '', /already used or has expired/, 'an answer for another interaction');
      // The answer still works in its own interaction (the refusal elsewhere did not spend it)…
      const first = await browser.post(form.action, { ...form.fields, response: answer });
      await claimsAt(relaxed, start, first);
      // …and only once.
      const third = await identifyPage(relaxed, new Browser(server.url));
      const replayed = await third.browser.submit(third.page, { response: answer }, SIGN_IN_FORM);
      assert.equal(replayed.status, 400);
      assert.match(alertText(replayed) ?? '', /already used or has expired/, 'a replayed answer');
    });

    test("as a second factor, only the user's own passkeys count", async () => {
      await createUser('xavier@example.com');
      await createUser('yvonne@example.com');
      const { authenticator: xavier } = await enrolled('xavier@example.com');
      await enrolled('yvonne@example.com');
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const mfaPage = await signIn(browser, start, 'yvonne@example.com', PASSWORD);
      const refused = await browser.submit(mfaPage, { response: JSON.stringify(xavier.get(passkeyOptionsOf(mfaPage, MFA_FORM))) }, MFA_FORM);
      assert.equal(refused.redirectedTo, null, "Xavier's passkey does not finish Yvonne's sign-in");
      assert.equal(refused.status, 400);
      assert.match(alertText(refused) ?? '', /not registered here/);
    });

    test('a disabled account does not sign in with its passkey', async () => {
      const email = 'gone@example.com';
      const userId = await createUser(email);
      const { authenticator } = await enrolled(email);
      assert.equal((await server.admin('POST', `/users/${userId}/disable`)).status, 200);
      const { browser, page } = await identifyPage(relaxed);
      const refused = await browser.submit(page, { response: JSON.stringify(authenticator.get(passkeyOptionsOf(page, SIGN_IN_FORM))) }, SIGN_IN_FORM);
      assert.equal(refused.redirectedTo, null);
      assert.equal(refused.status, 403);
      assert.equal(alertText(refused), 'This account cannot sign in right now.');
    });

    test('a sync after_mfa_change hook sees the passkey enrolment and may refuse it: nothing is stored', async () => {
      const hook = await server.admin('POST', '/hooks', {
        name: 'no passkeys',
        event: 'after_mfa_change',
        mode: 'sync',
        code: "export default async function (event, api) { console.log(JSON.stringify(event.factor)); if (event.factor.type === 'passkey') api.deny('Passkeys are not allowed here.'); }",
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      try {
        const email = 'hooked@example.com';
        const userId = await createUser(email);
        const browser = new Browser(server.url);
        const start = await authorizationUrl(rp);
        const enrolPage = await signIn(browser, start, email, PASSWORD);
        const answer = new SoftAuthenticator(server.url).create(passkeyOptionsOf(enrolPage, ENROL_FORM));
        const refused = await browser.submit(enrolPage, { response: JSON.stringify(answer) }, ENROL_FORM);
        assert.equal(refused.status, 403);
        assert.equal(alertText(refused), 'Passkeys are not allowed here.');
        assert.deepEqual((await server.admin('GET', `/users/${userId}/factors`)).body, [], 'no factor, no recovery codes');
        assert.equal((await server.server.services.passkeys.list(userId)).length, 0);
      } finally {
        assert.equal((await server.admin('DELETE', `/hooks/${hook.body.id}`)).status, 204);
      }
    });

    test('the passkey endpoints need the form token and a well-formed answer, and name no account', async () => {
      const { browser, page } = await identifyPage(relaxed);
      const form = browser.form(page, SIGN_IN_FORM);
      const noToken = await browser.post(form.action, { response: '{}' });
      assert.equal(noToken.status, 403, 'no CSRF token: refused before anything runs');
      const junk = await browser.post(form.action, { ...form.fields, response: 'not json' });
      assert.equal(junk.status, 400);
      assert.match(alertText(junk) ?? '', /sent no passkey/);
      assert.equal(page.html.includes('@example.com'), false, 'the identify page names nobody');
    });
  });
}
