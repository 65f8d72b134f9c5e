// The prelude's entry point, called once in every fresh context before the hook's script: it defines
// the globals of CONTRACT §5 (console, fetch, URL, URLSearchParams, TextEncoder, TextDecoder, atob,
// btoa, crypto.randomUUID/getRandomValues; each built on first use), removes what could outlive a run
// or escape the memory limit (WebAssembly, SharedArrayBuffer, Atomics, FinalizationRegistry), and
// returns the `run` function the host calls with the event once the hook's top level has run. The
// host bridges it receives (log, random, URL parsing, fetch) stay in this closure, tagged with the
// context's id; the hook never sees them.
import { makeApi, type Recorded, type RecorderTable } from './api-recorders.ts';
import { makeBase64 } from './base64.ts';
import { inspect, makeConsole, type BuiltGlobals } from './console.ts';
import { makeCrypto, type HostRandom } from './crypto.ts';
import { makeText } from './encoding.ts';
import { makeFetch, type FetchRequest, type FetchResult } from './fetch.ts';
import { defineProperty, ErrorCtor, ReflectApply, StringCtor, stringify } from './intrinsics.ts';
import { makeUrl, type HostCall, type HostUrl } from './url.ts';

/** What the isolate's bridges look like from inside (isolated-vm Callback and Reference). */
type HostLog = (ctxId: number, level: string, text: string) => void;
interface HostFetch {
  apply(receiver: undefined, args: [number, FetchRequest], options: object): Promise<FetchResult>;
}

/** The hook's result as the host parses it (sandbox/run.ts parseResult). */
type RunResult = string;

export function tesseraBoot(ctxId: number, hostLog: HostLog, hostRandom: HostRandom, hostUrl: HostUrl, hostFetch: HostFetch, recorders: RecorderTable): (event: unknown) => Promise<RunResult> {
  const g = globalThis as unknown as Record<string, unknown>;
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
  const hostCall: HostCall = (fn, args) => {
    if (++hostCalls > HOST_CALLS) throw new ErrorCtor('too many URL or crypto operations in one run (at most ' + HOST_CALLS + ')');
    return ReflectApply(fn, undefined, args);
  };

  for (const name of ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry', 'console']) delete g[name];

  function define(name: string, value: unknown): void {
    defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // Globals are built on first use: most hooks touch few of them, and every run pays for what it builds.
  const built: BuiltGlobals = {};
  function lazy<T extends Record<string, unknown>>(names: ReadonlyArray<keyof T & string>, factory: () => T): () => T {
    const build = () => {
      if (!built[names[0]!]) {
        const made = factory();
        for (const name of names) built[name] = made[name];
      }
      return built as T;
    };
    for (const name of names) {
      defineProperty(g, name, {
        configurable: true,
        enumerable: false,
        get() {
          const value = build()[name];
          define(name, value);
          return value;
        },
        set(value) {
          define(name, value);
        },
      });
    }
    return build;
  }

  // The hook script ends with a call to this (see MODULE_SUFFIX), handing over its default export
  // once its top level has run to the end.
  let registered: { fn: unknown } | null = null;
  defineProperty(g, '__tesseraRegister__', {
    configurable: true,
    enumerable: false,
    writable: false,
    value(fn: unknown) {
      delete g.__tesseraRegister__;
      registered = { fn };
      // The hook script's value: the host reads it after running the script ahead of a run.
      return stringify({ registered: true, logged, fetched });
    },
  });

  lazy(['console'], () =>
    makeConsole((level, text) => {
      logged++;
      hostLog(ctxId, level, text);
    }, built),
  );
  lazy(['TextEncoder', 'TextDecoder'], makeText);
  lazy(['atob', 'btoa'], makeBase64);
  lazy(['crypto'], () => makeCrypto(hostCall, hostRandom, ctxId));
  const buildUrl = lazy(['URL', 'URLSearchParams'], () => makeUrl(hostCall, hostUrl));
  lazy(['fetch'], () => {
    const { URL, URLSearchParams } = buildUrl();
    return makeFetch(
      URL,
      URLSearchParams,
      () => {
        fetched++;
      },
      (request) => fetchApply(undefined, [ctxId, request], { arguments: { copy: true }, result: { promise: true, copy: true } }),
    );
  });

  function lineOf(stack: unknown): string | null {
    const match = typeof stack === 'string' ? /hook\.js:(\d+):\d+/.exec(stack) : null;
    return match ? match[1]! : null;
  }

  function describeError(error: unknown): string {
    try {
      if (error instanceof ErrorCtor) {
        const line = lineOf(error.stack);
        return StringCtor(error.name || 'Error') + ': ' + StringCtor(error.message) + (line ? ' (line ' + line + ')' : '');
      }
      return 'Uncaught ' + inspect(error, 1, [], built);
    } catch {
      return 'Uncaught exception';
    }
  }

  // Made now, while the context is prepared ahead of its run: the run itself only calls the hook.
  const actions: Recorded[] = [];
  const api = makeApi(actions, recorders);
  let used = false;
  return async function run(event: unknown): Promise<RunResult> {
    if (used) throw new ErrorCtor('a context runs one hook once');
    used = true;
    if (registered === null) {
      return stringify({ actions: [], error: 'the hook did not finish its top level', logged });
    }
    const fn = registered.fn;
    if (typeof fn !== 'function') {
      return stringify({ actions: [], error: 'the hook must export a default function: export default async function (event, api) { … }', logged });
    }
    try {
      await fn(event, api);
    } catch (error) {
      return stringify({ actions: [], error: describeError(error), logged });
    }
    return stringify({ actions, logged });
  };
}
