// `npm start` as an operator runs it (a process manager sends SIGTERM to the npm process): the
// server must get the signal, let an in-flight request finish (SHUTDOWN_GRACE, not a 2 s cut),
// log its graceful shutdown and exit 0, leaving no orphaned server behind. And the SHUTDOWN_GRACE
// setting: parsed as a duration, and the point where lingering requests are cut.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, get as httpGet, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { freePort, startTestServer } from './support/server.ts';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KEY = 'npm-start-admin-key-0123456789';

/** A peer that holds every request until released: the slow upstream of an in-flight request. */
async function startHeldPeer() {
  const held: ServerResponse[] = [];
  let arrived: () => void;
  const first = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const server = createServer((_req, res) => {
    held.push(res);
    arrived();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/slow`,
    first,
    release() {
      for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The process running dist/src/main.js below `root` (npm, and a shell if the script does not exec). */
function serverProcessUnder(root: number): number | null {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* ended meanwhile */
    }
  }
  const below = (pid: number): boolean => pid === root || (parents.has(pid) && pid > 1 && below(parents.get(pid)!));
  for (const pid of parents.keys()) {
    if (pid === root || !below(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)node$/.test(argv[0]!) && argv.includes('dist/src/main.js')) return pid;
    } catch {
      /* ended meanwhile */
    }
  }
  return null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function admin(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('npm start and SIGTERM', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('SIGTERM to the npm process reaches the server, which finishes an in-flight request, logs and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-npm-start-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const peer = await startHeldPeer();
    cleanups.push(() => peer.close());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const npm: ChildProcess = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: base,
        DATABASE_URL: `sqlite:${join(dir, 'tessera.db')}`,
        ADMIN_API_KEY: KEY,
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE: '30s',
        PASSWORD_HASH_MEMORY_KIB: '1024',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    npm.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => npm.on('exit', (code, signal) => resolve({ code, signal })));
    cleanups.push(() => {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    });
    const lines = () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));

    // The prestart build may run first (a fresh checkout): wait for the listener, however long.
    await waitFor('the server to listen', () => lines().some((l) => l.msg === 'tessera is listening'));
    const serverPid = serverProcessUnder(npm.pid!);
    assert.ok(serverPid, 'the server runs below npm');
    cleanups.push(() => {
      if (isAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
    });
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);

    // An in-flight request: a hook test run whose hook waits on the held peer.
    const hook = await admin(base, 'POST', '/hooks', {
      name: 'slow',
      event: 'before_id_token',
      mode: 'sync',
      allowed_hosts: [peer.host],
      timeout_ms: 10_000,
      code: `export default async function (event, api) { const r = await fetch(${JSON.stringify(peer.url)}); console.log(await r.text()); }`,
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpGet(`${base}/admin/api/hooks/${hook.body.id}/test`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${KEY}` } } as never, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => {
            body += c;
          })
          .on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    await peer.first;

    npm.kill('SIGTERM');
    const termAt = performance.now();
    await waitFor('the server to log its shutdown', () => lines().some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'), 20_000);
    // Shutting down, the server still serves the request in flight: it is held 4 s past SIGTERM (the
    // 2-second cut of old would have ended it) before its peer answers. The grace is SHUTDOWN_GRACE
    // (10 s by default; the test below shows it is the setting).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 4000 - (performance.now() - termAt))));
    assert.ok(isAlive(serverPid), 'the server waits for the in-flight request, 4 s after SIGTERM');
    peer.release();
    const answer = await inFlight;
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).outcome, 'success');
    assert.deepEqual(JSON.parse(answer.body).logs, ['[log] {"slow":true}']);

    const { code } = await exited;
    await waitFor('the server process to end', () => !isAlive(serverPid), 20_000);
    assert.equal(code, 0, output.slice(-2000));
    assert.ok(
      lines().some((l) => l.msg === 'shut down gracefully'),
      `graceful shutdown logged:\n${output.slice(-2000)}`,
    );
  });

  test('SHUTDOWN_GRACE is a duration setting, 10 s by default', () => {
    assert.equal(loadConfig({}).shutdownGraceMs, 10_000);
    assert.equal(loadConfig({ SHUTDOWN_GRACE: '2500ms' }).shutdownGraceMs, 2500);
    assert.throws(
      () => loadConfig({ SHUTDOWN_GRACE: 'soon' }),
      (error: unknown) => error instanceof ConfigError && /SHUTDOWN_GRACE/.test(error.message),
    );
  });

  // The shutdown does not depend on the database: one kind is enough.
  {
    const kind = 'sqlite';
    test(`a request still running when SHUTDOWN_GRACE ends is cut then, not later, and the server closes (${kind})`, async () => {
      const peer = await startHeldPeer();
      cleanups.push(() => peer.close());
      const server = await startTestServer(kind, { env: { SHUTDOWN_GRACE: '300ms' } });
      let closed = false;
      cleanups.push(async () => {
        if (!closed) await server.close();
      });
      const hook = await server.admin('POST', '/hooks', {
        name: 'slow',
        event: 'before_id_token',
        mode: 'sync',
        allowed_hosts: [peer.host],
        timeout_ms: 10_000,
        code: `export default async function (event, api) { await fetch(${JSON.stringify(peer.url)}); }`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const inFlight = server.admin('POST', `/hooks/${hook.body.id}/test`).then(
        () => 'answered',
        () => 'cut',
      );
      await peer.first;
      const closing = server.close();
      // The peer answers after 0.7 s: past the 300 ms grace, but before the 2 s cut the server used to
      // have whatever the setting said; a server that cut at 2 s would answer this request.
      await new Promise((resolve) => setTimeout(resolve, 700));
      peer.release();
      await closing;
      closed = true;
      assert.equal(await inFlight, 'cut');
    });
  }
});
