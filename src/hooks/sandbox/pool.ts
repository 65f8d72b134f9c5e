// The isolate pool: each run holds one isolate for itself, in a context created for that run alone,
// so nothing a run leaves behind (globals, patched prototypes) reaches the next user. Creating a V8
// context costs about 0.4 ms, so the pool prepares the next one while the isolate is idle and a warm
// run only calls the hook. Each hook version's script is compiled once per isolate (from its V8 code
// cache).
//
// Speculative preparation: once a run of a hook version ends, its isolate's next fresh context is
// made for that same version, with the hook's script run in it (idle time, its own
// PREPARE_TIMEOUT_MS). A later run of that version that finds such a context only
// calls the hook: one round trip to the isolate. The context is still fresh (made for that one run,
// used once, by that exact version's code only: a context made for anything else is thrown away).
// A version whose top level does not run to its end at once, logs, fetches, throws or is slow is
// marked not preparable: its runs run the script themselves.
//
// Idle isolates beyond `warmIsolates` are disposed after `idleTtlMs`; an isolate is replaced after
// `runsPerIsolate` runs, and one that hits its memory limit is gone and replaced.
import type ivm from 'isolated-vm';
import { FILENAME, type CodeCheck } from './check.ts';
import type { Bridges } from './bridges.ts';
import { createIsolate, disposeIsolate } from './isolates.ts';
import { PRELUDE_SOURCE } from './prelude/assemble.ts';

/** A fresh context with the prelude booted, for one run. */
export interface Prepared {
  context: ivm.Context;
  id: number;
  run: ivm.Reference<(event: unknown) => Promise<string>>;
  /** Set when this hook version's script has already run in the context (see #prepareFor). */
  hook?: Compiled;
}

/** A checked hook version (sandbox.ts keeps one per id and version). */
export interface Compiled {
  code: string;
  /** The hook rewritten as a script (hook-script.ts); empty when the check failed. */
  source: string;
  check: CodeCheck;
  cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;
  /** False once preparing a context ahead for it did not work out: its runs run the script themselves. */
  preparable: boolean;
}

interface PoolOptions {
  memoryLimitMb: number;
  maxIsolates: number;
  warmIsolates: number;
  maxIdle: number;
  idleTtlMs: number;
  runsPerIsolate: number;
  onCatastrophicError: ((message: string) => void) | undefined;
  /** Handed to each context's boot (the prelude's tesseraBoot) after its id. */
  bridges: Bridges;
}

let preludeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;
/** Hook versions whose compiled script an isolate keeps (the oldest goes first). */
const MAX_SCRIPTS_PER_ISOLATE = 64;
/** A hook's top level, run ahead of its run, must end within this (see #prepareFor). */
const PREPARE_TIMEOUT_MS = 250;
let nextContextId = 1;

export class Slot {
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
        dropped.then(
          (s) => {
            try {
              s.release();
            } catch {
              /* isolate gone */
            }
          },
          () => undefined,
        );
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
    next.then(
      () => {
        if (this.#next === next) this.#ready = true;
      },
      () => undefined,
    );
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
    return this.#next
      ? this.#next.then(
          () => undefined,
          () => undefined,
        )
      : Promise.resolve();
  }

  /** Drops a prepared context that will not be used. */
  drop(): void {
    const next = this.#next;
    this.#next = null;
    this.#ready = false;
    this.#for = null;
    next?.then(
      (p) => releasePrepared(p),
      () => undefined,
    );
  }
}

export function releasePrepared(prepared: Prepared): void {
  try {
    prepared.run.release();
  } catch {
    /* isolate gone */
  }
  try {
    prepared.context.release();
  } catch {
    /* isolate gone */
  }
}

export class IsolatePool {
  readonly #memoryLimitMb: number;
  readonly #maxIsolates: number;
  readonly #warmIsolates: number;
  readonly #maxIdle: number;
  readonly #idleTtlMs: number;
  readonly #runsPerIsolate: number;
  readonly #onCatastrophicError: ((message: string) => void) | undefined;
  readonly #bridges: Bridges;
  #shrinkTimer: NodeJS.Timeout | null = null;

  readonly #slots = new Set<Slot>();
  #idle: Slot[] = [];
  #waiters: Array<(slot: Slot | null) => void> = [];
  #disposed = false;

  constructor(options: PoolOptions) {
    this.#memoryLimitMb = options.memoryLimitMb;
    this.#maxIsolates = options.maxIsolates;
    this.#warmIsolates = options.warmIsolates;
    this.#maxIdle = options.maxIdle;
    this.#idleTtlMs = options.idleTtlMs;
    this.#runsPerIsolate = options.runsPerIsolate;
    this.#onCatastrophicError = options.onCatastrophicError;
    this.#bridges = options.bridges;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The slot's fresh context for this run (the one prepared for this hook version when there is one). */
  take(slot: Slot, hook: Compiled): Promise<Prepared> {
    return slot.take(this.#prepare, hook);
  }

  /** Starts the warm isolates now rather than on the first run. */
  async warmup(): Promise<void> {
    this.#topUp();
    await Promise.all(this.#idle.map((slot) => slot.settled()));
  }

  stats(): { isolates: number; idle: number; waiting: number } {
    return { isolates: this.#slots.size, idle: this.#idle.length, waiting: this.#waiters.length };
  }

  /** Disposes every isolate; runs waiting for one get none. */
  dispose(): void {
    this.#disposed = true;
    if (this.#shrinkTimer !== null) clearTimeout(this.#shrinkTimer);
    this.#shrinkTimer = null;
    for (const slot of [...this.#slots]) this.retire(slot);
    for (const waiter of this.#waiters.splice(0)) waiter(null);
    this.#idle = [];
  }

  #createSlot(): Slot {
    // Without a handler, isolated-vm aborts the process on a catastrophic error (V8 lost control of
    // an isolate); with one, that isolate's thread is parked for good and the handler should plan
    // a restart.
    const handler = this.#onCatastrophicError;
    const isolate = createIsolate({ memoryLimit: this.#memoryLimitMb, ...(handler ? { onCatastrophicError: handler } : {}) });
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
        const run = await boot.apply(undefined, [id, ...this.#bridges], {
          timeout: 1000,
          result: { reference: true },
        });
        return { context, id, run: run as Prepared['run'] };
      } finally {
        boot.release();
      }
    } catch (error) {
      try {
        context.release();
      } catch {
        /* isolate gone */
      }
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
        this.retire(slot);
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
      this.retire(slot);
      this.#topUp();
      throw new Error('the sandbox was reset while preparing the hook');
    }
    return this.#prepare(slot);
  };

  /** An isolate for one run: idle (best prepared first), new, or the next one released; null past the deadline. */
  acquire(deadline: number, hook: Compiled): Promise<Slot | null> {
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
      const timer = setTimeout(
        () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(null);
        },
        Math.max(0, deadline - performance.now()),
      );
      this.#waiters.push(waiter);
    });
  }

  /** Back to the pool after a run: to a waiting run, to the idle list, or disposed. */
  release(slot: Slot, healthy: boolean, hook: Compiled | null = null): void {
    const reusable = healthy && !slot.retired && !slot.isolate.isDisposed && slot.runs < this.#runsPerIsolate && !this.#disposed;
    if (!reusable) this.retire(slot);
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
      this.retire(slot);
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
    this.#shrinkTimer = setTimeout(
      () => {
        this.#shrinkTimer = null;
        const cutoff = performance.now() - this.#idleTtlMs;
        while (this.#idle.length > this.#warmIsolates && this.#idle[0]!.idleSince <= cutoff) this.retire(this.#idle[0]!);
        this.#scheduleShrink();
      },
      Math.max(50, this.#idleTtlMs / 2),
    );
    this.#shrinkTimer.unref();
  }

  /** Disposes an isolate for good (a run that timed out, hit the memory limit or left a fetch in flight). */
  retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    this.#slots.delete(slot);
    this.#idle = this.#idle.filter((s) => s !== slot);
    slot.drop();
    try {
      disposeIsolate(slot.isolate);
    } catch {
      /* already gone */
    }
  }
}

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

/** Whether an error says the isolate went over its memory limit (it is gone then). */
export function isMemoryError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /memory limit|heap space|out of memory/i.test(message);
}
