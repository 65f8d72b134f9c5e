// Sign-in through upstream identity providers (issue 14), against real upstream servers on loopback:
// a second node-oidc-provider (its own keys and login pages) and a GitHub-like OAuth 2.0 server.
// openid-client, as the downstream RP, sees the user signed in; linking needs the local account's
// proof; the hook points fire with their payloads; the link/unlink webhooks arrive signed; a
// tampered state, a replayed callback, an ID token signed by another key, a provider's error and a
// provider that is down all end on a clear page with a way back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, type RelyingParty } from './support/rp.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { FederatedBrowser, startGithubLike, startUpstreamOidc, upstreamLogin, type Upstream } from './support/upstream.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

/** A hook's console.log line, as the execution log keeps it ("[log] {...}"), parsed. */
function logLine(entry: unknown): any {
  const text = typeof entry === 'string' ? entry : String((entry as { message?: unknown }).message);
  return JSON.parse(text.replace(/^\[\w+\] /, ''));
}

for (const kind of databaseKinds()) {
  describe(`external sign-in (${kind})`, () => {
    let server: TestServer;
    let upstream: Upstream;
    let github: Upstream;
    let receiver: WebhookReceiver;
    let smtp: SmtpReceiver;
    let rp: RelyingParty;
    let clientId: string;
    let oidcProviderId: string;
    let webhookSecret: string;

    before(async () => {
      const upstreamPort = await freePort();
      const githubPort = await freePort();
      receiver = await WebhookReceiver.start();
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, {
        env: {
          SMTP_URL: smtp.url,
          IDENTITY_PROVIDER_ALLOWED_HOSTS: `localhost:${upstreamPort},localhost:${githubPort}`,
          WEBHOOK_ALLOWED_HOSTS: receiver.hostPort,
          WEBHOOK_RETRY_SCHEDULE: '0.2s',
        },
      });
      const callback = `${server.url}/external/callback`;
      upstream = await startUpstreamOidc({
        port: upstreamPort,
        clients: [{ client_id: 'tessera', client_secret: 'upstream-secret-0123456789', redirect_uris: [callback] }],
        accounts: {
          alice: { email: 'alice@upstream.test', given_name: 'Alice', family_name: 'Fed' },
          bob: { email: 'bob@example.com', given_name: 'Bob' },
          carol: { email: 'carol@partner.test' },
          blocked: { email: 'mallory@blocked.test' },
          unverified: { email: 'dave@example.com', email_verified: false },
          frank: { email: 'frank@upstream.test' },
          gina: { email: 'gina@upstream.test' },
        },
      });
      github = await startGithubLike({
        port: githubPort,
        clientId: 'gh-client',
        clientSecret: 'gh-secret-0123456789',
        users: {
          octo: { id: 4242, login: 'octocat', name: 'Octo Cat', email: null, emails: [{ email: 'octo@github.test', primary: true, verified: true }] },
        },
      });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], client_id: 'notes-web' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      clientId = app.body.client_id;
      rp = await discoverClient(server.url, clientId, app.body.client_secret);
      const provider = await server.admin('POST', '/identity-providers', {
        name: 'Upstream ID',
        type: 'oidc',
        issuer: upstream.url,
        client_id: 'tessera',
        client_secret: 'upstream-secret-0123456789',
        linking: 'verified_email',
        trusted_domains: ['partner.test'],
        applications: [clientId],
      });
      assert.equal(provider.status, 201, JSON.stringify(provider.body));
      oidcProviderId = provider.body.id;
      const hook = await server.admin('POST', '/webhooks', { url: `${receiver.url}/events`, events: ['user.identity-provider.link', 'user.identity-provider.unlink', 'user.login.success'] });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      webhookSecret = hook.body.secret;
    });
    after(async () => {
      await server?.close();
      await upstream?.close();
      await github?.close();
      await receiver?.close();
      await smtp?.close();
    });

    const newBrowser = () => new FederatedBrowser(server.url, upstream.url, github.url);

    /** Opens the identify page of a new authorization request; answers it and the request. */
    async function identifyPage(browser: FederatedBrowser, params: Record<string, string> = {}) {
      const start = await authorizationUrl(rp, params);
      const page = await browser.get(start.url.toString());
      assert.equal(page.status, 200, page.html.slice(0, 300));
      return { start, page };
    }

    function continueWith(page: Page, name: string): string {
      const link = page.doc.querySelectorAll('.external-providers a').find((a) => a.text.trim() === `Continue with ${name}`);
      assert.ok(link, `a "Continue with ${name}" link on ${page.url}: ${page.html.slice(0, 1500)}`);
      return new URL(link.getAttribute('href')!, page.url).toString();
    }

    async function tokensOf(start: Awaited<ReturnType<typeof authorizationUrl>>, page: Page) {
      assert.ok(page.redirectedTo?.startsWith(CALLBACK), `expected the RP's callback, got ${page.status} ${page.url}: ${alertText(page) ?? page.html.slice(0, 400)}`);
      const tokens = await exchangeCode(rp, start, page.redirectedTo!);
      return tokens.claims()!;
    }

    it('signs a new user in through the upstream OpenID provider: openid-client sees the user, amr says fed', async () => {
      const browser = newBrowser();
      const { start, page } = await identifyPage(browser);
      const upstreamPage = await browser.get(continueWith(page, 'Upstream ID'));
      assert.ok(upstreamPage.url.startsWith(upstream.url), `at the upstream's login page, got ${upstreamPage.url}`);
      const done = await upstreamLogin(browser, upstreamPage, 'alice');
      const claims = await tokensOf(start, done);
      assert.deepEqual(claims.amr, ['fed']);
      const user = await server.admin('GET', `/users/${claims.sub}`);
      assert.equal(user.status, 200);
      assert.equal(user.body.email, 'alice@upstream.test');
      assert.equal(user.body.email_verified, true);
      assert.equal(user.body.given_name, 'Alice');
      const links = await server.admin('GET', `/users/${claims.sub}/links`);
      assert.deepEqual(
        links.body.map((l: { provider_id: string; subject: string }) => [l.provider_id, l.subject]),
        [[oidcProviderId, 'alice']],
      );
      // A first sign-in through a provider is a sign-up: the user is registered with the application,
      // verified (the provider vouched for the address).
      const registrations = await server.admin('GET', `/users/${claims.sub}/registrations`);
      assert.deepEqual(
        registrations.body.map((r: any) => [r.application, r.roles, r.verified]),
        [[clientId, [], true]],
      );

      // A second sign-in with the same identity, in a new browser, reaches the same user.
      const fresh = newBrowser();
      const second = await identifyPage(fresh);
      const back = await upstreamLogin(fresh, await fresh.get(continueWith(second.page, 'Upstream ID')), 'alice');
      assert.equal((await tokensOf(second.start, back)).sub, claims.sub);
    });

    it('creates no account for an application whose registration is closed', async () => {
      assert.equal((await server.admin('PATCH', `/applications/${clientId}`, { registration: 'closed' })).status, 200);
      try {
        const browser = newBrowser();
        const { page } = await identifyPage(browser);
        assert.equal(page.doc.querySelector('a[href$="/register"]'), null, 'no sign-up link');
        const refused = await upstreamLogin(browser, await browser.get(continueWith(page, 'Upstream ID')), 'gina');
        assert.equal(refused.redirectedTo, null);
        assert.match(alertText(refused) ?? '', /New accounts cannot be created for this application/);
        assert.deepEqual((await server.admin('GET', '/users?email=gina@upstream.test')).body, []);
        // An existing account still signs in through the provider.
        const known = newBrowser();
        const again = await identifyPage(known);
        const done = await upstreamLogin(known, await known.get(continueWith(again.page, 'Upstream ID')), 'alice');
        assert.equal((await tokensOf(again.start, done)).email, 'alice@upstream.test');
      } finally {
        assert.equal((await server.admin('PATCH', `/applications/${clientId}`, { registration: 'open' })).status, 200);
      }
    });

    it('keeps the client secret sealed at rest and never answers it', async () => {
      const got = await server.admin('GET', `/identity-providers/${oidcProviderId}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.client_secret, undefined);
      assert.equal(got.body.has_client_secret, true);
      assert.doesNotMatch(JSON.stringify(got.body), /upstream-secret/);
      const row = await server.server.services.db('identity_providers').where({ id: oidcProviderId }).first();
      assert.doesNotMatch(JSON.stringify(row), /upstream-secret/);
      assert.match(String(row.client_secret_enc), /^v1\./);
      const bad = await server.admin('POST', '/identity-providers', { name: 'x', type: 'oidc', client_id: 'c' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^issuer: /);
      const badType = await server.admin('POST', '/identity-providers', { name: 'x', type: 'saml', client_id: 'c', issuer: upstream.url });
      assert.equal(badType.status, 400);
      assert.match(badType.body.message, /^type: /);
      const unknownField = await server.admin('POST', '/identity-providers', { preset: 'google', client_id: 'c', secret: 's' });
      assert.equal(unknownField.status, 400);
      assert.match(unknownField.body.message, /^secret: is not a known field/);
      // Presets fill in endpoints, scopes and claims; what they cannot know is asked for.
      const google = await server.admin('POST', '/identity-providers', { preset: 'google', client_id: 'g.apps', client_secret: 'g-secret', enabled: false });
      assert.equal(google.status, 201, JSON.stringify(google.body));
      assert.equal(google.body.name, 'Google');
      assert.equal(google.body.issuer, 'https://accounts.google.com');
      assert.deepEqual(google.body.scopes, ['openid', 'email', 'profile']);
      assert.equal(google.body.claims.email_verified, 'email_verified');
      const microsoft = await server.admin('POST', '/identity-providers', { preset: 'microsoft', client_id: 'm' });
      assert.equal(microsoft.status, 400);
      assert.match(microsoft.body.message, /^issuer: /);
      const apple = await server.admin('POST', '/identity-providers', { preset: 'apple', client_id: 'com.example' });
      assert.equal(apple.status, 400);
      assert.match(apple.body.message, /^apple: /);
      const facebook = await server.admin('POST', '/identity-providers', { preset: 'facebook', client_id: 'fb', client_secret: 'fb-secret', enabled: false });
      assert.equal(facebook.body.type, 'oauth2');
      assert.equal(facebook.body.claims.email_verified, '', 'Facebook says nothing about verification');
      const changeType = await server.admin('PATCH', `/identity-providers/${google.body.id}`, { preset: 'gitlab' });
      assert.equal(changeType.status, 400);
      for (const id of [google.body.id, facebook.body.id]) assert.equal((await server.admin('DELETE', `/identity-providers/${id}`)).status, 204);
      assert.equal((await server.admin('GET', `/identity-providers/${google.body.id}`)).status, 404);
    });

    it('does not let a matching verified email take over an account without proof; after the password, both sign-ins reach the same sub', async () => {
      const bob = await server.admin('POST', '/users', { email: 'bob@example.com', password: 'bob-password-123', email_verified: true });
      assert.equal(bob.status, 201);
      const browser = newBrowser();
      const { start, page } = await identifyPage(browser);
      const linkPage = await upstreamLogin(browser, await browser.get(continueWith(page, 'Upstream ID')), 'bob');
      assert.equal(linkPage.redirectedTo, null, 'no sign-in without proof');
      assert.match(linkPage.url, /\/external\/link$/);
      assert.match(linkPage.html, /bob@example\.com/);
      assert.equal((await server.admin('GET', `/users/${bob.body.id}/links`)).body.length, 0);

      const wrong = await browser.submit(linkPage, { password: 'not-the-password' }, 'form:has(input[name="password"])');
      assert.equal(wrong.status, 400);
      assert.match(alertText(wrong) ?? '', /not correct/);
      assert.equal((await server.admin('GET', `/users/${bob.body.id}/links`)).body.length, 0);

      const done = await browser.submit(wrong, { password: 'bob-password-123' }, 'form:has(input[name="password"])');
      assert.equal((await tokensOf(start, done)).sub, bob.body.id);
      await webhooksSettled(server);
      const linked = receiver.on('/events').find((r) => r.payload.type === 'user.identity-provider.link' && r.payload.data.user_id === bob.body.id);
      assert.ok(linked, 'the link webhook arrived');
      verifyWebhook(webhookSecret, linked);
      assert.equal(linked.payload.data.identity_provider_id, oidcProviderId);
      assert.equal(linked.payload.data.application_id, clientId);
      const login = receiver.on('/events').find((r) => r.payload.type === 'user.login.success' && r.payload.data.user_id === bob.body.id);
      assert.equal(login?.payload.data.identity_provider_id, oidcProviderId);

      // The external identity again: straight in, same sub. The password: same sub.
      const second = newBrowser();
      const next = await identifyPage(second);
      const again = await upstreamLogin(second, await second.get(continueWith(next.page, 'Upstream ID')), 'bob');
      assert.equal((await tokensOf(next.start, again)).sub, bob.body.id);
      const third = new Browser(server.url);
      const start3 = await authorizationUrl(rp);
      const identify = await third.get(start3.url.toString());
      const password = await third.submit(await third.submit(identify, { identifier: 'bob@example.com' }), { password: 'bob-password-123' });
      assert.equal((await tokensOf(start3, password)).sub, bob.body.id);

      // Unlinked by the admin API: the unlink webhook arrives signed, and the next external sign-in needs proof again.
      const removed = await server.admin('DELETE', `/users/${bob.body.id}/links/${oidcProviderId}`);
      assert.equal(removed.status, 204);
      assert.equal((await server.admin('DELETE', `/users/${bob.body.id}/links/${oidcProviderId}`)).status, 404);
      await webhooksSettled(server);
      const unlinked = receiver.on('/events').find((r) => r.payload.type === 'user.identity-provider.unlink' && r.payload.data.user_id === bob.body.id);
      assert.ok(unlinked, 'the unlink webhook arrived');
      verifyWebhook(webhookSecret, unlinked);
    });

    it('proves the local account by an emailed link opened in the same browser', async () => {
      // bob's identity was unlinked above: it needs the proof again.
      const browser = newBrowser();
      const { start, page } = await identifyPage(browser);
      const bob = (await server.admin('GET', '/users?email=bob@example.com')).body[0];
      const linkPage = await upstreamLogin(browser, await browser.get(continueWith(page, 'Upstream ID')), 'bob');
      assert.match(linkPage.url, /\/external\/link$/);
      const sent = await browser.submit(linkPage, {}, 'form:has(input[name="method"][value="email"])');
      assert.match(sent.html, /We sent a link to bob@example\.com/);
      const mail = await smtp.waitFor('bob@example.com', /Link your Upstream ID sign-in/);
      const link = linkIn(mail, `${server.url}/interaction/`);
      // Another browser cannot use it.
      const stranger = await new Browser(server.url).get(link);
      assert.equal(stranger.status, 400);
      assert.equal(stranger.redirectedTo, null);
      const done = await browser.get(link);
      assert.equal((await tokensOf(start, done)).sub, bob.id);
      const reused = await browser.get(link);
      assert.equal(reused.redirectedTo, null);
    });

    it('links a verified address of a trusted domain without proof; never an unverified one', async () => {
      const carol = await server.admin('POST', '/users', { email: 'carol@partner.test', password: 'carol-password-1', email_verified: true });
      const browser = newBrowser();
      const { start, page } = await identifyPage(browser);
      const done = await upstreamLogin(browser, await browser.get(continueWith(page, 'Upstream ID')), 'carol');
      assert.equal((await tokensOf(start, done)).sub, carol.body.id);

      await server.admin('POST', '/users', { email: 'dave@example.com', password: 'dave-password-1', email_verified: true });
      const b2 = newBrowser();
      const second = await identifyPage(b2);
      const refused = await upstreamLogin(b2, await b2.get(continueWith(second.page, 'Upstream ID')), 'unverified');
      assert.equal(refused.redirectedTo, null);
      assert.equal(refused.status, 409);
      assert.ok(alertText(refused));
      assert.ok(refused.doc.querySelector(`a[href^="/interaction/"]`), 'a way back');
    });

    it('runs at_failed_identification (deny), after_external_login (payload, setAttribute) and the MFA policy', async () => {
      const deny = await server.admin('POST', '/hooks', {
        name: 'block domain',
        event: 'at_failed_identification',
        mode: 'sync',
        code: `export default async function (event, api) {
          console.log(JSON.stringify({ identifier: event.identifier, external: event.external }));
          if (event.external && event.external.email.endsWith('@blocked.test')) api.deny('Accounts of blocked.test cannot sign up here.');
        }`,
      });
      assert.equal(deny.status, 201, JSON.stringify(deny.body));
      const enrich = await server.admin('POST', '/hooks', {
        name: 'tag federated',
        event: 'after_external_login',
        mode: 'sync',
        code: `export default async function (event, api) {
          console.log(JSON.stringify({ provider: event.provider, is_new: event.is_new, sub: event.profile.sub }));
          api.user.setAttribute('federated_via', event.provider.name);
        }`,
      });
      assert.equal(enrich.status, 201, JSON.stringify(enrich.body));

      const browser = newBrowser();
      const { page } = await identifyPage(browser);
      const denied = await upstreamLogin(browser, await browser.get(continueWith(page, 'Upstream ID')), 'blocked');
      assert.equal(denied.status, 403);
      assert.match(alertText(denied) ?? '', /blocked\.test cannot sign up/);
      assert.equal((await server.admin('GET', '/users?email=mallory@blocked.test')).body.length, 0);
      const runs = (await server.admin('GET', `/hooks/${deny.body.id}/executions`)).body;
      const logged = logLine(runs[0].logs[0]);
      assert.equal(logged.identifier, 'mallory@blocked.test');
      assert.deepEqual(logged.external.provider, { id: oidcProviderId, name: 'Upstream ID', preset: null });
      assert.equal(logged.external.subject, 'blocked');
      assert.equal(logged.external.email_verified, true);

      const b2 = newBrowser();
      const second = await identifyPage(b2);
      const done = await upstreamLogin(b2, await b2.get(continueWith(second.page, 'Upstream ID')), 'alice');
      const claims = await tokensOf(second.start, done);
      const user = await server.admin('GET', `/users/${claims.sub}`);
      assert.equal(user.body.attributes.federated_via, 'Upstream ID');
      const enriched = (await server.admin('GET', `/hooks/${enrich.body.id}/executions`)).body;
      const payload = logLine(enriched[0].logs[0]);
      assert.deepEqual(payload, { provider: { id: oidcProviderId, name: 'Upstream ID', preset: null }, is_new: false, sub: 'alice' });
      await server.admin('DELETE', `/hooks/${deny.body.id}`);
      await server.admin('DELETE', `/hooks/${enrich.body.id}`);

      // The application's MFA policy still applies after a federated sign-in.
      await server.admin('PATCH', `/applications/${clientId}`, { mfa: 'required' });
      try {
        const b3 = newBrowser();
        const third = await identifyPage(b3);
        const mfa = await upstreamLogin(b3, await b3.get(continueWith(third.page, 'Upstream ID')), 'alice');
        assert.equal(mfa.redirectedTo, null, 'no sign-in before the second factor');
        assert.match(mfa.url, /\/interaction\/[^/]+\/mfa/);
      } finally {
        await server.admin('PATCH', `/applications/${clientId}`, { mfa: 'optional' });
      }
    });

    it('signs in through a GitHub-like OAuth 2.0 server (token + userinfo + verified emails)', async () => {
      const created = await server.admin('POST', '/identity-providers', {
        preset: 'github',
        authorization_endpoint: `${github.url}/login/oauth/authorize`,
        token_endpoint: `${github.url}/login/oauth/access_token`,
        userinfo_endpoint: `${github.url}/user`,
        emails_endpoint: `${github.url}/user/emails`,
        client_id: 'gh-client',
        client_secret: 'gh-secret-0123456789',
        linking: 'verified_email',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.name, 'GitHub');
      assert.equal(created.body.type, 'oauth2');
      const browser = newBrowser();
      const { start, page } = await identifyPage(browser);
      const button = page.doc.querySelectorAll('.external-providers a').find((a) => a.text.trim() === 'Continue with GitHub');
      assert.match(button?.getAttribute('class') ?? '', /idp-github/);
      const login = await browser.get(continueWith(page, 'GitHub'));
      const done = await browser.submit(login, { login: 'octo' });
      const claims = await tokensOf(start, done);
      const user = await server.admin('GET', `/users/${claims.sub}`);
      assert.equal(user.body.email, 'octo@github.test');
      assert.equal(user.body.email_verified, true);
      assert.deepEqual(
        (await server.admin('GET', `/users/${claims.sub}/links`)).body.map((l: { subject: string }) => l.subject),
        ['4242'],
      );

      // The provider's own error (the user cancelled there): a clear page with a way back.
      const b2 = newBrowser();
      const second = await identifyPage(b2);
      const cancelled = await b2.submit(await b2.get(continueWith(second.page, 'GitHub')), {}, '#deny');
      assert.equal(cancelled.status, 400);
      assert.match(alertText(cancelled) ?? '', /GitHub did not sign you in/);
      assert.ok(cancelled.doc.querySelector('a[href^="/interaction/"]'), 'a way back to the sign-in');
    });

    it('refuses a tampered state, a replayed callback, another browser, and an ID token signed by another key', async () => {
      const tampered = await new Browser(server.url).get(`${server.url}/external/callback?code=abc&state=not-a-state-we-sent`);
      assert.equal(tampered.status, 400);
      assert.match(alertText(tampered) ?? '', /does not belong to a sign-in we started/);

      // Stop at the callback: the upstream's redirect back to us.
      const browser = newBrowser();
      const { page } = await identifyPage(browser);
      const upstreamPage = await browser.get(continueWith(page, 'Upstream ID'));
      const upstreamSite = browser.site(upstream.url);
      let hop = await upstreamSite.submit(upstreamPage, { login: 'alice', password: 'any' });
      while (hop.redirectedTo === null && hop.doc.querySelector('input[name="prompt"]')) hop = await upstreamSite.submit(hop);
      const callbackUrl = hop.redirectedTo!;
      assert.ok(callbackUrl.startsWith(`${server.url}/external/callback?`), callbackUrl);
      // Another browser following the callback is not signed in (the code is redeemed only in the interaction's browser).
      const other = await new Browser(server.url).get(callbackUrl);
      assert.equal(other.redirectedTo, null);
      assert.match(alertText(other) ?? '', /expired/i);
      // The callback was used once already: a replay, even in the right browser, is refused.
      const replay = await browser.site(server.url).get(callbackUrl);
      assert.equal(replay.status, 400);
      assert.match(alertText(replay) ?? '', /already been used/);
      assert.equal(replay.redirectedTo, null);

      // A provider whose JWKS does not hold the ID token's key.
      const forged = await server.admin('POST', '/identity-providers', {
        name: 'Forged',
        type: 'oidc',
        issuer: upstream.url,
        client_id: 'tessera',
        client_secret: 'upstream-secret-0123456789',
        applications: [clientId],
      });
      assert.equal(forged.status, 201);
      upstream.publishOtherKey = true;
      try {
        const b2 = newBrowser();
        const second = await identifyPage(b2);
        const refused = await upstreamLogin(b2, await b2.get(continueWith(second.page, 'Forged')), 'alice');
        assert.equal(refused.redirectedTo, null);
        assert.equal(refused.status, 400);
        assert.match(alertText(refused) ?? '', /did not pass our checks/);
      } finally {
        upstream.publishOtherKey = false;
        await server.admin('DELETE', `/identity-providers/${forged.body.id}`);
      }
    });

    it('shows a clear page when the provider is down or its address is not allowed', async () => {
      const down = await server.admin('POST', '/identity-providers', {
        name: 'Sleepy',
        type: 'oidc',
        issuer: upstream.url,
        client_id: 'tessera',
        client_secret: 'upstream-secret-0123456789',
        applications: [clientId],
      });
      upstream.down = true;
      try {
        const browser = newBrowser();
        const { page } = await identifyPage(browser);
        const answer = await browser.get(continueWith(page, 'Sleepy'));
        assert.equal(answer.status, 502);
        assert.match(alertText(answer) ?? '', /could not be reached/);
        assert.ok(answer.doc.querySelector('a[href^="/interaction/"]'));
      } finally {
        upstream.down = false;
        await server.admin('DELETE', `/identity-providers/${down.body.id}`);
      }
      // Loopback that IDENTITY_PROVIDER_ALLOWED_HOSTS does not list is never connected to.
      const inside = await server.admin('POST', '/identity-providers', { name: 'Inside', type: 'oidc', issuer: `http://127.0.0.1:${upstream.port}`, client_id: 'tessera', applications: [clientId] });
      try {
        const browser = newBrowser();
        const { page } = await identifyPage(browser);
        const answer = await browser.get(continueWith(page, 'Inside'));
        assert.equal(answer.status, 502);
        assert.ok(alertText(answer));
      } finally {
        await server.admin('DELETE', `/identity-providers/${inside.body.id}`);
      }
    });

    it('answers form_post (Apple-style) callbacks and hides providers of other applications', async () => {
      const formPost = await server.admin('POST', '/identity-providers', {
        name: 'Posting ID',
        type: 'oidc',
        issuer: upstream.url,
        client_id: 'tessera',
        client_secret: 'upstream-secret-0123456789',
        response_mode: 'form_post',
        applications: [clientId],
      });
      assert.equal(formPost.status, 201);
      const other = await server.admin('POST', '/applications', { name: 'Other', redirect_uris: [CALLBACK] });
      const hidden = await server.admin('POST', '/identity-providers', { name: 'Elsewhere', type: 'oidc', issuer: upstream.url, client_id: 'tessera', applications: [other.body.client_id] });
      try {
        const browser = newBrowser();
        const { start, page } = await identifyPage(browser);
        assert.ok(!page.html.includes('Continue with Elsewhere'));
        const register = await browser.get(`${page.url}/register`);
        assert.ok(continueWith(register, 'Posting ID'), 'the registration page offers the buttons too');
        const done = await upstreamLogin(browser, await browser.get(continueWith(page, 'Posting ID')), 'frank');
        const claims = await tokensOf(start, done);
        assert.equal((await server.admin('GET', `/users/${claims.sub}`)).body.email, 'frank@upstream.test');
      } finally {
        await server.admin('DELETE', `/identity-providers/${formPost.body.id}`);
        await server.admin('DELETE', `/identity-providers/${hidden.body.id}`);
      }
    });

    it('starts no sign-in for a provider the application does not offer', async () => {
      const browser = newBrowser();
      const { page } = await identifyPage(browser);
      const uid = new URL(page.url).pathname.split('/')[2];
      const unknown = await browser.get(`${server.url}/interaction/${uid}/external/00000000-0000-4000-8000-000000000000`);
      assert.equal(unknown.status, 404);
      assert.ok(alertText(unknown));
    });
  });
}
