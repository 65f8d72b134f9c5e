// The isolate's fetch: the request is built here (headers as [name, value] pairs, a body as text or
// bytes) and handed to the host's fetch bridge (../fetch-bridge.ts: allowed hosts, the address
// policy, limits); the answer comes back as plain data and is wrapped in a Response.
import { AB, defineProperty, keys, parse, ReflectApply, StringCtor, TypeErrorCtor, U8, isView } from './intrinsics.ts';
import { decoderState, utf8Decode } from './encoding.ts';
// The answer as the bridge sends it back (a type only: nothing of the host's module reaches the isolate).
import type { BridgeResponse } from '../fetch-bridge.ts';

/** The request as the host's bridge takes it (checked again there, field by field). */
export interface FetchRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  body: string | Uint8Array | null;
  redirect: string;
}

export type FetchResult = { ok: true; response: BridgeResponse } | { ok: false; error: string };

/** A header list given to fetch(): a Headers-like object, a list of pairs, or a plain object. */
export function headerPairs(headers: unknown, isResponseHeaders: (value: unknown) => value is { entries(): Iterable<[string, string]> }): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (headers === undefined || headers === null) return pairs;
  if (isResponseHeaders(headers)) {
    for (const [k, v] of headers.entries()) pairs[pairs.length] = [k, v];
  } else if (typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<Iterable<unknown>>) {
      const items = [...pair];
      if (items.length !== 2) throw new TypeErrorCtor('fetch: each header must be a [name, value] pair');
      pairs[pairs.length] = [StringCtor(items[0]), StringCtor(items[1])];
    }
  } else if (typeof headers === 'object') {
    const object = headers as Record<string, unknown>;
    for (const k of keys(object)) pairs[pairs.length] = [k, StringCtor(object[k])];
  } else {
    throw new TypeErrorCtor('fetch: headers must be an object or a list of pairs');
  }
  return pairs;
}

/**
 * fetch() for the isolate. `started` counts the call (the host refuses fetches while a context is
 * prepared ahead of its run, see boot.ts); `send` crosses to the host's bridge.
 */
export function makeFetch(
  URL: abstract new (...args: never[]) => { href: unknown },
  URLSearchParams: abstract new (...args: never[]) => { toString(): string },
  started: () => void,
  send: (request: FetchRequest) => Promise<FetchResult | null | undefined>,
) {
  const headerLists = new WeakMap<object, Array<[string, string]>>();

  class ResponseHeaders {
    constructor(pairs: Array<[string, string]>) {
      headerLists.set(this, pairs);
    }
    get(name: unknown) {
      const n = StringCtor(name).toLowerCase();
      const values = headerLists
        .get(this)!
        .filter(([k]) => k === n)
        .map(([, v]) => v);
      return values.length === 0 ? null : values.join(', ');
    }
    getSetCookie() {
      return headerLists
        .get(this)!
        .filter(([k]) => k === 'set-cookie')
        .map(([, v]) => v);
    }
    has(name: unknown) {
      const n = StringCtor(name).toLowerCase();
      return headerLists.get(this)!.some(([k]) => k === n);
    }
    forEach(callback: (value: string, key: string, headers: ResponseHeaders) => void, thisArg?: unknown) {
      for (const [k, v] of this.entries()) ReflectApply(callback, thisArg, [v, k, this]);
    }
    *entries(): IterableIterator<[string, string]> {
      const names: string[] = [];
      for (const [k] of headerLists.get(this)!) if (!names.includes(k)) names[names.length] = k;
      names.sort();
      for (const k of names) yield [k, this.get(k)!];
    }
    *keys(): IterableIterator<string> {
      for (const [k] of this.entries()) yield k;
    }
    *values(): IterableIterator<string> {
      for (const [, v] of this.entries()) yield v;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
  }

  const bodies = new WeakMap<object, { bytes: Uint8Array; used: boolean }>();

  function consume(response: object): Uint8Array {
    const body = bodies.get(response);
    if (!body) throw new TypeErrorCtor('Illegal invocation');
    if (body.used) throw new TypeErrorCtor('Body has already been used');
    body.used = true;
    return body.bytes;
  }

  class Response {
    constructor(raw: BridgeResponse) {
      bodies.set(this, { bytes: raw.body, used: false });
      defineProperty(this, 'status', { value: raw.status, enumerable: true });
      defineProperty(this, 'statusText', { value: raw.statusText, enumerable: true });
      defineProperty(this, 'ok', { value: raw.status >= 200 && raw.status <= 299, enumerable: true });
      defineProperty(this, 'url', { value: raw.url, enumerable: true });
      defineProperty(this, 'redirected', { value: raw.redirected, enumerable: true });
      defineProperty(this, 'headers', { value: new ResponseHeaders(raw.headers), enumerable: true });
    }
    get bodyUsed() {
      return bodies.get(this)!.used;
    }
    async arrayBuffer() {
      return consume(this).slice().buffer;
    }
    async bytes() {
      return consume(this).slice();
    }
    async text() {
      return utf8Decode(consume(this), decoderState(false), true, false);
    }
    async json(): Promise<unknown> {
      return parse(await this.text());
    }
  }

  const isResponseHeaders = (value: unknown): value is ResponseHeaders => value instanceof ResponseHeaders;

  async function fetch(input: unknown, init: unknown = {}) {
    started();
    const options = (init === null || init === undefined ? {} : init) as { headers?: unknown; body?: unknown; method?: unknown; redirect?: unknown };
    const url =
      input instanceof URL ? (input.href as string) : StringCtor(input && typeof input === 'object' && typeof (input as { url?: unknown }).url === 'string' ? (input as { url: string }).url : input);
    const headers = headerPairs(options.headers, isResponseHeaders);
    const hasHeader = (name: string) => headers.some(([k]) => k.toLowerCase() === name);
    let body: unknown = options.body;
    if (body === undefined || body === null) body = null;
    else if (body instanceof URLSearchParams) {
      if (!hasHeader('content-type')) headers.push(['content-type', 'application/x-www-form-urlencoded;charset=UTF-8']);
      body = body.toString();
    } else if (body instanceof AB) body = new U8(body.slice(0));
    else if (isView(body)) body = new U8(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    else {
      body = StringCtor(body);
      if (!hasHeader('content-type')) headers.push(['content-type', 'text/plain;charset=UTF-8']);
    }
    const request: FetchRequest = {
      url,
      method: options.method === undefined ? 'GET' : StringCtor(options.method),
      headers,
      body: body as string | Uint8Array | null,
      redirect: options.redirect === undefined ? 'follow' : StringCtor(options.redirect),
    };
    const result = await send(request);
    if (!result || result.ok !== true) throw new TypeErrorCtor(result && typeof result.error === 'string' ? result.error : 'fetch failed');
    return new Response(result.response);
  }
  return { fetch };
}
