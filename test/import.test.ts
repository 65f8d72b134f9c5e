// Bulk import (CONTRACT §9, POST /admin/api/users/import): 10 000 users with password hashes of five
// formats in one call, then sign-ins with the old passwords (the hosted pages and the password
// check) that succeed and leave an argon2id hash behind; the published test vectors of bcrypt
// (crypt_blowfish), PBKDF2-HMAC-SHA256 and scrypt (RFC 7914 §11) sign in as those formats' users; a
// call with bad entries imports nothing and names each bad index and field; user.bulk.create is
// delivered once, signed; the audit log holds a summary without hashes.
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { alertText, Browser } from './support/browser.ts';
import { createTestDatabase, databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, signIn, startLogin } from './support/hosted-pages.ts';
import { ServerProcess } from './support/server-process.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

type Hash = { algorithm: string; hash: string; salt?: string; iterations?: number; block_size?: number; parallelism?: number };

const b64 = (bytes: Buffer) => bytes.toString('base64');
/** An argon2id hash with the test server's cost (PASSWORD_HASH_MEMORY_KIB 1024, 1 iteration), its parameters in any order. */
const todays = (hash: string) => /^\$argon2id\$v=19\$[mtp=\d,]+\$/.test(hash) && /[$,]m=1024[,$]/.test(hash) && /[$,]t=1[,$]/.test(hash);

/** A Keycloak PBKDF2 credential: base64 hash and salt, the iterations (64-byte derived key, as Keycloak's default). */
function keycloak(password: string, digest: 'sha256' | 'sha512', iterations: number): Hash {
  const salt = randomBytes(16);
  return { algorithm: `pbkdf2-${digest}`, hash: b64(pbkdf2Sync(password, salt, iterations, 64, digest)), salt: b64(salt), iterations };
}

function scrypted(password: string, n = 1024, r = 8, p = 1): Hash {
  const salt = randomBytes(16);
  return { algorithm: 'scrypt', hash: b64(scryptSync(password, salt, 32, { N: n, r, p })), salt: b64(salt), iterations: n, block_size: r, parallelism: p };
}

async function hashesFor(password: string): Promise<Record<string, Hash>> {
  return {
    bcrypt: { algorithm: 'bcrypt', hash: bcrypt.hashSync(password, 4) },
    argon2id: { algorithm: 'argon2id', hash: await argon2.hash(password, { type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 }) },
    'pbkdf2-sha256': keycloak(password, 'sha256', 27500),
    'pbkdf2-sha512': keycloak(password, 'sha512', 1000),
    scrypt: scrypted(password),
  };
}

const FORMATS = ['bcrypt', 'argon2id', 'pbkdf2-sha256', 'pbkdf2-sha512', 'scrypt'] as const;

/** Published test vectors, imported as they are. */
const VECTORS: Array<{ email: string; password: string; password_hash: Hash }> = [
  // crypt_blowfish's own test vector (also in jBCrypt's): "U*U" with cost 5; $2y$ is the same algorithm.
  { email: 'vector-bcrypt@example.com', password: 'U*U', password_hash: { algorithm: 'bcrypt', hash: '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW' } },
  { email: 'vector-bcrypt-2y@example.com', password: 'U*U', password_hash: { algorithm: 'bcrypt', hash: '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW' } },
  // RFC 7914 §11: PBKDF2-HMAC-SHA256 ("passwd", "salt", c = 1, dkLen = 64).
  {
    email: 'vector-pbkdf2@example.com',
    password: 'passwd',
    password_hash: {
      algorithm: 'pbkdf2-sha256',
      hash: b64(Buffer.from('55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783', 'hex')),
      salt: b64(Buffer.from('salt')),
      iterations: 1,
    },
  },
  // RFC 7914 §12: scrypt ("password", "NaCl", N = 1024, r = 8, p = 16, dkLen = 64).
  {
    email: 'vector-scrypt@example.com',
    password: 'password',
    password_hash: {
      algorithm: 'scrypt',
      hash: b64(Buffer.from('fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640', 'hex')),
      salt: b64(Buffer.from('NaCl')),
      iterations: 1024,
      block_size: 8,
      parallelism: 16,
    },
  },
];

for (const kind of databaseKinds()) {
  describe(`bulk import (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let clientId: string;

    before(async () => {
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, WEBHOOK_RETRY_SCHEDULE: '0.2s' } });
      clientId = await createTestApplication(server);
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    const storedHash = async (email: string) => String((await server.server.services.db('users').where({ email }).first('password_hash')).password_hash);
    const userCount = async () => Number((await server.server.services.db('users').count({ n: '*' }).first())!.n);

    test('10 000 users with mixed hash formats in one call; old passwords sign in and are rehashed with argon2id', async () => {
      const webhook = await server.admin('POST', '/webhooks', { url: `${receiver.url}/bulk`, events: ['user.bulk.create'] });
      assert.equal(webhook.status, 201, JSON.stringify(webhook.body));

      // Each format: one user with a password of its own (signed in below), the rest sharing a few hashes.
      const pool = await Promise.all([0, 1, 2].map((i) => hashesFor(`pool password ${i}`)));
      const known = await Promise.all(FORMATS.map(async (format) => ({ format, password: `old ${format} password`, hash: (await hashesFor(`old ${format} password`))[format]! })));
      const users: Array<Record<string, unknown>> = VECTORS.map(({ email, password_hash }) => ({ email, password_hash, email_verified: true }));
      for (const { format, hash } of known) users.push({ email: `known-${format}@example.com`, password_hash: hash, email_verified: true, given_name: 'Known', metadata: { from: format } });
      for (let i = users.length; i < 10_000; i++) {
        const format = FORMATS[i % FORMATS.length]!;
        users.push({ email: `user${i}@import.example`, username: i % 7 === 0 ? `user${i}` : undefined, password_hash: pool[i % 3]![format], given_name: `User ${i}` });
      }
      const before = await userCount();
      const imported = await server.admin('POST', '/users/import', { users });
      assert.equal(imported.status, 200, JSON.stringify(imported.body).slice(0, 500));
      assert.deepEqual(imported.body, { created: 10_000, errors: [] });
      assert.equal(await userCount(), before + 10_000);

      const listed = await server.admin('GET', '/users?email=known-bcrypt@example.com');
      assert.equal(listed.body.length, 1);
      assert.equal(listed.body[0].source, 'import');
      assert.equal(listed.body[0].has_password, true);
      assert.equal(listed.body[0].given_name, 'Known');
      assert.deepEqual(listed.body[0].metadata, { from: 'bcrypt' });
      assert.ok(!JSON.stringify(listed.body).includes('$2'), 'no hash in the answer');

      // The hosted pages: each format's user signs in with the old password; the hash is argon2id after.
      for (const { format, password } of known) {
        const email = `known-${format}@example.com`;
        assert.ok(!todays(await storedHash(email)), `${format}: stored as imported before the sign-in`);
        const browser = new Browser(server.url);
        const { page } = await startLogin(browser, server, clientId);
        const wrong = await signIn(browser, page, email, 'not the old password');
        assert.equal(wrong.redirectedTo, null, `${format}: a wrong password is refused: ${alertText(wrong)}`);
        assert.ok(!todays(await storedHash(email)), `${format}: a wrong password rehashes nothing`);
        const again = new Browser(server.url);
        const started = await startLogin(again, server, clientId);
        assertCodeRedirect(await signIn(again, started.page, email, password), started.state);
        assert.ok(todays(await storedHash(email)), `${format}: rehashed with today's argon2id: ${await storedHash(email)}`);
      }

      // The published vectors, and pool users of every format, through the password check.
      const { users: service } = server.server.services;
      for (const vector of VECTORS) {
        const user = await service.findByEmail(vector.email);
        assert.equal(await service.verifyPassword(user, `${vector.password}x`), false, `${vector.email}: a wrong password fails`);
        assert.equal(await service.verifyPassword(user, vector.password), true, `${vector.email}: the vector's password`);
        assert.ok(todays(await storedHash(vector.email)), vector.email);
        assert.equal(await service.verifyPassword(user, vector.password), true, `${vector.email}: and again against the new hash`);
      }
      for (let i = VECTORS.length + FORMATS.length; i < VECTORS.length + FORMATS.length + 10; i++) {
        const email = `user${i}@import.example`;
        assert.equal(await service.verifyPassword(await service.findByEmail(email), `pool password ${i % 3}`), true, `${email} (${FORMATS[i % FORMATS.length]})`);
        assert.ok(todays(await storedHash(email)), email);
      }

      // One user.bulk.create for the call, signed, with every id.
      const [delivery] = await receiver.waitForCount('/bulk', 1);
      verifyWebhook(webhook.body.secret, delivery!);
      assert.equal(delivery!.payload.type, 'user.bulk.create');
      assert.equal(delivery!.payload.data.count, 10_000);
      assert.equal(delivery!.payload.data.users.length, 10_000);
      assert.equal(delivery!.payload.data.users[0].email, VECTORS[0]!.email);
      assert.equal(receiver.on('/bulk').length, 1);

      // The audit log: one entry, a summary, no hash.
      const audit = await server.admin('GET', '/audit-log?action=POST%20%2Fusers%2Fimport');
      assert.equal(audit.status, 200, JSON.stringify(audit.body));
      const entries = (Array.isArray(audit.body) ? audit.body : (audit.body.entries ?? audit.body.items)).filter((e: { action: string }) => e.action === 'POST /users/import');
      assert.equal(entries.length, 1, JSON.stringify(audit.body).slice(0, 300));
      assert.equal(entries[0].after.created, 10_000);
      assert.ok(!JSON.stringify(entries[0]).includes('$2a$') && !JSON.stringify(entries[0]).includes('argon2id$'), 'no hash in the audit log');
      await server.admin('DELETE', `/webhooks/${webhook.body.id}`);
    });

    test('a call with bad entries imports nothing and names each bad index and field', async () => {
      await server.admin('POST', '/users', { email: 'taken@example.com' });
      const good = (await hashesFor('a good password')).bcrypt!;
      const before = await userCount();
      const answer = await server.admin('POST', '/users/import', {
        users: [
          { email: 'fine@example.com', password_hash: good },
          { email: 'not an address', password_hash: good },
          { email: 'algo@example.com', password_hash: { algorithm: 'md5', hash: 'abc' } },
          { email: 'bcrypt@example.com', password_hash: { algorithm: 'bcrypt', hash: '$2a$10$short' } },
          { email: 'nosalt@example.com', password_hash: { algorithm: 'pbkdf2-sha256', hash: b64(randomBytes(32)), iterations: 1000 } },
          { email: 'FINE@example.com', password_hash: good },
          { email: 'taken@example.com' },
          { email: 'both@example.com', password: 'a long password 1', password_hash: good },
          { email: 'cost@example.com', password_hash: { algorithm: 'scrypt', hash: b64(randomBytes(32)), salt: b64(randomBytes(16)), iterations: 1000 } },
          { email: 'breached@example.com', password: 'password1' },
          { email: 'extra@example.com', role: 'admin' },
          'not an object',
        ],
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.created, 0);
      const byIndex = new Map(answer.body.errors.map((e: { index: number; field: string | null; message: string }) => [e.index, e]));
      assert.deepEqual(
        [...byIndex.keys()].sort((a, b) => (a as number) - (b as number)),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        JSON.stringify(answer.body.errors),
      );
      const field = (i: number) => (byIndex.get(i) as { field: string }).field;
      assert.equal(field(1), 'email');
      assert.equal(field(2), 'password_hash.algorithm');
      assert.equal(field(3), 'password_hash.hash');
      assert.equal(field(4), 'password_hash.salt');
      assert.equal(field(5), 'email');
      assert.match((byIndex.get(5) as { message: string }).message, /users\[0\]/);
      assert.equal(field(6), 'email');
      assert.match((byIndex.get(6) as { message: string }).message, /already registered/);
      assert.equal(field(7), 'password');
      assert.equal(field(8), 'password_hash.iterations');
      assert.equal(field(9), 'password');
      assert.match((byIndex.get(9) as { message: string }).message, /breach/);
      assert.equal(field(10), 'role');
      assert.match(answer.body.message, /^users\[1\]\.email: /);
      assert.equal(await userCount(), before, 'nothing was imported');
      assert.equal((await server.admin('GET', '/users?email=fine@example.com')).body.length, 0);
    });

    test('plain passwords are checked and hashed with argon2id; an entry without any password has none', async () => {
      const answer = await server.admin('POST', '/users/import', {
        users: [
          { email: 'plain1@example.com', password: 'a long password 9' },
          { email: 'plain2@example.com', password: 'another long password 9' },
          { email: 'nopassword@example.com', username: 'nopassword' },
        ],
      });
      assert.deepEqual(answer.body, { created: 3, errors: [] });
      const { users: service } = server.server.services;
      assert.ok(todays(await storedHash('plain1@example.com')));
      assert.equal(await service.verifyPassword(await service.findByEmail('plain2@example.com'), 'another long password 9'), true);
      const none = (await server.admin('GET', '/users?email=nopassword@example.com')).body[0];
      assert.equal(none.has_password, false);
      assert.equal(none.username, 'nopassword');
      // The username is taken now: a second call naming it is refused whole.
      const again = await server.admin('POST', '/users/import', { users: [{ email: 'other@example.com', username: 'NoPassword' }] });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body.errors, [{ index: 0, field: 'username', message: 'is already taken' }]);
    });

    test('the import needs the admin key, takes at most 10 000 users and a bounded body', async () => {
      const stranger = await fetch(`${server.url}/admin/api/users/import`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ users: [{ email: 'x@example.com' }] }),
      });
      assert.equal(stranger.status, 401);
      assert.equal((await server.admin('GET', '/users?email=x@example.com')).body.length, 0);
      const tooMany = await server.admin('POST', '/users/import', { users: Array.from({ length: 10_001 }, (_, i) => ({ email: `many${i}@example.com` })) });
      assert.equal(tooMany.status, 400);
      assert.match(tooMany.body.message, /^users: must hold at most 10000/);
      assert.equal((await server.admin('POST', '/users/import', { users: [] })).status, 400);
      assert.equal((await server.admin('POST', '/users/import', { people: [] })).status, 400);
      const huge = await server.admin('POST', '/users/import', { users: [{ email: 'big@example.com', metadata: { blob: 'x'.repeat(33 * 1024 * 1024) } }] });
      assert.equal(huge.status, 413);
      // Other routes keep their small limit.
      const big = await server.admin('POST', '/users', { email: 'big@example.com', metadata: { blob: 'x'.repeat(200 * 1024) } });
      assert.equal(big.status, 413);
    });
  });

  describe(`an import killed halfway leaves nothing imported (${kind})`, () => {
    test('the server dies after the first batch of 500, inside the transaction; started again, none of the 1200 users exists, and the call can be made again', async (t) => {
      const database = await createTestDatabase(kind);
      const proc = await ServerProcess.create(database.url);
      t.after(async () => {
        await proc.kill();
        await database.drop();
      });
      await proc.start({ NODE_ENV: 'test', TESSERA_FAULT_POINT: 'import.first-batch-written' });
      const hash = { algorithm: 'bcrypt', hash: bcrypt.hashSync('crash password 1', 4) };
      const users = Array.from({ length: 1200 }, (_, i) => ({ email: `crash${i}@example.com`, password_hash: hash }));
      await assert.rejects(proc.admin('POST', '/users/import', { users }), 'the request is cut by the kill');
      assert.equal((await proc.exited()).signal, 'SIGKILL', 'the process killed itself at the fault point');
      await proc.start();
      for (const i of [0, 499, 500, 1199]) assert.deepEqual((await proc.admin('GET', `/users?email=crash${i}@example.com`)).body, [], `crash${i} was not imported`);
      const again = await proc.admin('POST', '/users/import', { users });
      assert.deepEqual(again.body, { created: 1200, errors: [] });
      for (const i of [0, 1199]) assert.equal((await proc.admin('GET', `/users?email=crash${i}@example.com`)).body.length, 1);
    });
  });
}
