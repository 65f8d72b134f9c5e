// Stored passwords: a sign-in for an unknown identifier costs the same argon2id verification as a
// wrong password for a real account and answers the same (no timing or wording signal of whether an
// account exists), and a hash made under an older hashing cost is upgraded at the next sign-in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, createTestUser, signIn, startLogin } from './support/hosted-pages.ts';
import { passwordChecks, startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`stored passwords (${kind})`, () => {
    let server: TestServer;
    let clientId: string;

    before(async () => {
      server = await startTestServer(kind);
      clientId = await createTestApplication(server);
    });
    after(async () => {
      await server?.close();
    });

    async function attempt(identifier: string, password: string): Promise<{ page: Page; state: string }> {
      const browser = new Browser(server.url);
      const { page, state } = await startLogin(browser, server, clientId);
      return { page: await signIn(browser, page, identifier, password), state };
    }

    /** The argon2id cost a PHC hash string was made with. */
    const cost = (hash: string) => {
      const params = Object.fromEntries(
        /^\$argon2id\$v=19\$([^$]+)\$/
          .exec(hash)![1]!
          .split(',')
          .map((kv) => kv.split('=')),
      );
      return { m: Number(params.m), t: Number(params.t), p: Number(params.p) };
    };
    const storedHash = async (id: string) => String((await server.server.services.db('users').where({ id }).first('password_hash')).password_hash);

    it('an unknown identifier costs one password verification, like a wrong password, and answers the same', async () => {
      await createTestUser(server, { email: 'gina@example.com', password: 'ginas password 1' });
      const start = await passwordChecks(server);
      const unknown = (await attempt('nobody@example.com', 'some password 1')).page;
      const afterUnknown = await passwordChecks(server);
      assert.equal(afterUnknown.dummy, start.dummy + 1, 'the unknown identifier was checked against the dummy hash');
      assert.equal(afterUnknown.stored, start.stored);

      const wrong = (await attempt('gina@example.com', 'not her password')).page;
      const afterWrong = await passwordChecks(server);
      assert.equal(afterWrong.stored, afterUnknown.stored + 1, 'the real account was checked against its hash');
      assert.equal(afterWrong.match, start.match);

      assert.equal(unknown.status, 400);
      assert.equal(wrong.status, unknown.status);
      assert.match(alertText(unknown) ?? '', /not correct/i);
      assert.equal(alertText(wrong), alertText(unknown));
      const shape = (page: Page) =>
        page.doc
          .querySelector('main')!
          .toString()
          .replace(/gina@example\.com|nobody@example\.com/g, 'ID')
          .replace(/value="[^"]*"|\/interaction\/[^/"]+/g, 'X');
      assert.equal(shape(wrong), shape(unknown));
    });

    it('a hash made under an older hashing cost is upgraded at the next successful sign-in', async () => {
      const id = await createTestUser(server, { email: 'hal@example.com', password: 'hals password 1' });
      const old = await storedHash(id);
      assert.deepEqual(cost(old), { m: 1024, t: 1, p: 1 });

      // The operator raises the cost; existing hashes keep theirs until their owner signs in.
      server.env.PASSWORD_HASH_MEMORY_KIB = '2048';
      server.env.PASSWORD_HASH_ITERATIONS = '2';
      try {
        await server.restart();
        assert.equal((await attempt('hal@example.com', 'wrong password 9')).page.status, 400);
        assert.equal(await storedHash(id), old, 'a failed sign-in changes nothing');

        const { page, state } = await attempt('hal@example.com', 'hals password 1');
        assertCodeRedirect(page, state);
        const upgraded = await storedHash(id);
        assert.deepEqual(cost(upgraded), { m: 2048, t: 2, p: 1 });

        const again = await attempt('hal@example.com', 'hals password 1');
        assertCodeRedirect(again.page, again.state);
        assert.equal(await storedHash(id), upgraded, 'an up-to-date hash is left alone');
        // Unknown identifiers are checked at today's cost too.
        const dummyBefore = (await passwordChecks(server)).dummy;
        await attempt('nobody@example.com', 'some password 2');
        assert.equal((await passwordChecks(server)).dummy, dummyBefore + 1);
      } finally {
        server.env.PASSWORD_HASH_MEMORY_KIB = '1024';
        server.env.PASSWORD_HASH_ITERATIONS = '1';
        await server.restart();
      }
    });
  });
}
