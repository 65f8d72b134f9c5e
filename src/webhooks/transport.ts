// Sends one signed delivery: resolves the endpoint's host and checks every address against the
// address policy (targets.ts) first, then POSTs with a wall-time limit, no redirects followed,
// keep-alive connections, and new connections pinned to the addresses checked. It answers what
// happened (an Answer); judging it is retry.ts's job.
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { bareHostname } from '../net/address-policy.ts';
import { pinnedLookup } from '../net/resolve-target.ts';
import { noAnswer, parseRetryAfter, RELEASED, type Answer } from './retry.ts';
import type { TargetCheck, WebhookTargets } from './targets.ts';

const RESPONSE_READ_MAX = 64 * 1024;
const RESPONSE_LOG_MAX = 1024;
const ERROR_LOG_MAX = 500;
const USER_AGENT = 'Tessera-Webhooks/1.0';

export interface TransportSettings {
  /** Wall time of one attempt: DNS, connect, send, answer. */
  timeoutMs: number;
  /** Requests in flight at once: the connection pool's size. */
  concurrency: number;
}

/** One attempt in flight; `abort` (set by the transport) cuts it short with a released answer. */
export interface Flight {
  abort: () => void;
}

/** An endpoint URL, parsed once: its request options, and whether its host is an IP literal (no DNS). */
interface Target {
  url: URL;
  secure: boolean;
  literal: boolean;
  options: http.RequestOptions & { hostname: string };
}

/** Truncates text for the log; PostgreSQL text holds no NUL character. */
function cleanText(text: string, max: number): string {
  return (text.length > max ? `${text.slice(0, max)}…` : text).replaceAll('\u0000', '\uFFFD');
}

export class WebhookTransport {
  readonly #settings: TransportSettings;
  readonly #policy: WebhookTargets;
  readonly #agents: { http: http.Agent; https: https.Agent };
  /** Request options per endpoint URL, parsed once. */
  #targets = new Map<string, Target>();

  constructor(settings: TransportSettings, policy: WebhookTargets) {
    this.#settings = settings;
    this.#policy = policy;
    const agentOptions = { keepAlive: true, maxSockets: settings.concurrency, maxFreeSockets: Math.min(settings.concurrency, 64), scheduling: 'lifo' as const };
    this.#agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  }

  /** POSTs `body` with `headers` to `url` after the address check; `started` is when the attempt began. */
  async send(url: string, body: string, headers: Record<string, string>, flight: Flight, started: number): Promise<Answer> {
    const route = await this.#route(url, flight);
    return 'answer' in route ? route.answer : this.#post(url, route.addresses, body, headers, flight, started);
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #target(url: string): Target {
    let target = this.#targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      const secure = parsed.protocol === 'https:';
      const hostname = bareHostname(parsed.hostname);
      target = {
        url: parsed,
        secure,
        literal: isIP(hostname) !== 0,
        options: {
          protocol: parsed.protocol,
          hostname,
          port: parsed.port || (secure ? 443 : 80),
          path: `${parsed.pathname}${parsed.search}`,
          agent: secure ? this.#agents.https : this.#agents.http,
        },
      };
      if (this.#targets.size > 10_000) this.#targets.clear();
      this.#targets.set(url, target);
    }
    return target;
  }

  /**
   * Resolves the endpoint's host and checks every address before an attempt (within the attempt's
   * time). A refusal or a name that does not resolve is the attempt's answer; nothing is connected.
   */
  async #route(url: string, flight: Flight): Promise<{ addresses: LookupAddress[] } | { answer: Answer }> {
    const target = this.#target(url);
    const failure = (error: string): { answer: Answer } => ({ answer: noAnswer(cleanText(error, ERROR_LOG_MAX)) });
    const judge = (check: TargetCheck) => (check.ok ? { addresses: check.addresses } : failure(check.kind === 'refused' ? `refused (not connected): ${check.message}` : check.message));
    // An IP literal needs no DNS: no timer, no abort.
    if (target.literal) return judge(await this.#policy.check(target.url));
    const { timeoutMs } = this.#settings;
    const controller = new AbortController();
    let stopping = false;
    flight.abort = () => {
      stopping = true;
      controller.abort();
    };
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      return judge(await this.#policy.check(target.url, controller.signal));
    } catch (err) {
      if (!controller.signal.aborted) throw err;
      if (stopping) return { answer: RELEASED };
      return failure(`timeout: ${target.options.hostname} was not resolved within ${timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One POST: no redirects followed, a wall-time limit (counted from `started`, so the DNS step is
   * inside it), the answer's body read up to a bound. A new connection goes to `addresses`, the ones
   * checked; a kept-alive one was opened to addresses checked under the same policy.
   */
  #post(url: string, addresses: LookupAddress[], body: string, signature: Record<string, string>, flight: Flight, started: number): Promise<Answer> {
    const { timeoutMs } = this.#settings;
    const { secure, literal, options } = this.#target(url);
    return new Promise<Answer>((resolve) => {
      let settled = false;
      let timedOut = false;
      let released = false;
      const finish = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const failure = (err: Error): Answer => {
        if (released) return RELEASED;
        const error = timedOut ? `timeout: no complete answer within ${timeoutMs} ms` : `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`;
        return noAnswer(cleanText(error, ERROR_LOG_MAX));
      };
      const request = (secure ? https : http).request(
        {
          ...options,
          ...(literal ? {} : { lookup: pinnedLookup(addresses) as never }),
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': USER_AGENT,
            ...signature,
          },
        },
        (response) => {
          const parts: Buffer[] = [];
          let size = 0;
          const end = () => {
            const statusCode = response.statusCode ?? null;
            const text = Buffer.concat(parts).toString('utf8');
            let error: string | null = null;
            if (statusCode !== null && statusCode >= 300 && statusCode < 400) {
              error = cleanText(`redirect not followed (location: ${response.headers.location ?? 'none'})`, ERROR_LOG_MAX);
            } else if (statusCode !== null && (statusCode < 200 || statusCode >= 300)) {
              error = `HTTP ${statusCode}`;
            }
            finish({
              statusCode,
              retryAfterMs: parseRetryAfter(response.headers['retry-after'] as string | undefined, Date.now()),
              response: text ? cleanText(text, RESPONSE_LOG_MAX) : null,
              error,
              released: false,
            });
          };
          response.on('data', (chunk: Buffer) => {
            if (size < RESPONSE_READ_MAX) parts.push(chunk);
            size += chunk.length;
            if (size > RESPONSE_READ_MAX && !settled) {
              end(); // enough of a huge answer; the connection is dropped
              response.destroy();
            }
          });
          response.on('end', end);
          response.on('error', (err) => finish(failure(err)));
          response.on('aborted', () => finish(failure(new Error('the answer was cut short'))));
        },
      );
      const timer = setTimeout(
        () => {
          timedOut = true;
          request.destroy(new Error('timeout'));
        },
        Math.max(0, timeoutMs - (performance.now() - started)),
      );
      flight.abort = () => {
        released = true;
        request.destroy(new Error('the dispatcher is stopping'));
      };
      request.on('error', (err) => finish(failure(err)));
      request.end(body);
    });
  }
}
