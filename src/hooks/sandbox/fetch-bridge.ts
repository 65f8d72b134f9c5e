// The host side of a hook's `fetch`: http and https only; `allowed_hosts` enforced when the hook has
// any; loopback, private, link-local and other non-public addresses refused after DNS resolution
// unless the host is listed; the connection pinned to the very addresses that were checked (no DNS
// rebinding between check and connect); redirects followed by hand, each hop checked again (at most
// 5); response body and time capped. Refusals happen before any connection is attempted.
import type { LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { bareHostname, defaultPort, parseAllowedHosts, type HostRule } from '../../net/address-policy.ts';
import { pinnedLookup, resolveTarget, systemResolver, type Resolver } from '../../net/resolve-target.ts';

export interface BridgeRequest {
  url: string;
  method?: string;
  headers?: Array<[string, string]>;
  body?: Uint8Array | string | null;
  /** As in fetch: follow (default), manual (the 3xx response is returned), error. */
  redirect?: 'follow' | 'manual' | 'error';
}

export interface BridgeResponse {
  status: number;
  statusText: string;
  /** The final URL, after redirects. */
  url: string;
  redirected: boolean;
  /** Lower-cased names, in the order received; repeated headers stay repeated. */
  headers: Array<[string, string]>;
  body: Uint8Array;
}

export type { Resolver } from '../../net/resolve-target.ts';

export interface FetchPolicy {
  /** `"host[:port]"` entries. Null, absent or empty: any public address. */
  allowedHosts?: readonly string[] | null;
  /** A `performance.now()` time by which the whole fetch (all hops, the body) must be done. */
  deadline?: number;
  /** Cap on one fetch, redirects included (default 5000 ms); the deadline may cut it shorter. */
  requestTimeoutMs?: number;
  /** Response body cap, after decompression (default 1 MiB). */
  maxResponseBytes?: number;
  /** Request body cap (default 1 MiB). */
  maxRequestBytes?: number;
  /** Redirects followed at most (default 5). */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** DNS resolution (default: the system resolver, every address). */
  resolve?: Resolver;
  /** Called just before a connection is opened, with the checked addresses it is pinned to. */
  onConnect?: (target: { url: string; hostname: string; port: number; addresses: string[] }) => void;
}

export type FetchErrorCode = 'invalid' | 'refused' | 'timeout' | 'too_large' | 'network' | 'aborted';

/** A fetch that failed; the message is meant for the hook author (it is thrown inside the hook). */
export class FetchError extends Error {
  readonly code: FetchErrorCode;

  constructor(code: FetchErrorCode, message: string) {
    super(message);
    this.name = 'FetchError';
    this.code = code;
  }
}

const FETCH_DEFAULTS = Object.freeze({
  requestTimeoutMs: 5000,
  maxResponseBytes: 1024 * 1024,
  maxRequestBytes: 1024 * 1024,
  maxRedirects: 5,
});

const USER_AGENT = 'Tessera-Hook/1.0';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);
/** Headers the bridge sets itself; a hook's values for them are dropped. */
const DROPPED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);
/** Dropped when a redirect leaves the origin, as fetch does for Authorization. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Performs one fetch for a hook under the policy. Throws FetchError. */
export async function bridgeFetch(request: BridgeRequest, policy: FetchPolicy = {}): Promise<BridgeResponse> {
  const limits = { ...FETCH_DEFAULTS, ...definedOnly(policy) };
  const budget = Math.min(limits.requestTimeoutMs, policy.deadline === undefined ? Infinity : policy.deadline - performance.now());
  if (!(budget > 0)) throw new FetchError('timeout', 'fetch timed out: no time left before the hook deadline');
  if (policy.signal?.aborted) throw new FetchError('aborted', 'fetch aborted');

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new FetchError('timeout', `fetch timed out after ${Math.round(budget)} ms`)), budget);
  const onAbort = () => controller.abort(new FetchError('aborted', 'fetch aborted'));
  policy.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await follow(request, policy, limits, controller.signal);
  } catch (error) {
    if (controller.signal.aborted && controller.signal.reason instanceof FetchError) throw controller.signal.reason;
    if (error instanceof FetchError) throw error;
    throw new FetchError('network', `fetch failed: ${describeNetworkError(error)}`);
  } finally {
    clearTimeout(timer);
    policy.signal?.removeEventListener('abort', onAbort);
  }
}

type Limits = typeof FETCH_DEFAULTS;

async function follow(request: BridgeRequest, policy: FetchPolicy, limits: Limits, signal: AbortSignal): Promise<BridgeResponse> {
  const rules = parseAllowedHosts(policy.allowedHosts);
  let url = parseTarget(request.url);
  let method = normalizeMethod(request.method);
  let headers = normalizeHeaders(request.headers);
  let body = normalizeBody(request.body, limits.maxRequestBytes);
  if (body !== null && (method === 'GET' || method === 'HEAD')) throw new FetchError('invalid', `a ${method} request cannot have a body`);
  const mode = request.redirect ?? 'follow';
  if (!['follow', 'manual', 'error'].includes(mode)) throw new FetchError('invalid', `redirect must be "follow", "manual" or "error"`);

  for (let hop = 0; ; hop++) {
    const addresses = await checkTarget(url, rules, policy.resolve ?? systemResolver, signal);
    const response = await send(url, method, headers, body, addresses, policy, signal);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (!REDIRECTS.has(status) || typeof location !== 'string' || mode === 'manual') {
      const bytes = await readBody(response, method, limits.maxResponseBytes, signal);
      return {
        status,
        statusText: response.statusMessage ?? '',
        url: url.href,
        redirected: hop > 0,
        headers: pairs(response.rawHeaders),
        body: bytes,
      };
    }
    response.destroy();
    if (mode === 'error') throw new FetchError('network', `fetch failed: redirected (${status}) while redirect is "error"`);
    if (hop >= limits.maxRedirects) throw new FetchError('network', `fetch failed: more than ${limits.maxRedirects} redirects`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new FetchError('network', 'fetch failed: the redirect location is not a valid URL');
    }
    next = parseTarget(next.href);
    if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
      method = 'GET';
      body = null;
      headers = headers.filter(([name]) => !name.startsWith('content-'));
    }
    if (next.origin !== url.origin) headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name));
    url = next;
  }
}

function parseTarget(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new FetchError('invalid', `fetch: invalid URL ${JSON.stringify(String(input).slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchError('refused', `fetch refused: only http and https URLs are allowed, not ${url.protocol}`);
  }
  if (url.username || url.password) throw new FetchError('invalid', 'fetch: URLs with credentials are not allowed');
  url.hash = '';
  return url;
}

/**
 * Checks where a URL may go and returns the addresses to connect to. Listed hosts (when the hook has
 * `allowed_hosts`) may resolve anywhere; otherwise every address the name resolves to must be public.
 */
export async function checkTarget(url: URL, rules: readonly HostRule[], resolve: Resolver, signal?: AbortSignal): Promise<LookupAddress[]> {
  const verdict = await resolveTarget(url, { rules, onlyListed: true, resolve, signal });
  if (verdict.ok) return verdict.addresses;
  const { problem } = verdict;
  switch (problem.kind) {
    case 'not_listed':
      throw new FetchError('refused', `fetch refused: ${problem.hostname}:${problem.port} is not in the hook's allowed_hosts`);
    case 'unresolved':
      throw new FetchError('network', `fetch failed: ${problem.hostname} could not be resolved`);
    case 'address': {
      const what = problem.literal ? `${problem.hostname} is a ${problem.why} address` : `${bareHostname(problem.hostname)} resolves to a ${problem.why} address`;
      throw new FetchError('refused', `fetch refused: ${what}; only public addresses may be reached unless the host is listed in allowed_hosts`);
    }
  }
}

function send(url: URL, method: string, headers: Array<[string, string]>, body: Buffer | null, addresses: LookupAddress[], policy: FetchPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
  const outgoing: OutgoingHttpHeaders = {};
  for (const [name, value] of headers) {
    const previous = outgoing[name];
    outgoing[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
  }
  outgoing.host = url.host;
  if (outgoing['user-agent'] === undefined) outgoing['user-agent'] = USER_AGENT;
  if (outgoing.accept === undefined) outgoing.accept = '*/*';
  if (body !== null) outgoing['content-length'] = body.length;
  else if (method === 'POST' || method === 'PUT' || method === 'PATCH') outgoing['content-length'] = 0;

  policy.onConnect?.({ url: url.href, hostname: url.hostname, port, addresses: addresses.map((a) => a.address) });
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = request({
        protocol: url.protocol,
        hostname: bareHostname(url.hostname),
        port,
        path: `${url.pathname}${url.search}`,
        method,
        headers: outgoing,
        agent: false,
        lookup: pinnedLookup(addresses) as never,
        signal,
      });
    } catch (error) {
      reject(new FetchError('invalid', `fetch: ${(error as Error).message}`));
      return;
    }
    req.once('response', resolve);
    req.once('error', reject);
    req.end(body ?? undefined);
  });
}

function readBody(response: IncomingMessage, method: string, cap: number, signal: AbortSignal): Promise<Uint8Array> {
  const status = response.statusCode ?? 0;
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    response.resume();
    return Promise.resolve(new Uint8Array(0));
  }
  const declared = Number(response.headers['content-length']);
  const encoding = String(response.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (Number.isFinite(declared) && declared > cap && (encoding === '' || encoding === 'identity')) {
    response.destroy();
    return Promise.reject(tooLarge(cap));
  }
  let source: IncomingMessage | Transform = response;
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : null;
  if (decoder) {
    response.on('error', (error) => decoder.destroy(error));
    source = response.pipe(decoder);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      response.destroy();
      decoder?.destroy();
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) fail(tooLarge(cap));
      else chunks.push(chunk);
    });
    source.once('end', () => {
      signal.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      const all = Buffer.concat(chunks, size);
      resolve(new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    });
    source.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      fail(new FetchError('network', `fetch failed while reading the body: ${describeNetworkError(error)}`));
    });
    response.once('close', () => {
      if (!response.complete) fail(new FetchError('network', 'fetch failed: the connection closed before the body ended'));
    });
  });
}

function tooLarge(cap: number): FetchError {
  return new FetchError('too_large', `fetch failed: the response body is larger than ${cap} bytes`);
}

function normalizeMethod(method: string | undefined): string {
  const value = method === undefined ? 'GET' : String(method);
  if (!TOKEN.test(value)) throw new FetchError('invalid', `fetch: invalid method ${JSON.stringify(value.slice(0, 40))}`);
  const upper = value.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new FetchError('invalid', `fetch: the ${upper} method is not allowed`);
  return NORMALIZED_METHODS.has(upper) ? upper : value;
}

function normalizeHeaders(headers: BridgeRequest['headers']): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const entry of headers ?? []) {
    const name = String(entry[0]).toLowerCase();
    const value = String(entry[1]).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (!TOKEN.test(name)) throw new FetchError('invalid', `fetch: invalid header name ${JSON.stringify(name.slice(0, 40))}`);
    if (/[\0\r\n]/.test(value)) throw new FetchError('invalid', `fetch: invalid value for header ${name}`);
    if (DROPPED_HEADERS.has(name) || (name.startsWith('proxy-') && name !== 'proxy-authorization')) continue;
    out.push([name, value]);
  }
  return out;
}

function normalizeBody(body: BridgeRequest['body'], cap: number): Buffer | null {
  if (body === null || body === undefined) return null;
  const buffer = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buffer.length > cap) throw new FetchError('too_large', `fetch: the request body is larger than ${cap} bytes`);
  return buffer;
}

function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}

function describeNetworkError(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  if (e && typeof e === 'object') {
    if (e.code === 'ECONNREFUSED') return 'connection refused';
    if (e.code === 'ECONNRESET') return 'connection reset';
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'host not found';
    if (e.code === 'ETIMEDOUT') return 'connection timed out';
    if ((typeof e.code === 'string' && e.code.startsWith('ERR_TLS')) || /certificate|SSL|TLS/i.test(e.message ?? '')) return `TLS error (${e.code ?? e.message})`;
    if (e.message) return e.message;
  }
  return String(error);
}

function definedOnly(policy: FetchPolicy): Partial<Limits> {
  const out: Partial<Record<keyof Limits, number>> = {};
  for (const key of Object.keys(FETCH_DEFAULTS) as Array<keyof Limits>) {
    const value = policy[key];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) out[key] = value;
  }
  return out as Partial<Limits>;
}
