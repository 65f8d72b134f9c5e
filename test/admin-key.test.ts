// The admin API key in force: ADMIN_API_KEY when set; when unset, a generated key printed once. A
// key that came from the environment stops working once the environment no longer names it, and
// `tessera admin rotate-key` revokes the key in force on a running server, through the database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { sha256Hex } from '../src/crypto.ts';
import { createLogger } from '../src/log.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';
import { freePort } from './support/server.ts';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KEY_A = 'env-admin-key-A-0123456789';
const GENERATED = /Generated the admin API key \(shown once, store it now\): (tsk_\S+)/;

/** The status of an admin request, on a connection of its own (restarts leave no stale socket). */
function status(url: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${url}/admin/api/applications`, { agent: false, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
}

/** `tessera admin rotate-key` as an operator runs it, against the test database. */
function rotateKey(databaseUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl };
    delete env.ADMIN_API_KEY;
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'tessera.js'), 'admin', 'rotate-key'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const kind of databaseKinds()) {
  describe(`admin API key: source, removal and rotation (${kind})`, () => {
    let database: TestDatabase;
    let port: number;
    let server: RunningServer | null = null;
    const announced: string[] = [];
    const logLines: string[] = [];

    const start = async (adminKey: string | null, onPort = port) => {
      const env: Record<string, string> = {
        PORT: String(onPort),
        HOST: '127.0.0.1',
        ISSUER: `http://127.0.0.1:${port}`,
        DATABASE_URL: database.url,
        PASSWORD_HASH_MEMORY_KIB: '1024',
        PASSWORD_HASH_ITERATIONS: '1',
        ...(adminKey ? { ADMIN_API_KEY: adminKey } : {}),
      };
      const sink = new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      });
      const started = await startServer(loadConfig(env), { announce: (line) => announced.push(line), log: createLogger('info', sink) });
      if (onPort === port) server = started;
      return started;
    };
    const stop = async () => {
      await server?.close();
      server = null;
    };
    const inForce = () =>
      logLines
        .map((l) => JSON.parse(l))
        .filter((l) => l.msg === 'admin API key in force')
        .at(-1)?.admin_key;

    before(async () => {
      database = await createTestDatabase(kind);
      port = await freePort();
    });
    after(async () => {
      await stop();
      await database.drop();
    });

    test('an env key works while named, stops once removed, and a rotated key revokes the one in force', async () => {
      // 1. Started with ADMIN_API_KEY=A: A works, nothing is generated, the log names the source.
      let running = await start(KEY_A);
      assert.equal(await status(running.url, KEY_A), 200);
      assert.equal(announced.length, 0);
      assert.deepEqual(inForce(), { source: 'env', fingerprint: sha256Hex(KEY_A).slice(0, 12) });
      assert.ok(!logLines.join('').includes(KEY_A), 'the key itself is never logged');
      await stop();

      // 2. Restarted without ADMIN_API_KEY: A is refused, a new key is printed once and works.
      running = await start(null);
      assert.equal(await status(running.url, KEY_A), 401);
      assert.equal(announced.length, 1);
      const generated = GENERATED.exec(announced[0]!)?.[1];
      assert.ok(generated, `a generated key was announced: ${announced[0]}`);
      assert.equal(await status(running.url, generated), 200);
      assert.deepEqual(inForce(), { source: 'generated', fingerprint: sha256Hex(generated).slice(0, 12) });
      assert.ok(
        logLines.some((l) => JSON.parse(l).level === 40 && /no longer set/.test(JSON.parse(l).msg)),
        'start-up warns that the env key was dropped',
      );

      // 3. A generated key survives a restart without ADMIN_API_KEY (nothing new is printed).
      await stop();
      running = await start(null);
      assert.equal(announced.length, 1);
      assert.equal(await status(running.url, generated), 200);

      // A second instance on the same database agrees on the stored key (and prints nothing).
      const second = await start(null, await freePort());
      assert.equal(announced.length, 1);
      assert.equal(await status(second.url, generated), 200);
      assert.equal(await status(second.url, KEY_A), 401);

      // 4. `tessera admin rotate-key` while both run: the old key stops, the new one works, on each.
      const rotation = await rotateKey(database.url);
      assert.equal(rotation.code, 0, rotation.stderr);
      const rotated = /New admin API key \(shown once, store it now\): (tsk_\S+)/.exec(rotation.stdout)?.[1];
      assert.ok(rotated, `rotate-key printed the new key: ${rotation.stdout}`);
      for (const instance of [running, second]) {
        await waitFor('the rotated key to take effect', async () => (await status(instance.url, rotated)) === 200);
        assert.equal(await status(instance.url, generated), 401);
      }
      await second.close();

      // 5. And it stays in force across a restart without ADMIN_API_KEY.
      await stop();
      running = await start(null);
      assert.equal(announced.length, 1);
      assert.equal(await status(running.url, rotated), 200);
      assert.deepEqual(inForce(), { source: 'rotated', fingerprint: sha256Hex(rotated).slice(0, 12) });
    });

    test('a bare stored hash (written before sources were kept) is not trusted without ADMIN_API_KEY', async () => {
      await stop();
      let running = await start(KEY_A);
      await running.services
        .db('settings')
        .where({ key: 'admin_api_key_sha256' })
        .update({ value: sha256Hex(KEY_A) });
      await stop();
      const before = announced.length;
      running = await start(null);
      assert.equal(await status(running.url, KEY_A), 401);
      assert.equal(announced.length, before + 1);
      assert.equal(await status(running.url, GENERATED.exec(announced.at(-1)!)![1]!), 200);
    });
  });
}

describe('tessera admin rotate-key: usage', () => {
  test('extra arguments are a usage error (exit 2), nothing is rotated', async () => {
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'tessera.js'), 'admin', 'rotate-key', 'now'], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: 'sqlite:/nonexistent/dir/never.db' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /admin rotate-key takes no arguments/);
  });
});
