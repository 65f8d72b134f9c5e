// The real server (src/main.ts) in a child process of its own, for tests that kill it: started on a
// database and port of the test's, stopped by a signal or by itself (a fault point, src/faults.ts),
// and started again on the same database.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_KEY, adminRequest, freePort } from './server.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export class ServerProcess {
  #port: number;
  readonly #env: Record<string, string>;
  #everStarted = false;
  #child: ChildProcess | null = null;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  #output = '';

  constructor(port: number, env: Record<string, string>) {
    this.#port = port;
    this.#env = env;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** A process for `databaseUrl` on a free port, with the suite's cheap hashing and no logs. */
  static async create(databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
    const port = await freePort();
    return new ServerProcess(port, {
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: `http://127.0.0.1:${port}`,
      DATABASE_URL: databaseUrl,
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'fatal', // quiet, but a failed start still says why
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
      ...env,
    });
  }

  /**
   * Starts the server (with `extra` on top of its environment) and waits until /health answers. The
   * port came from freePort(), which another process can take before the server binds it: a first
   * start that loses its port moves to a new one (a restart keeps its port, the issuer depends on it).
   */
  async start(extra: Record<string, string> = {}): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.#startOnce(extra);
        this.#everStarted = true;
        return;
      } catch (error) {
        const portTaken = /EADDRINUSE/.test(this.#output);
        if (this.#everStarted || !portTaken || attempt >= 2 || this.#env.PORT !== String(this.#port)) throw error;
        this.#port = await freePort();
        this.#env.PORT = String(this.#port);
        if (this.#env.ISSUER?.startsWith('http://127.0.0.1:')) this.#env.ISSUER = this.url;
      }
    }
  }

  async #startOnce(extra: Record<string, string>): Promise<void> {
    this.#output = '';
    const child = spawn(process.execPath, ['--no-node-snapshot', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...this.#env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.#output += chunk.toString();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#child = child;
    this.#exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const closed = new Promise((resolve) => child.once('close', resolve));
    // Generous: a start on a loaded machine (type stripping, migrations) can take tens of seconds.
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await closed; // the pipes have delivered everything the process wrote
        throw new Error(`the server exited (${child.exitCode ?? child.signalCode}): ${this.#output}`);
      }
      try {
        if ((await fetch(`${this.url}/health`)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the server did not start: ${this.#output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** How the process ended (waits for it). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.#exit) throw new Error('not started');
    return this.#exit;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await this.#exit;
  }

  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    return adminRequest(this.url, method, path, body);
  }
}
