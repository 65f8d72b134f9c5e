// The isolate's crypto: randomUUID() and getRandomValues(), whose randomness comes from the host
// (node:crypto) through the random bridge, each call counted by `hostCall` (see boot.ts); and
// crypto.subtle (subtle.ts).
import { ErrorCtor, freeze, isView, TypeErrorCtor, U8 } from './intrinsics.ts';
import type { HostCall } from './url.ts';

/** The random bridge as the prelude calls it through hostCall (which adds the run's id first). */
export type HostRandom = (kind: 'uuid' | 'bytes', size: number) => string | Uint8Array;

export function makeCrypto(hostCall: HostCall, hostRandom: HostRandom, subtle: { subtle: object; CryptoKey: unknown }) {
  const cryptoObject = {
    randomUUID() {
      return hostCall(hostRandom, ['uuid', 0]) as string;
    },
    getRandomValues<T extends ArrayBufferView>(array: T): T {
      if (!isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
        throw new TypeErrorCtor('getRandomValues takes an integer typed array');
      }
      if (array.byteLength > 65536) {
        const error = new ErrorCtor('getRandomValues: at most 65536 bytes at a time');
        error.name = 'QuotaExceededError';
        throw error;
      }
      const bytes = hostCall(hostRandom, ['bytes', array.byteLength]) as Uint8Array;
      new U8(array.buffer, array.byteOffset, array.byteLength).set(bytes);
      return array;
    },
    subtle: subtle.subtle,
  };
  return { crypto: freeze(cryptoObject), CryptoKey: subtle.CryptoKey };
}
