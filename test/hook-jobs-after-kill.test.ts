// Async hook jobs of a SQLite server that was killed (SIGKILL) mid-run are run again at the next start,
// not after their lease (HOOK_ASYNC_LEASE, here 10 min) runs out: on SQLite no other process can hold
// them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { killAll, spawnServer, waitHealthy, waitUntil } from './support/processes.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a killed SQLite server: its running async hook job runs again at the next start, long before its lease ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-kill-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // The hook's upstream: counts the runs, and holds the first so the job is running when the server dies.
  const held: ServerResponse[] = [];
  let runs = 0;
  const peer = createServer((_req, res) => {
    runs += 1;
    if (runs === 1) held.push(res);
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        peer.close(() => resolve());
        peer.closeAllConnections();
      }),
  );
  const peerHost = `127.0.0.1:${(peer.address() as AddressInfo).port}`;
  const env = { DATABASE_URL: `sqlite:${join(dir, 'tessera.db')}`, HOOK_ASYNC_LEASE: '10m' };

  const first = await spawnServer(env);
  await waitHealthy(first);
  const hook = await first.admin('POST', '/hooks', {
    name: 'notify',
    event: 'after_account_disabled',
    mode: 'async',
    allowed_hosts: [peerHost],
    timeout_ms: 10_000,
    code: `export default async function () { await fetch('http://${peerHost}/disabled'); }`,
  });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const user = await first.admin('POST', '/users', { email: 'kill@example.com' });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  assert.equal((await first.admin('POST', `/users/${user.body.id}/disable`)).status, 200);
  await waitUntil('the async job to be running', () => runs === 1);
  await first.kill();

  const second = await spawnServer(env, first.port);
  await waitHealthy(second);
  // Well inside the 10-minute lease.
  await waitUntil('the job to run again after the restart', () => runs === 2, 20_000);
  await waitUntil(
    'the job to be recorded done',
    async () => {
      const executions = await second.admin('GET', `/hooks/${hook.body.id}/executions`);
      return Array.isArray(executions.body) && executions.body.some((run: { outcome: string }) => run.outcome === 'success');
    },
    20_000,
  );
  const stopped = await second.stop();
  assert.equal(stopped.code, 0, second.output().slice(-2000));
});
