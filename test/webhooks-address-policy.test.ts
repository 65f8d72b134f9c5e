// Webhook URLs obey the address policy of a hook's fetch (CONTRACT §1 WEBHOOK_ALLOWED_HOSTS, §6):
// loopback, link-local (cloud metadata), private and the IPv6 forms embedding them are refused at
// creation and PATCH (400 naming the address) and again before every delivery, after DNS resolution
// (a stored endpoint whose allowance was withdrawn, a name that resolves inside later); a refused
// delivery is logged and retried, and nothing is ever connected: a TCP probe listening on 127.0.0.1
// counts the connections it gets. WEBHOOK_ALLOWED_HOSTS lets a receiver on loopback in, for its port.
// Nothing leaves loopback: the only names used are `localhost` and names answered by the test's
// resolver with loopback addresses.
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { systemResolver } from '../src/net/resolve-target.ts';
import { startServer } from '../src/server.ts';
import { createTestDatabase, databaseKinds } from './support/databases.ts';
import { CALLBACK } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP listener on 127.0.0.1 that only counts the connections it is offered (it answers nothing). */
class TcpProbe {
  connections = 0;
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor() {
    this.#server = createServer((socket) => {
      this.connections++;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {});
    });
  }

  static async start(): Promise<TcpProbe> {
    const probe = new TcpProbe();
    await new Promise<void>((resolve) => probe.#server.listen(0, '127.0.0.1', () => resolve()));
    probe.port = (probe.#server.address() as { port: number }).port;
    return probe;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Polls `read` until `done` holds (the condition, not a fixed sleep); answers the last value. */
async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(25);
  }
}

const REFUSED = /^refused \(not connected\): /;

test('WEBHOOK_ALLOWED_HOSTS: host or host:port entries, lower-cased; wildcards, URLs and bad ports are refused at start', () => {
  assert.deepEqual(loadConfig({}).webhooks.allowedHosts, []);
  assert.deepEqual(loadConfig({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:8080, Hooks.Internal ,[::1]:9000,' }).webhooks.allowedHosts, ['127.0.0.1:8080', 'hooks.internal', '[::1]:9000']);
  for (const bad of ['*.internal', 'http://hooks.internal', 'hooks.internal:99999', 'hooks.internal/path', '10.0.0.0/8']) {
    assert.throws(
      () => loadConfig({ WEBHOOK_ALLOWED_HOSTS: bad }),
      (error: Error) => error instanceof ConfigError && /^WEBHOOK_ALLOWED_HOSTS /.test(error.message),
      bad,
    );
  }
});

for (const kind of databaseKinds()) {
  describe(`webhook address policy (${kind})`, () => {
    let probe: TcpProbe;
    let receiver: WebhookReceiver;
    let seq = 0;

    before(async () => {
      probe = await TcpProbe.start();
      receiver = await WebhookReceiver.start();
    });
    after(async () => {
      await probe?.close();
      await receiver?.close();
    });

    async function createUser(server: TestServer): Promise<void> {
      const created = await server.admin('POST', '/users', { email: `policy${++seq}@example.com` });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }

    async function attempts(
      server: TestServer,
      id: string,
    ): Promise<Array<{ id: string; status: string; attempts: number; log: Array<{ error: string | null; status_code: number | null; next_attempt_at: string | null }> }>> {
      const listed = await server.admin('GET', `/webhooks/${id}/deliveries`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body;
    }

    test('loopback, metadata, private and IPv4-mapped URLs are refused at creation and PATCH with a 400 naming the address; none is connected', async () => {
      const server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
      try {
        const refused: Array<[string, RegExp]> = [
          [`http://127.0.0.1:${probe.port}/hook`, /^url: 127\.0\.0\.1 is a loopback address; .*WEBHOOK_ALLOWED_HOSTS lists 127\.0\.0\.1:\d+$/],
          ['http://169.254.169.254/latest/meta-data/', /^url: 169\.254\.169\.254 is a link-local address/],
          [`http://[::ffff:127.0.0.1]:${probe.port}/hook`, /^url: \[::ffff:7f00:1\] is an IPv4-mapped loopback address/],
          ['https://[::ffff:169.254.169.254]/', /^url: \[::ffff:a9fe:a9fe\] is an IPv4-mapped link-local address/],
          [`http://[::1]:${probe.port}/hook`, /^url: \[::1\] is a loopback address/],
          [`http://localhost:${probe.port}/hook`, /^url: localhost resolves to (127\.0\.0\.1|::1), a loopback address/],
          [`http://2130706433:${probe.port}/hook`, /^url: 127\.0\.0\.1 is a loopback address/],
          [`http://0x7f.1:${probe.port}/hook`, /^url: 127\.0\.0\.1 is a loopback address/],
          ['http://10.0.0.1/hook', /^url: 10\.0\.0\.1 is a private address/],
          ['https://192.168.1.20/hook', /^url: 192\.168\.1\.20 is a private address/],
          ['http://0.0.0.0/hook', /^url: 0\.0\.0\.0 is an unspecified/],
          // The receiver's host is listed with its port only: another port on it is still loopback.
          [`http://127.0.0.1:${probe.port}/`, /^url: 127\.0\.0\.1 is a loopback address/],
        ];
        for (const [url, message] of refused) {
          const created = await server.admin('POST', '/webhooks', { url, events: ['*'] });
          assert.equal(created.status, 400, `${url}: ${JSON.stringify(created.body)}`);
          assert.equal(created.body.error, 'invalid_request');
          assert.match(created.body.message, message, url);
        }

        // The listed receiver is accepted; moving it to a refused address is not, and changes nothing.
        const allowed = await server.admin('POST', '/webhooks', { url: `${receiver.url}/allowed`, events: ['user.create'] });
        assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
        const moved = await server.admin('PATCH', `/webhooks/${allowed.body.id}`, { url: `http://127.0.0.1:${probe.port}/moved`, enabled: false });
        assert.equal(moved.status, 400, JSON.stringify(moved.body));
        assert.match(moved.body.message, /^url: 127\.0\.0\.1 is a loopback address/);
        const read = await server.admin('GET', `/webhooks/${allowed.body.id}`);
        assert.equal(read.body.url, `${receiver.url}/allowed`);
        assert.equal(read.body.enabled, true);
        // A PATCH that leaves the URL alone is not refused.
        const described = await server.admin('PATCH', `/webhooks/${allowed.body.id}`, { description: 'CRM' });
        assert.equal(described.status, 200, JSON.stringify(described.body));
        assert.deepEqual(
          (await server.admin('GET', '/webhooks')).body.map((w: { id: string }) => w.id),
          [allowed.body.id],
          'no refused endpoint was stored',
        );

        // Events flow to the listed receiver; the probe saw nothing, before or after.
        await createUser(server);
        await receiver.waitForCount('/allowed', 1);
        assert.equal(probe.connections, 0);
      } finally {
        await server.close();
      }
    });

    test('an endpoint stored while its host was allowed is refused at delivery once the allowance is withdrawn: logged, retried, never connected', async () => {
      const server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${probe.port}`, WEBHOOK_RETRY_SCHEDULE: '0.1s', WEBHOOK_TIMEOUT: '1s', WEBHOOK_LEASE: '5s' } });
      try {
        const created = await server.admin('POST', '/webhooks', { url: `http://127.0.0.1:${probe.port}/stored`, events: ['user.create'] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        // The same database, restarted without the allowance (as an operator who removes it would).
        delete server.env.WEBHOOK_ALLOWED_HOSTS;
        await server.restart();
        await createUser(server);
        const [delivery] = await waitFor(
          'the delivery to fail for good',
          () => attempts(server, created.body.id),
          (list) => list[0]?.status === 'failed',
        );
        assert.equal(delivery.attempts, 2, 'retried on the schedule like any failure, then the dead letter');
        for (const attempt of delivery.log) {
          assert.equal(attempt.status_code, null);
          assert.match(String(attempt.error), REFUSED);
          assert.match(
            String(attempt.error),
            new RegExp(`127\\.0\\.0\\.1 is a loopback address; webhook URLs may reach only public addresses unless WEBHOOK_ALLOWED_HOSTS lists 127\\.0\\.0\\.1:${probe.port}$`),
          );
        }
        assert.notEqual(delivery.log[0].next_attempt_at, null, 'the first refusal was scheduled for a retry');
        // A manual retry is refused the same way.
        const retried = await server.admin('POST', `/webhooks/${created.body.id}/deliveries/${delivery.id}/retry`);
        assert.equal(retried.status, 202, JSON.stringify(retried.body));
        await waitFor(
          'the manual retry to be refused',
          () => attempts(server, created.body.id),
          (list) => list[0]?.status === 'failed' && list[0].attempts === 3,
        );
        assert.equal((await server.admin('GET', `/webhooks/${created.body.id}`)).body.enabled, true, 'a refusal does not disable the endpoint');
        assert.equal(probe.connections, 0, 'the probe on 127.0.0.1 was never connected to');
      } finally {
        await server.close();
      }
    });

    test('a name that resolved to a public address at creation and resolves inside at delivery is refused then, never connected', async () => {
      // `localhost` is answered with a public address while the endpoint is created, and by the
      // system resolver (loopback) afterwards: the shape of a name an attacker repoints.
      let answer: (hostname: string) => Promise<LookupAddress[]> = async () => [{ address: '93.184.216.34', family: 4 }];
      const asked: string[] = [];
      const server = await startTestServer(kind, {
        env: { WEBHOOK_RETRY_SCHEDULE: '0.1s', WEBHOOK_TIMEOUT: '1s', WEBHOOK_LEASE: '5s' },
        resolve: (hostname) => {
          asked.push(hostname);
          return answer(hostname);
        },
      });
      try {
        const created = await server.admin('POST', '/webhooks', { url: `http://localhost:${probe.port}/rebound`, events: ['user.create'] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        answer = systemResolver;
        await createUser(server);
        const [delivery] = await waitFor(
          'the delivery to fail for good',
          () => attempts(server, created.body.id),
          (list) => list[0]?.status === 'failed',
        );
        assert.equal(delivery.log.length, 2);
        for (const attempt of delivery.log)
          assert.match(String(attempt.error), /^refused \(not connected\): localhost resolves to (127\.0\.0\.1|::1), a loopback address; .*WEBHOOK_ALLOWED_HOSTS lists localhost:\d+$/);
        assert.deepEqual(asked, ['localhost', 'localhost', 'localhost'], 'resolved and checked at creation, and again before each attempt');
        assert.equal(probe.connections, 0, 'the probe on 127.0.0.1 was never connected to');
      } finally {
        await server.close();
      }
    });

    test('a listed name is delivered to the address its check resolved (pinned), with its own Host header', async () => {
      const asked: string[] = [];
      const port = receiver.hostPort.split(':')[1];
      const server = await startTestServer(kind, {
        env: { WEBHOOK_ALLOWED_HOSTS: `localhost:${port}` },
        resolve: async (hostname) => {
          asked.push(hostname);
          return [{ address: '127.0.0.1', family: 4 }];
        },
      });
      try {
        const created = await server.admin('POST', '/webhooks', { url: `http://localhost:${port}/by-name`, events: ['user.create'] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        await createUser(server);
        const [request] = await receiver.waitForCount('/by-name', 1);
        assert.equal(request.headers.host, `localhost:${port}`);
        assert.deepEqual(asked, ['localhost', 'localhost'], 'resolved at creation and at delivery, by the policy resolver');
      } finally {
        await server.close();
      }
    });

    test('KICKSTART: a webhook to a refused address stops the start-up with the entry and the address named', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-kickstart-policy-'));
      const file = join(dir, 'kickstart.json');
      writeFileSync(
        file,
        JSON.stringify({
          applications: [{ name: 'App', redirect_uris: [CALLBACK] }],
          webhooks: [{ url: `http://127.0.0.1:${probe.port}/kick`, events: ['*'] }],
        }),
      );
      const database = await createTestDatabase(kind);
      const env = {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        LOG_LEVEL: 'silent',
        KICKSTART: file,
        PASSWORD_HASH_MEMORY_KIB: '1024',
        PASSWORD_HASH_ITERATIONS: '1',
      };
      try {
        await assert.rejects(startServer(loadConfig(env), { announce: () => {} }), /webhooks\[0\]\.url: 127\.0\.0\.1 is a loopback address/);
        assert.equal(probe.connections, 0, 'the refused start contacted nothing');
        // Listed, the same file applies (and its endpoint may then get kickstart.success).
        const started = await startServer(loadConfig({ ...env, WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${probe.port}` }), { announce: () => {} });
        try {
          assert.equal((await started.services.webhooks.list()).length, 1);
        } finally {
          await started.close();
        }
      } finally {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
