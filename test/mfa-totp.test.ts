// Multi-factor authentication with an authenticator app, as a real relying party (openid-client)
// sees it: enrolment during login (QR code, otpauth URI, secret, confirmed by a first code computed
// here by an RFC 6238 implementation independent of the server's), the ID token's amr and acr, a
// replayed code refused, recovery codes that work once, acr_values loa:2 asking for MFA (also across
// an existing session), "remember this device", and the admin API's factor routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { waitForExecutions } from './support/hook-peer.ts';
import { assertCodePage, assertEnrolPage, enrolTotp, isCodePage, logged, recoveryCodesOf, totp } from './support/mfa.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, LOGGED_OUT, signIn, type AuthorizationStart, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const LOA1 = 'urn:tessera:loa:1';
const LOA2 = 'urn:tessera:loa:2';
const PASSWORD = 'correct horse battery';

for (const kind of databaseKinds()) {
  describe(`MFA with an authenticator app (${kind})`, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    const createApp = async (body: Record<string, unknown>): Promise<RelyingParty> => {
      const app = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: [LOGGED_OUT],
        ...body,
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      return discoverClient(server.url, app.body.client_id, app.body.client_secret);
    };
    const createUser = async (email: string): Promise<string> => {
      const user = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      return user.body.id;
    };
    /** Finishes at the callback: exchanges the code and answers the verified ID token claims. */
    const tokensOf = async (rp: RelyingParty, start: AuthorizationStart, page: Page) => {
      assert.ok(page.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 300)}`);
      const tokens = await exchangeCode(rp, start, page.redirectedTo!);
      return tokens.claims()!;
    };
    /** Enrols TOTP on the enrolment page; answers the secret and the recovery codes, at the callback. */
    const enrolAndFinish = async (browser: Browser, enrolPage: Page, extra: Record<string, string> = {}) => {
      const { page, secret, uri } = await enrolTotp(browser, enrolPage);
      const done = await browser.submit(page, { code: totp(secret), ...extra });
      const codes = recoveryCodesOf(done);
      assert.equal(codes.length, 10, `ten recovery codes are shown: ${alertText(done) ?? done.html.slice(0, 300)}`);
      const finished = await browser.submit(done);
      return { secret, uri, codes, finished };
    };

    test('discovery advertises the acr values', async () => {
      const rp = await createApp({});
      assert.deepEqual(rp.config.serverMetadata().acr_values_supported, [LOA1, LOA2]);
    });

    test('TOTP: enrolment during login, amr and acr in the ID token, replay refused, recovery codes work once', async () => {
      const rp = await createApp({ mfa: 'required' });
      const email = 'tom@example.com';
      const userId = await createUser(email);

      // The policy requires MFA and Tom has no factor: he enrols during the login.
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const enrolPage = await signIn(browser, start, email, PASSWORD);
      assertEnrolPage(enrolPage);
      const { page: codePage, secret, uri } = await enrolTotp(browser, enrolPage);
      const img = codePage.doc.querySelector('.qr img')?.getAttribute('src') ?? '';
      assert.match(img, /^data:image\/png;base64,[A-Za-z0-9+/=]{200,}$/, 'a QR code image is inline');
      const parsed = new URL(uri);
      assert.equal(parsed.protocol, 'otpauth:');
      assert.equal(parsed.host, 'totp');
      assert.equal(parsed.searchParams.get('secret'), secret);
      assert.match(decodeURIComponent(parsed.pathname), /tom@example\.com/);

      const wrong = await browser.submit(codePage, { code: totp(secret, 5) });
      assert.equal(wrong.status, 400);
      assert.match(alertText(wrong) ?? '', /not correct/);
      const enrolCode = totp(secret);
      const done = await browser.submit(wrong, { code: enrolCode });
      const codes = recoveryCodesOf(done);
      assert.equal(codes.length, 10, alertText(done) ?? done.html.slice(0, 500));
      assert.equal(new Set(codes).size, 10);
      const claims = await tokensOf(rp, start, await browser.submit(done));
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(claims.acr, LOA2);
      assert.equal(claims.sub, userId);

      // The admin API lists the factors without any secret.
      const listed = await server.admin('GET', `/users/${userId}/factors`);
      assert.equal(listed.status, 200);
      assert.deepEqual(
        listed.body.map((f: any) => [f.type, f.status]),
        [
          ['totp', 'active'],
          ['recovery_codes', 'active'],
        ],
      );
      assert.equal(listed.body[1].remaining_codes, 10);
      const text = JSON.stringify(listed.body);
      assert.ok(!text.includes(secret), 'the TOTP secret is never answered');
      for (const code of codes) assert.ok(!text.includes(code.replace('-', '')) && !text.includes(code));
      assert.doesNotMatch(text, /secret|hash/);

      // The next login asks for a code; the one used at enrolment cannot be used again.
      const second = new Browser(server.url);
      const start2 = await authorizationUrl(rp);
      const challenge = await signIn(second, start2, email, PASSWORD);
      assertCodePage(challenge);
      const replay = await second.submit(challenge, { code: enrolCode });
      assert.equal(replay.status, 400);
      assert.match(alertText(replay) ?? '', /already used/);
      const next = await second.submit(replay, { code: totp(secret, 1) });
      const claims2 = await tokensOf(rp, start2, next);
      assert.deepEqual(claims2.amr, ['pwd', 'otp', 'mfa']);

      // A recovery code works once.
      const useRecovery = async (code: string) => {
        const b = new Browser(server.url);
        const s = await authorizationUrl(rp);
        const page = await signIn(b, s, email, PASSWORD);
        assertCodePage(page);
        const recoveryPage = await b.submit(page, {}, 'form#mfa-recovery');
        assertCodePage(recoveryPage);
        assert.match(recoveryPage.doc.querySelector('label[for="f-code"]')?.text ?? '', /Recovery code/);
        return { b, s, answer: await b.submit(recoveryPage, { code }) };
      };
      const first = await useRecovery(codes[0]!);
      const claims3 = await tokensOf(rp, first.s, first.answer);
      assert.ok((claims3.amr as string[]).includes('mfa'));
      const again = await useRecovery(codes[0]!);
      assert.equal(again.answer.status, 400);
      assert.match(alertText(again.answer) ?? '', /not correct/);
      const other = await again.b.submit(again.answer, { code: codes[1]!.toUpperCase().replace('-', ' ') });
      await tokensOf(rp, again.s, other);
      const after = await server.admin('GET', `/users/${userId}/factors`);
      assert.equal(after.body.find((f: any) => f.type === 'recovery_codes').remaining_codes, 8);
    });

    test('acr_values loa:2 gets MFA, also from a session that only used a password', async () => {
      const rp = await createApp({ mfa: 'off' });
      const email = 'ann@example.com';
      await createUser(email);
      const browser = new Browser(server.url);

      // Policy "off", no acr asked: the password alone.
      const plain = await authorizationUrl(rp);
      const claims = await tokensOf(rp, plain, await signIn(browser, plain, email, PASSWORD));
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(claims.acr, LOA1);

      // The same browser's session is not enough for loa:2: Ann signs in again, and enrols.
      const strong = await authorizationUrl(rp, { acr_values: LOA2 });
      const page = await browser.get(strong.url.toString());
      assert.equal(page.redirectedTo, null, 'the password-only session does not satisfy loa:2');
      const passwordPage = await browser.submit(page, { identifier: email });
      const enrolPage = await browser.submit(passwordPage, { password: PASSWORD });
      assertEnrolPage(enrolPage);
      const { finished, secret } = await enrolAndFinish(browser, enrolPage);
      const strongClaims = await tokensOf(rp, strong, finished);
      assert.equal(strongClaims.acr, LOA2);
      assert.deepEqual(strongClaims.amr, ['pwd', 'otp', 'mfa']);

      // The session is now loa:2: single sign-on without pages, for loa:2 too.
      const sso = await authorizationUrl(rp, { acr_values: LOA2 });
      const ssoClaims = await tokensOf(rp, sso, await browser.get(sso.url.toString()));
      assert.equal(ssoClaims.acr, LOA2);

      // Policy "off" never asks by itself, even though Ann now has a factor.
      const fresh = new Browser(server.url);
      const noAcr = await authorizationUrl(rp);
      const freshClaims = await tokensOf(rp, noAcr, await signIn(fresh, noAcr, email, PASSWORD));
      assert.deepEqual(freshClaims.amr, ['pwd']);
      // ...but loa:2 does, with the factor she has.
      const stepUp = await authorizationUrl(rp, { acr_values: LOA2 });
      const passwordAgain = await fresh.submit(await fresh.get(stepUp.url.toString()), { identifier: email });
      const challenge = await fresh.submit(passwordAgain, { password: PASSWORD });
      assertCodePage(challenge);
      const stepped = await tokensOf(rp, stepUp, await fresh.submit(challenge, { code: totp(secret, 1) }));
      assert.equal(stepped.acr, LOA2);
    });

    test('"remember this device" skips MFA on the next login in the same browser only', async () => {
      const rp = await createApp({ mfa: 'required', remember_device_days: 30 });
      const email = 'rem@example.com';
      await createUser(email);
      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const enrolPage = await signIn(browser, start, email, PASSWORD);
      const { page } = await enrolTotp(browser, enrolPage);
      assert.match(page.doc.querySelector('label[for="f-remember"]')?.text ?? '', /30 days/);
      const { secret } = { secret: page.doc.querySelector('#totp-secret')!.text.trim() };
      const done = await browser.submit(page, { code: totp(secret), remember: 'yes' });
      const first = await tokensOf(rp, start, await browser.submit(done));
      assert.ok((first.amr as string[]).includes('mfa'));
      const cookie = (await browser.jar.getCookies(server.url)).find((c) => c.key === 'tessera.mfa_device');
      assert.ok(cookie, 'a device cookie is set');
      assert.ok(cookie.httpOnly);
      assert.ok(
        (await browser.jar.getCookies(server.url)).some((c) => c.key === 'tessera.mfa_device.sig'),
        'the cookie is signed',
      );

      // A new login (prompt=login) in the same browser: the password is enough.
      const again = await authorizationUrl(rp, { prompt: 'login' });
      const claims = await tokensOf(rp, again, await signIn(browser, again, email, PASSWORD));
      assert.deepEqual(claims.amr, ['pwd'], 'no second factor was asked');

      // A tampered cookie is worth nothing.
      const tampered = new Browser(server.url);
      await tampered.jar.setCookie(`tessera.mfa_device=${cookie.value}x; Path=/`, server.url);
      const t = await authorizationUrl(rp);
      assert.ok(isCodePage(await signIn(tampered, t, email, PASSWORD)), 'a tampered cookie does not skip MFA');

      // Another browser is asked.
      const other = new Browser(server.url);
      const o = await authorizationUrl(rp);
      assertCodePage(await signIn(other, o, email, PASSWORD));

      // An application that does not offer it does not honour it; nor does a loa:2 request.
      const strict = await createApp({ mfa: 'required' });
      const s = await authorizationUrl(strict, { prompt: 'login' });
      const strictPage = await signIn(browser, s, email, PASSWORD);
      assertCodePage(strictPage);
      assert.equal(strictPage.doc.querySelector('input[name="remember"]'), null, 'not offered where remember_device_days is 0');
      const loa2 = await authorizationUrl(rp, { prompt: 'login', acr_values: LOA2 });
      assertCodePage(await signIn(browser, loa2, email, PASSWORD));
    });

    test('admin API: list, remove one, reset all; after_mfa_change and webhook events for each', async () => {
      const rp = await createApp({ mfa: 'required' });
      const email = 'adm@example.com';
      const userId = await createUser(email);
      const hook = await server.admin('POST', '/hooks', {
        name: 'factor changes',
        event: 'after_mfa_change',
        mode: 'async',
        code: 'export default async function (event) { console.log(JSON.stringify({ change: event.change, factor: event.factor, user: event.user.id })); }',
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));

      const browser = new Browser(server.url);
      const start = await authorizationUrl(rp);
      const { finished } = await enrolAndFinish(browser, await signIn(browser, start, email, PASSWORD));
      await tokensOf(rp, start, finished);
      const enrolled = await waitForExecutions(server, hook.body.id, 1);
      const totpFactor = (await server.admin('GET', `/users/${userId}/factors`)).body.find((f: any) => f.type === 'totp');
      assert.deepEqual(logged(enrolled[0]!), { change: 'enrolled', factor: { id: totpFactor.id, type: 'totp' }, user: userId });

      assert.equal((await server.admin('GET', '/users/nobody/factors')).status, 404);
      assert.equal((await server.admin('DELETE', `/users/${userId}/factors/mf_nope`)).status, 404);
      assert.equal((await server.admin('DELETE', `/users/${userId}/factors/${totpFactor.id}`)).status, 204);
      const removed = await waitForExecutions(server, hook.body.id, 2);
      assert.deepEqual(logged(removed[0]!), { change: 'removed', factor: { id: totpFactor.id, type: 'totp' }, user: userId });
      // The last factor gone, its recovery codes went with it.
      assert.deepEqual((await server.admin('GET', `/users/${userId}/factors`)).body, []);
      const events = await server.server.services.db('webhook_events').whereIn('type', ['user.two-factor.method.add', 'user.two-factor.method.remove']).orderBy('created_at');
      const mine = events.map((e: any) => ({ type: e.type, data: JSON.parse(e.data) })).filter((e: any) => e.data.user_id === userId);
      assert.deepEqual(
        mine.map((e: any) => [e.type, e.data.factor.id]),
        [
          ['user.two-factor.method.add', totpFactor.id],
          ['user.two-factor.method.remove', totpFactor.id],
        ],
      );

      // With no factor left, the next login enrols again; then a reset removes everything.
      const b2 = new Browser(server.url);
      const s2 = await authorizationUrl(rp);
      const { finished: f2 } = await enrolAndFinish(b2, await signIn(b2, s2, email, PASSWORD));
      await tokensOf(rp, s2, f2);
      assert.equal((await server.admin('GET', `/users/${userId}/factors`)).body.length, 2);
      assert.equal((await server.admin('DELETE', `/users/${userId}/factors`)).status, 204);
      assert.deepEqual((await server.admin('GET', `/users/${userId}/factors`)).body, []);
      const runs = await waitForExecutions(server, hook.body.id, 4);
      assert.equal(logged(runs[0]!).change, 'removed');
      const b3 = new Browser(server.url);
      assertEnrolPage(await signIn(b3, await authorizationUrl(rp), email, PASSWORD));
      assert.equal((await server.admin('DELETE', `/hooks/${hook.body.id}`)).status, 204);
    });

    test('the application policy is validated by the admin API', async () => {
      const bad = await server.admin('POST', '/applications', { name: 'x', redirect_uris: [CALLBACK], mfa: 'sometimes' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^mfa:/);
      const days = await server.admin('POST', '/applications', { name: 'x', redirect_uris: [CALLBACK], remember_device_days: 1000 });
      assert.equal(days.status, 400);
      assert.match(days.body.message, /^remember_device_days:/);
      const ok = await server.admin('POST', '/applications', { name: 'x', redirect_uris: [CALLBACK] });
      assert.equal(ok.body.mfa, 'optional');
      assert.equal(ok.body.remember_device_days, 0);
      const patched = await server.admin('PATCH', `/applications/${ok.body.client_id}`, { mfa: 'required', remember_device_days: 7 });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.mfa, 'required');
      assert.equal(patched.body.remember_device_days, 7);
    });
  });
}
