// structuredClone for the isolate, written here: plain data (objects, arrays, primitives, Date,
// RegExp, Map, Set, ArrayBuffer and typed arrays, Error), with cycles kept; a function, symbol or
// other object with internal state throws a DataCloneError, as on the web.
import { AB, defineProperty, ErrorCtor, isArray, isView, keys, TypeErrorCtor } from './intrinsics.ts';

export function dataCloneError(message: string): Error {
  const error = new ErrorCtor(message);
  defineProperty(error, 'name', { value: 'DataCloneError', writable: true, configurable: true });
  return error;
}

export function makeClone() {
  function clone(value: unknown, seen: Map<object, unknown>): unknown {
    if (typeof value === 'function') throw dataCloneError((value as { name?: string }).name + ' could not be cloned');
    if (typeof value === 'symbol') throw dataCloneError(value.toString() + ' could not be cloned');
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return seen.get(value);
    if (isArray(value)) {
      const out: unknown[] = [];
      seen.set(value, out);
      for (let i = 0; i < value.length; i++) out[i] = clone(value[i], seen);
      return out;
    }
    if (value instanceof Date) {
      const out = new Date(value.getTime());
      seen.set(value, out);
      return out;
    }
    if (value instanceof RegExp) {
      const out = new RegExp(value.source, value.flags);
      seen.set(value, out);
      return out;
    }
    if (value instanceof Map) {
      const out = new Map();
      seen.set(value, out);
      for (const [k, v] of value) out.set(clone(k, seen), clone(v, seen));
      return out;
    }
    if (value instanceof Set) {
      const out = new Set();
      seen.set(value, out);
      for (const v of value) out.add(clone(v, seen));
      return out;
    }
    if (value instanceof AB) {
      const out = value.slice(0);
      seen.set(value, out);
      return out;
    }
    if (isView(value)) {
      const view = value as unknown as {
        constructor: new (buffer: ArrayBuffer, offset: number, length: number) => unknown;
        buffer: ArrayBuffer;
        byteOffset: number;
        byteLength: number;
        BYTES_PER_ELEMENT?: number;
      };
      const buffer = clone(view.buffer, seen) as ArrayBuffer;
      const length = view.BYTES_PER_ELEMENT ? view.byteLength / view.BYTES_PER_ELEMENT : view.byteLength;
      const out = new view.constructor(buffer, view.byteOffset, length);
      seen.set(value, out);
      return out;
    }
    if (value instanceof ErrorCtor) {
      const out = new ErrorCtor(value.message);
      defineProperty(out, 'name', { value: value.name, writable: true, configurable: true });
      seen.set(value, out);
      return out;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw dataCloneError('an object of class ' + (proto.constructor?.name ?? 'unknown') + ' could not be cloned');
    const out: Record<string, unknown> = {};
    seen.set(value, out);
    for (const k of keys(value)) out[k] = clone((value as Record<string, unknown>)[k], seen);
    return out;
  }

  function structuredClone(value: unknown, options?: unknown): unknown {
    if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeErrorCtor('structuredClone: options must be an object');
    if (options && (options as { transfer?: unknown[] }).transfer && (options as { transfer: unknown[] }).transfer.length > 0)
      throw dataCloneError('structuredClone: transfer is not supported in hooks');
    return clone(value, new Map());
  }
  return { structuredClone };
}
