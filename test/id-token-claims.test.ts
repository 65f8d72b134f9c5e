// ID tokens carry the claims of the scopes asked for (email, profile, phone), as Auth0, Okta and
// Keycloak issue them; an application with `id_token_claims: "strict"` gets OpenID Connect's strict
// reading: the ID token holds only sub while userinfo still answers the claims. Seen by a real
// relying party (openid-client), on the code grant and on refresh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SCOPE_CLAIMS = ['email', 'email_verified', 'name', 'given_name', 'family_name', 'phone_number', 'phone_number_verified'];

for (const kind of databaseKinds()) {
  describe(`claims in the ID token (${kind})`, () => {
    let server: TestServer;
    const email = 'ada@example.com';
    const password = 'correct horse battery';

    const createApp = async (extra: Record<string, unknown> = {}): Promise<{ rp: RelyingParty; body: any }> => {
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], ...extra });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      return { rp: await discoverClient(server.url, app.body.client_id, app.body.client_secret), body: app.body };
    };

    const codeGrant = async (rp: RelyingParty, params: Record<string, string>) => {
      const start = await authorizationUrl(rp, params);
      const done = await signIn(new Browser(server.url), start, email, password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${done.status} ${done.html.slice(0, 300)}`);
      return exchangeCode(rp, start, done.redirectedTo!);
    };

    before(async () => {
      server = await startTestServer(kind);
      const user = await server.admin('POST', '/users', {
        email,
        password,
        given_name: 'Ada',
        family_name: 'Lovelace',
        phone_number: '+441234567890',
        email_verified: true,
      });
      assert.equal(user.status, 201, JSON.stringify(user.body));
    });
    after(() => server?.close());

    test('by default the ID token carries the claims of the scopes asked for, on the code grant and on refresh', async () => {
      const { rp, body } = await createApp();
      assert.equal(body.id_token_claims, 'scopes');
      const tokens = await codeGrant(rp, { scope: 'openid email profile phone offline_access', prompt: 'consent' });
      const claims = tokens.claims()!;
      assert.equal(claims.email, email);
      assert.equal(claims.email_verified, true);
      assert.equal(claims.name, 'Ada Lovelace');
      assert.equal(claims.given_name, 'Ada');
      assert.equal(claims.family_name, 'Lovelace');
      assert.equal(claims.phone_number, '+441234567890');
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
      assert.equal(refreshed.claims()!.email, email);
      assert.equal(refreshed.claims()!.phone_number, '+441234567890');

      // Only the scopes asked for: no phone claim without the phone scope.
      const emailOnly = (await codeGrant(rp, { scope: 'openid email' })).claims()!;
      assert.equal(emailOnly.email, email);
      assert.equal(emailOnly.phone_number, undefined);
      assert.equal(emailOnly.given_name, undefined);
    });

    test('id_token_claims "strict": only sub in the ID token, the claims from userinfo', async () => {
      const { rp, body } = await createApp({ id_token_claims: 'strict' });
      assert.equal(body.id_token_claims, 'strict');
      const tokens = await codeGrant(rp, { scope: 'openid email profile phone offline_access', prompt: 'consent' });
      const claims = tokens.claims()!;
      assert.ok(claims.sub);
      for (const claim of SCOPE_CLAIMS) assert.equal(claims[claim], undefined, `${claim} is left to userinfo`);
      const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, email);
      assert.equal(userinfo.name, 'Ada Lovelace');
      assert.equal(userinfo.phone_number, '+441234567890');
      const refreshed = (await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!)).claims()!;
      assert.equal(refreshed.sub, claims.sub);
      for (const claim of SCOPE_CLAIMS) assert.equal(refreshed[claim], undefined, `${claim} is left to userinfo on refresh too`);

      // Switched back through PATCH: the claims are in the ID token again.
      const patched = await server.admin('PATCH', `/applications/${rp.clientId}`, { id_token_claims: 'scopes' });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal((await codeGrant(rp, { scope: 'openid email' })).claims()!.email, email);
    });

    test('"strict" with an access token for a resource server (which cannot read userinfo): the claims stay in the ID token', async () => {
      const api = 'https://api.strict.test';
      assert.equal((await server.admin('POST', '/resource-servers', { identifier: api, name: 'API', scopes: ['read'] })).status, 201);
      const { rp } = await createApp({ id_token_claims: 'strict', resource_servers: [api] });
      const claims = (await codeGrant(rp, { scope: 'openid email read', resource: api })).claims()!;
      assert.equal(claims.email, email);
    });

    test('id_token_claims must be "scopes" or "strict"', async () => {
      for (const value of ['userinfo', '', null, true]) {
        const refused = await server.admin('POST', '/applications', { name: 'Bad', redirect_uris: [CALLBACK], id_token_claims: value });
        assert.equal(refused.status, 400, JSON.stringify(value));
        assert.match(refused.body.message, /^id_token_claims: must be one of scopes, strict/);
      }
    });
  });
}
