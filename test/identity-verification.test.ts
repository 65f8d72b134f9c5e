// Identity verification (issue 14 point 4) against a real identity-assurance provider on loopback (a
// node-oidc-provider answering verified_claims through the claims parameter): an application that
// requires it sends the user there after the password; the hooks before and after it fire with their
// payloads and their actions take effect; the result is stored on the user, shown by the admin API,
// and issued to an RP that asks for verified_claims.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, type RelyingParty } from './support/rp.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';
import { FederatedBrowser, startUpstreamOidc, upstreamLogin, type Upstream } from './support/upstream.ts';

const VERIFIED = {
  verification: { trust_framework: 'de_aml', time: '2026-10-01T10:00:00Z', assurance_level: 'substantial' },
  claims: { given_name: 'Vera', family_name: 'Fied', birthdate: '1990-01-01' },
};

function logLine(entry: unknown): any {
  return JSON.parse(String(entry).replace(/^\[\w+\] /, ''));
}

for (const kind of databaseKinds()) {
  describe(`identity verification (${kind})`, () => {
    let server: TestServer;
    let ida: Upstream;
    let rp: RelyingParty;
    let clientId: string;
    let providerId: string;

    before(async () => {
      const port = await freePort();
      server = await startTestServer(kind, { env: { IDENTITY_PROVIDER_ALLOWED_HOSTS: `localhost:${port}` } });
      ida = await startUpstreamOidc({
        port,
        clients: [{ client_id: 'tessera-ida', client_secret: 'ida-secret-0123456789', redirect_uris: [`${server.url}/external/callback`] }],
        accounts: { vera: { email: 'vera@ida.test', verified_claims: VERIFIED }, nobody: { email: 'nobody@ida.test' } },
      });
      const app = await server.admin('POST', '/applications', { name: 'Bank', redirect_uris: [CALLBACK], identity_verification: 'required' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      assert.equal(app.body.identity_verification, 'required');
      clientId = app.body.client_id;
      rp = await discoverClient(server.url, clientId, app.body.client_secret);
      const provider = await server.admin('POST', '/identity-providers', {
        name: 'Verified ID',
        type: 'oidc',
        purpose: 'verification',
        issuer: ida.url,
        client_id: 'tessera-ida',
        client_secret: 'ida-secret-0123456789',
        applications: [clientId],
      });
      assert.equal(provider.status, 201, JSON.stringify(provider.body));
      providerId = provider.body.id;
    });
    after(async () => {
      await server?.close();
      await ida?.close();
    });

    async function passwordThenProvider(email: string, password: string, params: Record<string, string> = {}) {
      const browser = new FederatedBrowser(server.url, ida.url);
      const start = await authorizationUrl(rp, params);
      const identify = await browser.get(start.url.toString());
      assert.ok(!identify.html.includes('Continue with Verified ID'), 'a verification provider is no sign-in button');
      const passwordPage = await browser.submit(identify, { identifier: email });
      const next = await browser.submit(passwordPage, { password });
      return { browser, start, next };
    }

    function claimsOf(page: Page) {
      assert.ok(page.redirectedTo?.startsWith(CALLBACK), `expected the RP's callback, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 300)}`);
      return page.redirectedTo!;
    }

    it('sends the user to the verification provider, runs both hooks, stores the result and issues verified_claims', async () => {
      const user = await server.admin('POST', '/users', { email: 'vera@bank.test', password: 'vera-password-1', email_verified: true });
      const beforeHook = await server.admin('POST', '/hooks', {
        name: 'see before',
        event: 'before_identity_verification',
        mode: 'sync',
        code: `export default async function (event, api) { console.log(JSON.stringify({ reason: event.reason, providers: event.providers, user: event.user.id })); }`,
      });
      const afterHook = await server.admin('POST', '/hooks', {
        name: 'enrich after',
        event: 'after_identity_verification',
        mode: 'sync',
        code: `export default async function (event, api) {
          console.log(JSON.stringify(event.verification));
          api.user.setAttribute('kyc_level', event.verification.verified_claims.verification.assurance_level);
        }`,
      });
      assert.equal(afterHook.status, 201, JSON.stringify(afterHook.body));
      const claimsRequest = JSON.stringify({ id_token: { verified_claims: { verification: { trust_framework: null }, claims: { given_name: null } } } });
      const { browser, start, next } = await passwordThenProvider('vera@bank.test', 'vera-password-1', { claims: claimsRequest });
      assert.ok(next.url.startsWith(ida.url), `at the verification provider, got ${next.url}`);
      const done = await upstreamLogin(browser, next, 'vera');
      const tokens = await exchangeCode(rp, start, claimsOf(done));
      const idToken = tokens.claims()!;
      assert.equal(idToken.sub, user.body.id);
      assert.deepEqual(idToken.verified_claims, VERIFIED);

      const stored = await server.admin('GET', `/users/${user.body.id}/identity-verification`);
      assert.equal(stored.status, 200);
      assert.equal(stored.body.status, 'verified');
      assert.equal(stored.body.provider, providerId);
      assert.deepEqual(stored.body.verified_claims, VERIFIED);
      assert.equal((await server.admin('GET', `/users/${user.body.id}`)).body.attributes.kyc_level, 'substantial');
      const seenBefore = logLine((await server.admin('GET', `/hooks/${beforeHook.body.id}/executions`)).body[0].logs[0]);
      assert.deepEqual(seenBefore, { reason: 'application', providers: [{ id: providerId, name: 'Verified ID', preset: null }], user: user.body.id });
      const seenAfter = logLine((await server.admin('GET', `/hooks/${afterHook.body.id}/executions`)).body[0].logs[0]);
      assert.equal(seenAfter.status, 'verified');
      assert.deepEqual(seenAfter.verified_claims, VERIFIED);

      // Verified once: the next sign-in goes straight through.
      const again = await passwordThenProvider('vera@bank.test', 'vera-password-1');
      claimsOf(again.next);
      await server.admin('DELETE', `/hooks/${beforeHook.body.id}`);
      await server.admin('DELETE', `/hooks/${afterHook.body.id}`);
    });

    it('before_identity_verification may skip or deny; after_identity_verification may deny; no verified_claims fails', async () => {
      await server.admin('POST', '/users', { email: 'sam@bank.test', password: 'sam-password-12', email_verified: true });
      const skip = await server.admin('POST', '/hooks', {
        name: 'skip staff',
        event: 'before_identity_verification',
        mode: 'sync',
        code: `export default async function (event, api) { if (event.user.email === 'sam@bank.test') api.identityVerification.skip(); else if (event.user.email === 'eve@bank.test') api.deny('Verification is closed today.'); }`,
      });
      assert.equal(skip.status, 201, JSON.stringify(skip.body));
      claimsOf((await passwordThenProvider('sam@bank.test', 'sam-password-12')).next);

      await server.admin('POST', '/users', { email: 'eve@bank.test', password: 'eve-password-12', email_verified: true });
      const denied = (await passwordThenProvider('eve@bank.test', 'eve-password-12')).next;
      assert.equal(denied.status, 403);
      assert.match(alertText(denied) ?? '', /Verification is closed today/);
      await server.admin('DELETE', `/hooks/${skip.body.id}`);

      // The provider answers no verified_claims: the sign-in fails, the result is stored as failed.
      const noClaims = await server.admin('POST', '/users', { email: 'nobody@bank.test', password: 'nobody-password', email_verified: true });
      const flow = await passwordThenProvider('nobody@bank.test', 'nobody-password');
      const failed = await upstreamLogin(flow.browser, flow.next, 'nobody');
      assert.equal(failed.status, 403);
      assert.match(alertText(failed) ?? '', /could not be verified/);
      assert.equal((await server.admin('GET', `/users/${noClaims.body.id}/identity-verification`)).body.status, 'failed');

      // after_identity_verification denies: nothing stored.
      const refuse = await server.admin('POST', '/hooks', {
        name: 'refuse',
        event: 'after_identity_verification',
        mode: 'sync',
        code: `export default async function (event, api) { api.deny('Not accepted.'); }`,
      });
      const ann = await server.admin('POST', '/users', { email: 'ann@bank.test', password: 'ann-password-123', email_verified: true });
      const annFlow = await passwordThenProvider('ann@bank.test', 'ann-password-123');
      const annDenied = await upstreamLogin(annFlow.browser, annFlow.next, 'vera');
      assert.equal(annDenied.status, 403);
      assert.match(alertText(annDenied) ?? '', /Not accepted/);
      assert.equal((await server.admin('GET', `/users/${ann.body.id}/identity-verification`)).status, 404);
      await server.admin('DELETE', `/hooks/${refuse.body.id}`);
    });

    it('a hook asks for a verification (api.identityVerification.require) where the application does not', async () => {
      const plain = await server.admin('POST', '/applications', { name: 'Shop', redirect_uris: [CALLBACK] });
      await server.admin('PATCH', `/identity-providers/${providerId}`, { applications: [clientId, plain.body.client_id] });
      const shopRp = await discoverClient(server.url, plain.body.client_id, plain.body.client_secret);
      const hook = await server.admin('POST', '/hooks', {
        name: 'step up',
        event: 'after_login',
        mode: 'sync',
        applications: [plain.body.client_id],
        code: `export default async function (event, api) { api.identityVerification.require(); }`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const user = await server.admin('POST', '/users', { email: 'hugo@shop.test', password: 'hugo-password-1', email_verified: true });
      const browser = new FederatedBrowser(server.url, ida.url);
      const start = await authorizationUrl(shopRp);
      const passwordPage = await browser.submit(await browser.get(start.url.toString()), { identifier: 'hugo@shop.test' });
      const next = await browser.submit(passwordPage, { password: 'hugo-password-1' });
      assert.ok(next.url.startsWith(ida.url), `the hook sent the user to the verification provider, got ${next.url}`);
      const done = await upstreamLogin(browser, next, 'vera');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), alertText(done) ?? done.html.slice(0, 300));
      assert.equal((await server.admin('GET', `/users/${user.body.id}/identity-verification`)).body.status, 'verified');
      await server.admin('DELETE', `/hooks/${hook.body.id}`);
    });
  });
}
