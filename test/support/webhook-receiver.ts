// A webhook receiver for tests: an HTTP server on loopback that records every request (headers, raw
// body, arrival time) per path and answers what the test scripted for that path (200 by default).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  /** The raw body, exactly as sent (signatures are over these bytes). */
  body: string;
  payload: { id: string; type: string; created_at: string; data: Record<string, any> };
  at: number;
}

export interface ScriptedAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this long. */
  delayMs?: number;
  /** Answer once this settles (the test releases the request when it has seen what it waits for). */
  until?: Promise<unknown>;
}

/** Decides the answer; `n` counts this path's requests, from 1. */
export type Behaviour = (request: ReceivedWebhook, n: number) => ScriptedAnswer;

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]));
}

export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  url = '';
  /** `127.0.0.1:<port>`: the WEBHOOK_ALLOWED_HOSTS entry that lets a test server deliver here. */
  hostPort = '';
  /** Requests being answered right now (received, not yet answered). */
  open = 0;
  readonly #server: Server;
  readonly #behaviours = new Map<string, Behaviour>();
  readonly #counts = new Map<string, number>();
  readonly #waiters = new Set<() => void>();

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const body = Buffer.concat(chunks).toString('utf8');
        let payload: ReceivedWebhook['payload'];
        try {
          payload = JSON.parse(body);
        } catch {
          payload = { id: '', type: '', created_at: '', data: {} };
        }
        const received: ReceivedWebhook = { path, headers: flatHeaders(req.headers), body, payload, at: Date.now() };
        const n = (this.#counts.get(path) ?? 0) + 1;
        this.#counts.set(path, n);
        this.requests.push(received);
        for (const wake of this.#waiters) wake();
        const answer: ScriptedAnswer = (this.#behaviours.get(path) ?? (() => ({})))(received, n);
        const respond = () => {
          this.open--;
          if (res.destroyed) return;
          res.writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? 'ok');
        };
        this.open++;
        if (answer.until) answer.until.then(respond, respond);
        else if (answer.delayMs) setTimeout(respond, answer.delayMs);
        else respond();
      });
    });
    this.#server.keepAliveTimeout = 30_000;
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', () => resolve()));
    receiver.hostPort = `127.0.0.1:${(receiver.#server.address() as AddressInfo).port}`;
    receiver.url = `http://${receiver.hostPort}`;
    return receiver;
  }

  /** Scripts the answers of one path. */
  behave(path: string, behaviour: Behaviour): void {
    this.#behaviours.set(path, behaviour);
  }

  on(path: string): ReceivedWebhook[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Waits until `done` holds over the requests received so far; rejects with `what` after the timeout. */
  async waitFor(what: string, done: (requests: ReceivedWebhook[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.requests)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.requests.length} requests received)`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 100));
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits until `path` has had `count` requests; answers them. */
  async waitForCount(path: string, count: number, timeoutMs = 10_000): Promise<ReceivedWebhook[]> {
    await this.waitFor(`${count} requests to ${path}`, () => this.on(path).length >= count, timeoutMs);
    return this.on(path);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Verifies a request with the standardwebhooks package (not our code); answers the payload or throws. */
export function verifyWebhook(secret: string, request: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': request.headers['webhook-id']!,
    'webhook-timestamp': request.headers['webhook-timestamp']!,
    'webhook-signature': request.headers['webhook-signature']!,
  });
}
