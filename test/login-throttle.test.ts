// Failed logins are throttled per account (an identifier that names none: per normalised identifier;
// test/lockout.test.ts covers the account's other identifier forms) and per IP:
// the 6th attempt inside the window is refused without the password being checked, and the answer
// is the same for an account that exists and one that does not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, signIn, startLogin } from './support/hosted-pages.ts';
import { passwordChecks, startTestServer, type TestServer } from './support/server.ts';

let nextIp = 10;
/** A browser with an address of its own (the server trusts X-Forwarded-For in this suite). */
const browserAt = (server: TestServer, ip?: string) => new Browser(server.url, { 'x-forwarded-for': ip ?? `198.51.100.${nextIp++}` });

for (const kind of databaseKinds()) {
  describe(`login throttling (${kind})`, () => {
    let server: TestServer;
    let clientId: string;

    before(async () => {
      server = await startTestServer(kind, {
        env: { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_ACCOUNT: '5', LOGIN_MAX_FAILURES_PER_IP: '8', LOGIN_THROTTLE_WINDOW_SECONDS: '900' },
      });
      clientId = await createTestApplication(server);
      await createTestUser(server, { email: 'carol@example.com', password: 'carols password 1' });
      await createTestUser(server, { email: 'erin@example.com', password: 'erins password 1' });
      await createTestUser(server, { email: 'frank@example.com', password: 'franks password 1' });
    });
    after(async () => {
      await server?.close();
    });

    /** Five wrong passwords, then a sixth attempt with `sixth`; answers every page. */
    async function sixAttempts(identifier: string, sixth: string): Promise<Page[]> {
      const pages: Page[] = [];
      for (let i = 1; i <= 6; i++) {
        const browser = browserAt(server);
        const { page } = await startLogin(browser, server, clientId);
        pages.push(await signIn(browser, page, identifier, i === 6 ? sixth : `wrong password ${i}`));
      }
      return pages;
    }

    it('refuses the 6th attempt unchecked, with the same answer for an existing and an unknown account', async () => {
      // The password checks the server makes, from its metrics.
      const start = await passwordChecks(server);
      const existing = await sixAttempts('carol@example.com', 'carols password 1'); // the RIGHT password, 6th time
      const afterExisting = await passwordChecks(server);
      const unknown = await sixAttempts('nobody@example.com', 'whatever password');
      const afterUnknown = await passwordChecks(server);
      assert.equal(afterExisting.stored - start.stored, 5, 'the 6th attempt on the existing account was not checked');
      assert.equal(afterExisting.match, start.match, 'not even the right password of the 6th attempt');
      assert.equal(afterUnknown.dummy - afterExisting.dummy, 5, 'the 6th attempt on the unknown account was not checked either');

      for (let i = 0; i < 5; i++) {
        assert.equal(existing[i]!.status, 400, `attempt ${i + 1}`);
        assert.match(alertText(existing[i]!) ?? '', /not correct/i);
        assert.equal(existing[i]!.status, unknown[i]!.status);
        assert.equal(alertText(existing[i]!), alertText(unknown[i]!));
      }
      const [sixthExisting, sixthUnknown] = [existing[5]!, unknown[5]!];
      assert.equal(sixthExisting.redirectedTo, null, 'the right password on the 6th attempt does not sign in');
      assert.equal(sixthExisting.status, 429);
      assert.match(alertText(sixthExisting) ?? '', /too many failed sign-in attempts/i);
      assert.equal(sixthUnknown.status, sixthExisting.status);
      assert.equal(alertText(sixthUnknown), alertText(sixthExisting));
      // The whole form looks the same too (apart from the identifier echoed back and the tokens).
      const shape = (page: Page) =>
        page.doc
          .querySelector('main')!
          .toString()
          .replace(/carol@example\.com|nobody@example\.com/g, 'ID')
          .replace(/value="[^"]*"|\/interaction\/[^/"]+/g, 'X');
      assert.equal(shape(sixthUnknown), shape(sixthExisting));

      // Still refused from a new address and in another letter case: the key is the normalised identifier.
      const browser = browserAt(server);
      const { page } = await startLogin(browser, server, clientId);
      const again = await signIn(browser, page, ' CAROL@Example.com', 'carols password 1');
      assert.equal(again.status, 429);

      // Once the window has passed, the right password works again.
      await server.server.services.db('login_throttle').update({ window_started_at: Date.now() - 3_600_000 });
      const later = browserAt(server);
      const { page: p, state } = await startLogin(later, server, clientId);
      assertCodeRedirect(await signIn(later, p, 'carol@example.com', 'carols password 1'), state);
    });

    it('a successful login forgives the earlier failures of the account', async () => {
      const attempt = async (password: string) => {
        const browser = browserAt(server);
        const { page, state } = await startLogin(browser, server, clientId);
        return { result: await signIn(browser, page, 'erin@example.com', password), state };
      };
      for (let i = 0; i < 4; i++) assert.equal((await attempt('nope nope nope')).result.status, 400);
      const ok = await attempt('erins password 1');
      assertCodeRedirect(ok.result, ok.state);
      for (let i = 0; i < 5; i++) assert.equal((await attempt('nope nope nope')).result.status, 400, `failure ${i + 1} after the reset`);
      assert.equal((await attempt('erins password 1')).result.status, 429);
    });

    it('throttles failures per IP address across accounts', async () => {
      const ip = '203.0.113.7';
      const attempt = async (identifier: string, password: string) => {
        const browser = browserAt(server, ip);
        const { page, state } = await startLogin(browser, server, clientId);
        return { result: await signIn(browser, page, identifier, password), state };
      };
      // Successes do not count against the address.
      const fine = await attempt('frank@example.com', 'franks password 1');
      assertCodeRedirect(fine.result, fine.state);
      for (let i = 0; i < 8; i++) {
        assert.equal((await attempt(`user${i}@example.com`, 'wrong password')).result.status, 400, `failure ${i + 1}`);
      }
      const blocked = await attempt('frank@example.com', 'franks password 1');
      assert.equal(blocked.result.status, 429);
      assert.equal(blocked.result.redirectedTo, null);
      // Another address is not affected.
      const other = browserAt(server);
      const { page, state } = await startLogin(other, server, clientId);
      assertCodeRedirect(await signIn(other, page, 'frank@example.com', 'franks password 1'), state);
    });
  });
}
