// The prelude's entry point, called once per isolate in the realm's start compartment, after
// lockdown() (../realm.ts): every intrinsic is frozen by then. It builds the hook globals of CONTRACT
// §5 once (console, fetch, Headers, Request, Response, URL, URLSearchParams, TextEncoder,
// TextDecoder, atob, btoa, crypto with crypto.subtle, setTimeout/clearTimeout, AbortController,
// AbortSignal, structuredClone, Date, Math, Intl) and hardens them, so no run can change what the next
// one sees. It returns `run`, the one function the host calls per run: it makes (once per hook
// version) a compartment whose frozen global holds exactly those names, evaluates the hook's
// factory there, and on every run calls the factory afresh (the hook's top level runs again: its
// module state is new each run) and then the default export with the event.
//
// What differs from run to run (the actions, console lines, timers, keys, the Math.random state)
// lives in `current`, a record the globals reach through this closure only; a callback from a run
// that is over (a timer, a crypto answer) finds another record there and is dropped.
import { makeAbort } from './abort.ts';
import { makeApi, type Recorded, type RecorderTable } from './api-recorders.ts';
import { makeBase64 } from './base64.ts';
import { makeClone } from './clone.ts';
import { inspect, makeConsole, type BuiltGlobals } from './console.ts';
import { makeCrypto, type HostRandom } from './crypto.ts';
import { makeText } from './encoding.ts';
import { makeFetch, type FetchRequest, type FetchResult } from './fetch.ts';
import { defineProperty, ErrorCtor, keys, ReferenceErrorCtor, ReflectApply, StringCtor, stringify, parse } from './intrinsics.ts';
import { makeMath, type RunRandom } from './random.ts';
import { makeSubtle } from './subtle.ts';
import { makeTimers } from './timers.ts';
import { makeUrl, type HostCall, type HostUrl } from './url.ts';

/** What the isolate's bridges look like from inside (isolated-vm Callback and Reference). */
type HostLog = (runId: number, level: string, text: string) => void;
interface HostAsync {
  apply(receiver: undefined, args: unknown[], options: object): Promise<unknown>;
}

/** The hook's result as the host parses it (sandbox/run.ts parseResult). */
type RunResult = string;

/** What one run owns; `current` holds the run under way (one at a time per isolate). */
export interface RunRecord {
  id: number;
  actions: Recorded[];
  logged: number;
  lines: number;
  fetched: number;
  hostCalls: number;
  asyncCalls: number;
  random: RunRandom;
}

export type RunFunction = (key: string, source: string | null, eventJson: string, runId: number, drop: string) => Promise<RunResult>;
/** The realm's entry points: `run` (one async call), and `start`, `take` and `wait` (the host's sync fast path). */
export type RealmEntries = [
  run: RunFunction,
  start: (key: string, source: string | null, eventJson: string, runId: number, drop: string) => void,
  take: () => RunResult | undefined,
  wait: () => Promise<RunResult>,
];

export function tesseraBoot(
  hostLog: HostLog,
  hostRandom: HostRandom,
  hostUrl: HostUrl,
  hostFetch: HostAsync,
  hostAsync: HostAsync,
  recorders: RecorderTable,
  tripped: { count: number },
  absent: Record<string, string>,
): RealmEntries {
  const MAX_LINES = 100;
  // Each sync call below blocks on the host's event loop, each async one costs it a task: a run gets
  // a bounded number of them, so a hook spinning on `new URL()` cannot keep the host busy.
  const HOST_CALLS = 20000;
  const ASYNC_CALLS = 1000;
  const MAX_VERSIONS = 64;
  const fetchApply = hostFetch.apply.bind(hostFetch);
  const asyncApply = hostAsync.apply.bind(hostAsync);

  let current: RunRecord | null = null;
  const live = (): RunRecord => {
    if (current === null) throw new ErrorCtor('no hook run is under way');
    return current;
  };

  // The host answers this instead when the run has used its share of the host's time (bridges.ts).
  const OVER_BUDGET = 'tessera:host-time-over';
  const hostCall: HostCall = (fn, args) => {
    const run = live();
    if (++run.hostCalls > HOST_CALLS) throw new ErrorCtor('too many URL or crypto operations in one run (at most ' + HOST_CALLS + ')');
    // The host's bridges take the run's id first: it charges the time they take to the run.
    const result = ReflectApply(fn as (...a: unknown[]) => unknown, undefined, [run.id, ...args]);
    if (result === OVER_BUDGET) throw new ErrorCtor('the hook used its share of the server for URL parsing and randomness in this run');
    return result as ReturnType<typeof fn>;
  };
  // An async host operation for the run under way; its answer reaches the run only while it lasts.
  function callAsync(op: string, args: unknown[]): Promise<unknown> {
    const run = live();
    if (++run.asyncCalls > ASYNC_CALLS) return Promise.reject(new ErrorCtor('too many timers or crypto.subtle operations in one run (at most ' + ASYNC_CALLS + ')'));
    return asyncApply(undefined, [run.id, op, args], { arguments: { copy: true }, result: { promise: true, copy: true } }).then((value) => {
      if (current !== run) return new Promise(() => undefined);
      return value;
    });
  }

  const built: BuiltGlobals = {};
  const { console } = makeConsole((level, text) => {
    const run = live();
    if (run.lines > MAX_LINES) return;
    run.lines++;
    if (run.lines > MAX_LINES) {
      hostLog(run.id, 'truncated', '');
      return;
    }
    run.logged++;
    hostLog(run.id, level, text);
  }, built);
  const text = makeText();
  const base64 = makeBase64();
  const url = makeUrl(hostCall, hostUrl);
  built.URL = url.URL;
  built.URLSearchParams = url.URLSearchParams;
  const abort = makeAbort();
  const timers = makeTimers(callAsync, () => live().id);
  const web = makeFetch(
    url.URL,
    url.URLSearchParams,
    abort.AbortSignal,
    () => {
      live().fetched++;
    },
    (request: FetchRequest) => {
      const run = live();
      return (fetchApply(undefined, [run.id, request], { arguments: { copy: true }, result: { promise: true, copy: true } }) as Promise<FetchResult>).then((value) => {
        if (current !== run) return new Promise<FetchResult>(() => undefined);
        return value;
      });
    },
  );
  const subtle = makeSubtle(callAsync);
  const { crypto, CryptoKey } = makeCrypto(hostCall, hostRandom, subtle);
  const { structuredClone } = makeClone();
  const { Math: RunMath } = makeMath(
    () => live().random,
    () => hostCall(hostRandom, ['bytes', 16]) as Uint8Array,
  );

  // Exactly the names a hook sees besides the ECMAScript built-ins; each hardened, and the
  // compartments' globals frozen (see #compartment): nothing here changes from run to run.
  const endowments = harden({
    console,
    fetch: web.fetch,
    Headers: web.Headers,
    Request: web.Request,
    Response: web.Response,
    URL: url.URL,
    URLSearchParams: url.URLSearchParams,
    TextEncoder: text.TextEncoder,
    TextDecoder: text.TextDecoder,
    atob: base64.atob,
    btoa: base64.btoa,
    crypto,
    CryptoKey,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    AbortController: abort.AbortController,
    AbortSignal: abort.AbortSignal,
    structuredClone,
    Date,
    Math: RunMath,
    // Frozen by lockdown; ICU's caches behind it hold nothing a run can read back.
    Intl,
  });
  // SES's own names, which a hook has no use for.
  const HIDDEN = ['lockdown', 'harden', 'Compartment', 'assert', 'ModuleSource', 'StaticModuleRecord'];

  // Names a hook might expect and does not have (catalog/runtime.ts): reading one throws a
  // ReferenceError saying so (a compartment answers undefined for any other unknown name).
  const ABSENT = absent;

  function compartment(): { evaluate(source: string): unknown } {
    const made = new Compartment({ globals: endowments, __options__: true });
    const g = made.globalThis as Record<string, unknown>;
    for (const name of HIDDEN) delete g[name];
    for (const name of keys(ABSENT)) {
      defineProperty(g, name, {
        get() {
          throw new ReferenceErrorCtor(name + ' is not available in hooks (' + ABSENT[name] + '; what exists is listed in docs/hooks.md)');
        },
        enumerable: false,
        configurable: false,
      });
    }
    harden(g);
    return made;
  }

  // Hook versions evaluated in this isolate: their factory, one compartment each.
  const versions = new Map<string, () => unknown>();

  function lineOf(stack: unknown): string | null {
    const match = typeof stack === 'string' ? /hook\.js:(\d+):\d+/.exec(stack) : null;
    return match ? match[1]! : null;
  }
  /** A compartment's refusal of the source ("… rejected at hook.js:9. (SES_IMPORT_REJECTED)"): its line, in words. */
  function sourceRefusal(message: string): string | null {
    const match = /^Possible (.+) rejected at hook\.js:(\d+)\. \(SES_\w+\)$/.exec(message);
    return match ? match[1] + ' is not supported in hooks (line ' + match[2] + ')' : null;
  }

  /** Why a write failed, for the author: globals and built-ins are frozen, so runs stay apart. */
  function explain(name: string, message: string): string {
    if (name === 'TypeError' && /object is not extensible|read[- ]only property|Cannot (re)?define property|Cannot delete property|Cannot assign to/.test(message)) {
      return message + ' (globals and built-ins are frozen in hooks, so that no run can leave anything for the next: keep state in variables of your own)';
    }
    return message;
  }

  function describeError(error: unknown): string {
    try {
      if (error instanceof ErrorCtor) {
        const refusal = sourceRefusal(StringCtor(error.message));
        if (refusal !== null) return 'SyntaxError: ' + refusal;
        const line = lineOf(error.stack);
        const name = StringCtor(error.name || 'Error');
        return name + ': ' + explain(name, StringCtor(error.message)) + (line ? ' (line ' + line + ')' : '');
      }
      return 'Uncaught ' + inspect(error, 1, [], built);
    } catch {
      return 'Uncaught exception';
    }
  }

  const api = makeApi(() => live().actions, recorders);

  async function run(key: string, source: string | null, eventJson: string, runId: number, drop: string): Promise<RunResult> {
    if (drop !== '') for (const old of drop.split(',')) versions.delete(old);
    const record: RunRecord = { id: runId, actions: [], logged: 0, lines: 0, fetched: 0, hostCalls: 0, asyncCalls: 0, random: { state: null } };
    current = record;
    const trippedBefore = tripped.count;
    const result = (value: Record<string, unknown>): RunResult => {
      if (current === record) current = null;
      timers.cancelAll(record.id);
      // A capped built-in refused a string over the memory limit (limits.ts): caught or not, the run is over it.
      if (tripped.count !== trippedBefore) return stringify({ memory: true, logged: record.logged });
      return stringify(value);
    };
    let factory = versions.get(key);
    if (factory === undefined) {
      if (source === null) return result({ missing: true });
      if (versions.size >= MAX_VERSIONS) versions.delete(versions.keys().next().value as string);
      try {
        factory = compartment().evaluate(source) as () => unknown;
      } catch (error) {
        return result({ actions: [], error: describeError(error), logged: record.logged });
      }
      versions.set(key, factory);
    }
    try {
      // The hook's top level, afresh: its module scope is this run's alone.
      const fn = factory();
      if (typeof fn !== 'function') {
        return result({ actions: [], error: 'the hook must export a default function: export default async function (event, api) { … }', logged: record.logged });
      }
      await fn(parse(eventJson), api);
    } catch (error) {
      return result({ actions: [], error: describeError(error), logged: record.logged });
    }
    return result({ actions: record.actions, logged: record.logged });
  }

  // The fast path (sandbox/run.ts): the host calls `start` synchronously, on its own thread, and
  // `take` right after. isolated-vm runs the isolate's microtasks before a sync call returns, so a
  // hook that awaits nothing of the host's has settled by then and `take` answers its result; one
  // that waits on the host (fetch, a timer, crypto.subtle) is pending, and `wait` hands its promise
  // over for the host to await as usual.
  let pending: Promise<RunResult> | null = null;
  let settled: RunResult | undefined;
  function start(key: string, source: string | null, eventJson: string, runId: number, drop: string): void {
    settled = undefined;
    const promise = run(key, source, eventJson, runId, drop);
    pending = promise;
    promise.then((value) => {
      if (pending === promise) settled = value;
    });
  }
  function take(): RunResult | undefined {
    const value = settled;
    if (value !== undefined) {
      settled = undefined;
      pending = null;
    }
    return value;
  }
  function wait(): Promise<RunResult> {
    const promise = pending;
    pending = null;
    settled = undefined;
    return promise ?? Promise.resolve(stringify({ error: 'no hook run is under way', logged: 0 }));
  }
  return [run, start, take, wait];
}

// SES's globals in the start compartment (types only: the realm script defines them before boot).
declare const harden: <T>(value: T) => T;
declare const Compartment: new (options: object) => { globalThis: object; evaluate(source: string): unknown };
