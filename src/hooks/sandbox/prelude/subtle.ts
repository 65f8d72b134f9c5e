// crypto.subtle for the isolate, done by the host's WebCrypto (node:crypto webcrypto) through the
// async bridge ('subtle'): digest, importKey (raw, jwk), exportKey, sign and verify (HMAC, and the
// algorithms Node supports). Keys stay on the host, in the run's own table: the isolate holds a
// CryptoKey with the key's public description and a handle that means nothing after the run.
import { AB, freeze, isView, TypeErrorCtor, U8 } from './intrinsics.ts';

export function bytesFor(data: unknown, what: string): Uint8Array {
  if (data instanceof AB) return new U8(data.slice(0));
  if (isView(data)) return new U8(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  throw new TypeErrorCtor(what + ' must be an ArrayBuffer or a typed array');
}

export function makeSubtle(callAsync: (op: string, args: unknown[]) => Promise<unknown>) {
  const handles = new WeakMap<object, number>();

  class CryptoKey {
    constructor() {
      throw new TypeErrorCtor('Illegal constructor: use crypto.subtle.importKey');
    }
  }

  function wrapKey(raw: { handle: number; type: string; algorithm: unknown; extractable: boolean; usages: string[] }): object {
    const key = Object.create(CryptoKey.prototype, {
      type: { value: raw.type, enumerable: true },
      algorithm: { value: freeze(raw.algorithm), enumerable: true },
      extractable: { value: raw.extractable, enumerable: true },
      usages: { value: freeze(raw.usages), enumerable: true },
    });
    handles.set(key, raw.handle);
    return freeze(key);
  }

  function handleOf(key: unknown): number {
    const handle = typeof key === 'object' && key !== null ? handles.get(key) : undefined;
    if (handle === undefined) throw new TypeErrorCtor('the key must be a CryptoKey from crypto.subtle.importKey');
    return handle;
  }

  // Algorithm descriptions go to the host as JSON-like data (the bridge copies them); byte fields
  // (HMAC's none, but e.g. a salt) as Uint8Array.
  function plainAlgorithm(algorithm: unknown): unknown {
    if (typeof algorithm === 'string') return algorithm;
    if (algorithm === null || typeof algorithm !== 'object') throw new TypeErrorCtor('the algorithm must be a name or an object with a name');
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(algorithm)) {
      if (k === 'hash' && v !== null && typeof v === 'object') out[k] = { name: String((v as { name?: unknown }).name) };
      else if (v instanceof AB || isView(v)) out[k] = bytesFor(v, 'algorithm.' + k);
      else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    }
    return out;
  }

  const rethrow = (error: unknown): never => {
    throw error;
  };

  async function call(op: string, args: unknown[]): Promise<unknown> {
    const answer = (await callAsync('subtle', [op, args])) as { ok: boolean; value?: unknown; error?: string; name?: string };
    if (!answer || answer.ok !== true) {
      const error = new TypeErrorCtor(answer && typeof answer.error === 'string' ? answer.error : 'crypto.subtle failed');
      if (answer && typeof answer.name === 'string') Object.defineProperty(error, 'name', { value: answer.name, configurable: true, writable: true });
      return rethrow(error);
    }
    return answer.value;
  }

  const subtle = {
    async digest(algorithm: unknown, data: unknown) {
      const out = (await call('digest', [plainAlgorithm(algorithm), bytesFor(data, 'digest data')])) as Uint8Array;
      return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
    },
    async importKey(format: unknown, keyData: unknown, algorithm: unknown, extractable: unknown, usages: unknown) {
      if (format !== 'raw' && format !== 'jwk' && format !== 'spki' && format !== 'pkcs8') throw new TypeErrorCtor('importKey: the format must be "raw", "jwk", "spki" or "pkcs8"');
      let data: unknown;
      if (format === 'jwk') {
        if (keyData === null || typeof keyData !== 'object') throw new TypeErrorCtor('importKey: a jwk must be an object');
        data = JSON.parse(JSON.stringify(keyData));
      } else data = bytesFor(keyData, 'importKey key data');
      const list = Array.isArray(usages) ? usages.map((u) => String(u)) : [];
      const raw = (await call('importKey', [format, data, plainAlgorithm(algorithm), extractable === true, list])) as {
        handle: number;
        type: string;
        algorithm: unknown;
        extractable: boolean;
        usages: string[];
      };
      return wrapKey(raw);
    },
    async exportKey(format: unknown, key: unknown) {
      const out = await call('exportKey', [String(format), handleOf(key)]);
      if (out instanceof U8) return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
      return out;
    },
    async sign(algorithm: unknown, key: unknown, data: unknown) {
      const out = (await call('sign', [plainAlgorithm(algorithm), handleOf(key), bytesFor(data, 'sign data')])) as Uint8Array;
      return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
    },
    async verify(algorithm: unknown, key: unknown, signature: unknown, data: unknown) {
      return (await call('verify', [plainAlgorithm(algorithm), handleOf(key), bytesFor(signature, 'signature'), bytesFor(data, 'verify data')])) as boolean;
    },
  };
  return { subtle: freeze(subtle), CryptoKey };
}
