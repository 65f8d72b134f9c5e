// The host's side of the isolate's async bridge, per run: timers ('sleep', never past the run's
// deadline, all settled when the run ends) and crypto.subtle ('subtle', Node's WebCrypto; the run's
// keys stay here, in its own table, and go with it). Every argument comes from the hook: checked
// and bounded here. Answers are plain data ({ ok, value } or { ok: false, error, name }).
import { webcrypto } from 'node:crypto';

const MAX_DATA_BYTES = 1024 * 1024;
const MAX_KEYS = 100;
const OPS = new Set(['digest', 'importKey', 'exportKey', 'sign', 'verify']);

/** What the async bridge keeps for one run. */
export interface AsyncState {
  deadline: number;
  timers: Set<{ timer: NodeJS.Timeout; resolve: (value: boolean) => void }>;
  keys: Map<number, webcrypto.CryptoKey>;
  pending: number;
}

export function asyncState(deadline: number): AsyncState {
  return { deadline, timers: new Set(), keys: new Map(), pending: 0 };
}

/** Ends a run's timers (their answers reach nothing in the isolate any more) and forgets its keys. */
export function settleAsync(state: AsyncState): void {
  for (const entry of state.timers) {
    clearTimeout(entry.timer);
    entry.resolve(false);
  }
  state.timers.clear();
  state.keys.clear();
}

export async function hostAsync(state: AsyncState, op: unknown, args: unknown): Promise<unknown> {
  if (op === 'sleep') return sleep(state, Array.isArray(args) ? args[0] : 0);
  if (op === 'subtle' && Array.isArray(args)) {
    state.pending++;
    try {
      return { ok: true, value: await subtle(state, args[0], Array.isArray(args[1]) ? args[1] : []) };
    } catch (error) {
      const e = error as { name?: unknown; message?: unknown };
      return { ok: false, name: typeof e?.name === 'string' ? e.name : 'Error', error: typeof e?.message === 'string' ? e.message.slice(0, 500) : 'crypto.subtle failed' };
    } finally {
      state.pending--;
    }
  }
  return { ok: false, error: 'unknown operation' };
}

function sleep(state: AsyncState, delay: unknown): Promise<boolean> {
  const ms = Math.max(0, Math.min(10_000, Number(delay) || 0));
  // A timer due after the deadline never fires: the run is over by then (settleAsync answers false).
  const due = performance.now() + ms < state.deadline;
  return new Promise((resolve) => {
    const entry = {
      timer: setTimeout(
        () => {
          state.timers.delete(entry);
          resolve(due);
        },
        due ? ms : Math.max(0, state.deadline - performance.now()) + 1000,
      ),
      resolve,
    };
    state.timers.add(entry);
  });
}

function bytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be bytes`);
  if (value.byteLength > MAX_DATA_BYTES) throw new RangeError(`${what} is larger than ${MAX_DATA_BYTES} bytes`);
  return value;
}

function key(state: AsyncState, handle: unknown): webcrypto.CryptoKey {
  const found = typeof handle === 'number' ? state.keys.get(handle) : undefined;
  if (!found) throw new TypeError('the key is not a CryptoKey of this run');
  return found;
}

/** An algorithm as the isolate described it: a name, or a plain object of names, numbers and bytes. */
function algorithm(value: unknown): webcrypto.AlgorithmIdentifier | Record<string, unknown> {
  if (typeof value === 'string') return value;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('the algorithm must be a name or an object with a name');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'hash' && v && typeof v === 'object') out[k] = { name: String((v as { name?: unknown }).name) };
    else if (v instanceof Uint8Array) out[k] = bytes(v, `algorithm.${k}`);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  if (typeof out.name !== 'string') throw new TypeError('the algorithm must have a name');
  return out;
}

function describe(handle: number, k: webcrypto.CryptoKey) {
  const alg = k.algorithm as unknown as Record<string, unknown>;
  const plain: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(alg)) plain[name] = v && typeof v === 'object' && 'name' in (v as object) ? { name: (v as { name: string }).name } : v;
  return { handle, type: k.type, algorithm: plain, extractable: k.extractable, usages: [...k.usages] };
}

async function subtle(state: AsyncState, op: unknown, args: unknown[]): Promise<unknown> {
  if (typeof op !== 'string' || !OPS.has(op)) throw new TypeError('crypto.subtle: unsupported operation');
  const s = webcrypto.subtle;
  switch (op) {
    case 'digest':
      return new Uint8Array(await s.digest(algorithm(args[0]) as webcrypto.AlgorithmIdentifier, bytes(args[1], 'the data')));
    case 'importKey': {
      if (state.keys.size >= MAX_KEYS) throw new RangeError(`at most ${MAX_KEYS} keys per run`);
      const format = args[0];
      const usages = (Array.isArray(args[4]) ? args[4] : []).map(String) as webcrypto.KeyUsage[];
      const alg = algorithm(args[2]) as webcrypto.AlgorithmIdentifier;
      let imported: webcrypto.CryptoKey;
      if (format === 'jwk') {
        const jwk = args[1];
        if (!jwk || typeof jwk !== 'object' || JSON.stringify(jwk).length > MAX_DATA_BYTES) throw new TypeError('the jwk must be an object');
        imported = await s.importKey('jwk', jwk as webcrypto.JsonWebKey, alg, args[3] === true, usages);
      } else if (format === 'raw' || format === 'spki' || format === 'pkcs8') {
        imported = await s.importKey(format, bytes(args[1], 'the key data'), alg, args[3] === true, usages);
      } else throw new TypeError('the format must be "raw", "jwk", "spki" or "pkcs8"');
      const handle = state.keys.size + 1;
      state.keys.set(handle, imported);
      return describe(handle, imported);
    }
    case 'exportKey': {
      const format = args[0];
      if (format === 'jwk') return await s.exportKey('jwk', key(state, args[1]));
      if (format === 'raw' || format === 'spki' || format === 'pkcs8') return new Uint8Array(await s.exportKey(format, key(state, args[1])));
      throw new TypeError('the format must be "raw", "jwk", "spki" or "pkcs8"');
    }
    case 'sign':
      return new Uint8Array(await s.sign(algorithm(args[0]) as webcrypto.AlgorithmIdentifier, key(state, args[1]), bytes(args[2], 'the data')));
    case 'verify':
      return await s.verify(algorithm(args[0]) as webcrypto.AlgorithmIdentifier, key(state, args[1]), bytes(args[2], 'the signature'), bytes(args[3], 'the data'));
  }
  throw new TypeError('crypto.subtle: unsupported operation');
}
