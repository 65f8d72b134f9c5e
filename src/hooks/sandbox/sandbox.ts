// The hook sandbox: brand code run in isolated-vm, kept apart by Hardened JavaScript (realm.ts).
// A run checks the hook version once (check.ts, then kept), takes an isolate of its own from the
// pool (pool.ts), runs there (run.ts: a short run of a version the isolate knows starts on this
// thread, any other in one async call) and gives the isolate back, or disposes it when the run
// timed out, hit the memory limit or left a fetch in flight. The hook sees only the globals
// the prelude defines (prelude/); the host's side of its console, fetch, timers and crypto.subtle
// (bridges.ts, async-bridge.ts) is routed here to the run's state.
import type { RecordedAction } from '../catalog/actions.ts';
import { hostAsync, settleAsync } from './async-bridge.ts';
import { createBridges, bridgeRequest } from './bridges.ts';
import { checkAndRewrite, type CodeCheck } from './check.ts';
import { MEMORY_BUDGET_MB, MEMORY_LIMIT_MB } from './memory.ts';
import { bridgeFetch, FetchError, type BridgeResponse, type FetchPolicy } from './fetch-bridge.ts';
import { IsolatePool, type Compiled, type Slot } from './pool.ts';
import { clampTimeout, FAST_PATH_MAX_CPU_MS, receiveLog, redact, round, runOnce, runState, type HookOutcome, type HookRunResult, type RunEnd, type RunState } from './run.ts';

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

export interface SandboxOptions {
  /** Per isolate, in MiB (default 32). */
  memoryLimitMb?: number;
  /** Isolates alive at once, i.e. runs at once; more runs wait for one (default 32, and no more than memoryBudgetMb fits). */
  maxIsolates?: number;
  /**
   * Memory for all isolates together, in MiB (default 512): no more isolates live at once than
   * their limits fit in (512 / 32: 16), whatever maxIsolates says, so hooks together cannot take
   * more than this of the server's memory.
   */
  memoryBudgetMb?: number;
  /** Idle isolates kept booted (default 2). */
  warmIsolates?: number;
  /**
   * Idle isolates kept at most (default: maxIsolates). A burst's isolates stay for the next burst
   * rather than being made again (about 1 ms of main-thread work each); see idleTtlMs.
   */
  maxIdleIsolates?: number;
  /** An idle isolate beyond warmIsolates is disposed after this long unused (default 30000). */
  idleTtlMs?: number;
  /** An isolate is replaced after this many runs (default 10000), bounding anything that accumulates. */
  runsPerIsolate?: number;
  /** Console lines kept per run (default 100) and characters per line (default 1000). */
  maxLogLines?: number;
  maxLogLineLength?: number;
  /** Fetches per run (default 20). */
  maxFetchesPerRun?: number;
  /** Fetch limits and hooks for tests (resolver, onConnect); allowed hosts and deadline come per run. */
  fetch?: Omit<FetchPolicy, 'allowedHosts' | 'deadline' | 'signal'>;
  /** A version whose last run took more isolate CPU than this (ms) skips the fast path (default FAST_PATH_MAX_CPU_MS, run.ts). */
  fastPathMaxCpuMs?: number;
  /** V8 lost control of an isolate: log it and plan a restart (see isolated-vm). Default: abort. */
  onCatastrophicError?: (message: string) => void;
}

let nextVersionKey = 1;
/** Main-thread time a run's sync bridge calls may take (URL parsing, randomness), in ms. */
export const HOST_TIME_BUDGET_MS = 50;
/** What a sync bridge answers a run over its share (prelude/boot.ts throws on it). */
const OVER_BUDGET = 'tessera:host-time-over';

export class HookSandbox {
  readonly #memoryLimitMb: number;
  readonly #fastPathMaxCpuMs: number;
  readonly #maxLogLines: number;
  readonly #maxLogLineLength: number;
  readonly #maxFetches: number;
  readonly #fetchOptions: SandboxOptions['fetch'];
  readonly #pool: IsolatePool;
  readonly #runs = new Map<number, RunState>();
  readonly #compiled = new Map<string, Compiled>();
  /** Runs that took the fast path (run.ts runSlice) to their end, and slices that ran over and were run again. */
  readonly #paths = { fast: 0, slicesOver: 0 };

  constructor(options: SandboxOptions = {}) {
    this.#memoryLimitMb = options.memoryLimitMb ?? MEMORY_LIMIT_MB;
    this.#fastPathMaxCpuMs = options.fastPathMaxCpuMs ?? FAST_PATH_MAX_CPU_MS;
    const fitInBudget = Math.floor((options.memoryBudgetMb ?? MEMORY_BUDGET_MB) / this.#memoryLimitMb);
    const maxIsolates = Math.max(1, Math.min(options.maxIsolates ?? 32, fitInBudget));
    const warmIsolates = Math.min(maxIsolates, Math.max(0, options.warmIsolates ?? 2));
    this.#maxLogLines = options.maxLogLines ?? 100;
    this.#maxLogLineLength = options.maxLogLineLength ?? 1000;
    this.#maxFetches = options.maxFetchesPerRun ?? 20;
    this.#fetchOptions = options.fetch;
    this.#pool = new IsolatePool({
      memoryLimitMb: this.#memoryLimitMb,
      maxIsolates,
      warmIsolates,
      maxIdle: Math.max(warmIsolates, options.maxIdleIsolates ?? maxIsolates),
      idleTtlMs: Math.max(0, options.idleTtlMs ?? 30_000),
      runsPerIsolate: Math.max(1, options.runsPerIsolate ?? 10_000),
      onCatastrophicError: options.onCatastrophicError,
      bridges: createBridges({
        log: (id, level, text) => this.#onLog(id, level, text),
        charge: (id, call) => this.#charge(id, call),
        fetch: (id, request) => this.#onFetch(id, request),
        async: (id, op, args) => this.#onAsync(id, op, args),
      }),
    });
  }

  /** Checks a hook version once and keeps the result. */
  compile(hook: Pick<SandboxHook, 'id' | 'version' | 'code'>): CodeCheck {
    return this.#compile(hook).check;
  }

  /** Starts the warm isolates now rather than on the first run. */
  warmup(): Promise<void> {
    return this.#pool.warmup();
  }

  /** The runner's entry point: the hook's own timeout and allowed hosts. */
  execute(hook: SandboxHook, event: Record<string, unknown>): Promise<HookRunResult> {
    return this.run(hook, event);
  }

  /** Runs a hook on an event. Never throws: every failure is an outcome. */
  async run(hook: SandboxHook, event: Record<string, unknown>, options: RunOptions = {}): Promise<HookRunResult> {
    const started = performance.now();
    const timeoutMs = clampTimeout(options.timeoutMs ?? hook.timeout_ms);
    let state = runState(event, options.allowedHosts !== undefined ? options.allowedHosts : (hook.allowed_hosts ?? null), started + timeoutMs);
    // The isolate's CPU over the run (one run per isolate at a time), for fair sharing's CPU budget.
    let cpuSpent: number | undefined;
    const finish = (outcome: HookOutcome, actions: RecordedAction[], error?: string): HookRunResult => {
      state.active = false;
      const logs = state.logs;
      if (state.truncated) logs.push(`[console output truncated after ${this.#maxLogLines} lines]`);
      const result: HookRunResult = { outcome, actions, logs, duration_ms: round(performance.now() - started) };
      if (cpuSpent !== undefined) result.cpu_ms = round(cpuSpent);
      if (error !== undefined) result.error = redact(error, state.secrets);
      return result;
    };

    const pool = this.#pool;
    if (pool.disposed) return finish('error', [], 'the sandbox is shut down');
    const compiled = this.#compile(hook);
    if (!compiled.check.ok) return finish('error', [], `${compiled.check.message} (line ${compiled.check.line})`);

    let eventJson: string;
    try {
      eventJson = JSON.stringify(event) ?? 'null';
    } catch (error) {
      return finish('error', [], `the event could not be copied into the sandbox: ${(error as Error).message}`);
    }

    let end = await this.#attempt(compiled, eventJson, state, timeoutMs);
    if (end.sliceOver) {
      this.#paths.slicesOver++;
      // The fast path's slice ran over: the run starts again, the async way, as a new run (whatever
      // the first attempt still has in flight, a console line or a fetch, finds that one over).
      state = runState(event, state.allowedHosts, state.deadline);
      end = await this.#attempt(compiled, eventJson, state, timeoutMs);
    }
    if (state.fastPath) this.#paths.fast++;
    cpuSpent = end.cpuMs;
    return finish(end.outcome, end.actions, end.error);
  }

  /** One attempt at a run: an isolate from the pool, the run there, the isolate given back. */
  async #attempt(compiled: Compiled, eventJson: string, state: RunState, timeoutMs: number): Promise<RunEnd> {
    const pool = this.#pool;
    const slot: Slot | null = pool.takeIdle() ?? (await pool.acquire(state.deadline));
    if (slot === null) {
      return pool.disposed
        ? { outcome: 'error', actions: [], error: 'the sandbox is shut down', healthy: false }
        : { outcome: 'timeout', actions: [], error: 'no sandbox was free before the deadline', healthy: false };
    }
    slot.runs++;
    this.#runs.set(state.id, state);
    // Its first run reads where the isolate's CPU starts; every run reads where it ends (runOnce).
    if (slot.runs === 1) slot.takeCpuMs();

    let healthy = false;
    try {
      const end = await runOnce(slot, compiled, eventJson, state, { timeoutMs, memoryLimitMb: this.#memoryLimitMb, fastPathMaxCpuMs: this.#fastPathMaxCpuMs });
      healthy = end.healthy;
      if (!end.sliceOver && end.cpuMs === undefined) end.cpuMs = slot.takeCpuMs();
      return end;
    } finally {
      state.active = false;
      if (state.pendingFetches > 0) healthy = false;
      settleAsync(state.async);
      state.abort?.abort();
      this.#runs.delete(state.id);
      pool.release(slot, healthy);
    }
  }

  /** Pool and cache figures, for metrics and tests. */
  stats(): { isolates: number; peakIsolates: number; maxIsolates: number; idle: number; running: number; waiting: number; compiled: number; fast: number; slicesOver: number } {
    const pool = this.#pool.stats();
    return { ...pool, running: this.#runs.size, compiled: this.#compiled.size, ...this.#paths };
  }

  /** Disposes every isolate; runs under way end as errors. */
  dispose(): void {
    this.#pool.dispose();
    this.#compiled.clear();
  }

  #compile(hook: Pick<SandboxHook, 'id' | 'version' | 'code'>): Compiled {
    const key = `${hook.id}@${hook.version}`;
    const cached = this.#compiled.get(key);
    if (cached && cached.code === hook.code) {
      this.#compiled.delete(key);
      this.#compiled.set(key, cached);
      return cached;
    }
    const { check, source } = checkAndRewrite(hook.code);
    const compiled: Compiled = { code: hook.code, source, check, key: `v${nextVersionKey++}`, lastCpuMs: Infinity, asyncUntil: 0 };
    this.#compiled.set(key, compiled);
    if (this.#compiled.size > 1000) {
      const [oldest] = this.#compiled.keys();
      this.#compiled.delete(oldest!);
    }
    return compiled;
  }

  #onLog(id: number, level: string, text: string): void {
    const state = this.#runs.get(id);
    if (!state || !state.active) return;
    receiveLog(state, level, text, { maxLines: this.#maxLogLines, maxLineLength: this.#maxLogLineLength });
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
      state.abort ??= new AbortController();
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

  /**
   * A sync bridge call (URL parsing, randomness) blocks the main thread: each run gets
   * HOST_TIME_BUDGET_MS of it, so 16 busy hooks cannot stall the server for long.
   */
  #charge(id: number, call: () => unknown): unknown {
    const state = this.#runs.get(id);
    if (!state || !state.active || state.hostMs > HOST_TIME_BUDGET_MS) return OVER_BUDGET;
    const started = performance.now();
    try {
      return call();
    } finally {
      state.hostMs += performance.now() - started;
    }
  }

  #onAsync(id: number, op: unknown, args: unknown): Promise<unknown> {
    const state = this.#runs.get(id);
    if (!state || !state.active) return Promise.resolve({ ok: false, error: 'the hook run is over' });
    return hostAsync(state.async, op, args);
  }
}
