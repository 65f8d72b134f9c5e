// The isolate's crypto.randomUUID() and crypto.getRandomValues(): the randomness comes from the host
// (node:crypto) through the random bridge, each call counted by `hostCall` (see boot.ts).
import { ErrorCtor, freeze, isView, TypeErrorCtor, U8 } from './intrinsics.ts';
import type { HostCall } from './url.ts';

export type HostRandom = (ctxId: number, kind: 'uuid' | 'bytes', size: number) => string | Uint8Array;

export function makeCrypto(hostCall: HostCall, hostRandom: HostRandom, ctxId: number) {
  const cryptoObject = {
    randomUUID() {
      return hostCall(hostRandom, [ctxId, 'uuid', 0]) as string;
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
      const bytes = hostCall(hostRandom, [ctxId, 'bytes', array.byteLength]) as Uint8Array;
      new U8(array.buffer, array.byteOffset, array.byteLength).set(bytes);
      return array;
    },
  };
  return { crypto: freeze(cryptoObject) };
}
