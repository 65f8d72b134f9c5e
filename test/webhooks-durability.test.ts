// Webhooks are never lost: 1000 events pending, the server process killed with SIGKILL while it is
// delivering them, started again: every event arrives (duplicates allowed, counted and reported).
// On PostgreSQL, two server processes share the outbox and never send a delivery twice within a lease.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './support/databases.ts';
import { ADMIN_KEY, freePort, startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The real server (src/main.ts) in a child process. */
class ServerProcess {
  readonly url: string;
  readonly #env: Record<string, string>;
  #child: ChildProcess | null = null;
  #stderr = '';

  constructor(port: number, env: Record<string, string>) {
    this.url = `http://127.0.0.1:${port}`;
    this.#env = env;
  }

  async start(): Promise<void> {
    this.#stderr = '';
    const child = spawn(process.execPath, ['--no-node-snapshot', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...this.#env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.#child = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${this.#stderr}`);
      try {
        if ((await fetch(`${this.url}/health`)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the server did not start: ${this.#stderr}`);
      await sleep(50);
    }
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
}

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

for (const kind of databaseKinds()) {
  describe(`webhook durability (${kind})`, () => {
    let database: TestDatabase;
    let receiver: WebhookReceiver;
    let proc: ServerProcess;

    before(async () => {
      database = await createTestDatabase(kind);
      receiver = await WebhookReceiver.start();
      const port = await freePort();
      proc = new ServerProcess(port, {
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: `http://127.0.0.1:${port}`,
        DATABASE_URL: database.url,
        ADMIN_API_KEY: ADMIN_KEY,
        LOG_LEVEL: 'silent',
        PASSWORD_HASH_MEMORY_KIB: '1024',
        PASSWORD_HASH_ITERATIONS: '1',
        // Few deliveries at once and a slow receiver, so that most events are still pending at the kill;
        // a short lease so that PostgreSQL (where a dead process's leases must run out) recovers quickly.
        WEBHOOK_CONCURRENCY: '4',
        WEBHOOK_TIMEOUT: '2s',
        WEBHOOK_LEASE: '5s',
        WEBHOOK_RETRY_SCHEDULE: '0.2s,0.5s,1s,2s,5s',
        WEBHOOK_ALLOWED_HOSTS: receiver.hostPort,
      });
    });
    after(async () => {
      await proc?.kill('SIGKILL');
      await receiver?.close();
      await database?.drop();
    });

    test(`${EVENTS} pending events, SIGKILL mid-delivery, restart: all arrive, none lost`, async (t) => {
      await proc.start();
      const created = await proc.admin('POST', '/webhooks', { url: `${receiver.url}/durable`, events: ['user.create'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const secret: string = created.body.secret;
      receiver.behave('/durable', () => ({ delayMs: 60 }));

      // 1000 changes, each a user and its user.create event in one transaction.
      const emails = Array.from({ length: EVENTS }, (_, i) => `durable${i}@example.com`);
      await inParallel(emails, 16, async (email) => {
        const answer = await proc.admin('POST', '/users', { email });
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
      });
      const unique = () => new Set(receiver.on('/durable').map((r) => r.headers['webhook-id'])).size;

      // Kill the process while requests are open (mid-delivery), well before everything arrived.
      await receiver.waitFor('some deliveries', () => unique() >= 50, 20_000);
      await receiver.waitFor('a request in flight', () => receiver.open > 0, 5000);
      const openAtKill = receiver.open; // requests the server is waiting on as it dies
      const beforeKill = unique();
      await proc.kill('SIGKILL');
      assert.ok(openAtKill > 0, 'killed mid-delivery');
      assert.ok(beforeKill < EVENTS, `still ${EVENTS - beforeKill} to deliver at the kill`);

      receiver.behave('/durable', () => ({}));
      await proc.start();
      await receiver.waitFor(`all ${EVENTS} events`, () => unique() >= EVENTS, 60_000);
      // Every delivery final (none pending): no request is still to come, duplicates included.
      const deadline = performance.now() + 20_000;
      while ((await proc.admin('GET', `/webhooks/${created.body.id}/deliveries?status=pending&limit=1`)).body.length > 0) {
        assert.ok(performance.now() < deadline, 'the deliveries end');
        await sleep(50);
      }

      const requests = receiver.on('/durable');
      const ids = new Set(requests.map((r) => r.headers['webhook-id']));
      const duplicates = requests.length - ids.size;
      t.diagnostic(`${kind}: ${beforeKill} events delivered before the SIGKILL (${openAtKill} requests open), ${ids.size} after the restart, ${duplicates} duplicates`);
      assert.equal(ids.size, EVENTS);
      assert.deepEqual(new Set(requests.map((r) => r.payload.data.user.email)), new Set(emails), 'every change arrived');
      for (const request of requests) verifyWebhook(secret, request);
      // Duplicates are the deliveries the dead process had sent but not yet recorded: a handful, bounded
      // by what it can hold (4 at once, plus results waiting for the next write), never the backlog.
      assert.ok(duplicates <= 20, `${duplicates} duplicates`);

      // The log agrees: all delivered, nothing pending or failed.
      let delivered = 0;
      for (let offset = 0; ; offset += 500) {
        const page = await proc.admin('GET', `/webhooks/${created.body.id}/deliveries?status=delivered&limit=500&offset=${offset}`);
        delivered += page.body.length;
        if (page.body.length < 500) break;
      }
      assert.equal(delivered, EVENTS);
      assert.deepEqual((await proc.admin('GET', `/webhooks/${created.body.id}/deliveries?status=pending`)).body, []);
      assert.deepEqual((await proc.admin('GET', `/webhooks/${created.body.id}/deliveries?status=failed`)).body, []);
      await proc.kill('SIGTERM');
    });
  });

  // Several processes share one PostgreSQL; SQLite runs one dispatcher per database file.
  if (kind === 'postgres')
    describe(`webhook dispatchers sharing a database (${kind})`, () => {
      let first: TestServer;
      let second: RunningServer | null = null;
      let receiver: WebhookReceiver;
      before(async () => {
        receiver = await WebhookReceiver.start();
        const env = { WEBHOOK_RETRY_SCHEDULE: '0.1s', WEBHOOK_CONCURRENCY: '8', WEBHOOK_ALLOWED_HOSTS: receiver.hostPort };
        first = await startTestServer(kind, { env });
        // A second server process (its own pool, its own dispatcher) on the same database.
        second = await startServer(loadConfig({ ...first.env, PORT: String(await freePort()) }), { announce: () => {} });
      });
      after(async () => {
        await second?.close();
        await first?.close();
        await receiver?.close();
      });

      test('two processes share the work and never send a delivery twice within a lease', async () => {
        const created = await first.admin('POST', '/webhooks', { url: `${receiver.url}/shared`, events: ['user.create'] });
        assert.equal(created.status, 201);
        // Every event fails once, then succeeds: the retries go through the claim (UPDATE ... SKIP LOCKED).
        const seen = new Set<string>();
        receiver.behave('/shared', (request) => {
          const id = request.headers['webhook-id']!;
          if (seen.has(id)) return { delayMs: 5 };
          seen.add(id);
          return { status: 500, delayMs: 5 };
        });
        const count = 300;
        await inParallel(
          Array.from({ length: count }, (_, i) => i),
          12,
          async (i) => {
            const users = i % 2 ? first.server.services.users : second!.services.users;
            await users.create({ email: `shared${i}@example.com` }, 'admin');
          },
        );
        await receiver.waitFor(`${count} events delivered`, () => receiver.on('/shared').length >= count * 2, 30_000);
        await webhooksSettled(first); // every delivery final: a third attempt would have been made by now
        const perEvent = new Map<string, number>();
        for (const request of receiver.on('/shared')) perEvent.set(request.headers['webhook-id']!, (perEvent.get(request.headers['webhook-id']!) ?? 0) + 1);
        assert.equal(perEvent.size, count);
        assert.deepEqual([...new Set(perEvent.values())], [2], 'each event exactly twice: the failure and the retry, never a third time');
        const attemptsBy = async (server: RunningServer) => (await server.services.metrics.webhookAttempts.get()).values.reduce((sum, v) => sum + v.value, 0);
        const [a, b] = [await attemptsBy(first.server), await attemptsBy(second!)];
        assert.equal(a + b, count * 2);
        assert.ok(a > 0 && b > 0, `both processes delivered (${a} and ${b} attempts)`);
      });
    });
}
