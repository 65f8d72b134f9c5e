// UTF-8 for the isolate's TextEncoder and TextDecoder (and fetch's Response.text, URLSearchParams):
// isolated-vm contexts have neither. Pure functions, tested on the host against Node's own.
import { AB, fromCharCode, isView, ReflectApply, StringCtor, TypeErrorCtor, U8 } from './intrinsics.ts';

/** The streaming state of a UTF-8 decoder (WHATWG Encoding, "UTF-8 decoder"). */
export interface DecoderState {
  needed: number;
  seen: number;
  cp: number;
  lower: number;
  upper: number;
  /** Whether the first code point (a BOM to drop unless ignoreBOM) is behind us. */
  bomDone: boolean;
  ignoreBOM: boolean;
}

export function decoderState(ignoreBOM: boolean): DecoderState {
  return { needed: 0, seen: 0, cp: 0, lower: 0x80, upper: 0xbf, bomDone: false, ignoreBOM };
}

/** A string as UTF-8; lone surrogates become U+FFFD, as TextEncoder does. */
export function utf8Encode(input: unknown): Uint8Array {
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
    else if (c < 0x800) {
      out[j++] = 0xc0 | (c >> 6);
      out[j++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[j++] = 0xe0 | (c >> 12);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    } else {
      out[j++] = 0xf0 | (c >> 18);
      out[j++] = 0x80 | ((c >> 12) & 0x3f);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    }
  }
  return out.slice(0, j);
}

export function codeUnitsToString(units: Uint16Array): string {
  let out = '';
  for (let i = 0; i < units.length; i += 8192) out += ReflectApply(fromCharCode, null, units.subarray(i, i + 8192) as unknown as number[]);
  return out;
}

/** The bytes of a decode() input: nothing, an ArrayBuffer or a view (read in place). */
export function bytesOf(input: unknown): Uint8Array {
  if (input === undefined) return new U8(0);
  if (input instanceof AB) return new U8(input);
  if (isView(input)) return new U8(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeErrorCtor('The "input" argument must be an ArrayBuffer or ArrayBufferView');
}

/** The WHATWG UTF-8 decoder (maximal subparts replaced by U+FFFD), with streaming state. */
export function utf8Decode(bytes: Uint8Array, state: DecoderState, flush: boolean, fatal: boolean): string {
  // At most one UTF-16 unit per byte, plus a replacement character at the flush.
  const units = new Uint16Array(bytes.length + 1);
  let n = 0;
  const fail = () => {
    if (fatal) throw new TypeErrorCtor('The encoded data was not valid for encoding utf-8');
    units[n++] = 0xfffd;
  };
  const put = (cp: number) => {
    if (!state.bomDone) {
      state.bomDone = true;
      if (cp === 0xfeff && !state.ignoreBOM) return;
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      units[n++] = 0xd800 + (cp >> 10);
      units[n++] = 0xdc00 + (cp & 0x3ff);
    } else units[n++] = cp;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (state.needed === 0) {
      if (b <= 0x7f) put(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        state.needed = 1;
        state.cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) state.lower = 0xa0;
        if (b === 0xed) state.upper = 0x9f;
        state.needed = 2;
        state.cp = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) state.lower = 0x90;
        if (b === 0xf4) state.upper = 0x8f;
        state.needed = 3;
        state.cp = b & 0x7;
      } else {
        state.bomDone = true;
        fail();
      }
      continue;
    }
    if (b < state.lower || b > state.upper) {
      state.cp = 0;
      state.needed = 0;
      state.seen = 0;
      state.lower = 0x80;
      state.upper = 0xbf;
      state.bomDone = true;
      fail();
      i--;
      continue;
    }
    state.lower = 0x80;
    state.upper = 0xbf;
    state.cp = (state.cp << 6) | (b & 0x3f);
    state.seen++;
    if (state.seen === state.needed) {
      const cp = state.cp;
      state.cp = 0;
      state.needed = 0;
      state.seen = 0;
      put(cp);
    }
  }
  if (flush) {
    if (state.needed !== 0) {
      state.cp = 0;
      state.needed = 0;
      state.seen = 0;
      state.lower = 0x80;
      state.upper = 0xbf;
      fail();
    }
    state.bomDone = false;
  }
  return codeUnitsToString(units.subarray(0, n));
}

/** The isolate's TextEncoder and TextDecoder (utf-8 only). */
export function makeText() {
  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(input: unknown = '') {
      return utf8Encode(input);
    }
    encodeInto(source: unknown, destination: Uint8Array) {
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
  const states = new WeakMap<object, DecoderState & { fatal: boolean }>();

  class TextDecoder {
    constructor(label: unknown = 'utf-8', options: { fatal?: unknown; ignoreBOM?: unknown } | null = {}) {
      const name = StringCtor(label).trim().toLowerCase();
      if (!UTF8_LABELS.includes(name)) throw new RangeError('The "' + label + '" encoding is not supported (only utf-8)');
      states.set(this, { ...decoderState(Boolean(options && options.ignoreBOM)), fatal: Boolean(options && options.fatal) });
    }
    get encoding() {
      return 'utf-8';
    }
    get fatal() {
      return states.get(this)!.fatal;
    }
    get ignoreBOM() {
      return states.get(this)!.ignoreBOM;
    }
    decode(input?: unknown, options: { stream?: unknown } | null = {}) {
      const state = states.get(this);
      if (!state) throw new TypeErrorCtor('Illegal invocation');
      return utf8Decode(bytesOf(input), state, !(options && options.stream), state.fatal);
    }
  }

  return { TextEncoder, TextDecoder };
}
