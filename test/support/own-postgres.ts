// A PostgreSQL of the test's own (a throw-away cluster in a temporary directory, on a free port), for
// tests that freeze, stop and restart the database server. PostgreSQL refuses to run as root: when the
// test runs as root, the cluster's processes are started as the `postgres` user (no su or runuser in
// between, whose job control would stop along with a frozen server).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './server.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export function ownPostgresAvailable(): boolean {
  return existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'postgres'));
}

/** uid and gid of the `postgres` user when running as root (PostgreSQL refuses root). */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
}

export class OwnPostgres {
  readonly dir: string;
  readonly port: number;
  #server: ChildProcess | null = null;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  /** Creates the cluster (initdb) and starts it. */
  static async create(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-'));
    const user = runAs();
    if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
    execFileSync(join(BIN, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], { stdio: 'ignore', cwd: dir, ...user });
    const own = new OwnPostgres(dir, await freePort());
    await own.start();
    return own;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const args = ['-D', join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    this.#server = spawn(join(BIN, 'postgres'), args, { stdio: 'ignore', cwd: this.dir, ...runAs() });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.end();
        return;
      } catch {
        await client.end().catch(() => {});
        if (Date.now() > deadline) throw new Error('the test PostgreSQL did not start');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** The postmaster and every process it forked (backends, checkpointer, ...). */
  pids(): number[] {
    const pidFile = join(this.dir, 'data', 'postmaster.pid');
    if (!existsSync(pidFile)) return [];
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    const children: number[] = [];
    for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) children.push(Number(entry));
      } catch {
        /* ended meanwhile */
      }
    }
    return [postmaster, ...children];
  }

  /** Freezes the whole server (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void {
    for (const pid of this.pids()) process.kill(pid, 'SIGSTOP');
  }

  thaw(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
  }

  /** Stops the server (fast shutdown) and waits for it to end. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    this.thaw();
    const ended = new Promise((resolve) => server.once('exit', resolve));
    const [postmaster] = this.pids();
    if (postmaster) process.kill(postmaster, 'SIGINT');
    await ended;
  }

  /** Stops the server and deletes the cluster. */
  async destroy(): Promise<void> {
    this.thaw();
    await this.stop().catch(() => {});
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
