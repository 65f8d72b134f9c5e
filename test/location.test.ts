// Location (CONTRACT §5, event.request.location): the client's address, as the trusted proxy
// forwarded it (X-Forwarded-For under TRUST_PROXY, see proxy.test.ts), looked up in the operator's
// own MaxMind-format database (GEOIP_DB, here a small one written for the test over the
// documentation ranges), and the country-gate template deciding on it: inside the listed countries
// no second factor, outside MFA (or a refusal with OUTSIDE_ACTION "deny"), and an address the
// database does not know fails closed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { executions, hookCode, report, startHookPeer, type HookPeer } from './support/hook-peer.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, signIn, startLogin } from './support/hosted-pages.ts';
import { isEnrolPage } from './support/mfa.ts';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const BERLIN = '192.0.2.10';
const VIENNA = '198.51.100.20';
const BOSTON = '203.0.113.30';
const NOWHERE = '100.64.0.1'; // not in the database

for (const kind of databaseKinds()) {
  describe(`location from the offline database (${kind})`, () => {
    let server: TestServer;
    let peer: HookPeer;

    before(async () => {
      const database = writeMmdb([
        { cidr: '192.0.2.0/24', record: cityRecord('DE', { region: 'BE', city: 'Berlin', latitude: 52.52, longitude: 13.405 }) },
        { cidr: '198.51.100.0/24', record: cityRecord('AT', { city: 'Vienna' }) },
        { cidr: '203.0.113.0/24', record: cityRecord('US', { region: 'MA', city: 'Boston', latitude: 42.36, longitude: -71.06 }) },
      ]);
      server = await startTestServer(kind, { env: { GEOIP_DB: database, TRUST_PROXY: 'true' } });
      peer = await startHookPeer();
    });
    after(async () => {
      await server?.close();
      await peer?.close();
    });

    /** A whole login from `ip` (the proxy's X-Forwarded-For) in a fresh browser. */
    const loginFrom = async (ip: string, clientId: string, email: string) => {
      const browser = new Browser(server.url, { 'x-forwarded-for': ip });
      const { page, state } = await startLogin(browser, server, clientId);
      return { page: await signIn(browser, page, email, 'a long password 1'), state };
    };

    test('the hook event carries the location of the forwarded client address; an unknown one is null', async () => {
      const clientId = await createTestApplication(server);
      const created = await server.admin('POST', '/hooks', {
        name: 'where from',
        event: 'after_login',
        mode: 'sync',
        applications: [clientId],
        allowed_hosts: [peer.host],
        code: hookCode(report(peer, '/where')),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await createTestUser(server, { email: 'loc@example.com', password: 'a long password 1' });

      const berlin = await loginFrom(BERLIN, clientId, 'loc@example.com');
      assertCodeRedirect(berlin.page, berlin.state);
      const event = (await peer.waitFor('/where')).body;
      assert.equal(event.request.ip, BERLIN);
      assert.deepEqual(event.request.location, { country: 'DE', region: 'BE', city: 'Berlin', latitude: 52.52, longitude: 13.405 });

      const vienna = await loginFrom(VIENNA, clientId, 'loc@example.com');
      assertCodeRedirect(vienna.page, vienna.state);
      assert.deepEqual((await peer.waitFor('/where', 2)).body.request.location, { country: 'AT', city: 'Vienna' });

      const nowhere = await loginFrom(NOWHERE, clientId, 'loc@example.com');
      assertCodeRedirect(nowhere.page, nowhere.state);
      const unknown = (await peer.waitFor('/where', 3)).body;
      assert.equal(unknown.request.ip, NOWHERE);
      assert.equal(unknown.request.location, null);
    });

    test('country-gate: inside the list no MFA, outside MFA, unknown fails closed; with OUTSIDE_ACTION "deny" the sign-in is refused', async () => {
      const publish = async (clientId: string, secrets: Record<string, string>) => {
        const created = await server.admin('POST', '/templates/country-gate/publish', { secrets, applications: [clientId] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        return created.body.id as string;
      };
      const missing = await server.admin('POST', '/templates/country-gate/publish', { secrets: {} });
      assert.equal(missing.status, 400, 'the country list is required');
      assert.match(JSON.stringify(missing.body), /ALLOWED_COUNTRIES/);

      const stepUp = await createTestApplication(server); // MFA "optional": only the hook asks for it
      const stepUpHook = await publish(stepUp, { ALLOWED_COUNTRIES: 'de, at' });
      for (const name of ['kai', 'lea', 'max']) await createTestUser(server, { email: `${name}@example.com`, password: 'a long password 1' });

      const home = await loginFrom(BERLIN, stepUp, 'kai@example.com');
      assertCodeRedirect(home.page, home.state);
      const abroad = await loginFrom(BOSTON, stepUp, 'lea@example.com');
      assert.equal(abroad.page.redirectedTo, null, 'no code without a second factor');
      assert.ok(isEnrolPage(abroad.page), `MFA enrolment from outside the list, got ${abroad.page.url}: ${alertText(abroad.page)}`);
      const unknown = await loginFrom(NOWHERE, stepUp, 'max@example.com');
      assert.ok(isEnrolPage(unknown.page), 'an address the database does not know asks for MFA too');
      const runs = (await executions(server, stepUpHook)).reverse();
      assert.deepEqual(
        runs.map((r) => [r.outcome, r.actions, r.logs]),
        [
          ['success', [], []],
          ['success', [{ type: 'mfa.require' }], ['[log] outside the allowed countries: US']],
          ['success', [{ type: 'mfa.require' }], ['[log] outside the allowed countries: unknown']],
        ],
      );

      const strict = await createTestApplication(server);
      await publish(strict, { ALLOWED_COUNTRIES: 'AT', OUTSIDE_ACTION: 'deny' });
      // after_identification's refusal is shown on the identify page, before any password.
      const browser = new Browser(server.url, { 'x-forwarded-for': BERLIN });
      const { page: identify } = await startLogin(browser, server, strict);
      const refused = await browser.submit(identify, { identifier: 'kai@example.com' });
      assert.equal(refused.status, 403);
      assert.match(alertText(refused) ?? '', /Signing in from your location is not allowed/);
      assert.ok(refused.doc.querySelector('input[name="identifier"]'), 'the identify page again, to try another account');
      const allowed = await loginFrom(VIENNA, strict, 'kai@example.com');
      assertCodeRedirect(allowed.page, allowed.state);
    });
  });
}
