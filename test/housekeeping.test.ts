// The clean-up starts soon after start (not CLEANUP_INTERVAL later), and one instance of several runs
// it: two servers on one PostgreSQL start together, the expired rows go, one of them logged the run, and
// the shared schedule says when it was done. (SQLite: one server, whose statements block its thread;
// two in one test process would wait on each other's write lock.)
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';
import { waitUntil } from './support/processes.ts';
import { ADMIN_KEY, freePort } from './support/server.ts';

function sink(lines: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
}

for (const kind of databaseKinds()) {
  describe(`housekeeping (${kind})`, () => {
    const servers: RunningServer[] = [];
    let database: TestDatabase;
    after(async () => {
      for (const server of servers) await server.close();
      await database?.drop();
    });

    const instances = kind === 'postgres' ? 2 : 1;
    test(`${instances} instance(s) started together: the clean-up runs soon after start, on one of them`, async () => {
      database = await createTestDatabase(kind);
      const logs: string[][] = Array.from({ length: instances }, () => []);
      for (const lines of logs) {
        const port = await freePort();
        const env = { PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, DATABASE_URL: database.url, ADMIN_API_KEY: ADMIN_KEY, CLEANUP_INTERVAL: '1h' };
        servers.push(await startServer(loadConfig(env), { announce: () => {}, log: createLogger('info', sink(lines)) }));
      }
      const { db } = servers[0]!.services;
      // An interaction state long expired, as a previous run would have left it.
      const expired = Date.now() - 86_400_000;
      await servers[0]!.services.flowStates.update('expired-flow', expired, {});
      await waitUntil('the first clean-up', async () => Boolean((await db('server_leases').where({ name: 'housekeeping' }).first())?.last_done_at), 15_000);
      const ran = logs.map((lines) => lines.filter((line) => line.includes('"expired rows cleaned"')).length);
      assert.equal(
        ran.reduce((a, b) => a + b, 0),
        1,
        `one run in all: ${JSON.stringify(ran)}`,
      );
      assert.equal(await db('interaction_states').where({ uid: 'expired-flow' }).first(), undefined, 'the expired row is gone');
    });
  });
}
