// AbortController and AbortSignal for the isolate (enough for fetch and for authors' own
// cancellation): signal.aborted, signal.reason, throwIfAborted(), addEventListener('abort'),
// onabort, AbortSignal.abort(). Built once per realm and hardened (boot.ts); the state lives in
// each signal, which belongs to the run that made it.
import { defineProperty, ErrorCtor, ReflectApply, TypeErrorCtor } from './intrinsics.ts';

export function abortError(message: string): Error {
  const error = new ErrorCtor(message);
  defineProperty(error, 'name', { value: 'AbortError', writable: true, configurable: true });
  return error;
}

export function makeAbort() {
  interface SignalState {
    aborted: boolean;
    reason: unknown;
    listeners: Array<(event: object) => void>;
    onabort: ((event: object) => void) | null;
  }
  const states = new WeakMap<object, SignalState>();
  const stateOf = (signal: object): SignalState => {
    const state = states.get(signal);
    if (!state) throw new TypeErrorCtor('Illegal invocation');
    return state;
  };

  function fire(signal: AbortSignal, reason: unknown): void {
    const state = stateOf(signal);
    if (state.aborted) return;
    state.aborted = true;
    state.reason = reason === undefined ? abortError('This operation was aborted') : reason;
    const event = { type: 'abort', target: signal };
    const listeners = state.listeners;
    state.listeners = [];
    if (typeof state.onabort === 'function') ReflectApply(state.onabort, signal, [event]);
    for (const listener of listeners) ReflectApply(listener, signal, [event]);
  }

  class AbortSignal {
    constructor() {
      throw new TypeErrorCtor('Illegal constructor: use new AbortController().signal or AbortSignal.abort()');
    }
    get aborted() {
      return stateOf(this).aborted;
    }
    get reason() {
      return stateOf(this).reason;
    }
    get onabort() {
      return stateOf(this).onabort;
    }
    set onabort(handler: ((event: object) => void) | null) {
      stateOf(this).onabort = typeof handler === 'function' ? handler : null;
    }
    throwIfAborted() {
      const state = stateOf(this);
      if (state.aborted) throw state.reason;
    }
    addEventListener(type: unknown, listener: unknown, options?: unknown) {
      const state = stateOf(this);
      if (type !== 'abort' || typeof listener !== 'function' || state.aborted) return;
      const once = options !== null && typeof options === 'object' && (options as { once?: unknown }).once === true;
      const wrapped = once ? (event: object) => ReflectApply(listener, this, [event]) : (listener as (event: object) => void);
      state.listeners[state.listeners.length] = wrapped;
    }
    removeEventListener(type: unknown, listener: unknown) {
      const state = stateOf(this);
      if (type !== 'abort') return;
      state.listeners = state.listeners.filter((l) => l !== listener);
    }
    static abort(reason?: unknown) {
      const signal = newSignal();
      fire(signal, reason);
      return signal;
    }
  }

  function newSignal(): AbortSignal {
    const signal = Object.create(AbortSignal.prototype) as AbortSignal;
    states.set(signal, { aborted: false, reason: undefined, listeners: [], onabort: null });
    return signal;
  }

  const controllers = new WeakMap<object, AbortSignal>();
  class AbortController {
    constructor() {
      controllers.set(this, newSignal());
    }
    get signal() {
      const signal = controllers.get(this);
      if (!signal) throw new TypeErrorCtor('Illegal invocation');
      return signal;
    }
    abort(reason?: unknown) {
      fire(this.signal, reason);
    }
  }

  return { AbortController, AbortSignal, isSignal: (value: unknown): value is AbortSignal => typeof value === 'object' && value !== null && states.has(value) };
}
