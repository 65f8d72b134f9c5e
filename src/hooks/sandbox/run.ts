// One hook run in a context of its own: its limits and state, the hook's top level and call queued
// on the isolate together, the deadline, the result read back, and every failure turned into an
// outcome. `timeout_ms` of wall time covers the hook's top level, the hook and every awaited fetch
// (isolated-vm's own `timeout` only covers synchronous stretches, so a host-side deadline ends a run
// that outlives it, and its isolate is not reused). The event goes in as a structured-clone copy;
// actions come out as JSON text, parsed into plain data. Exact secret values are redacted from the
// console output and the error.
import type ivm from 'isolated-vm';
import type { RecordedAction } from '../catalog/actions.ts';
import { splitLocation } from './check.ts';
import { isMemoryError, type Compiled, type Prepared, type Slot } from './pool.ts';

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

/** What the host keeps about a run under way (the log and fetch bridges find it by context id). */
export interface RunState {
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

export function runState(event: Record<string, unknown>, allowedHosts: readonly string[] | null, deadline: number): RunState {
  return {
    logs: [],
    truncated: false,
    secrets: secretValues(event),
    allowedHosts,
    deadline,
    abort: new AbortController(),
    active: true,
    fetches: 0,
    pendingFetches: 0,
    received: 0,
    onReceived: null,
  };
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
interface RunEnd {
  outcome: HookOutcome;
  actions: RecordedAction[];
  error?: string;
  healthy: boolean;
}

/**
 * Runs the hook in its prepared context: the hook's script (unless the context was prepared with it
 * already) and the prelude's `run` are queued on the isolate at once and run there in order, without
 * a round trip between. Never throws.
 */
export async function runPrepared(
  slot: Slot,
  prepared: Prepared,
  compiled: Compiled,
  event: ivm.ExternalCopy<unknown>,
  state: RunState,
  limits: { timeoutMs: number; memoryLimitMb: number },
): Promise<RunEnd> {
  const { timeoutMs } = limits;
  const timedOut = (): RunEnd => ({ outcome: 'timeout', actions: [], error: `the hook did not finish within ${timeoutMs} ms`, healthy: false });
  const failed = (error: unknown, prefix: string): RunEnd => {
    const failure = classifyFailure(error, slot.isolate.isDisposed, state, limits, prefix);
    return { outcome: failure.outcome, actions: [], error: failure.message, healthy: failure.healthy };
  };
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
    // The hook's top level (whose last statement hands its default export to the prelude), then
    // the prelude's `run`, which calls it.
    const evaluation =
      script === null
        ? Promise.resolve(null)
        : script.run(prepared.context, { timeout: remaining }).then(
            () => null,
            (error: unknown) => ({ error }),
          );
    const execution = prepared.run
      .apply(undefined, [event.copyInto({ release: true })], {
        timeout: remaining,
        result: { promise: true },
      })
      .then(
        (value: unknown) => ({ value }),
        (error: unknown) => ({ error }),
      );

    const evaluated = await Promise.race([evaluation, deadline]);
    if (evaluated === DEADLINE) return timedOut();
    if (evaluated !== null) return failed(evaluated.error, '');
    const executed = await Promise.race([execution, deadline]);
    if (executed === DEADLINE) return timedOut();
    // The prelude's `run` catches what the hook throws; what still fails the call is a promise
    // the hook left rejected with no handler (or a limit).
    if ('error' in executed) return failed(executed.error, 'Uncaught (in promise) ');
    const parsed = parseResult(executed.value);
    if (parsed.logged > state.received) {
      // Console lines travel apart from the result: wait for those still on their way.
      const linesIn = new Promise<void>((resolve) => {
        state.onReceived = () => {
          if (state.received >= parsed.logged) resolve();
        };
      });
      await Promise.race([linesIn, deadline]);
      state.onReceived = null;
    }
    // A fetch still in flight must never resolve into a later run's isolate.
    const healthy = state.pendingFetches === 0;
    if (parsed.error !== undefined) return { outcome: 'error', actions: [], error: parsed.error, healthy };
    return { outcome: 'success', actions: parsed.actions, healthy };
  } catch (error) {
    return failed(error, '');
  } finally {
    clearTimeout(timer);
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

function parseResult(value: unknown): { actions: RecordedAction[]; error?: string; logged: number } {
  if (typeof value !== 'string') return { actions: [], error: 'the hook returned an unreadable result', logged: 0 };
  if (value.length > MAX_RESULT_CHARS) return { actions: [], error: TOO_LARGE, logged: 0 };
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
  if (result.actions.length > MAX_ACTIONS) return { actions: [], error: TOO_LARGE, logged };
  const actions: RecordedAction[] = [];
  for (const action of result.actions) {
    if (!action || typeof action !== 'object' || Array.isArray(action) || typeof (action as RecordedAction).type !== 'string') {
      return { actions: [], error: 'the hook returned a malformed action', logged };
    }
    for (const [field, v] of Object.entries(action)) {
      if (field !== 'type' && JSON.stringify(v).length > MAX_ACTION_VALUE_CHARS) return { actions: [], error: TOO_LARGE, logged };
    }
    actions.push(action as RecordedAction);
  }
  return { actions, logged };
}

/** The request as copied out of the isolate: untrusted shape, checked field by field. */
