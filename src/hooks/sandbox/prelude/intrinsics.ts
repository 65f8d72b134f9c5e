// The built-ins the prelude uses, captured when the prelude's script runs in a fresh context, before
// any hook code: a hook may overwrite the globals of its own context (JSON.stringify, Object.freeze,
// Uint8Array, ...), never what the prelude already holds. In the isolate, assemble.ts declares these
// names from `captureIntrinsics()` in the prelude's scope; on the host (tests), they are the exports below.

export function captureIntrinsics() {
  return {
    stringify: JSON.stringify,
    parse: JSON.parse,
    freeze: Object.freeze,
    keys: Object.keys,
    defineProperty: Object.defineProperty,
    isArray: Array.isArray,
    fromCharCode: String.fromCharCode,
    StringCtor: String,
    U8: Uint8Array,
    AB: ArrayBuffer,
    isView: ArrayBuffer.isView,
    TypeErrorCtor: TypeError,
    ErrorCtor: Error,
    ReferenceErrorCtor: ReferenceError,
    ReflectApply: Reflect.apply,
  };
}

export const { stringify, parse, freeze, keys, defineProperty, isArray, fromCharCode, StringCtor, U8, AB, isView, TypeErrorCtor, ErrorCtor, ReferenceErrorCtor, ReflectApply } = captureIntrinsics();
