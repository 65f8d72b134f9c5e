// A real HTTP peer for hooks to call from the sandbox (a CRM, a legacy user store, a chat webhook):
// it records every request with its JSON body, answers what a test scripted for a path (optionally
// after a delay), and lets tests wait for calls. Plus helpers to create hooks through the admin API
// and read their executions.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestServer } from './server.ts';

export interface PeerCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: any;
  /** When the request arrived and when the peer answered it (Date.now()). */
  receivedAt: number;
  answeredAt: number | null;
}

export interface PeerAnswer {
  status?: number;
  body?: unknown;
  delayMs?: number;
}

type Responder = PeerAnswer | ((call: PeerCall) => PeerAnswer);

export interface HookPeer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as a hook's allowed_hosts entry */
  host: string;
  port: number;
  calls: PeerCall[];
  /** What to answer on a path (default: 200 {"ok": true}, at once). */
  respond(path: string, answer: Responder): void;
  /** The calls to a path so far. */
  callsTo(path: string): PeerCall[];
  /** Waits until `count` calls reached `path`; answers the newest of them. */
  waitFor(path: string, count?: number, timeoutMs?: number): Promise<PeerCall>;
  /** Waits until `count` calls to `path` have been answered. */
  waitForAnswered(path: string, count?: number, timeoutMs?: number): Promise<PeerCall>;
  reset(): void;
  close(): Promise<void>;
}

/** Starts a peer on 127.0.0.1 (on `port` when given, e.g. to bring a "down" peer up later). */
export async function startHookPeer(port = 0): Promise<HookPeer> {
  const calls: PeerCall[] = [];
  const responders = new Map<string, Responder>();
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://peer.test');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON: kept as text */
      }
      const call: PeerCall = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        receivedAt: Date.now(),
        answeredAt: null,
      };
      calls.push(call);
      wake();
      const responder = responders.get(url.pathname);
      const answer = (typeof responder === 'function' ? responder(call) : responder) ?? {};
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body ?? { ok: true }), () => {
          call.answeredAt = Date.now();
          wake();
        });
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;

  const wait = (check: () => PeerCall | undefined, what: string, timeoutMs: number) =>
    new Promise<PeerCall>((resolve, reject) => {
      const probe = () => {
        const found = check();
        if (!found) return;
        waiters.delete(probe);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(probe);
        reject(new Error(`hook peer: ${what} within ${timeoutMs} ms (got ${calls.map((c) => c.path).join(', ') || 'no calls'})`));
      }, timeoutMs);
      waiters.add(probe);
      probe();
    });

  const callsTo = (path: string) => calls.filter((c) => c.path === path);
  return {
    url: `http://127.0.0.1:${actualPort}`,
    host: `127.0.0.1:${actualPort}`,
    port: actualPort,
    calls,
    respond(path, answer) {
      responders.set(path, answer);
    },
    callsTo,
    waitFor(path, count = 1, timeoutMs = 5000) {
      return wait(() => callsTo(path)[count - 1], `expected ${count} call(s) to ${path}`, timeoutMs);
    },
    waitForAnswered(path, count = 1, timeoutMs = 5000) {
      return wait(
        () => {
          const answered = callsTo(path).filter((c) => c.answeredAt !== null);
          return answered[count - 1];
        },
        `expected ${count} answered call(s) to ${path}`,
        timeoutMs,
      );
    },
    reset() {
      calls.length = 0;
      responders.clear();
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** A hook module whose body is `body` (with `event` and `api` in scope). */
export function hookCode(body: string): string {
  return `export default async function (event, api) {\n${body}\n}`;
}

/** A statement that POSTs the whole event to the peer's `path` (the hook needs the peer in allowed_hosts). */
export function report(peer: HookPeer, path: string): string {
  return `await fetch(${JSON.stringify(`${peer.url}${path}`)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });`;
}

/**
 * Creates hooks through the admin API and deletes them again (call `clear` after each test, so one
 * test's hooks never run in the next).
 */
export class HookFixtures {
  readonly #server: () => TestServer;
  readonly ids: string[] = [];

  constructor(server: () => TestServer) {
    this.#server = server;
  }

  async create(body: Record<string, unknown>): Promise<string> {
    const created = await this.#server().admin('POST', '/hooks', { name: `test ${String(body.event)}`, mode: 'sync', ...body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    this.ids.push(created.body.id);
    return created.body.id as string;
  }

  async clear(): Promise<void> {
    for (const id of this.ids.splice(0)) {
      const removed = await this.#server().admin('DELETE', `/hooks/${id}`);
      assert.equal(removed.status, 204);
    }
  }
}

export interface Execution {
  id: string;
  event: string;
  event_id: string;
  mode: 'sync' | 'async';
  outcome: string;
  duration_ms: number;
  logs: string[];
  actions: unknown[];
  error?: string;
}

/** GET /hooks/:id/executions (newest first). */
export async function executions(server: TestServer, hookId: string): Promise<Execution[]> {
  const answer = await server.admin('GET', `/hooks/${hookId}/executions`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body as Execution[];
}

/** Waits until the hook has `count` recorded executions (async runs are recorded by the worker). */
export async function waitForExecutions(server: TestServer, hookId: string, count = 1, timeoutMs = 5000): Promise<Execution[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await executions(server, hookId);
    if (list.length >= count) return list;
    if (Date.now() > deadline) throw new Error(`expected ${count} execution(s) of ${hookId}, got ${JSON.stringify(list)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
