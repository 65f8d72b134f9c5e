// A database that does not answer is answered, not waited on (#18.4): with the test's own PostgreSQL
// frozen (SIGSTOP), /health, the admin API, the hosted pages and the provider answer 503 with
// Retry-After within 5 s, and all recover by themselves after SIGCONT; a stopped PostgreSQL is a 503
// too, never a 500. SQLite's busy write lock and a full database are answered the same way.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { OwnPostgres, ownPostgresAvailable } from './support/own-postgres.ts';
import { killAll, spawnServer, type ServerProcess, waitHealthy, waitUntil } from './support/processes.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

const UNANSWERED_BOUND_MS = 5000;

interface Answer {
  what: string;
  status: number;
  retryAfter: string | null;
  ms: number;
  body: string;
}

async function timed(what: string, url: string, init: RequestInit = {}): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  return { what, status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started, body };
}

/** Requests of every kind: health, the admin API, a hosted page, the provider's token endpoint. */
function probes(server: ServerProcess, client: { id: string; secret: string }): Array<Promise<Answer>> {
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  const basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  return [
    timed('GET /health', `${server.url}/health`),
    timed('GET /admin/api/users', `${server.url}/admin/api/users`, { headers: admin }),
    timed('POST /admin/api/users', `${server.url}/admin/api/users`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'frozen@example.com' }),
    }),
    timed('GET /interaction/:uid', `${server.url}/interaction/some-interaction`, { headers: { accept: 'text/html' } }),
    timed('POST /token', `${server.url}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=not-a-real-token-0123456789',
    }),
  ];
}

function assertUnavailable(answers: Answer[]): void {
  for (const answer of answers) {
    assert.equal(answer.status, 503, `${answer.what}: ${answer.status} ${answer.body.slice(0, 300)}`);
    assert.equal(answer.retryAfter, '5', `${answer.what}: Retry-After`);
    assert.ok(answer.ms < UNANSWERED_BOUND_MS, `${answer.what} answered after ${Math.round(answer.ms)} ms`);
    assert.ok(!/at .*\.ts:\d+/.test(answer.body), `${answer.what}: no stack trace`);
  }
}

describe('a PostgreSQL that does not answer', { skip: ownPostgresAvailable() ? false : 'no PostgreSQL binaries' }, () => {
  let database: OwnPostgres;
  let server: ServerProcess;
  let client: { id: string; secret: string };

  before(async () => {
    database = await OwnPostgres.create();
    const admin = new pg.Client({ connectionString: database.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE tessera');
    await admin.end();
    server = await spawnServer({ DATABASE_URL: database.url('tessera') });
    await waitHealthy(server);
    const app = await server.admin('POST', '/applications', { name: 'Faults', redirect_uris: ['http://rp.test/callback'], grant_types: ['authorization_code', 'refresh_token'] });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    client = { id: app.body.client_id, secret: app.body.client_secret };
  });
  after(async () => {
    database?.thaw();
    await killAll();
    await database?.destroy();
  });

  test('frozen (SIGSTOP): 503 with Retry-After within 5 s everywhere, and recovery after SIGCONT', async () => {
    // Connections in the pool first, so the freeze catches some open.
    assert.equal((await timed('warm', `${server.url}/admin/api/users`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status, 200);
    database.freeze();
    try {
      assertUnavailable(await Promise.all(probes(server, client)));
      // Still frozen, asked again: the same, not slower.
      assertUnavailable(await Promise.all(probes(server, client)));
    } finally {
      database.thaw();
    }
    await waitUntil('the server to recover after SIGCONT', async () => (await fetch(`${server.url}/health`)).status === 200, 30_000);
    assert.equal((await server.admin('GET', '/users')).status, 200);
    const created = await server.admin('POST', '/users', { email: 'thawed@example.com' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  test('stopped: 503, not 500, and recovery when it is back', { timeout: 120_000 }, async () => {
    await database.stop();
    assertUnavailable(await Promise.all(probes(server, client)));
    await database.start();
    await waitUntil('the server to recover after the restart of PostgreSQL', async () => (await fetch(`${server.url}/health`)).status === 200, 30_000);
    assert.equal((await server.admin('GET', '/users')).status, 200);
    assert.ok(!server.output().includes('"status":500'), 'no request was answered 500');
    // Its logs are JSON lines only, knex's warnings included, and the errors keep their codes.
    const lines = server.output().split('\n').filter(Boolean);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON line: ${line}`);
    const logs = server.logs();
    assert.ok(
      logs.some((l) => l.component === 'knex'),
      "knex's warnings go through the logger",
    );
    assert.ok(
      logs.some((l) => (l.err as { code?: string } | undefined)?.code === 'ECONNREFUSED'),
      'the error code is logged',
    );
  });
});

describe('SQLite busy and full', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  test('a write lock held by another connection past the busy timeout: 503 with Retry-After, then the write goes through', async () => {
    const other = new DatabaseSync(server.database.url.slice('sqlite:'.length));
    other.exec('BEGIN IMMEDIATE');
    let answer: { status: number; body: any };
    try {
      answer = await server.admin('POST', '/users', { email: 'busy@example.com' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'temporarily_unavailable');
    const response = await fetch(`${server.url}/admin/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'busy@example.com' }),
    });
    assert.equal(response.status, 201, await response.text());
  });

  test('a full database: 503 with Retry-After, nothing half-written, and writes resume once there is room', async () => {
    const { db } = server.server.services;
    const [{ page_count: pages }] = (await db.raw('PRAGMA page_count')) as Array<{ page_count: number }>;
    await db.raw(`PRAGMA max_page_count = ${pages}`);
    let response: Response;
    try {
      response = await fetch(`${server.url}/admin/api/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'full@example.com', metadata: { padding: 'x'.repeat(12_000) } }),
      });
    } finally {
      await db.raw('PRAGMA max_page_count = 1073741823');
    }
    assert.equal(response.status, 503, await response.clone().text());
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal((await server.admin('GET', '/users?email=full@example.com')).body.length, 0, 'nothing half-written');
    const again = await server.admin('POST', '/users', { email: 'full@example.com' });
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });
});
