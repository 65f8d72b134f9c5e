// @ts-nocheck — this function is never called on the host: its source text is compiled inside each
// hook isolate and run once in every fresh context, before the hook's module. It must stay plain,
// self-contained JavaScript (no imports, no closure over this module, no TypeScript syntax).
//
// It defines the globals of CONTRACT §5 (console, fetch, URL, URLSearchParams, TextEncoder,
// TextDecoder, atob, btoa, crypto.randomUUID/getRandomValues; each built on first use), removes what
// could outlive a run or escape the memory limit (WebAssembly, SharedArrayBuffer, Atomics,
// FinalizationRegistry), and returns the `run` function the host calls with the event once the hook
// module has evaluated. The host bridges it receives (log, random, URL parsing, fetch) stay in this
// closure, tagged with the context's id; the hook never sees them.

export function tesseraBoot(ctxId, hostLog, hostRandom, hostUrl, hostFetch) {
  'use strict';
  const g = globalThis;

  // Intrinsics captured before any hook code runs (a hook may overwrite the globals of its context).
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const freeze = Object.freeze;
  const keys = Object.keys;
  const defineProperty = Object.defineProperty;
  const isArray = Array.isArray;
  const fromCharCode = String.fromCharCode;
  const StringCtor = String;
  const U8 = Uint8Array;
  const AB = ArrayBuffer;
  const isView = ArrayBuffer.isView;
  const TypeErrorCtor = TypeError;
  const ErrorCtor = Error;
  const ReflectApply = Reflect.apply;
  const fetchApply = hostFetch.apply.bind(hostFetch);
  // Console lines handed to the host; the result says how many, so the host can wait for the ones
  // still in flight (hostLog is fire-and-forget, and may arrive after the run's result).
  let logged = 0;
  // Calls to fetch so far (the host asks after preparing a context ahead of its run, see `run`).
  let fetched = 0;

  // Each call below blocks on the host's event loop: a run gets a bounded number of them, so a hook
  // spinning on `new URL()` cannot keep the host busy for its whole timeout.
  const HOST_CALLS = 20000;
  let hostCalls = 0;
  function hostCall(fn, args) {
    if (++hostCalls > HOST_CALLS) throw new ErrorCtor('too many URL or crypto operations in one run (at most ' + HOST_CALLS + ')');
    return ReflectApply(fn, undefined, args);
  }

  for (const name of ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry', 'console']) delete g[name];

  function define(name, value) {
    defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // Globals are built on first use: most hooks touch few of them, and every run pays for what it builds.
  const built = {};
  function lazy(names, factory) {
    const build = () => {
      if (!built[names[0]]) {
        const made = factory();
        for (const name of names) built[name] = made[name];
      }
      return built;
    };
    for (const name of names) {
      defineProperty(g, name, {
        configurable: true,
        enumerable: false,
        get() { const value = build()[name]; define(name, value); return value; },
        set(value) { define(name, value); },
      });
    }
    return build;
  }

  // The hook module ends with a call to this (see MODULE_SUFFIX), handing over its default export
  // once its top level has run to the end.
  let registered = null;
  defineProperty(g, '__tesseraRegister__', {
    configurable: true,
    enumerable: false,
    writable: false,
    value(fn) {
      delete g.__tesseraRegister__;
      registered = { fn };
      // The hook script's value: the host reads it after running the script ahead of a run.
      return stringify({ registered: true, logged, fetched });
    },
  });

  // ---------------------------------------------------------------- console
  const MAX_TEXT = 8000; // the host redacts secrets, then cuts each line to its own cap

  /** A short, bounded rendering of any value (as Node's console would, more or less). */
  function inspect(value, depth, seen) {
    const t = typeof value;
    if (t === 'string') return depth === 0 ? value : stringify(value);
    if (t === 'number' || t === 'boolean' || value === undefined || value === null) return StringCtor(value);
    if (t === 'bigint') return StringCtor(value) + 'n';
    if (t === 'symbol') return value.toString();
    if (t === 'function') return '[Function: ' + (value.name || 'anonymous') + ']';
    if (value instanceof ErrorCtor) {
      const stack = value.stack;
      if (typeof stack !== 'string') return value.name + ': ' + value.message;
      return stack.split('\n').filter((line) => !line.includes('tessera:prelude')).join('\n');
    }
    if (seen.includes(value)) return '[Circular]';
    if (value instanceof Date) return isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof RegExp) return value.toString();
    if (built.URL && (value instanceof built.URL || value instanceof built.URLSearchParams)) return value.constructor.name + ' ' + stringify(value.toString());
    if (depth > 2) return isArray(value) ? '[Array]' : '[Object]';
    const inner = seen.concat([value]);
    const parts = [];
    let size = 0;
    const add = (text) => {
      parts[parts.length] = text;
      size += text.length;
      return size < MAX_TEXT && parts.length < 100;
    };
    if (isArray(value)) {
      for (let i = 0; i < value.length; i++) if (!add(inspect(value[i], depth + 1, inner))) { add('…'); break; }
      return '[ ' + parts.join(', ') + ' ]';
    }
    if (value instanceof Map) {
      for (const [k, v] of value) if (!add(inspect(k, depth + 1, inner) + ' => ' + inspect(v, depth + 1, inner))) break;
      return 'Map(' + value.size + ') { ' + parts.join(', ') + ' }';
    }
    if (value instanceof Set) {
      for (const v of value) if (!add(inspect(v, depth + 1, inner))) break;
      return 'Set(' + value.size + ') { ' + parts.join(', ') + ' }';
    }
    if (isView(value)) return value.constructor.name + '(' + value.length + ')';
    for (const k of keys(value)) {
      const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : stringify(k);
      if (!add(key + ': ' + inspect(value[k], depth + 1, inner))) { add('…'); break; }
    }
    return parts.length === 0 ? '{}' : '{ ' + parts.join(', ') + ' }';
  }

  lazy(['console'], function makeConsole() {
    const MAX_LINES = 100;
    let lineCount = 0;

    function format(args) {
      let out = '';
      let i = 0;
      if (typeof args[0] === 'string' && args[0].includes('%') && args.length > 1) {
        const fmt = args[0];
        i = 1;
        for (let j = 0; j < fmt.length; j++) {
          const c = fmt[j];
          if (c === '%' && j + 1 < fmt.length) {
            const n = fmt[j + 1];
            if (n === '%') { out += '%'; j++; continue; }
            if ('sdifjoOc'.includes(n)) {
              j++;
              if (i >= args.length) { out += '%' + n; continue; }
              const arg = args[i++];
              if (n === 's') out += typeof arg === 'string' ? arg : inspect(arg, 1, []);
              else if (n === 'd' || n === 'i') out += typeof arg === 'bigint' ? arg + 'n' : StringCtor(n === 'i' ? parseInt(arg) : Number(arg));
              else if (n === 'f') out += StringCtor(parseFloat(arg));
              else if (n === 'j') { try { out += stringify(arg); } catch { out += '[Circular]'; } }
              else if (n === 'c') { /* CSS: ignored */ }
              else out += inspect(arg, 1, []);
              continue;
            }
          }
          out += c;
          if (out.length > MAX_TEXT) break;
        }
      }
      for (; i < args.length && out.length <= MAX_TEXT; i++) out += (out === '' && i === 0 ? '' : ' ') + inspect(args[i], 0, []);
      return out.length > MAX_TEXT ? out.slice(0, MAX_TEXT) : out;
    }

    function emit(level, args) {
      if (lineCount > MAX_LINES) return;
      lineCount++;
      if (lineCount > MAX_LINES) { logged++; hostLog(ctxId, 'truncated', ''); return; }
      let text;
      try { text = format(args); } catch (e) { text = '[unprintable: ' + (e && e.message) + ']'; }
      logged++;
      hostLog(ctxId, level, text);
    }

    const console = {};
    for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
      console[level] = { [level](...args) { emit(level, args); } }[level];
    }
    console.trace = function trace(...args) { emit('log', args); };
    console.dir = function dir(value) { emit('log', [value]); };
    console.assert = function assert(condition, ...args) { if (!condition) emit('error', ['Assertion failed' + (args.length ? ':' : '')].concat(args)); };
    return { console: freeze(console) };
  });

  // ---------------------------------------------------------------- UTF-8
  function utf8Encode(input) {
    const s = StringCtor(input);
    const out = new U8(s.length * 3);
    let j = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00);
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        c = 0xfffd;
      }
      if (c < 0x80) out[j++] = c;
      else if (c < 0x800) { out[j++] = 0xc0 | (c >> 6); out[j++] = 0x80 | (c & 0x3f); }
      else if (c < 0x10000) { out[j++] = 0xe0 | (c >> 12); out[j++] = 0x80 | ((c >> 6) & 0x3f); out[j++] = 0x80 | (c & 0x3f); }
      else { out[j++] = 0xf0 | (c >> 18); out[j++] = 0x80 | ((c >> 12) & 0x3f); out[j++] = 0x80 | ((c >> 6) & 0x3f); out[j++] = 0x80 | (c & 0x3f); }
    }
    return out.slice(0, j);
  }

  function codeUnitsToString(units) {
    let out = '';
    for (let i = 0; i < units.length; i += 8192) out += ReflectApply(fromCharCode, null, units.subarray(i, i + 8192));
    return out;
  }

  function bytesOf(input) {
    if (input === undefined) return new U8(0);
    if (input instanceof AB) return new U8(input);
    if (isView(input)) return new U8(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeErrorCtor('The "input" argument must be an ArrayBuffer or ArrayBufferView');
  }

  // The WHATWG UTF-8 decoder (maximal subparts replaced by U+FFFD), with streaming state.
  function utf8Decode(bytes, state, flush, fatal) {
    // At most one UTF-16 unit per byte, plus a replacement character at the flush.
    const units = new Uint16Array(bytes.length + 1);
    let n = 0;
    const fail = () => {
      if (fatal) throw new TypeErrorCtor('The encoded data was not valid for encoding utf-8');
      units[n++] = 0xfffd;
    };
    const put = (cp) => {
      if (!state.bomDone) {
        state.bomDone = true;
        if (cp === 0xfeff && !state.ignoreBOM) return;
      }
      if (cp > 0xffff) { cp -= 0x10000; units[n++] = 0xd800 + (cp >> 10); units[n++] = 0xdc00 + (cp & 0x3ff); }
      else units[n++] = cp;
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (state.needed === 0) {
        if (b <= 0x7f) put(b);
        else if (b >= 0xc2 && b <= 0xdf) { state.needed = 1; state.cp = b & 0x1f; }
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) state.lower = 0xa0;
          if (b === 0xed) state.upper = 0x9f;
          state.needed = 2; state.cp = b & 0xf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) state.lower = 0x90;
          if (b === 0xf4) state.upper = 0x8f;
          state.needed = 3; state.cp = b & 0x7;
        } else { state.bomDone = true; fail(); }
        continue;
      }
      if (b < state.lower || b > state.upper) {
        state.cp = 0; state.needed = 0; state.seen = 0; state.lower = 0x80; state.upper = 0xbf;
        state.bomDone = true;
        fail();
        i--;
        continue;
      }
      state.lower = 0x80; state.upper = 0xbf;
      state.cp = (state.cp << 6) | (b & 0x3f);
      state.seen++;
      if (state.seen === state.needed) {
        const cp = state.cp;
        state.cp = 0; state.needed = 0; state.seen = 0;
        put(cp);
      }
    }
    if (flush) {
      if (state.needed !== 0) {
        state.cp = 0; state.needed = 0; state.seen = 0; state.lower = 0x80; state.upper = 0xbf;
        fail();
      }
      state.bomDone = false;
    }
    return codeUnitsToString(units.subarray(0, n));
  }

  lazy(['TextEncoder', 'TextDecoder'], function makeText() {
    class TextEncoder {
      get encoding() { return 'utf-8'; }
      encode(input = '') { return utf8Encode(input); }
      encodeInto(source, destination) {
        if (!(destination instanceof U8)) throw new TypeErrorCtor('The "destination" argument must be a Uint8Array');
        const s = StringCtor(source);
        let read = 0;
        let written = 0;
        for (let i = 0; i < s.length; i++) {
          const pair = s.charCodeAt(i) >= 0xd800 && s.charCodeAt(i) <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
          const bytes = utf8Encode(pair ? s.slice(i, i + 2) : s[i]);
          if (written + bytes.length > destination.length) break;
          destination.set(bytes, written);
          written += bytes.length;
          read += pair ? 2 : 1;
          if (pair) i++;
        }
        return { read, written };
      }
    }

    const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8'];
    const decoderState = new WeakMap();

    class TextDecoder {
      constructor(label = 'utf-8', options = {}) {
        const name = StringCtor(label).trim().toLowerCase();
        if (!UTF8_LABELS.includes(name)) throw new RangeError('The "' + label + '" encoding is not supported (only utf-8)');
        decoderState.set(this, {
          fatal: Boolean(options && options.fatal),
          ignoreBOM: Boolean(options && options.ignoreBOM),
          needed: 0, seen: 0, cp: 0, lower: 0x80, upper: 0xbf, bomDone: false,
        });
      }
      get encoding() { return 'utf-8'; }
      get fatal() { return decoderState.get(this).fatal; }
      get ignoreBOM() { return decoderState.get(this).ignoreBOM; }
      decode(input, options = {}) {
        const state = decoderState.get(this);
        if (!state) throw new TypeErrorCtor('Illegal invocation');
        return utf8Decode(bytesOf(input), state, !(options && options.stream), state.fatal);
      }
    }

    return { TextEncoder, TextDecoder };
  });

  // ---------------------------------------------------------------- base64
  lazy(['atob', 'btoa'], function makeBase64() {
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    function invalidCharacter(message) {
      const error = new ErrorCtor(message);
      error.name = 'InvalidCharacterError';
      return error;
    }

    function btoa(data) {
      if (arguments.length === 0) throw new TypeErrorCtor('btoa requires 1 argument');
      const s = StringCtor(data);
      let out = '';
      for (let i = 0; i < s.length; i += 3) {
        const a = s.charCodeAt(i);
        const b = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        const c = i + 2 < s.length ? s.charCodeAt(i + 2) : 0;
        if (a > 0xff || b > 0xff || c > 0xff) throw invalidCharacter('Invalid character: btoa takes Latin-1 text only');
        const n = (a << 16) | (b << 8) | c;
        out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
      }
      return out;
    }

    function atob(data) {
      if (arguments.length === 0) throw new TypeErrorCtor('atob requires 1 argument');
      let s = StringCtor(data).replace(/[\t\n\f\r ]/g, '');
      if (s.length % 4 === 0) s = s.replace(/==?$/, '');
      if (s.length % 4 === 1 || /[^+/0-9A-Za-z]/.test(s)) throw invalidCharacter('The string to be decoded is not correctly encoded.');
      let out = '';
      let buffer = 0;
      let bits = 0;
      for (let i = 0; i < s.length; i++) {
        buffer = (buffer << 6) | B64.indexOf(s[i]);
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          out += fromCharCode((buffer >> bits) & 0xff);
        }
      }
      return out;
    }

    return { atob, btoa };
  });

  // ---------------------------------------------------------------- crypto
  lazy(['crypto'], function makeCrypto() {
    const cryptoObject = {
      randomUUID() { return hostCall(hostRandom, [ctxId, 'uuid', 0]); },
      getRandomValues(array) {
        if (!isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
          throw new TypeErrorCtor('getRandomValues takes an integer typed array');
        }
        if (array.byteLength > 65536) {
          const error = new ErrorCtor('getRandomValues: at most 65536 bytes at a time');
          error.name = 'QuotaExceededError';
          throw error;
        }
        const bytes = hostCall(hostRandom, [ctxId, 'bytes', array.byteLength]);
        new U8(array.buffer, array.byteOffset, array.byteLength).set(bytes);
        return array;
      },
    };
    return { crypto: freeze(cryptoObject) };
  });

  // ---------------------------------------------------------------- URLSearchParams, URL
  const buildUrl = lazy(['URL', 'URLSearchParams'], function makeUrl() {
    function percentDecodeToString(s) {
      const bytes = utf8Encode(s.replace(/\+/g, ' '));
      const out = new U8(bytes.length);
      let j = 0;
      const hex = (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if (b === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]) && hex(bytes[i + 2])) {
          out[j++] = parseInt(fromCharCode(bytes[i + 1], bytes[i + 2]), 16);
          i += 2;
        } else {
          out[j++] = b;
        }
      }
      return utf8Decode(out.subarray(0, j), { needed: 0, seen: 0, cp: 0, lower: 0x80, upper: 0xbf, bomDone: true, ignoreBOM: true }, true, false);
    }

    function formEncode(s) {
      const bytes = utf8Encode(s);
      let out = '';
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f) out += fromCharCode(b);
        else if (b === 0x20) out += '+';
        else out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
      }
      return out;
    }

    function parseQuery(query) {
      const list = [];
      for (const piece of query.split('&')) {
        if (piece === '') continue;
        const eq = piece.indexOf('=');
        const name = eq === -1 ? piece : piece.slice(0, eq);
        const value = eq === -1 ? '' : piece.slice(eq + 1);
        list[list.length] = [percentDecodeToString(name), percentDecodeToString(value)];
      }
      return list;
    }

    const paramsList = new WeakMap();
    const paramsOwner = new WeakMap();

    function listOf(params) {
      const list = paramsList.get(params);
      if (!list) throw new TypeErrorCtor('Illegal invocation');
      return list;
    }

    function paramsChanged(params) {
      const url = paramsOwner.get(params);
      if (url) urlSetSearchFromParams(url, serializeParams(listOf(params)));
    }

    function serializeParams(list) {
      return list.map(([k, v]) => formEncode(k) + '=' + formEncode(v)).join('&');
    }

    class URLSearchParams {
      constructor(init = '') {
        let list = [];
        if (init instanceof URLSearchParams) {
          list = listOf(init).map(([k, v]) => [k, v]);
        } else if (init !== null && typeof init === 'object' || typeof init === 'function') {
          const iterator = init[Symbol.iterator];
          if (typeof iterator === 'function') {
            for (const pair of init) {
              const items = [...pair];
              if (items.length !== 2) throw new TypeErrorCtor('Each query pair must be an iterable [name, value] tuple');
              list[list.length] = [StringCtor(items[0]), StringCtor(items[1])];
            }
          } else {
            for (const k of keys(init)) list[list.length] = [k, StringCtor(init[k])];
          }
        } else {
          let s = StringCtor(init);
          if (s.startsWith('?')) s = s.slice(1);
          list = parseQuery(s);
        }
        paramsList.set(this, list);
      }
      get size() { return listOf(this).length; }
      append(name, value) { listOf(this).push([StringCtor(name), StringCtor(value)]); paramsChanged(this); }
      delete(name, value) {
        const list = listOf(this);
        const n = StringCtor(name);
        const v = value === undefined ? undefined : StringCtor(value);
        const kept = list.filter(([k, x]) => !(k === n && (v === undefined || x === v)));
        list.length = 0;
        for (const pair of kept) list[list.length] = pair;
        paramsChanged(this);
      }
      get(name) {
        const n = StringCtor(name);
        const found = listOf(this).find(([k]) => k === n);
        return found ? found[1] : null;
      }
      getAll(name) {
        const n = StringCtor(name);
        return listOf(this).filter(([k]) => k === n).map(([, v]) => v);
      }
      has(name, value) {
        const n = StringCtor(name);
        const v = value === undefined ? undefined : StringCtor(value);
        return listOf(this).some(([k, x]) => k === n && (v === undefined || x === v));
      }
      set(name, value) {
        const list = listOf(this);
        const n = StringCtor(name);
        const v = StringCtor(value);
        const index = list.findIndex(([k]) => k === n);
        if (index === -1) list.push([n, v]);
        else {
          list[index] = [n, v];
          const kept = list.filter(([k], i) => k !== n || i === index);
          list.length = 0;
          for (const pair of kept) list[list.length] = pair;
        }
        paramsChanged(this);
      }
      sort() {
        const list = listOf(this);
        const sorted = list.map((pair, i) => [pair, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([pair]) => pair);
        list.length = 0;
        for (const pair of sorted) list[list.length] = pair;
        paramsChanged(this);
      }
      forEach(callback, thisArg) {
        for (const [k, v] of listOf(this).slice()) ReflectApply(callback, thisArg, [v, k, this]);
      }
      *entries() { for (const [k, v] of listOf(this).slice()) yield [k, v]; }
      *keys() { for (const [k] of listOf(this).slice()) yield k; }
      *values() { for (const [, v] of listOf(this).slice()) yield v; }
      [Symbol.iterator]() { return this.entries(); }
      toString() { return serializeParams(listOf(this)); }
      get [Symbol.toStringTag]() { return 'URLSearchParams'; }
    }

    // ---------------------------------------------------------------- URL (parsed by the host's WHATWG parser)
    const urlParts = new WeakMap();
    const urlParams = new WeakMap();

    function partsOf(url) {
      const parts = urlParts.get(url);
      if (!parts) throw new TypeErrorCtor('Illegal invocation');
      return parts;
    }

    function hostParse(input, base) {
      return hostCall(hostUrl, ['parse', StringCtor(input), base === undefined ? undefined : StringCtor(base)]);
    }

    function urlUpdate(url, prop, value) {
      const next = hostCall(hostUrl, ['set', partsOf(url).href, prop, StringCtor(value)]);
      if (next) {
        urlParts.set(url, next);
        const params = urlParams.get(url);
        if (params && prop !== 'hash') {
          const list = listOf(params);
          list.length = 0;
          for (const pair of parseQuery(next.search.slice(1))) list[list.length] = pair;
        }
      }
    }

    function urlSetSearchFromParams(url, query) {
      const next = hostCall(hostUrl, ['set', partsOf(url).href, 'search', query]);
      if (next) urlParts.set(url, next);
    }

    class URL {
      constructor(url, base) {
        if (arguments.length === 0) throw new TypeErrorCtor('URL requires 1 argument');
        const parts = hostParse(url, base);
        if (!parts) throw new TypeErrorCtor('Invalid URL');
        urlParts.set(this, parts);
      }
      static canParse(url, base) { return hostParse(url, base) !== null; }
      static parse(url, base) {
        try { return new URL(url, base); } catch { return null; }
      }
      get href() { return partsOf(this).href; }
      set href(value) {
        const parts = hostParse(value);
        if (!parts) throw new TypeErrorCtor('Invalid URL');
        urlParts.set(this, parts);
        const params = urlParams.get(this);
        if (params) {
          const list = listOf(params);
          list.length = 0;
          for (const pair of parseQuery(parts.search.slice(1))) list[list.length] = pair;
        }
      }
      get origin() { return partsOf(this).origin; }
      get protocol() { return partsOf(this).protocol; }
      set protocol(value) { urlUpdate(this, 'protocol', value); }
      get username() { return partsOf(this).username; }
      set username(value) { urlUpdate(this, 'username', value); }
      get password() { return partsOf(this).password; }
      set password(value) { urlUpdate(this, 'password', value); }
      get host() { return partsOf(this).host; }
      set host(value) { urlUpdate(this, 'host', value); }
      get hostname() { return partsOf(this).hostname; }
      set hostname(value) { urlUpdate(this, 'hostname', value); }
      get port() { return partsOf(this).port; }
      set port(value) { urlUpdate(this, 'port', value); }
      get pathname() { return partsOf(this).pathname; }
      set pathname(value) { urlUpdate(this, 'pathname', value); }
      get search() { return partsOf(this).search; }
      set search(value) { urlUpdate(this, 'search', value); }
      get hash() { return partsOf(this).hash; }
      set hash(value) { urlUpdate(this, 'hash', value); }
      get searchParams() {
        let params = urlParams.get(this);
        if (!params) {
          params = new URLSearchParams(partsOf(this).search);
          urlParams.set(this, params);
          paramsOwner.set(params, this);
        }
        return params;
      }
      toString() { return partsOf(this).href; }
      toJSON() { return partsOf(this).href; }
      get [Symbol.toStringTag]() { return 'URL'; }
    }
    return { URL, URLSearchParams };
  });

  // ---------------------------------------------------------------- fetch
  lazy(['fetch'], function makeFetch() {
    const { URL, URLSearchParams } = buildUrl();
    const headerLists = new WeakMap();

    class ResponseHeaders {
      constructor(pairs) { headerLists.set(this, pairs); }
      get(name) {
        const n = StringCtor(name).toLowerCase();
        const values = headerLists.get(this).filter(([k]) => k === n).map(([, v]) => v);
        return values.length === 0 ? null : values.join(', ');
      }
      getSetCookie() { return headerLists.get(this).filter(([k]) => k === 'set-cookie').map(([, v]) => v); }
      has(name) { const n = StringCtor(name).toLowerCase(); return headerLists.get(this).some(([k]) => k === n); }
      forEach(callback, thisArg) {
        for (const [k, v] of this.entries()) ReflectApply(callback, thisArg, [v, k, this]);
      }
      *entries() {
        const names = [];
        for (const [k] of headerLists.get(this)) if (!names.includes(k)) names[names.length] = k;
        names.sort();
        for (const k of names) yield [k, this.get(k)];
      }
      *keys() { for (const [k] of this.entries()) yield k; }
      *values() { for (const [, v] of this.entries()) yield v; }
      [Symbol.iterator]() { return this.entries(); }
    }

    const bodies = new WeakMap();

    class Response {
      constructor(raw) {
        bodies.set(this, { bytes: raw.body, used: false });
        defineProperty(this, 'status', { value: raw.status, enumerable: true });
        defineProperty(this, 'statusText', { value: raw.statusText, enumerable: true });
        defineProperty(this, 'ok', { value: raw.status >= 200 && raw.status <= 299, enumerable: true });
        defineProperty(this, 'url', { value: raw.url, enumerable: true });
        defineProperty(this, 'redirected', { value: raw.redirected, enumerable: true });
        defineProperty(this, 'headers', { value: new ResponseHeaders(raw.headers), enumerable: true });
      }
      get bodyUsed() { return bodies.get(this).used; }
      async arrayBuffer() { return consume(this).slice().buffer; }
      async bytes() { return consume(this).slice(); }
      async text() { return utf8Decode(consume(this), { needed: 0, seen: 0, cp: 0, lower: 0x80, upper: 0xbf, bomDone: false, ignoreBOM: false }, true, false); }
      async json() { return parse(await this.text()); }
    }

    function consume(response) {
      const body = bodies.get(response);
      if (!body) throw new TypeErrorCtor('Illegal invocation');
      if (body.used) throw new TypeErrorCtor('Body has already been used');
      body.used = true;
      return body.bytes;
    }

    function headerPairs(headers) {
      const pairs = [];
      if (headers === undefined || headers === null) return pairs;
      if (headers instanceof ResponseHeaders) {
        for (const [k, v] of headers.entries()) pairs[pairs.length] = [k, v];
      } else if (typeof headers[Symbol.iterator] === 'function') {
        for (const pair of headers) {
          const items = [...pair];
          if (items.length !== 2) throw new TypeErrorCtor('fetch: each header must be a [name, value] pair');
          pairs[pairs.length] = [StringCtor(items[0]), StringCtor(items[1])];
        }
      } else if (typeof headers === 'object') {
        for (const k of keys(headers)) pairs[pairs.length] = [k, StringCtor(headers[k])];
      } else {
        throw new TypeErrorCtor('fetch: headers must be an object or a list of pairs');
      }
      return pairs;
    }

    async function fetch(input, init = {}) {
      fetched++;
      const options = init === null || init === undefined ? {} : init;
      const url = input instanceof URL ? input.href : StringCtor(input && typeof input === 'object' && typeof input.url === 'string' ? input.url : input);
      const headers = headerPairs(options.headers);
      const hasHeader = (name) => headers.some(([k]) => k.toLowerCase() === name);
      let body = options.body;
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
      const request = {
        url,
        method: options.method === undefined ? 'GET' : StringCtor(options.method),
        headers,
        body,
        redirect: options.redirect === undefined ? 'follow' : StringCtor(options.redirect),
      };
      const result = await fetchApply(undefined, [ctxId, request], { arguments: { copy: true }, result: { promise: true, copy: true } });
      if (!result || result.ok !== true) throw new TypeErrorCtor(result && typeof result.error === 'string' ? result.error : 'fetch failed');
      return new Response(result.response);
    }
    return { fetch };
  });

  // ---------------------------------------------------------------- the api object
  const MAX_ACTIONS = 200;
  const MAX_ACTION_TEXT = 65536;

  function data(value, what) {
    if (value === undefined) return undefined;
    let text;
    try { text = stringify(value); } catch (e) { throw new TypeErrorCtor(what + ' must be JSON-serializable'); }
    if (text === undefined) return undefined;
    if (text.length > MAX_ACTION_TEXT) throw new TypeErrorCtor(what + ' is too large');
    return parse(text);
  }

  function makeApi(actions) {
    const record = (type, fields) => {
      if (actions.length >= MAX_ACTIONS) throw new TypeErrorCtor('too many api calls (at most ' + MAX_ACTIONS + ' per run)');
      const action = { type };
      for (const k of keys(fields)) {
        const v = data(fields[k], 'api.' + type + ' ' + k);
        if (v !== undefined) action[k] = v;
      }
      actions[actions.length] = action;
    };
    const deepFreeze = (object) => {
      for (const k of keys(object)) if (typeof object[k] === 'object') deepFreeze(object[k]);
      return freeze(object);
    };
    return deepFreeze({
      deny(message) { record('deny', { message }); },
      redirect(url) { record('redirect', { url }); },
      user: {
        setAttribute(key, value) { record('user.setAttribute', { key, value }); },
        setMetadata(key, value) { record('user.setMetadata', { key, value }); },
      },
      mfa: {
        require() { record('mfa.require', {}); },
        skip() { record('mfa.skip', {}); },
      },
      migration: {
        createUser(user) { record('migration.createUser', { user }); },
      },
      password: {
        accept() { record('password.accept', {}); },
        reject(message) { record('password.reject', { message }); },
      },
      error: {
        setMessage(message) { record('error.setMessage', { message }); },
      },
      form: {
        requireFields(fields) { record('form.requireFields', { fields }); },
        requireConsents(consents) { record('form.requireConsents', { consents }); },
      },
      idToken: {
        setClaim(key, value) { record('idToken.setClaim', { key, value }); },
      },
      accessToken: {
        setClaim(key, value) { record('accessToken.setClaim', { key, value }); },
      },
    });
  }

  function lineOf(stack) {
    const match = typeof stack === 'string' ? /hook\.js:(\d+):\d+/.exec(stack) : null;
    return match ? match[1] : null;
  }

  function describeError(error) {
    try {
      if (error instanceof ErrorCtor) {
        const line = lineOf(error.stack);
        return StringCtor(error.name || 'Error') + ': ' + StringCtor(error.message) + (line ? ' (line ' + line + ')' : '');
      }
      return 'Uncaught ' + inspect(error, 1, []);
    } catch {
      return 'Uncaught exception';
    }
  }

  let used = false;
  return async function run(event) {
    if (used) throw new ErrorCtor('a context runs one hook once');
    used = true;
    if (registered === null) {
      return stringify({ actions: [], error: 'the hook did not finish its top level', logged });
    }
    const fn = registered.fn;
    if (typeof fn !== 'function') {
      return stringify({ actions: [], error: 'the hook must export a default function: export default async function (event, api) { … }', logged });
    }
    const actions = [];
    try {
      await fn(event, makeApi(actions));
    } catch (error) {
      return stringify({ actions: [], error: describeError(error), logged });
    }
    return stringify({ actions, logged });
  };
}

/** The script compiled once per isolate and run in each new context; its value is `tesseraBoot`, called once there. */
export const PRELUDE_SOURCE = `(${tesseraBoot.toString()});\n`;

/** The specifier of the hook module itself, the only import a hook module may (and its suffix does) have. */
export const SELF_SPECIFIER = 'tessera:hook';

/**
 * Appended to every hook module (after the last line, so line numbers are unchanged): once the top
 * level has run to its end, it hands the default export to the prelude's `run`. That lets the host
 * queue the module's evaluation and the call together, without a round trip in between.
 */
export const MODULE_SUFFIX = `\n;import __tessera_hook__ from '${SELF_SPECIFIER}';\n__tesseraRegister__(__tessera_hook__);\n`;
