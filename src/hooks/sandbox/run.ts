// One hook run: its limits and state, the call into the isolate (the hook version's source rides
// along the first time an isolate runs it; a short run of a version it knows starts synchronously
// on this thread, see runSlice), the deadline, the result read back and measured here, and every
// failure turned into an outcome. `timeout_ms` of wall time covers the hook's top
// level, the hook and everything it awaits (isolated-vm's own `timeout` only covers synchronous
// stretches, so a host-side deadline ends a run that outlives it, and its isolate is not reused).
// The event goes in as one JSON string; actions come out as JSON text, parsed into plain data.
// Exact secret values are redacted from the console output and the error.
import type { RecordedAction } from '../catalog/actions.ts';
import { asyncState, type AsyncState } from './async-bridge.ts';
import { splitLocation } from './check.ts';
import { isMemoryError, type Compiled, type RealmEntry, type Slot } from './pool.ts';

export type HookOutcome = 'success' | 'error' | 'timeout' | 'memory';

export interface HookRunResult {
  outcome: HookOutcome;
  actions: RecordedAction[];
  logs: string[];
  duration_ms: number;
  /** The isolate's CPU time for the run, when it could be read (not after the isolate was disposed). */
  cpu_ms?: number;
  error?: string;
}

const DEFAULT_TIMEOUT_MS = 2000;
const MAX_TIMEOUT_MS = 10000;
/** Secret values shorter than this are not redacted (they would shred every log line). */
const MIN_REDACTED_SECRET_LENGTH = 4;
const REDACTED = '[redacted]';
const DEADLINE = Symbol('deadline');

/** What the host keeps about a run under way (the bridges find it by the run's id). */
export interface RunState {
  id: number;
  logs: string[];
  truncated: boolean;
  secrets: string[];
  allowedHosts: readonly string[] | null;
  deadline: number;
  /** Made on the first fetch (an AbortController is not free). */
  abort: AbortController | null;
  active: boolean;
  fetches: number;
  pendingFetches: number;
  /** Main-thread time its sync bridge calls took so far, in ms (see sandbox.ts #charge). */
  hostMs: number;
  async: AsyncState;
  /** It started on the fast path (runSlice). */
  fastPath: boolean;
  /** Console lines received so far, and who waits for the ones still in flight. */
  received: number;
  onReceived: (() => void) | null;
}

let nextRunId = 1;

export function runState(event: Record<string, unknown>, allowedHosts: readonly string[] | null, deadline: number): RunState {
  return {
    id: nextRunId++,
    logs: [],
    truncated: false,
    // Only a hook with secrets has any to redact: no walk for the others.
    secrets: hasKeys(event?.secrets) ? secretValues(event) : [],
    allowedHosts,
    deadline,
    abort: null,
    active: true,
    fetches: 0,
    pendingFetches: 0,
    hostMs: 0,
    async: asyncState(deadline),
    fastPath: false,
    received: 0,
    onReceived: null,
  };
}

function hasKeys(value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  for (const _ in value) return true;
  return false;
}

/** A console line from the isolate: counted, kept (redacted, cut) within the run's limits. */
export function receiveLog(state: RunState, level: string, text: string, limits: { maxLines: number; maxLineLength: number }): void {
  state.received++;
  state.onReceived?.();
  if (level === 'truncated' || state.logs.length >= limits.maxLines) {
    state.truncated = true;
    return;
  }
  let line = redact(`[${String(level)}] ${String(text)}`, state.secrets);
  if (line.length > limits.maxLineLength) line = `${line.slice(0, limits.maxLineLength)}…`;
  state.logs.push(line);
}

/** How a run ended: its outcome, the actions or the error, and whether its isolate may be reused. */
export interface RunEnd {
  outcome: HookOutcome;
  actions: RecordedAction[];
  error?: string;
  healthy: boolean;
  /** The isolate's CPU for the run, in ms, when it was read. */
  cpuMs?: number;
  /** The fast path's slice ran over: nothing of the run counts, and it is run again the async way. */
  sliceOver?: true;
}

/**
 * Runs the hook in the isolate's realm with the version's key (and its source when the isolate has
 * not evaluated it yet), the event as JSON and the run's id: on the fast path (runSlice) when the
 * version is known there and its last run was short, else one async call. Never throws.
 */
export async function runOnce(slot: Slot, compiled: Compiled, eventJson: string, state: RunState, limits: { timeoutMs: number; memoryLimitMb: number; fastPathMaxCpuMs: number }): Promise<RunEnd> {
  const { timeoutMs } = limits;
  const timedOut = (): RunEnd => ({ outcome: 'timeout', actions: [], error: `the hook did not finish within ${timeoutMs} ms`, healthy: false });
  const overMemory = (): RunEnd => ({ outcome: 'memory', actions: [], error: `the hook went over the ${limits.memoryLimitMb} MiB memory limit`, healthy: false });
  const failed = (error: unknown, prefix: string): RunEnd => {
    const failure = classifyFailure(error, slot.isolate.isDisposed, state, limits, prefix);
    return { outcome: failure.outcome, actions: [], error: failure.message, healthy: failure.healthy };
  };
  // The host-side deadline, made only when the run has to be awaited (the fast path needs none).
  let timer: NodeJS.Timeout | undefined;
  let deadline: Promise<typeof DEADLINE> | undefined;
  const untilDeadline = <T>(work: Promise<T>): Promise<T | typeof DEADLINE> => {
    deadline ??= new Promise((resolve) => {
      timer = setTimeout(resolve, Math.max(1, Math.ceil(state.deadline - performance.now())), DEADLINE);
    });
    return Promise.race([work, deadline]);
  };
  try {
    const entry = slot.entry ?? (await slot.realm);
    const remaining = Math.max(1, Math.ceil(state.deadline - performance.now()));
    const settle = (promise: Promise<unknown>) =>
      untilDeadline(
        promise.then(
          (value: unknown): Executed => ({ value }),
          (error: unknown): Executed => ({ error }),
        ),
      );
    const call = (source: string | null, drop: string) => settle(entry.run.apply(undefined, [compiled.key, source, eventJson, state.id, drop], { timeout: remaining, result: { promise: true } }));
    const { source, drop } = slot.arguments(compiled);
    // Whether this run found the version evaluated: only such runs' CPU is the fast path's guess.
    let evaluated = source === null;
    let executed: Executed | typeof DEADLINE;
    const fastPath = source === null && compiled.lastCpuMs < limits.fastPathMaxCpuMs && remaining > SYNC_SLICE_MS && !(compiled.asyncUntil > performance.now());
    if (fastPath) {
      state.fastPath = true;
      const slice = runSlice(entry, [compiled.key, null, eventJson, state.id, drop]);
      if (slice === SLICE_OVER) {
        // Too long to run on the server's thread: this version goes the async way for a while, and
        // this run starts again there, in another isolate (its queued bridge calls find it over).
        compiled.asyncUntil = performance.now() + ASYNC_AFTER_SLICE_MS;
        return { outcome: 'timeout', actions: [], healthy: false, sliceOver: true };
      }
      executed = slice === PENDING ? await settle(entry.wait.apply(undefined, [], { timeout: remaining, result: { promise: true } })) : slice;
    } else {
      executed = await call(source, drop);
    }
    if (executed !== DEADLINE && 'value' in executed && executed.value === MISSING) {
      // The isolate had forgotten this version: once more, with its source.
      slot.forget(compiled);
      evaluated = false;
      executed = await call(compiled.source, '');
    }
    if (executed === DEADLINE) return timedOut();
    // The prelude's `run` catches what the hook throws; what still fails the call is a promise
    // the hook left rejected with no handler (or a limit).
    if ('error' in executed) {
      const end = failed(executed.error, 'Uncaught (in promise) ');
      end.cpuMs = slot.takeCpuMs();
      if (evaluated && end.cpuMs !== undefined) compiled.lastCpuMs = end.cpuMs;
      return end;
    }
    const parsed = parseResult(executed.value);
    if (parsed.logged > state.received) {
      // Console lines travel apart from the result: wait for those still on their way.
      const linesIn = new Promise<void>((resolve) => {
        state.onReceived = () => {
          if (state.received >= parsed.logged) resolve();
        };
      });
      await untilDeadline(linesIn);
      state.onReceived = null;
    }
    const cpuMs = slot.takeCpuMs();
    // The fast path's guess, from runs that found the version evaluated (not its one-off evaluation).
    if (evaluated && cpuMs !== undefined) compiled.lastCpuMs = cpuMs;
    if (parsed.memory || (needsHeapCheck(slot, cpuMs) && overLimit(slot, limits.memoryLimitMb))) return { ...overMemory(), cpuMs };
    // A fetch still in flight must never resolve into a later run's isolate.
    const healthy = state.pendingFetches === 0;
    if (parsed.error !== undefined) return { outcome: 'error', actions: [], error: parsed.error, healthy, cpuMs };
    return { outcome: 'success', actions: parsed.actions, healthy, cpuMs };
  } catch (error) {
    return failed(error, '');
  } finally {
    clearTimeout(timer);
  }
}

type Executed = { value: unknown } | { error: unknown };

/**
 * The fast path, for a version the isolate has evaluated already and whose last run was short: the
 * run starts synchronously on this thread, with no hop to isolated-vm's pool and back (the larger
 * part of a trivial run's cost), and at most SYNC_SLICE_MS of it, since the server's thread waits
 * meanwhile. isolated-vm runs the isolate's microtasks before the call returns, so a hook that
 * awaits nothing of the host's is done then and `take` reads its result; one waiting on the host
 * (fetch, a timer, crypto.subtle) is PENDING, and awaited the usual way.
 */
const SYNC_SLICE_MS = 5;
/**
 * Versions whose last run took more of the isolate's CPU than this (in ms) run the async way: their
 * work then runs beside the server's thread, on another core, which outweighs the hop it costs (a
 * trivial run takes 10–50 µs; one awaiting a fetch or crypto.subtle a few hundred).
 */
export const FAST_PATH_MAX_CPU_MS = 1;
/** After a slice ran over, how long its version runs the async way before the fast path is tried again. */
const ASYNC_AFTER_SLICE_MS = 10_000;
const PENDING = Symbol('pending');
const SLICE_OVER = Symbol('slice over');

function runSlice(entry: RealmEntry, args: [string, null, string, number, string]): Executed | typeof PENDING | typeof SLICE_OVER {
  const started = performance.now();
  try {
    // The slice's timeout covers the microtasks too: isolated-vm runs them before the call returns.
    entry.start.applySync(undefined, args, { timeout: SYNC_SLICE_MS });
    // Only reads a variable (nothing of the hook's can run here: its host calls wait for this
    // thread), so no timeout, which would cost a timer of isolated-vm's per call.
    const value = entry.take.applySync(undefined, []);
    return value === undefined ? PENDING : { value };
  } catch (error) {
    // isolated-vm's timeout, not a rejection of the hook's own that happens to say "timed out".
    const stopped = /timed out/i.test(error instanceof Error ? error.message : String(error)) && performance.now() - started >= SYNC_SLICE_MS * 0.9;
    return stopped ? SLICE_OVER : { error };
  }
}

const MISSING = JSON.stringify({ missing: true });

/**
 * Reading the heap's size blocks this thread for 20–60 µs, a third of a whole run: it is read after a
 * run that spent over HEAP_CHECK_AFTER_MS of the isolate's CPU (filling tens of MiB takes longer
 * than that; wall time, which a busy main thread stretches, made every run under load pay for it),
 * when that CPU could not be read, and after every HEAP_CHECK_EVERY-th run of an isolate.
 */
const HEAP_CHECK_AFTER_MS = 1;
const HEAP_CHECK_EVERY = 64;
function needsHeapCheck(slot: Slot, cpuMs: number | undefined): boolean {
  return cpuMs === undefined || cpuMs > HEAP_CHECK_AFTER_MS || slot.runs % HEAP_CHECK_EVERY === 0;
}

/**
 * Whether the isolate holds more than its limit once the run is over: one large string can pass
 * isolated-vm's check (see prelude/limits.ts), and such an isolate is not given another run.
 */
function overLimit(slot: Slot, memoryLimitMb: number): boolean {
  try {
    return slot.isolate.getHeapStatisticsSync().used_heap_size > memoryLimitMb * 1024 * 1024;
  } catch {
    return true;
  }
}

/** A run's failure as its outcome and message; `healthy`: the isolate may serve another run. */
function classifyFailure(
  error: unknown,
  isolateDisposed: boolean,
  state: RunState,
  limits: { timeoutMs: number; memoryLimitMb: number },
  prefix: string,
): { outcome: HookOutcome; message: string; healthy: boolean } {
  const message = error instanceof Error ? error.message : String(error);
  if (isMemoryError(error)) return { outcome: 'memory', message: `the hook went over the ${limits.memoryLimitMb} MiB memory limit`, healthy: false };
  if (/timed out/i.test(message)) return { outcome: 'timeout', message: `the hook did not finish within ${limits.timeoutMs} ms`, healthy: false };
  if (isolateDisposed || /disposed/i.test(message)) {
    if (performance.now() >= state.deadline) return { outcome: 'timeout', message: `the hook did not finish within ${limits.timeoutMs} ms`, healthy: false };
    return { outcome: 'error', message: 'the sandbox was reset during the run', healthy: false };
  }
  const { message: text, line } = splitLocation(error);
  return { outcome: 'error', message: `${prefix}${text}${line === null ? '' : ` (line ${line})`}`, healthy: true };
}

export function clampTimeout(value: number | undefined): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return DEFAULT_TIMEOUT_MS;
  return Math.min(Math.floor(value), MAX_TIMEOUT_MS);
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
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

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

// The prelude records at most 200 api calls, each value at most 64 KiB as JSON (prelude/api-recorders.ts).
// The result is checked against the same limits here, outside the isolate: a hook can change what the
// prelude's JSON.stringify produces (an Object.prototype.toJSON of its own), so the isolate's word is
// not enough. A result longer than any honest one is refused before it is parsed.
export const MAX_ACTIONS = 200;
export const MAX_ACTION_VALUE_CHARS = 65536;
const MAX_RESULT_CHARS = 1024 * 1024;
const TOO_LARGE = 'the hook returned a result over the limits (at most 200 api calls, 64 KiB a value, 1 MiB in all)';

export function parseResult(value: unknown): { actions: RecordedAction[]; error?: string; logged: number; memory?: boolean } {
  if (typeof value !== 'string') return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  if (value.length > MAX_RESULT_CHARS) return { actions: [], error: TOO_LARGE, logged: 0 };
  let parsed: unknown;
  try {
    // A "__proto__" key is dropped, so no later Object.assign can set a prototype. A reviver costs a
    // call per value, so only a text that could hold one (written out, or with \u escapes) pays for it.
    parsed = value.includes('__proto__') || value.includes('\\u') ? JSON.parse(value, (key, v) => (key === '__proto__' ? undefined : v)) : JSON.parse(value);
  } catch {
    return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  }
  const result = parsed as { actions?: unknown; error?: unknown; logged?: unknown; memory?: unknown } | null;
  if (!result || typeof result !== 'object') return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  // How many console lines the run handed to the host (they may still be on their way).
  const logged = typeof result.logged === 'number' && Number.isInteger(result.logged) && result.logged > 0 ? result.logged : 0;
  if (result.memory === true) return { actions: [], logged, memory: true };
  if (typeof result.error === 'string') return { actions: [], error: result.error, logged };
  if (!Array.isArray(result.actions)) return { actions: [], error: 'the hook returned an unreadable result', logged };
  if (result.actions.length > MAX_ACTIONS) return { actions: [], error: TOO_LARGE, logged };
  // Written out again, a value is at most ~5.25 times its text (1e20 becomes 21 digits): a result under
  // a sixth of the cap cannot hold a value over it, and only a longer one is measured value by value.
  const measure = value.length * 6 > MAX_ACTION_VALUE_CHARS;
  const actions: RecordedAction[] = [];
  for (const action of result.actions) {
    if (!action || typeof action !== 'object' || Array.isArray(action) || typeof (action as RecordedAction).type !== 'string') {
      return { actions: [], error: 'the hook returned a malformed action', logged };
    }
    if (measure) {
      for (const [field, v] of Object.entries(action)) {
        if (field !== 'type' && JSON.stringify(v).length > MAX_ACTION_VALUE_CHARS) return { actions: [], error: TOO_LARGE, logged };
      }
    }
    actions.push(action as RecordedAction);
  }
  return { actions, logged };
}

/** The request as copied out of the isolate: untrusted shape, checked field by field. */
