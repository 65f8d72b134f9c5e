// KICKSTART: a JSON file of applications (with fixed client_id and secret), users and resource
// servers, applied once on a database without applications; a second start does not apply it again;
// a bad file stops start-up with an error naming the entry, and leaves nothing half-applied.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { createTestDatabase, databaseKinds } from './support/databases.ts';
import { ADMIN_KEY, freePort, startTestServer } from './support/server.ts';

const CALLBACK = 'https://app.example.com/callback';
const dir = mkdtempSync(join(tmpdir(), 'tessera-kickstart-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function kickstartFile(content: unknown): string {
  const file = join(dir, `kickstart-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** Starts a server on a fresh database with this KICKSTART file; answers the start-up error. */
async function startupError(kind: 'sqlite' | 'postgres', content: unknown, file?: string): Promise<{ message: string; applications: number; users: number }> {
  const database = await createTestDatabase(kind);
  const port = await freePort();
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    KICKSTART: file ?? kickstartFile(content),
  };
  try {
    const running = await startServer(loadConfig(env), { announce: () => {}, log: createLogger('silent') });
    await running.close();
    return { message: '(started)', applications: -1, users: -1 };
  } catch (error) {
    // Nothing was half-applied: start the same database without the file and count.
    const clean = await startServer(loadConfig({ ...env, KICKSTART: '' }), { announce: () => {}, log: createLogger('silent') });
    // The server's own applications (the console's, the account page's) are made at every start
    // (src/oidc/first-party-clients.ts), file or not.
    const applications = (await clean.services.applications.list()).filter((a) => a.client_id !== 'tessera-console' && a.client_id !== 'tessera-account').length;
    const users = (await clean.services.users.list()).length;
    await clean.close();
    return { message: (error as Error).message, applications, users };
  } finally {
    await database.drop();
  }
}

for (const kind of databaseKinds()) {
  describe(`KICKSTART (${kind})`, () => {
    test('applies applications (fixed client_id and secret), resource servers and users on first start, once', async () => {
      const file = kickstartFile({
        applications: [
          {
            name: 'Notes',
            redirect_uris: [CALLBACK],
            grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
            client_id: 'notes',
            client_secret: 'notes-secret-0123456789',
            // The file lists applications before the resource servers they name: they are applied after them.
            resource_servers: ['https://api.example.com'],
          },
          { name: 'SPA', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', client_id: 'spa' },
        ],
        resource_servers: [{ identifier: 'https://api.example.com', name: 'API', scopes: ['read'] }],
        users: [
          { email: 'Ada@Example.com', password: 'analytical-engine-1843', given_name: 'Ada', email_verified: true },
          { email: 'grace@example.com', username: 'grace', metadata: { team: 'navy' } },
        ],
        hooks: [{ name: 'later', event: 'after_login', mode: 'async', code: 'export default async () => {}', applications: ['notes'], secrets: { TOKEN: 't' } }],
      });
      const server = await startTestServer(kind, { env: { KICKSTART: file } });
      try {
        const notes = await server.admin('GET', '/applications/notes');
        assert.equal(notes.status, 200);
        assert.equal(notes.body.name, 'Notes');
        assert.equal(notes.body.client_secret, undefined);
        assert.equal((await server.admin('GET', '/applications/spa')).body.token_endpoint_auth_method, 'none');
        // The fixed secret works at the token endpoint.
        const token = await fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('notes:notes-secret-0123456789').toString('base64')}` },
          body: 'grant_type=client_credentials',
        });
        assert.equal(token.status, 200, await token.clone().text());
        assert.equal(typeof ((await token.json()) as { access_token?: string }).access_token, 'string');
        assert.deepEqual(notes.body.resource_servers, [{ identifier: 'https://api.example.com', scopes_allowed: ['read'] }]);
        const apiToken = await fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('notes:notes-secret-0123456789').toString('base64')}` },
          body: `grant_type=client_credentials&scope=read&resource=${encodeURIComponent('https://api.example.com')}`,
        });
        assert.equal(apiToken.status, 200, await apiToken.clone().text());
        assert.equal(((await apiToken.json()) as { scope?: string }).scope, 'read');

        const ada = await server.admin('GET', '/users?email=ada@example.com');
        assert.equal(ada.body.length, 1);
        assert.equal(ada.body[0].source, 'kickstart');
        assert.equal(ada.body[0].has_password, true);
        assert.equal(ada.body[0].email_verified, true);
        const stored = await server.server.services.users.findByEmail('ada@example.com');
        assert.ok(await server.server.services.users.verifyPassword(stored, 'analytical-engine-1843'), 'the password from the file works');
        assert.deepEqual((await server.admin('GET', '/users?email=grace@example.com')).body[0].metadata, { team: 'navy' });
        assert.equal((await server.admin('GET', `/resource-servers/${encodeURIComponent('https://api.example.com')}`)).status, 200);
        // Hooks are applied too (no longer skipped), scoped to an application of the same file.
        const hooks = (await server.admin('GET', '/hooks')).body;
        assert.deepEqual(
          hooks.map((h: any) => [h.name, h.event, h.mode, h.applications, h.secrets]),
          [['later', 'after_login', 'async', ['notes'], ['TOKEN']]],
        );
        // Its first version is recorded as the kickstart's.
        assert.deepEqual(
          (await server.admin('GET', `/hooks/${hooks[0].id}/versions`)).body.map((v: any) => [v.version, v.deployed, v.created_by]),
          [[1, true, 'kickstart']],
        );
        // What was applied is told: a kickstart.success event naming what it created.
        const told = await server.server.services.db('webhook_events').where({ type: 'kickstart.success' });
        assert.equal(told.length, 1);
        const applied = JSON.parse(told[0].data).applied;
        assert.deepEqual(applied.hooks, [{ id: hooks[0].id, name: 'later', event: 'after_login', mode: 'async', version: 1, enabled: true }]);
        assert.deepEqual(applied.applications.map((a: any) => a.client_id).sort(), ['notes', 'spa']);
        assert.deepEqual(applied.resource_servers, [{ identifier: 'https://api.example.com' }]);
        assert.equal(applied.users.length, 2);

        // Second start with a longer file: not applied again (the database has applications now).
        writeFileSync(
          file,
          JSON.stringify({
            applications: [{ name: 'Late', redirect_uris: [CALLBACK], client_id: 'late' }],
            users: [{ email: 'late@example.com' }, { email: 'ada@example.com' }],
          }),
        );
        await server.restart();
        assert.equal((await server.admin('GET', '/applications/late')).status, 404);
        assert.deepEqual((await server.admin('GET', '/users?email=late@example.com')).body, []);
        assert.deepEqual((await server.admin('GET', '/applications')).body.map((a: any) => a.client_id).sort(), ['notes', 'spa', 'tessera-account', 'tessera-console']);

        // Even with every application deleted, a kickstart applied once is not applied again.
        for (const id of ['notes', 'spa']) assert.equal((await server.admin('DELETE', `/applications/${id}`)).status, 204);
        await server.restart();
        assert.deepEqual((await server.admin('GET', '/applications')).body.map((a: any) => a.client_id).sort(), ['tessera-account', 'tessera-console'], "only the server's own applications");
        assert.deepEqual((await server.admin('GET', '/users?email=late@example.com')).body, []);
      } finally {
        await server.close();
      }
    });

    test('a file without applications is applied once too', async () => {
      const file = kickstartFile({ users: [{ email: 'solo@example.com' }] });
      const server = await startTestServer(kind, { env: { KICKSTART: file } });
      try {
        assert.equal((await server.admin('GET', '/users?email=solo@example.com')).body.length, 1);
        await server.restart(); // still no application: the file must not be applied (and conflict) again
        assert.equal((await server.admin('GET', '/users?email=solo@example.com')).body.length, 1);
      } finally {
        await server.close();
      }
    });

    test('a bad file stops start-up, names the bad entry and applies nothing', async () => {
      const app = { name: 'Good', redirect_uris: [CALLBACK] };
      const cases: Array<[unknown, RegExp]> = [
        [{ applications: [app], users: [{ email: 'a@example.com' }, { email: 'b@example.com' }, { email: 'not-an-email' }] }, /users\[2\]\.email: must be a valid email address/],
        [{ applications: [app, { name: 'No redirects' }] }, /applications\[1\]\.redirect_uris: /],
        [{ applications: [app, { ...app, client_id: 'a b' }] }, /applications\[1\]\.client_id: /],
        [
          {
            applications: [
              { ...app, client_id: 'same' },
              { ...app, client_id: 'same' },
            ],
          },
          /applications\[1\]\.client_id: is already in use/,
        ],
        [{ applications: [app], users: [{ email: 'x@example.com' }, { email: 'X@example.com' }] }, /users\[1\]\.email: is already registered/],
        [{ applications: [app], users: [{ email: 'y@example.com', password: 'short' }] }, /users\[0\]\.password: /],
        [{ applications: [app], users: [{ email: 'z@example.com', role: 'admin' }] }, /users\[0\]\.role: is not a known field/],
        [{ applications: [app], users: ['z@example.com'] }, /users\[0\]: must be a JSON object/],
        [{ applications: [app], resource_servers: [{ identifier: 'nope', name: 'x' }] }, /resource_servers\[0\]\.identifier: /],
        [{ applications: [{ ...app, resource_servers: ['https://unknown.example'] }] }, /applications\[0\]\.resource_servers\[0\]: .*not a registered resource server/],
        [
          { applications: [app], users: [{ email: 'h@example.com' }], hooks: [{ name: 'x', event: 'after_login', mode: 'async', code: 'export default async function () {\n  const = 1;\n}' }] },
          /hooks\[0\]\.code: does not compile \(line 2\)/,
        ],
        [{ applications: [app], hooks: [{ name: 'x', event: 'after_login', mode: 'async', code: 'export default async () => {}', applications: ['nobody'] }] }, /hooks\[0\]\.applications\[0\]: /],
        [{ applications: app }, /applications: must be an array/],
        [{ clients: [app] }, /clients: is not a known section/],
        [[app], /must be a JSON object/],
        ['{"applications": [', /is not valid JSON/],
      ];
      for (const [content, expected] of cases) {
        const result = await startupError(kind, content);
        assert.match(result.message, expected, JSON.stringify(content));
        assert.match(result.message, /^KICKSTART .*kickstart-\d+\.json: /, 'the message names the file');
        assert.equal(result.applications, 0, `nothing applied for ${JSON.stringify(content)}`);
        assert.equal(result.users, 0, `no user applied for ${JSON.stringify(content)}`);
      }
      const missing = await startupError(kind, null, join(dir, 'missing.json'));
      assert.match(missing.message, /^KICKSTART .*missing\.json: cannot read the file \(ENOENT\)/);
    });
  });
}
