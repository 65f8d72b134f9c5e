// The isolate's fetch: the request is built here (headers as [name, value] pairs, a body as text or
// bytes) and handed to the host's fetch bridge (../fetch-bridge.ts: allowed hosts, the address
// policy, limits); the answer comes back as plain data and is wrapped in a Response. Headers,
// Request and Response are the web's shapes, without streams.
import { AB, defineProperty, keys, parse, ReflectApply, StringCtor, stringify, TypeErrorCtor, U8, isView } from './intrinsics.ts';
import { decoderState, utf8Decode, utf8Encode } from './encoding.ts';
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
 * fetch() for the isolate, with Headers, Request and Response as on the web (bodies as text or
 * bytes; no streams). `started` counts the call; `send` crosses to the host's bridge. A request's
 * `signal` rejects the call with an AbortError when it aborts (the host's fetch then ends with the
 * run).
 */
export function makeFetch(
  URL: abstract new (...args: never[]) => { href: unknown },
  URLSearchParams: abstract new (...args: never[]) => { toString(): string },
  AbortSignal: abstract new (...args: never[]) => { aborted: boolean; reason: unknown; addEventListener(type: string, listener: () => void): void },
  started: () => void,
  send: (request: FetchRequest) => Promise<FetchResult | null | undefined>,
) {
  const MAX_BODY = 8 * 1024 * 1024;
  const headerLists = new WeakMap<object, Array<[string, string]>>();
  const listOf = (headers: object): Array<[string, string]> => {
    const list = headerLists.get(headers);
    if (!list) throw new TypeErrorCtor('Illegal invocation');
    return list;
  };
  const headerName = (name: unknown): string => {
    const n = StringCtor(name).toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(n)) throw new TypeErrorCtor('Invalid header name: ' + StringCtor(name));
    return n;
  };
  const headerValue = (value: unknown): string => {
    const v = StringCtor(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (/[\0\r\n]/.test(v)) throw new TypeErrorCtor('Invalid header value');
    return v;
  };

  class Headers {
    constructor(init?: unknown) {
      const list: Array<[string, string]> = [];
      headerLists.set(this, list);
      for (const [k, v] of headerPairs(init, isHeaders)) list[list.length] = [headerName(k), headerValue(v)];
    }
    append(name: unknown, value: unknown) {
      const list = listOf(this);
      list[list.length] = [headerName(name), headerValue(value)];
    }
    set(name: unknown, value: unknown) {
      const n = headerName(name);
      const list = listOf(this);
      const kept = list.filter(([k]) => k !== n);
      kept[kept.length] = [n, headerValue(value)];
      list.length = 0;
      for (const pair of kept) list[list.length] = pair;
    }
    delete(name: unknown) {
      const n = headerName(name);
      const list = listOf(this);
      const kept = list.filter(([k]) => k !== n);
      list.length = 0;
      for (const pair of kept) list[list.length] = pair;
    }
    get(name: unknown) {
      const n = StringCtor(name).toLowerCase();
      const values = listOf(this)
        .filter(([k]) => k === n)
        .map(([, v]) => v);
      return values.length === 0 ? null : values.join(', ');
    }
    getSetCookie() {
      return listOf(this)
        .filter(([k]) => k === 'set-cookie')
        .map(([, v]) => v);
    }
    has(name: unknown) {
      const n = StringCtor(name).toLowerCase();
      return listOf(this).some(([k]) => k === n);
    }
    forEach(callback: (value: string, key: string, headers: Headers) => void, thisArg?: unknown) {
      for (const [k, v] of this.entries()) ReflectApply(callback, thisArg, [v, k, this]);
    }
    *entries(): IterableIterator<[string, string]> {
      const names: string[] = [];
      for (const [k] of listOf(this)) if (!names.includes(k)) names[names.length] = k;
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
  const isHeaders = (value: unknown): value is Headers => typeof value === 'object' && value !== null && headerLists.has(value);

  /** A body as bytes, and the content type it implies (null: none). */
  function bodyBytes(body: unknown): { bytes: Uint8Array | null; type: string | null } {
    if (body === undefined || body === null) return { bytes: null, type: null };
    let bytes: Uint8Array;
    let type: string | null = null;
    if (body instanceof URLSearchParams) {
      bytes = utf8Encode(body.toString());
      type = 'application/x-www-form-urlencoded;charset=UTF-8';
    } else if (body instanceof AB) bytes = new U8(body.slice(0));
    else if (isView(body)) bytes = new U8(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    else {
      bytes = utf8Encode(StringCtor(body));
      type = 'text/plain;charset=UTF-8';
    }
    if (bytes.byteLength > MAX_BODY) throw new TypeErrorCtor('the body is larger than ' + MAX_BODY + ' bytes');
    return { bytes, type };
  }

  const bodies = new WeakMap<object, { bytes: Uint8Array | null; used: boolean }>();

  function consume(owner: object): Uint8Array {
    const body = bodies.get(owner);
    if (!body) throw new TypeErrorCtor('Illegal invocation');
    if (body.used) throw new TypeErrorCtor('Body has already been used');
    body.used = true;
    return body.bytes ?? new U8(0);
  }

  // Request and Response share their body methods.
  const bodyMethods = {
    async arrayBuffer(this: object) {
      return consume(this).slice().buffer;
    },
    async bytes(this: object) {
      return consume(this).slice();
    },
    async text(this: object) {
      return utf8Decode(consume(this), decoderState(false), true, false);
    },
    async json(this: object): Promise<unknown> {
      return parse(utf8Decode(consume(this), decoderState(false), true, false));
    },
  };

  const requestFields = new WeakMap<object, { url: string; method: string; headers: Headers; redirect: string; signal: unknown }>();
  class Request {
    constructor(input: unknown, init: unknown = {}) {
      const options = (init === null || init === undefined ? {} : init) as { headers?: unknown; body?: unknown; method?: unknown; redirect?: unknown; signal?: unknown };
      const from = typeof input === 'object' && input !== null ? requestFields.get(input) : undefined;
      const url = from ? from.url : input instanceof URL ? (input.href as string) : StringCtor(input);
      const method = options.method === undefined ? (from ? from.method : 'GET') : StringCtor(options.method).toUpperCase();
      const headers = new Headers(options.headers !== undefined ? options.headers : from ? from.headers : undefined);
      let bytes: Uint8Array | null = null;
      if (options.body !== undefined && options.body !== null) {
        if (method === 'GET' || method === 'HEAD') throw new TypeErrorCtor('Request with GET/HEAD method cannot have body');
        const body = bodyBytes(options.body);
        bytes = body.bytes;
        if (body.type !== null && !headers.has('content-type')) headers.set('content-type', body.type);
      } else if (from) bytes = consume(input as object);
      const redirect = options.redirect === undefined ? (from ? from.redirect : 'follow') : StringCtor(options.redirect);
      const signal = options.signal !== undefined ? options.signal : from ? from.signal : null;
      if (signal !== null && signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeErrorCtor('the signal must be an AbortSignal');
      requestFields.set(this, { url, method, headers, redirect, signal });
      bodies.set(this, { bytes, used: false });
    }
    get url() {
      return requestFields.get(this)!.url;
    }
    get method() {
      return requestFields.get(this)!.method;
    }
    get headers() {
      return requestFields.get(this)!.headers;
    }
    get redirect() {
      return requestFields.get(this)!.redirect;
    }
    get signal() {
      return requestFields.get(this)!.signal;
    }
    get bodyUsed() {
      return bodies.get(this)!.used;
    }
  }

  const responseFields = new WeakMap<object, { status: number; statusText: string; url: string; redirected: boolean; headers: Headers }>();
  class Response {
    constructor(body?: unknown, init: unknown = {}) {
      const options = (init === null || init === undefined ? {} : init) as { status?: unknown; statusText?: unknown; headers?: unknown };
      const status = options.status === undefined ? 200 : Number(options.status);
      if (!(status >= 200 && status <= 599) || Math.floor(status) !== status) throw new RangeError('Response: the status must be an integer from 200 to 599');
      const headers = new Headers(options.headers);
      const made = bodyBytes(body);
      if (made.type !== null && !headers.has('content-type')) headers.set('content-type', made.type);
      responseFields.set(this, { status, statusText: options.statusText === undefined ? '' : StringCtor(options.statusText), url: '', redirected: false, headers });
      bodies.set(this, { bytes: made.bytes, used: false });
    }
    get status() {
      return responseFields.get(this)!.status;
    }
    get statusText() {
      return responseFields.get(this)!.statusText;
    }
    get ok() {
      const status = responseFields.get(this)!.status;
      return status >= 200 && status <= 299;
    }
    get url() {
      return responseFields.get(this)!.url;
    }
    get redirected() {
      return responseFields.get(this)!.redirected;
    }
    get headers() {
      return responseFields.get(this)!.headers;
    }
    get bodyUsed() {
      return bodies.get(this)!.used;
    }
    static json(data: unknown, init?: unknown) {
      const text = stringify(data);
      if (text === undefined) throw new TypeErrorCtor('Response.json: the data is not JSON-serializable');
      const response = new Response(text, init);
      response.headers.set('content-type', 'application/json');
      return response;
    }
  }
  for (const Target of [Request, Response]) {
    for (const name of keys(bodyMethods)) {
      defineProperty(Target.prototype, name, { value: bodyMethods[name as keyof typeof bodyMethods], writable: true, configurable: true, enumerable: false });
    }
  }

  function fromBridge(raw: BridgeResponse): Response {
    const response = new Response(null);
    const headers = new Headers();
    const list = listOf(headers);
    for (const pair of raw.headers) list[list.length] = pair;
    responseFields.set(response, { status: raw.status, statusText: raw.statusText, url: raw.url, redirected: raw.redirected, headers });
    bodies.set(response, { bytes: raw.body, used: false });
    return response;
  }

  async function fetch(input: unknown, init?: unknown) {
    started();
    const request = new Request(input, init);
    const fields = requestFields.get(request)!;
    const headers = listOf(fields.headers).map(([k, v]) => [k, v] as [string, string]);
    const bytes = bodies.get(request)!.bytes;
    const signal = fields.signal as InstanceType<typeof AbortSignal> | null;
    if (signal && signal.aborted) throw signal.reason;
    const sending = send({ url: fields.url, method: fields.method, headers, body: bytes, redirect: fields.redirect });
    const result = signal
      ? await new Promise<FetchResult | null | undefined>((resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
          sending.then(resolve, reject);
        })
      : await sending;
    if (!result || result.ok !== true) throw new TypeErrorCtor(result && typeof result.error === 'string' ? result.error : 'fetch failed');
    return fromBridge(result.response);
  }
  return { fetch, Headers, Request, Response };
}
