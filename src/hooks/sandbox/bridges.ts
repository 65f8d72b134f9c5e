// The host's side of the isolate's bridges: what the prelude's console, crypto, URL, fetch, timers
// and crypto.subtle call. Everything crossing in is untrusted (the hook controls it): each value is
// checked and bounded here. The log, fetch and async bridges are per run (sandbox.ts routes them by
// the run's id); random and URL are pure.
import { randomBytes, randomUUID } from 'node:crypto';
import ivm from 'isolated-vm';
import type { UrlParts } from './prelude/url.ts';
import { FetchError, type BridgeRequest } from './fetch-bridge.ts';

/** The bridges in the order the prelude's boot takes them after the context's id. */
export type Bridges = [
  ivm.Callback,
  ivm.Callback,
  ivm.Callback,
  ivm.Reference<(id: number, request: unknown) => Promise<unknown>>,
  ivm.Reference<(id: number, op: unknown, args: unknown) => Promise<unknown>>,
];

export interface BridgeHandlers {
  log(id: number, level: string, text: string): void;
  /** Runs a sync bridge call for run `id`, charging its time to the run; false: the run is over its share. */
  charge(id: number, call: () => unknown): unknown;
  fetch(id: number, request: unknown): Promise<unknown>;
  /** Timers ('sleep') and crypto.subtle ('subtle'), see async-bridge.ts. */
  async(id: number, op: unknown, args: unknown): Promise<unknown>;
}

export function createBridges(handlers: BridgeHandlers): Bridges {
  return [
    new ivm.Callback((id: number, level: string, text: string) => handlers.log(id, level, text), { ignored: true }),
    new ivm.Callback((id: number, kind: string, size: number) => handlers.charge(id, () => hostRandom(kind, size))),
    new ivm.Callback((id: number, op: string, a: unknown, b: unknown, c: unknown) => handlers.charge(id, () => hostUrl(op, a, b, c))),
    new ivm.Reference((id: number, request: unknown) => handlers.fetch(id, request)),
    new ivm.Reference((id: number, op: unknown, args: unknown) => handlers.async(id, op, args)),
  ];
}

function hostRandom(kind: string, size: number): string | Uint8Array {
  if (kind === 'uuid') return randomUUID();
  const n = Math.max(0, Math.min(65536, Math.floor(Number(size)) || 0));
  return new Uint8Array(randomBytes(n));
}

const URL_PROPS = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

function urlParts(url: URL): UrlParts {
  return {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
}

/** The WHATWG URL parser for the isolate's URL class: strings in, plain parts out. */
export function hostUrl(op: unknown, a: unknown, b: unknown, c: unknown): UrlParts | null {
  const text = (v: unknown) => String(v).slice(0, 65536);
  try {
    if (op === 'parse') return urlParts(b === undefined ? new URL(text(a)) : new URL(text(a), text(b)));
    if (op === 'set' && typeof b === 'string' && URL_PROPS.has(b)) {
      const url = new URL(text(a));
      (url as unknown as Record<string, string>)[b] = text(c);
      return urlParts(url);
    }
  } catch {
    return null;
  }
  return null;
}

/** The request as copied out of the isolate: untrusted shape, checked field by field. */
export function bridgeRequest(raw: unknown): BridgeRequest {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  if (typeof r.url !== 'string') throw new FetchError('invalid', 'fetch: the URL must be a string');
  const headers: Array<[string, string]> = [];
  if (Array.isArray(r.headers)) {
    if (r.headers.length > 100) throw new FetchError('invalid', 'fetch: at most 100 headers');
    for (const pair of r.headers) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new FetchError('invalid', 'fetch: each header must be a [name, value] pair');
      headers.push([String(pair[0]), String(pair[1])]);
    }
  }
  let body: string | Uint8Array | null = null;
  if (typeof r.body === 'string') body = r.body;
  else if (r.body instanceof Uint8Array) body = r.body;
  else if (r.body !== null && r.body !== undefined) throw new FetchError('invalid', 'fetch: unsupported body');
  const redirect = r.redirect === 'manual' || r.redirect === 'error' ? r.redirect : r.redirect === undefined || r.redirect === 'follow' ? 'follow' : null;
  if (redirect === null) throw new FetchError('invalid', 'fetch: redirect must be "follow", "manual" or "error"');
  return { url: r.url.slice(0, 8192), method: typeof r.method === 'string' ? r.method : 'GET', headers, body, redirect };
}
