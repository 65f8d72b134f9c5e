// The hook sandbox: brand code run in isolated-vm. One run holds one isolate for itself (from a small
// pool), in a context created for that run alone, so nothing a run leaves behind (globals, patched
// prototypes) reaches the next user. Creating a V8 context costs about 0.4 ms, so the pool
// prepares the next one while the isolate is idle and a warm run only calls the hook. Each hook
// version is checked once, rewritten from a module into a script (hook-script.ts: a script compiles
// once per isolate and runs in any of its contexts), and its V8 code cache kept.
//
// Speculative preparation: once a run of a hook version ends, its isolate's next fresh context is
// made for that same version, with the hook's script run in it (idle time, its own
// PREPARE_TIMEOUT_MS). A later run of that version that finds such a context only
// calls the hook: one round trip to the isolate. The context is still fresh (made for that one run,
// used once, by that exact version's code only: a context made for anything else is thrown away).
// A version whose top level does not run to its end at once, logs, fetches, throws or is slow is
// marked not preparable: its runs run the script themselves.
//
// Limits: `timeout_ms` of wall time covers the hook's top level, the hook and every awaited fetch
// (isolated-vm's own `timeout` only covers synchronous stretches, so a host-side deadline disposes the
// isolate of a run that outlives it); a memory limit per isolate (an isolate that hits it is gone and
// is replaced). A run that timed out, hit the memory limit or left a fetch in flight never returns its
// isolate to the pool.
//
// The hook sees only the globals the prelude defines (sandbox-prelude.ts). The event goes in as a
// structured-clone copy; actions come out as JSON text, parsed into plain data. Exact secret values
// are redacted from the console output and the error.
import { randomBytes, randomUUID } from 'node:crypto';
import ivm from 'isolated-vm';
import { bridgeFetch, FetchError, type BridgeRequest, type BridgeResponse, type FetchPolicy } from './fetch-bridge.ts';
import { moduleToScript } from './hook-script.ts';
import { MODULE_SUFFIX, PRELUDE_SOURCE, SELF_SPECIFIER } from './sandbox-prelude.ts';

export type HookOutcome = 'success' | 'error' | 'timeout' | 'memory';

export interface HookAction {
  type: string;
  [key: string]: unknown;
}

export interface HookRunResult {
  outcome: HookOutcome;
  actions: HookAction[];
  logs: string[];
  duration_ms: number;
  error?: string;
}

/** What the sandbox needs of a hook. `version` keys the compile cache together with `id`. */
export interface SandboxHook {
  id: string;
  version: number | string;
  code: string;
  timeout_ms?: number;
  allowed_hosts?: readonly string[] | null;
}

export interface RunOptions {
  /** Wall time for the whole run (default: the hook's timeout_ms, else 2000; at most 10000). */
  timeoutMs?: number;
  /** Default: the hook's allowed_hosts. */
  allowedHosts?: readonly string[] | null;
}

export type CodeCheck = { ok: true } | { ok: false; message: string; line: number };

export interface SandboxOptions {
  /** Per isolate, in MiB (default 32). */
  memoryLimitMb?: number;
  /** Isolates alive at once, i.e. runs at once; more runs wait for one (default 32). */
  maxIsolates?: number;
  /** Idle isolates kept with a context prepared (default 2). */
  warmIsolates?: number;
  /**
   * Idle isolates kept at most (default: maxIsolates). A burst's isolates stay for the next burst
   * rather than being made again (about 1 ms of main-thread work each); see idleTtlMs.
   */
  maxIdleIsolates?: number;
  /** An idle isolate beyond warmIsolates is disposed after this long unused (default 30000). */
  idleTtlMs?: number;
  /** An isolate is replaced after this many runs (default 1000), bounding anything that accumulates. */
  runsPerIsolate?: number;
  /** Console lines kept per run (default 100) and characters per line (default 1000). */
  maxLogLines?: number;
  maxLogLineLength?: number;
  /** Fetches per run (default 20). */
  maxFetchesPerRun?: number;
  /** Fetch limits and hooks for tests (resolver, onConnect); allowed hosts and deadline come per run. */
  fetch?: Omit<FetchPolicy, 'allowedHosts' | 'deadline' | 'signal'>;
  /** V8 lost control of an isolate: log it and plan a restart (see isolated-vm). Default: abort. */
  onCatastrophicError?: (message: string) => void;
}

export const DEFAULT_TIMEOUT_MS = 2000;
export const MAX_TIMEOUT_MS = 10000;
export const MEMORY_LIMIT_MB = 32;
export const MAX_CODE_BYTES = 256 * 1024;
/** Secret values shorter than this are not redacted (they would shred every log line). */
export const MIN_REDACTED_SECRET_LENGTH = 4;
const REDACTED = '[redacted]';
const FILENAME = 'hook.js';
const DEFAULT_EXPORT_MESSAGE = 'the hook must export a default function: export default async function (event, api) { … }';

// ---------------------------------------------------------------- code check

let checker: ivm.Isolate | null = null;

function checkerIsolate(): ivm.Isolate {
  if (checker === null || checker.isDisposed) checker = new ivm.Isolate({ memoryLimit: MEMORY_LIMIT_MB });
  return checker;
}

/**
 * Checks that code is a hook module: it parses, imports nothing and has a default export. Runs none
 * of it. On failure, the message and the 1-based line to show the author.
 */
export function checkHookCode(code: string): CodeCheck {
  return checkAndRewrite(code).check;
}

/** The check, and (when it passes) the hook rewritten as the script it runs as: one parse for both. */
function checkAndRewrite(code: string): { check: CodeCheck; source: string } {
  const check = checkModule(code);
  if (!check.ok) return { check, source: '' };
  const lines = code.split('\n').length;
  // Hooks run as scripts (hook-script.ts): the rewritten source must compile too.
  const script = moduleToScript(code);
  if (!script.ok) return { check: { ok: false, message: script.message, line: Math.min(Math.max(script.line, 1), lines) }, source: '' };
  try {
    checkerIsolate().compileScriptSync(script.source, { filename: FILENAME }).release();
  } catch (error) {
    const { message, line } = splitLocation(error);
    return { check: { ok: false, message, line: Math.min(Math.max(line ?? 1, 1), lines) }, source: '' };
  }
  return { check, source: script.source };
}

function checkModule(code: string): CodeCheck {
  if (typeof code !== 'string') return { ok: false, message: 'code must be a string', line: 1 };
  if (Buffer.byteLength(code, 'utf8') > MAX_CODE_BYTES) {
    return { ok: false, message: `the code is larger than ${MAX_CODE_BYTES / 1024} KiB`, line: 1 };
  }
  const lines = code.split('\n').length;
  const isolate = checkerIsolate();
  let module: ivm.Module;
  try {
    module = isolate.compileModuleSync(code + MODULE_SUFFIX, { filename: FILENAME });
  } catch (error) {
    const { message, line } = splitLocation(error);
    return { ok: false, message, line: Math.min(Math.max(line ?? 1, 1), lines) };
  }
  try {
    const imported = module.dependencySpecifiers.filter((specifier) => specifier !== SELF_SPECIFIER);
    if (imported.length > 0) {
      return { ok: false, message: `imports are not supported in hooks (${JSON.stringify(imported[0])})`, line: importLine(code, imported[0]) };
    }
    // Instantiating links the suffix's import of the module's own default export, and fails if
    // there is none. No code runs.
    const context = isolate.createContextSync();
    try {
      module.instantiateSync(context, selfResolver(module));
    } catch {
      return { ok: false, message: DEFAULT_EXPORT_MESSAGE, line: 1 };
    } finally {
      context.release();
    }
    return { ok: true };
  } finally {
    module.release();
  }
}

/** The same check in the shape the hook store takes: the problem, or null. */
export function codeProblem(code: string): { message: string; line: number | null } | null {
  const check = checkHookCode(code);
  return check.ok ? null : { message: check.message, line: check.line };
}

function selfResolver(module: ivm.Module) {
  return (specifier: string): ivm.Module => {
    if (specifier === SELF_SPECIFIER) return module;
    throw new Error('imports are not supported in hooks');
  };
}

function importLine(code: string, specifier: string): number {
  const lines = code.split('\n');
  const quoted = [`'${specifier}'`, `"${specifier}"`];
  const index = lines.findIndex((line) => /\bimport\b|\bfrom\b/.test(line) && quoted.some((q) => line.includes(q)));
  return index === -1 ? 1 : index + 1;
}

/**
 * "SyntaxError: Unexpected token ';' [hook.js:2:11]" → the message without the location, and line 2.
 * Runtime errors carry their line in the stack ("at hook.js:2:7") instead.
 */
function splitLocation(error: unknown): { message: string; line: number | null } {
  const e = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
  const name = e && typeof e.name === 'string' ? e.name : 'Error';
  let message = e && typeof e.message === 'string' ? e.message : String(error);
  let line: number | null = null;
  const located = /\s*\[hook\.js:(\d+):(\d+)\]\s*$/.exec(message);
  if (located) {
    line = Number(located[1]);
    message = message.slice(0, located.index);
  } else if (e && typeof e.stack === 'string') {
    const frame = /\bhook\.js:(\d+):\d+/.exec(e.stack);
    if (frame) line = Number(frame[1]);
  }
  return { message: `${name}: ${message}`, line };
}

// ---------------------------------------------------------------- the pool

interface Prepared {
  context: ivm.Context;
  id: number;
  run: ivm.Reference<(event: unknown) => Promise<string>>;
  /** Set when this hook version's script has already run in the context (see #prepareFor). */
  hook?: Compiled;
}

interface Compiled {
  code: string;
  /** The hook rewritten as a script (hook-script.ts); empty when the check failed. */
  source: string;
  check: CodeCheck;
  cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;
  /** False once preparing a context ahead for it did not work out: its runs run the script themselves. */
  preparable: boolean;
}

interface RunState {
  logs: string[];
  truncated: boolean;
  secrets: string[];
  allowedHosts: readonly string[] | null;
  deadline: number;
  abort: AbortController;
  active: boolean;
  fetches: number;
  pendingFetches: number;
  /** Console lines received so far, and who waits for the ones still in flight. */
  received: number;
  onReceived: (() => void) | null;
}

class Slot {
  readonly isolate: ivm.Isolate;
  prelude: Promise<ivm.Script>;
  runs = 0;
  retired = false;
  /** When it last went idle (performance.now()). */
  idleSince = 0;
  #next: Promise<Prepared> | null = null;
  #ready = false;
  /** The hook version the context under preparation is made for (its script run in it), if any. */
  #for: Compiled | null = null;

  /** Hook versions compiled in this isolate: a script runs in any context of its isolate. */
  readonly #scripts = new Map<Compiled, Promise<ivm.Script>>();

  constructor(isolate: ivm.Isolate, prelude: Promise<ivm.Script>) {
    this.isolate = isolate;
    this.prelude = prelude;
  }

  /** This hook version's script, compiled in this isolate once (from the version's code cache). */
  script(compiled: Compiled): Promise<ivm.Script> {
    let script = this.#scripts.get(compiled);
    if (script === undefined) {
      if (this.#scripts.size >= MAX_SCRIPTS_PER_ISOLATE) {
        const [oldest, dropped] = this.#scripts.entries().next().value as [Compiled, Promise<ivm.Script>];
        this.#scripts.delete(oldest);
        dropped.then((s) => { try { s.release(); } catch { /* isolate gone */ } }, () => undefined);
      }
      script = compileHookScript(this.isolate, compiled);
      this.#scripts.set(compiled, script);
      script.catch(() => this.#scripts.delete(compiled));
    }
    return script;
  }

  /** Whether a fresh context is already waiting. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The hook version the context under preparation is for, or null for a plain one. */
  get preparedFor(): Compiled | null {
    return this.#for;
  }

  prepare(make: (slot: Slot) => Promise<Prepared>, hook: Compiled | null = null): void {
    if (this.#next !== null || this.retired) return;
    const next = make(this);
    this.#next = next;
    this.#for = hook;
    next.then(() => {
      if (this.#next === next) this.#ready = true;
    }, () => undefined);
  }

  /** The prepared context (preparing one now if none is under way). */
  take(make: (slot: Slot) => Promise<Prepared>, hook: Compiled): Promise<Prepared> {
    // A context made for another hook (or another version) has that code's top level run in it:
    // it is never used for this run.
    if (this.#for !== null && this.#for !== hook) this.drop();
    const next = this.#next ?? make(this);
    this.#next = null;
    this.#ready = false;
    this.#for = null;
    return next;
  }

  /** Resolves once the context under preparation (if any) is ready or has failed. */
  settled(): Promise<void> {
    return this.#next ? this.#next.then(() => undefined, () => undefined) : Promise.resolve();
  }

  /** Drops a prepared context that will not be used. */
  drop(): void {
    const next = this.#next;
    this.#next = null;
    this.#ready = false;
    this.#for = null;
    next?.then((p) => releasePrepared(p), () => undefined);
  }
}

function releasePrepared(prepared: Prepared): void {
  try { prepared.run.release(); } catch { /* isolate gone */ }
  try { prepared.context.release(); } catch { /* isolate gone */ }
}

let preludeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;
/** Hook versions whose compiled script an isolate keeps (the oldest goes first). */
const MAX_SCRIPTS_PER_ISOLATE = 64;
/** A hook's top level, run ahead of its run, must end within this (see #prepareFor). */
const PREPARE_TIMEOUT_MS = 250;
let nextContextId = 1;
const DEADLINE = Symbol('deadline');

export class HookSandbox {
  readonly #memoryLimitMb: number;
  readonly #maxIsolates: number;
  readonly #warmIsolates: number;
  readonly #maxIdle: number;
  readonly #idleTtlMs: number;
  #shrinkTimer: NodeJS.Timeout | null = null;
  readonly #runsPerIsolate: number;
  readonly #maxLogLines: number;
  readonly #maxLogLineLength: number;
  readonly #maxFetches: number;
  readonly #fetchOptions: SandboxOptions['fetch'];
  readonly #onCatastrophicError: ((message: string) => void) | undefined;

  readonly #slots = new Set<Slot>();
  #idle: Slot[] = [];
  #waiters: Array<(slot: Slot | null) => void> = [];
  readonly #runs = new Map<number, RunState>();
  readonly #compiled = new Map<string, Compiled>();
  #disposed = false;

  readonly #logCallback: ivm.Callback;
  readonly #randomCallback: ivm.Callback;
  readonly #urlCallback: ivm.Callback;
  readonly #fetchReference: ivm.Reference<(id: number, request: unknown) => Promise<unknown>>;

  constructor(options: SandboxOptions = {}) {
    this.#memoryLimitMb = options.memoryLimitMb ?? MEMORY_LIMIT_MB;
    this.#maxIsolates = Math.max(1, options.maxIsolates ?? 32);
    this.#warmIsolates = Math.min(this.#maxIsolates, Math.max(0, options.warmIsolates ?? 2));
    this.#maxIdle = Math.max(this.#warmIsolates, options.maxIdleIsolates ?? this.#maxIsolates);
    this.#idleTtlMs = Math.max(0, options.idleTtlMs ?? 30_000);
    this.#runsPerIsolate = Math.max(1, options.runsPerIsolate ?? 1000);
    this.#maxLogLines = options.maxLogLines ?? 100;
    this.#maxLogLineLength = options.maxLogLineLength ?? 1000;
    this.#maxFetches = options.maxFetchesPerRun ?? 20;
    this.#fetchOptions = options.fetch;
    this.#onCatastrophicError = options.onCatastrophicError;

    this.#logCallback = new ivm.Callback((id: number, level: string, text: string) => this.#onLog(id, level, text), { ignored: true });
    this.#randomCallback = new ivm.Callback((_id: number, kind: string, size: number) => hostRandom(kind, size));
    this.#urlCallback = new ivm.Callback((op: string, a: unknown, b: unknown, c: unknown) => hostUrl(op, a, b, c));
    this.#fetchReference = new ivm.Reference((id: number, request: unknown) => this.#onFetch(id, request));
  }

  /** Checks a hook version once and keeps the result (and, after its first run, its code cache). */
  compile(hook: Pick<SandboxHook, 'id' | 'version' | 'code'>): CodeCheck {
    return this.#compile(hook).check;
  }

  /** Starts the warm isolates now rather than on the first run. */
  async warmup(): Promise<void> {
    this.#topUp();
    await Promise.all(this.#idle.map((slot) => slot.settled()));
  }

  /** The runner's entry point: the hook's own timeout and allowed hosts. */
  execute(hook: SandboxHook, event: Record<string, unknown>): Promise<HookRunResult> {
    return this.run(hook, event);
  }

  /** Runs a hook on an event. Never throws: every failure is an outcome. */
  async run(hook: SandboxHook, event: Record<string, unknown>, options: RunOptions = {}): Promise<HookRunResult> {
    const started = performance.now();
    const timeoutMs = clampTimeout(options.timeoutMs ?? hook.timeout_ms);
    const state: RunState = {
      logs: [],
      truncated: false,
      secrets: secretValues(event),
      allowedHosts: options.allowedHosts !== undefined ? options.allowedHosts : hook.allowed_hosts ?? null,
      deadline: started + timeoutMs,
      abort: new AbortController(),
      active: true,
      fetches: 0,
      pendingFetches: 0,
      received: 0,
      onReceived: null,
    };
    const finish = (outcome: HookOutcome, actions: HookAction[], error?: string): HookRunResult => {
      state.active = false;
      const logs = state.logs;
      if (state.truncated) logs.push(`[console output truncated after ${this.#maxLogLines} lines]`);
      const result: HookRunResult = { outcome, actions, logs, duration_ms: round(performance.now() - started) };
      if (error !== undefined) result.error = redact(error, state.secrets);
      return result;
    };

    if (this.#disposed) return finish('error', [], 'the sandbox is shut down');
    const compiled = this.#compile(hook);
    if (!compiled.check.ok) return finish('error', [], `${compiled.check.message} (line ${compiled.check.line})`);

    let eventCopy: ivm.ExternalCopy<unknown>;
    try {
      eventCopy = new ivm.ExternalCopy(event);
    } catch (error) {
      return finish('error', [], `the event could not be copied into the sandbox: ${(error as Error).message}`);
    }

    // An isolate of our own and a context made for this run; if making the context failed (its
    // isolate died meanwhile), once more with another isolate.
    let slot: Slot | null = null;
    let prepared: Prepared | null = null;
    let startError: unknown = null;
    for (let attempt = 0; attempt < 3 && prepared === null; attempt++) {
      slot = await this.#acquire(state.deadline, compiled);
      if (slot === null) break;
      try {
        prepared = await slot.take(this.#prepare, compiled);
      } catch (error) {
        startError = error;
        this.#release(slot, false);
        slot = null;
      }
    }
    if (slot === null || prepared === null) {
      eventCopy.release();
      if (this.#disposed) return finish('error', [], 'the sandbox is shut down');
      if (startError === null) return finish('timeout', [], 'no sandbox was free before the deadline');
      return finish('error', [], `the sandbox could not start: ${(startError as Error).message}`);
    }
    slot.runs++;
    this.#runs.set(prepared.id, state);

    let healthy = true;
    let timer: NodeJS.Timeout | undefined;
    // A context prepared for this very hook version has its script run already (its top level ran
    // to the end, quickly, with no console line and no fetch): one call to the isolate remains.
    const evaluatedAhead = prepared.hook === compiled;
    try {
      // Compiled once per isolate, on the isolate's own thread (the async form), from the code cache.
      const script = evaluatedAhead ? null : await slot.script(compiled);

      const remaining = Math.max(1, Math.ceil(state.deadline - performance.now()));
      const deadline = new Promise<typeof DEADLINE>((resolve) => {
        timer = setTimeout(resolve, remaining, DEADLINE);
      });
      // Both are queued on the isolate at once and run there in order, without a round trip between:
      // the hook's top level (whose last statement hands its default export to the prelude), then
      // the prelude's `run`, which calls it.
      const evaluation = script === null
        ? Promise.resolve(null)
        : script.run(prepared.context, { timeout: remaining }).then(() => null, (error: unknown) => ({ error }));
      const execution = prepared.run.apply(undefined, [eventCopy.copyInto({ release: true })], {
        timeout: remaining,
        result: { promise: true },
      }).then((value: unknown) => ({ value }), (error: unknown) => ({ error }));

      const evaluated = await Promise.race([evaluation, deadline]);
      if (evaluated === DEADLINE) {
        healthy = false;
        return finish('timeout', [], `the hook did not finish within ${timeoutMs} ms`);
      }
      if (evaluated !== null) {
        const failure = this.#failure(evaluated.error, slot, state, timeoutMs, '');
        healthy = failure.healthy;
        return finish(failure.outcome, [], failure.message);
      }
      const executed = await Promise.race([execution, deadline]);
      if (executed === DEADLINE) {
        healthy = false;
        return finish('timeout', [], `the hook did not finish within ${timeoutMs} ms`);
      }
      if ('error' in executed) {
        // The prelude's `run` catches what the hook throws; what still fails the call is a promise
        // the hook left rejected with no handler (or a limit).
        const failure = this.#failure(executed.error, slot, state, timeoutMs, 'Uncaught (in promise) ');
        healthy = failure.healthy;
        return finish(failure.outcome, [], failure.message);
      }
      const parsed = parseResult(executed.value);
      if (parsed.logged > state.received) {
        // Console lines travel apart from the result: wait for those still on their way.
        const linesIn = new Promise<void>((resolve) => {
          state.onReceived = () => { if (state.received >= parsed.logged) resolve(); };
        });
        await Promise.race([linesIn, deadline]);
        state.onReceived = null;
      }
      if (state.pendingFetches > 0) healthy = false; // a fetch still in flight must never resolve into a later run's isolate
      if (parsed.error !== undefined) return finish('error', [], parsed.error);
      return finish('success', parsed.actions);
    } catch (error) {
      const failure = this.#failure(error, slot, state, timeoutMs, '');
      healthy = failure.healthy;
      return finish(failure.outcome, [], failure.message);
    } finally {
      clearTimeout(timer);
      try { eventCopy.release(); } catch { /* already handed over */ }
      state.active = false;
      if (state.pendingFetches > 0) healthy = false;
      // Only a run that fetched has anything to abort (an abort builds a DOMException: not free).
      if (state.fetches > 0) state.abort.abort();
      releasePrepared(prepared);
      this.#runs.delete(prepared.id);
      this.#release(slot, healthy, compiled);
    }
  }

  /** Pool and cache figures, for metrics and tests. */
  stats(): { isolates: number; idle: number; running: number; waiting: number; compiled: number } {
    return {
      isolates: this.#slots.size,
      idle: this.#idle.length,
      running: this.#runs.size,
      waiting: this.#waiters.length,
      compiled: this.#compiled.size,
    };
  }

  /** Disposes every isolate; runs under way end as errors. */
  dispose(): void {
    this.#disposed = true;
    if (this.#shrinkTimer !== null) clearTimeout(this.#shrinkTimer);
    this.#shrinkTimer = null;
    for (const slot of [...this.#slots]) this.#retire(slot);
    for (const waiter of this.#waiters.splice(0)) waiter(null);
    this.#idle = [];
    for (const compiled of this.#compiled.values()) compiled.cachedData?.release();
    this.#compiled.clear();
  }

  // ---- internals

  #compile(hook: Pick<SandboxHook, 'id' | 'version' | 'code'>): Compiled {
    const key = `${hook.id}@${hook.version}`;
    const cached = this.#compiled.get(key);
    if (cached && cached.code === hook.code) {
      this.#compiled.delete(key);
      this.#compiled.set(key, cached);
      return cached;
    }
    cached?.cachedData?.release();
    const { check, source } = checkAndRewrite(hook.code);
    const compiled: Compiled = { code: hook.code, source, check, cachedData: undefined, preparable: true };
    this.#compiled.set(key, compiled);
    if (this.#compiled.size > 1000) {
      const [oldest] = this.#compiled.keys();
      this.#compiled.get(oldest)?.cachedData?.release();
      this.#compiled.delete(oldest);
    }
    return compiled;
  }

  #failure(error: unknown, slot: Slot, state: RunState, timeoutMs: number, prefix: string): { outcome: HookOutcome; message: string; healthy: boolean } {
    const message = error instanceof Error ? error.message : String(error);
    if (isMemoryError(error)) return { outcome: 'memory', message: `the hook went over the ${this.#memoryLimitMb} MiB memory limit`, healthy: false };
    if (/timed out/i.test(message)) return { outcome: 'timeout', message: `the hook did not finish within ${timeoutMs} ms`, healthy: false };
    if (slot.isolate.isDisposed || /disposed/i.test(message)) {
      if (performance.now() >= state.deadline) return { outcome: 'timeout', message: `the hook did not finish within ${timeoutMs} ms`, healthy: false };
      return { outcome: 'error', message: 'the sandbox was reset during the run', healthy: false };
    }
    const { message: text, line } = splitLocation(error);
    return { outcome: 'error', message: `${prefix}${text}${line === null ? '' : ` (line ${line})`}`, healthy: true };
  }

  #createSlot(): Slot {
    // Without a handler, isolated-vm aborts the process on a catastrophic error (V8 lost control of
    // an isolate); with one, that isolate's thread is parked for good and the handler should plan
    // a restart.
    const handler = this.#onCatastrophicError;
    const isolate = new ivm.Isolate({ memoryLimit: this.#memoryLimitMb, ...(handler ? { onCatastrophicError: handler } : {}) });
    const prelude = compilePrelude(isolate);
    prelude.catch(() => undefined);
    const slot = new Slot(isolate, prelude);
    this.#slots.add(slot);
    return slot;
  }

  /** A fresh context with the prelude booted (three calls into the isolate, queued back to back). */
  readonly #prepare = async (slot: Slot): Promise<Prepared> => {
    const script = await slot.prelude;
    const context = await slot.isolate.createContext();
    try {
      const boot = await script.run(context, { timeout: 1000, reference: true });
      const id = nextContextId++;
      try {
        const run = await boot.apply(undefined, [id, this.#logCallback, this.#randomCallback, this.#urlCallback, this.#fetchReference], {
          timeout: 1000,
          result: { reference: true },
        });
        return { context, id, run: run as Prepared['run'] };
      } finally {
        boot.release();
      }
    } catch (error) {
      try { context.release(); } catch { /* isolate gone */ }
      throw error;
    }
  };

  /**
   * A fresh context for the next run of this hook version, made while the isolate is idle: the
   * prelude booted, then the hook's script run (its top level). That is only kept if the
   * top level ran to its end at once (no top-level await left pending), within PREPARE_TIMEOUT_MS,
   * without a console line (it would have no run to go to) and without a fetch (it would have no
   * run's deadline and allowed hosts): otherwise the hook version is marked not preparable, its
   * runs run the script themselves, and this context is thrown away.
   */
  readonly #prepareFor = async (slot: Slot, compiled: Compiled): Promise<Prepared> => {
    if (!compiled.preparable || slot.retired) return this.#prepare(slot);
    // Compiling (once per isolate) is queued on the isolate alongside the context's creation.
    const compiling = slot.script(compiled);
    compiling.catch(() => undefined);
    const prepared = await this.#prepare(slot);
    let timer: NodeJS.Timeout | undefined;
    let fatal = false;
    try {
      // A host-side deadline too: whatever keeps the isolate (its thread) busy past it costs the isolate.
      timer = setTimeout(() => {
        fatal = true;
        this.#retire(slot);
      }, PREPARE_TIMEOUT_MS + 250);
      const script = await compiling;
      // The script's value is what the prelude's __tesseraRegister__ answered once the top level ended.
      const status = JSON.parse(String(await script.run(prepared.context, { timeout: PREPARE_TIMEOUT_MS }))) as { registered?: unknown; logged?: unknown; fetched?: unknown };
      if (status.fetched !== 0) {
        // The refused fetch still has its answer to deliver into this context: the isolate goes.
        fatal = true;
      } else if (status.registered === true && status.logged === 0 && !fatal) {
        prepared.hook = compiled;
        return prepared;
      }
    } catch (error) {
      if (slot.isolate.isDisposed || isMemoryError(error) || /timed out|disposed/i.test(String((error as Error)?.message ?? error))) fatal = true;
    } finally {
      clearTimeout(timer);
    }
    compiled.preparable = false;
    releasePrepared(prepared);
    if (fatal) {
      this.#retire(slot);
      this.#topUp();
      throw new Error('the sandbox was reset while preparing the hook');
    }
    return this.#prepare(slot);
  };

  #acquire(deadline: number, hook: Compiled): Promise<Slot | null> {
    if (this.#disposed) return Promise.resolve(null);
    // Best: a context ready with this hook evaluated; then a plain one ready; then one on the way
    // for this hook, then a plain one on the way; last, one made for another hook (thrown away).
    const rank = (slot: Slot) => {
      const target = slot.preparedFor;
      if (target === hook) return slot.ready ? 0 : 2;
      if (target === null) return slot.ready ? 1 : 3;
      return 4;
    };
    if (this.#idle.length > 0) {
      let best = this.#idle.length - 1;
      let bestRank = rank(this.#idle[best]);
      for (let i = this.#idle.length - 2; i >= 0 && bestRank > 0; i--) {
        const r = rank(this.#idle[i]);
        if (r < bestRank) {
          best = i;
          bestRank = r;
        }
      }
      return Promise.resolve(this.#idle.splice(best, 1)[0]);
    }
    if (this.#slots.size < this.#maxIsolates) return Promise.resolve(this.#createSlot());
    return new Promise((resolve) => {
      const waiter = (slot: Slot | null) => {
        clearTimeout(timer);
        resolve(slot);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(null);
      }, Math.max(0, deadline - performance.now()));
      this.#waiters.push(waiter);
    });
  }

  /** Back to the pool after a run: to a waiting run, to the idle list, or disposed. */
  #release(slot: Slot, healthy: boolean, hook: Compiled | null = null): void {
    const reusable = healthy && !slot.retired && !slot.isolate.isDisposed && slot.runs < this.#runsPerIsolate && !this.#disposed;
    if (!reusable) this.#retire(slot);
    const waiter = this.#waiters.shift();
    if (waiter) {
      const next = reusable ? slot : this.#disposed ? null : this.#createSlot();
      next?.prepare(this.#prepare);
      waiter(next);
      return;
    }
    if (reusable && this.#idle.length < this.#maxIdle) {
      // The next run of this same hook version is the likeliest: prepare the context for it.
      if (hook !== null && hook.preparable) slot.prepare((s) => this.#prepareFor(s, hook), hook);
      else slot.prepare(this.#prepare);
      slot.idleSince = performance.now();
      this.#idle.push(slot);
      this.#scheduleShrink();
    } else if (reusable) {
      this.#retire(slot);
    }
    this.#topUp();
  }

  /** Keeps enough idle isolates, each with a context ready, that a run rarely waits for one. */
  #topUp(): void {
    while (!this.#disposed && this.#idle.length < this.#warmIsolates && this.#slots.size < this.#maxIsolates) {
      const slot = this.#createSlot();
      slot.prepare(this.#prepare);
      slot.idleSince = performance.now();
      this.#idle.push(slot);
    }
  }

  /**
   * Disposes the isolates idle for longer than idleTtlMs, oldest first, down to warmIsolates. The
   * idle list is a stack (runs take from its end), so its front holds the longest idle.
   */
  #scheduleShrink(): void {
    if (this.#shrinkTimer !== null || this.#disposed || this.#idle.length <= this.#warmIsolates) return;
    this.#shrinkTimer = setTimeout(() => {
      this.#shrinkTimer = null;
      const cutoff = performance.now() - this.#idleTtlMs;
      while (this.#idle.length > this.#warmIsolates && this.#idle[0]!.idleSince <= cutoff) this.#retire(this.#idle[0]!);
      this.#scheduleShrink();
    }, Math.max(50, this.#idleTtlMs / 2));
    this.#shrinkTimer.unref();
  }

  #retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    this.#slots.delete(slot);
    this.#idle = this.#idle.filter((s) => s !== slot);
    slot.drop();
    try {
      if (!slot.isolate.isDisposed) slot.isolate.dispose();
    } catch { /* already gone */ }
  }

  #onLog(id: number, level: string, text: string): void {
    const state = this.#runs.get(id);
    if (!state || !state.active) return;
    state.received++;
    state.onReceived?.();
    if (level === 'truncated' || state.logs.length >= this.#maxLogLines) {
      state.truncated = true;
      return;
    }
    let line = redact(`[${String(level)}] ${String(text)}`, state.secrets);
    if (line.length > this.#maxLogLineLength) line = `${line.slice(0, this.#maxLogLineLength)}…`;
    state.logs.push(line);
  }

  async #onFetch(id: number, raw: unknown): Promise<{ ok: true; response: BridgeResponse } | { ok: false; error: string }> {
    const state = this.#runs.get(id);
    if (!state || !state.active) return { ok: false, error: 'fetch refused: the hook run is over' };
    if (state.fetches >= this.#maxFetches) return { ok: false, error: `fetch refused: at most ${this.#maxFetches} fetches per run` };
    state.fetches++;
    state.pendingFetches++;
    try {
      const request = bridgeRequest(raw);
      // The run's own deadline aborts the fetch (state.abort); the bridge's deadline sits a little
      // later so that a fetch cut short by the deadline ends the run as a timeout, not as an error
      // the hook caught a millisecond before.
      const response = await bridgeFetch(request, {
        ...this.#fetchOptions,
        allowedHosts: state.allowedHosts,
        deadline: state.deadline + 50,
        signal: state.abort.signal,
      });
      return { ok: true, response };
    } catch (error) {
      return { ok: false, error: error instanceof FetchError ? error.message : 'fetch failed' };
    } finally {
      state.pendingFetches--;
    }
  }
}

// ---------------------------------------------------------------- helpers

/** Compiles a hook's script in an isolate, with (or producing) the version's code cache. */
async function compileHookScript(isolate: ivm.Isolate, compiled: Compiled): Promise<ivm.Script> {
  const script = await isolate.compileScript(compiled.source, {
    filename: FILENAME,
    ...(compiled.cachedData ? { cachedData: compiled.cachedData } : { produceCachedData: true }),
  });
  const produced = script as ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };
  if (!compiled.cachedData && produced.cachedData) compiled.cachedData = produced.cachedData;
  else if (produced.cachedDataRejected) compiled.cachedData = undefined;
  return script;
}

async function compilePrelude(isolate: ivm.Isolate): Promise<ivm.Script> {
  const script = await isolate.compileScript(PRELUDE_SOURCE, {
    filename: 'tessera:prelude',
    ...(preludeCache ? { cachedData: preludeCache } : { produceCachedData: true }),
  });
  const produced = script as ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer> };
  if (!preludeCache && produced.cachedData) preludeCache = produced.cachedData;
  return script;
}

function clampTimeout(value: number | undefined): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return DEFAULT_TIMEOUT_MS;
  return Math.min(Math.floor(value), MAX_TIMEOUT_MS);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function isMemoryError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /memory limit|heap space|out of memory/i.test(message);
}

/** Every string value under `event.secrets`, longest first (so a secret inside another goes after it). */
function secretValues(event: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const walk = (value: unknown, depth: number) => {
    if (typeof value === 'string') {
      if (value.length >= MIN_REDACTED_SECRET_LENGTH) out.add(value);
    } else if (typeof value === 'number' && String(value).length >= MIN_REDACTED_SECRET_LENGTH) {
      out.add(String(value));
    } else if (value && typeof value === 'object' && depth < 5) {
      for (const item of Object.values(value)) walk(item, depth + 1);
    }
  };
  walk(event?.secrets, 0);
  return [...out].sort((a, b) => b.length - a.length);
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

function parseResult(value: unknown): { actions: HookAction[]; error?: string; logged: number } {
  if (typeof value !== 'string') return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value, (key, v) => (key === '__proto__' ? undefined : v));
  } catch {
    return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  }
  const result = parsed as { actions?: unknown; error?: unknown; logged?: unknown } | null;
  if (!result || typeof result !== 'object') return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  // How many console lines the run handed to the host (they may still be on their way).
  const logged = typeof result.logged === 'number' && Number.isInteger(result.logged) && result.logged > 0 ? result.logged : 0;
  if (typeof result.error === 'string') return { actions: [], error: result.error, logged };
  if (!Array.isArray(result.actions)) return { actions: [], error: 'the hook returned an unreadable result', logged };
  const actions: HookAction[] = [];
  for (const action of result.actions) {
    if (!action || typeof action !== 'object' || Array.isArray(action) || typeof (action as HookAction).type !== 'string') {
      return { actions: [], error: 'the hook returned a malformed action', logged };
    }
    actions.push(action as HookAction);
  }
  return { actions, logged };
}

/** The request as copied out of the isolate: untrusted shape, checked field by field. */
function bridgeRequest(raw: unknown): BridgeRequest {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  if (typeof r.url !== 'string') throw new FetchError('invalid', 'fetch: the URL must be a string');
  const headers: Array<[string, string]> = [];
  if (Array.isArray(r.headers)) {
    if (r.headers.length > 100) throw new FetchError('invalid', 'fetch: at most 100 headers');
    for (const pair of r.headers) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new FetchError('invalid', 'fetch: each header must be a [name, value] pair');
      headers.push([String(pair[0]), String(pair[1])]);
    }
  }
  let body: string | Uint8Array | null = null;
  if (typeof r.body === 'string') body = r.body;
  else if (r.body instanceof Uint8Array) body = r.body;
  else if (r.body !== null && r.body !== undefined) throw new FetchError('invalid', 'fetch: unsupported body');
  const redirect = r.redirect === 'manual' || r.redirect === 'error' ? r.redirect : r.redirect === undefined || r.redirect === 'follow' ? 'follow' : null;
  if (redirect === null) throw new FetchError('invalid', 'fetch: redirect must be "follow", "manual" or "error"');
  return { url: r.url.slice(0, 8192), method: typeof r.method === 'string' ? r.method : 'GET', headers, body, redirect };
}

function hostRandom(kind: string, size: number): string | Uint8Array {
  if (kind === 'uuid') return randomUUID();
  const n = Math.max(0, Math.min(65536, Math.floor(Number(size)) || 0));
  return new Uint8Array(randomBytes(n));
}

const URL_PROPS = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

function urlParts(url: URL) {
  return {
    href: url.href, origin: url.origin, protocol: url.protocol, username: url.username, password: url.password,
    host: url.host, hostname: url.hostname, port: url.port, pathname: url.pathname, search: url.search, hash: url.hash,
  };
}

/** The WHATWG URL parser for the isolate's URL class: strings in, plain parts out. */
function hostUrl(op: unknown, a: unknown, b: unknown, c: unknown): ReturnType<typeof urlParts> | null {
  const text = (v: unknown) => String(v).slice(0, 65536);
  try {
    if (op === 'parse') return urlParts(b === undefined ? new URL(text(a)) : new URL(text(a), text(b)));
    if (op === 'set' && typeof b === 'string' && URL_PROPS.has(b)) {
      const url = new URL(text(a));
      (url as unknown as Record<string, string>)[b] = text(c);
      return urlParts(url);
    }
  } catch {
    return null;
  }
  return null;
}
