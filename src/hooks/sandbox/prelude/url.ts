// URL and URLSearchParams for the isolate. URLSearchParams is written here (WHATWG
// application/x-www-form-urlencoded parsing and serialising); URL delegates parsing to the host's
// WHATWG parser through the url bridge (strings in, plain parts out, see ../bridges.ts), so both
// sides agree on every edge case. Tested on the host against Node's own URL and URLSearchParams.
import { fromCharCode, keys, ReflectApply, StringCtor, TypeErrorCtor, U8 } from './intrinsics.ts';
import { utf8Decode, utf8Encode } from './encoding.ts';

/** What the host's url bridge answers: a URL's parts, or null when it does not parse. */
export interface UrlParts {
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}
export type HostUrl = (op: 'parse' | 'set', a: string, b?: string, c?: string) => UrlParts | null;
/** Calls a host bridge, counted against the run's allowance (see boot.ts). */
export type HostCall = <A extends unknown[], R>(fn: (...args: A) => R, args: A) => R;

/** Percent-decoding of a form component ('+' is a space), invalid UTF-8 replaced. */
export function percentDecodeToString(s: string): string {
  const bytes = utf8Encode(s.replace(/\+/g, ' '));
  const out = new U8(bytes.length);
  let j = 0;
  const hex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]!) && hex(bytes[i + 2]!)) {
      out[j++] = parseInt(fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16);
      i += 2;
    } else {
      out[j++] = b;
    }
  }
  return utf8Decode(out.subarray(0, j), { needed: 0, seen: 0, cp: 0, lower: 0x80, upper: 0xbf, bomDone: true, ignoreBOM: true }, true, false);
}

/** The application/x-www-form-urlencoded byte serializer. */
export function formEncode(s: string): string {
  const bytes = utf8Encode(s);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f) out += fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

export function parseQuery(query: string): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    list[list.length] = [percentDecodeToString(name), percentDecodeToString(value)];
  }
  return list;
}

export function serializeParams(list: ReadonlyArray<readonly [string, string]>): string {
  return list.map(([k, v]) => formEncode(k) + '=' + formEncode(v)).join('&');
}

/** The isolate's URL and URLSearchParams classes, parsing through `hostUrl` (each call counted by `hostCall`). */
export function makeUrl(hostCall: HostCall, hostUrl: HostUrl) {
  type Pair = [string, string];
  const paramsList = new WeakMap<object, Pair[]>();
  const paramsOwner = new WeakMap<object, URL>();
  const urlParts = new WeakMap<object, UrlParts>();
  const urlParams = new WeakMap<object, URLSearchParams>();

  function listOf(params: object): Pair[] {
    const list = paramsList.get(params);
    if (!list) throw new TypeErrorCtor('Illegal invocation');
    return list;
  }

  function replaceList(list: Pair[], pairs: Pair[]): void {
    list.length = 0;
    for (const pair of pairs) list[list.length] = pair;
  }

  function paramsChanged(params: object): void {
    const url = paramsOwner.get(params);
    if (url) urlSetSearchFromParams(url, serializeParams(listOf(params)));
  }

  class URLSearchParams {
    constructor(init: unknown = '') {
      let list: Pair[] = [];
      if (init instanceof URLSearchParams) {
        list = listOf(init).map(([k, v]): Pair => [k, v]);
      } else if ((init !== null && typeof init === 'object') || typeof init === 'function') {
        const source = init as Record<PropertyKey, unknown>;
        const iterator = source[Symbol.iterator];
        if (typeof iterator === 'function') {
          for (const pair of source as unknown as Iterable<Iterable<unknown>>) {
            const items = [...pair];
            if (items.length !== 2) throw new TypeErrorCtor('Each query pair must be an iterable [name, value] tuple');
            list[list.length] = [StringCtor(items[0]), StringCtor(items[1])];
          }
        } else {
          for (const k of keys(source)) list[list.length] = [k, StringCtor(source[k])];
        }
      } else {
        let s = StringCtor(init);
        if (s.startsWith('?')) s = s.slice(1);
        list = parseQuery(s);
      }
      paramsList.set(this, list);
    }
    get size() {
      return listOf(this).length;
    }
    append(name: unknown, value: unknown) {
      listOf(this).push([StringCtor(name), StringCtor(value)]);
      paramsChanged(this);
    }
    delete(name: unknown, value?: unknown) {
      const list = listOf(this);
      const n = StringCtor(name);
      const v = value === undefined ? undefined : StringCtor(value);
      replaceList(
        list,
        list.filter(([k, x]) => !(k === n && (v === undefined || x === v))),
      );
      paramsChanged(this);
    }
    get(name: unknown) {
      const n = StringCtor(name);
      const found = listOf(this).find(([k]) => k === n);
      return found ? found[1] : null;
    }
    getAll(name: unknown) {
      const n = StringCtor(name);
      return listOf(this)
        .filter(([k]) => k === n)
        .map(([, v]) => v);
    }
    has(name: unknown, value?: unknown) {
      const n = StringCtor(name);
      const v = value === undefined ? undefined : StringCtor(value);
      return listOf(this).some(([k, x]) => k === n && (v === undefined || x === v));
    }
    set(name: unknown, value: unknown) {
      const list = listOf(this);
      const n = StringCtor(name);
      const v = StringCtor(value);
      const index = list.findIndex(([k]) => k === n);
      if (index === -1) list.push([n, v]);
      else {
        list[index] = [n, v];
        replaceList(
          list,
          list.filter(([k], i) => k !== n || i === index),
        );
      }
      paramsChanged(this);
    }
    sort() {
      const list = listOf(this);
      const sorted = list
        .map((pair, i): [Pair, number] => [pair, i])
        .sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]))
        .map(([pair]) => pair);
      replaceList(list, sorted);
      paramsChanged(this);
    }
    forEach(callback: (value: string, key: string, params: URLSearchParams) => void, thisArg?: unknown) {
      for (const [k, v] of listOf(this).slice()) ReflectApply(callback, thisArg, [v, k, this]);
    }
    *entries(): IterableIterator<Pair> {
      for (const [k, v] of listOf(this).slice()) yield [k, v];
    }
    *keys(): IterableIterator<string> {
      for (const [k] of listOf(this).slice()) yield k;
    }
    *values(): IterableIterator<string> {
      for (const [, v] of listOf(this).slice()) yield v;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    toString() {
      return serializeParams(listOf(this));
    }
    get [Symbol.toStringTag]() {
      return 'URLSearchParams';
    }
  }

  function partsOf(url: object): UrlParts {
    const parts = urlParts.get(url);
    if (!parts) throw new TypeErrorCtor('Illegal invocation');
    return parts;
  }

  function hostParse(input: unknown, base?: unknown): UrlParts | null {
    return hostCall(hostUrl, ['parse', StringCtor(input), base === undefined ? undefined : StringCtor(base)]);
  }

  function urlUpdate(url: URL, prop: string, value: unknown): void {
    const next = hostCall(hostUrl, ['set', partsOf(url).href, prop, StringCtor(value)]);
    if (next) {
      urlParts.set(url, next);
      const params = urlParams.get(url);
      if (params && prop !== 'hash') replaceList(listOf(params), parseQuery(next.search.slice(1)));
    }
  }

  function urlSetSearchFromParams(url: URL, query: string): void {
    const next = hostCall(hostUrl, ['set', partsOf(url).href, 'search', query]);
    if (next) urlParts.set(url, next);
  }

  class URL {
    constructor(url: unknown, base?: unknown) {
      if (arguments.length === 0) throw new TypeErrorCtor('URL requires 1 argument');
      const parts = hostParse(url, base);
      if (!parts) throw new TypeErrorCtor('Invalid URL');
      urlParts.set(this, parts);
    }
    static canParse(url: unknown, base?: unknown) {
      return hostParse(url, base) !== null;
    }
    static parse(url: unknown, base?: unknown) {
      try {
        return new URL(url, base);
      } catch {
        return null;
      }
    }
    get href() {
      return partsOf(this).href;
    }
    set href(value: unknown) {
      const parts = hostParse(value);
      if (!parts) throw new TypeErrorCtor('Invalid URL');
      urlParts.set(this, parts);
      const params = urlParams.get(this);
      if (params) replaceList(listOf(params), parseQuery(parts.search.slice(1)));
    }
    get origin() {
      return partsOf(this).origin;
    }
    get protocol() {
      return partsOf(this).protocol;
    }
    set protocol(value: unknown) {
      urlUpdate(this, 'protocol', value);
    }
    get username() {
      return partsOf(this).username;
    }
    set username(value: unknown) {
      urlUpdate(this, 'username', value);
    }
    get password() {
      return partsOf(this).password;
    }
    set password(value: unknown) {
      urlUpdate(this, 'password', value);
    }
    get host() {
      return partsOf(this).host;
    }
    set host(value: unknown) {
      urlUpdate(this, 'host', value);
    }
    get hostname() {
      return partsOf(this).hostname;
    }
    set hostname(value: unknown) {
      urlUpdate(this, 'hostname', value);
    }
    get port() {
      return partsOf(this).port;
    }
    set port(value: unknown) {
      urlUpdate(this, 'port', value);
    }
    get pathname() {
      return partsOf(this).pathname;
    }
    set pathname(value: unknown) {
      urlUpdate(this, 'pathname', value);
    }
    get search() {
      return partsOf(this).search;
    }
    set search(value: unknown) {
      urlUpdate(this, 'search', value);
    }
    get hash() {
      return partsOf(this).hash;
    }
    set hash(value: unknown) {
      urlUpdate(this, 'hash', value);
    }
    get searchParams() {
      let params = urlParams.get(this);
      if (!params) {
        params = new URLSearchParams(partsOf(this).search);
        urlParams.set(this, params);
        paramsOwner.set(params, this);
      }
      return params;
    }
    toString() {
      return partsOf(this).href;
    }
    toJSON() {
      return partsOf(this).href;
    }
    get [Symbol.toStringTag]() {
      return 'URL';
    }
  }
  return { URL, URLSearchParams };
}
