// Runs a real Tessera server on loopback for a test, on a database of its own.
import { createServer } from 'node:net';
import { loadConfig } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import type { Resolver } from '../../src/net/resolve-target.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases.ts';

export const ADMIN_KEY = 'test-admin-key-0123456789';

/** Calls the admin API of the server at `url` with the test key; answers the status and the body (parsed when JSON). */
export async function adminRequest(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: text ? JSON.parse(text) : null };
  } catch {
    return { status: response.status, body: text };
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface TestServer {
  url: string;
  server: RunningServer;
  database: TestDatabase;
  env: Record<string, string>;
  /** Calls the admin API; answers the status and the parsed JSON body. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Stops the server and starts it again on the same database and port (with `env` as it is then). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Where the server logs (default: silent unless TEST_LOG_LEVEL). */
  log?: Logger;
  /** DNS for webhook URLs (default: the system resolver). */
  resolve?: Resolver;
  /**
   * The issuer's host (default 127.0.0.1; the server still listens on 127.0.0.1 only). "localhost"
   * for WebAuthn in a browser: an IP address cannot be a relying party ID.
   */
  issuerHost?: string;
}

export async function startTestServer(kind: DatabaseKind, options: TestServerOptions = {}): Promise<TestServer> {
  const database = await createTestDatabase(kind);
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://${options.issuerHost ?? '127.0.0.1'}:${port}`,
    DATABASE_URL: database.url,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Cheap hashing keeps the suite fast; production defaults are argon2id at 19 MiB.
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    ...options.env,
  };
  const start = () =>
    startServer(loadConfig(env), {
      announce: () => {},
      ...(options.log ? { log: options.log } : {}),
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
  let server = await start();
  const url = `http://127.0.0.1:${port}`;
  const handle: TestServer = {
    url,
    database,
    env,
    get server() {
      return server;
    },
    admin: (method, path, body) => adminRequest(url, method, path, body),
    async restart() {
      await server.close();
      // This process's own HTTP client keeps sockets to the old server alive; let it read their
      // close before the new server takes the same port, or its next request goes down a dead socket.
      await new Promise((resolve) => setTimeout(resolve, 20));
      server = await start();
    },
    async close() {
      await server.close();
      await database.drop();
    },
  };
  return handle;
}

/** The server's password checks so far, read from GET /metrics (tessera_password_checks_total). */
export async function passwordChecks(server: TestServer): Promise<{ stored: number; dummy: number; match: number }> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  const counts = { stored: 0, dummy: 0, match: 0 };
  for (const line of (await response.text()).split('\n')) {
    const found = /^tessera_password_checks_total\{against="(stored|dummy)",outcome="(match|mismatch)"\} (\d+)/.exec(line);
    if (!found) continue;
    counts[found[1] as 'stored' | 'dummy'] += Number(found[3]);
    if (found[2] === 'match') counts.match += Number(found[3]);
  }
  return counts;
}
