// A Tessera server process for a benchmark: its own SQLite file, a known admin key, silent logs, and
// a helper that creates admin resources. `root` is the checkout it runs from (another checkout makes
// a baseline for an interleaved comparison).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/server.ts';

export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789';
const ADMIN_KEY = BENCH_ADMIN_KEY;

/** Starts a server process and waits until it answers. */
export async function spawnServer(args: string[], env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  // BENCH_PROFILE=dir writes a CPU profile of each server process there (read it in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, ['--no-node-snapshot', ...profile, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    try {
      if ((await fetch(readyUrl)).ok) return child;
    } catch {
      /* not up yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${args.join(' ')} did not start`);
}

export async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export interface BenchServer {
  url: string;
  child: ChildProcess;
  /** POSTs to the admin API; throws unless it answers 201. */
  create(path: string, body: unknown): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startBenchServer(root: string, label: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await spawnServer(
    [join(root, 'src', 'main.ts')],
    { PORT: String(port), HOST: '127.0.0.1', ISSUER: url, DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent', ...env },
    `${url}/health`,
  );
  return {
    url,
    child,
    async create(path, body) {
      const response = await fetch(`${url}/admin/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await response.json()) as Record<string, string>;
      if (response.status !== 201) throw new Error(`${label} ${path}: ${JSON.stringify(json)}`);
      return json;
    },
    async stop() {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
