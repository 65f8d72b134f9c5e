// The isolate pool. Each isolate is the boundary of a run: its memory limit, its time, one run at a
// time. Inside it, one context made once runs the realm script (realm.ts: SES, lockdown, the
// prelude), and runs are kept apart by Hardened JavaScript instead of a fresh context each: the
// intrinsics and the hook globals are frozen, every hook version gets a compartment with a frozen
// global of its own, and the hook's top level runs again for every run (prelude/boot.ts). A run
// enters the isolate through the realm's entry points (RealmEntry; run.ts says which).
//
// The realm script is compiled from one V8 code cache shared by every isolate; booting an isolate
// (about 40 ms, on the isolate's own thread) happens while it is idle. Idle isolates beyond
// `warmIsolates` are disposed after `idleTtlMs`; an isolate is replaced after `runsPerIsolate`
// runs, and one that hits its memory limit, times out or leaves a fetch in flight is gone and
// replaced.
import type ivm from 'isolated-vm';
import type { Bridges } from './bridges.ts';
import type { CodeCheck } from './check.ts';
import { createIsolate, disposeIsolate } from './isolates.ts';
import { REALM_SOURCE } from './realm.ts';

/** A checked hook version (sandbox.ts keeps one per id and version). */
export interface Compiled {
  code: string;
  /** The hook rewritten as a factory expression (hook-script.ts); empty when the check failed. */
  source: string;
  check: CodeCheck;
  /** Names the version inside an isolate (unique in this process). */
  key: string;
  /** The isolate CPU of its last run that found it evaluated, in ms (Infinity before one): the fast path's guess. */
  lastCpuMs: number;
  /** Until when (performance.now()) its runs skip the fast path after a slice ran over (run.ts runSlice). */
  asyncUntil: number;
}

type RunArguments = [key: string, source: string | null, eventJson: string, runId: number, drop: string];
/** The realm's entry points (prelude/boot.ts RealmEntries), as the host calls them. */
export interface RealmEntry {
  run: ivm.Reference<(...args: RunArguments) => Promise<string>>;
  start: ivm.Reference<(...args: RunArguments) => void>;
  take: ivm.Reference<() => string | undefined>;
  wait: ivm.Reference<() => Promise<string>>;
}

interface PoolOptions {
  memoryLimitMb: number;
  maxIsolates: number;
  warmIsolates: number;
  maxIdle: number;
  idleTtlMs: number;
  runsPerIsolate: number;
  onCatastrophicError: ((message: string) => void) | undefined;
  /** Handed to the prelude's boot, once per isolate. */
  bridges: Bridges;
}

let realmCache: ivm.ExternalCopy<ArrayBuffer> | undefined;
/** Hook versions an isolate keeps evaluated (the least recently run goes first). */
const MAX_VERSIONS_PER_ISOLATE = 64;
const BOOT_TIMEOUT_MS = 10_000;
/** A run waiting this long for an isolate grows the pool (see IsolatePool.#scheduleGrow). */
const GROW_AFTER_MS = 10;

export class Slot {
  readonly isolate: ivm.Isolate;
  /** The realm booted: its entry points. */
  readonly realm: Promise<RealmEntry>;
  /** The same once booted (a run then needs no await for it). */
  entry: RealmEntry | null = null;
  runs = 0;
  retired = false;
  /** When it last went idle (performance.now()). */
  idleSince = 0;
  /** The isolate's CPU time (ns) at its last reading; undefined before the first or once it is disposed. */
  #cpuNs: bigint | undefined;
  /** Hook versions evaluated in this isolate, least recently run first. */
  readonly #versions = new Set<string>();
  #drop: string[] = [];

  constructor(isolate: ivm.Isolate, realm: Promise<RealmEntry>) {
    this.isolate = isolate;
    this.realm = realm;
    realm.then(
      (entry) => {
        this.entry = entry;
      },
      () => undefined,
    );
  }

  /**
   * What the run call carries for this version: its source unless the isolate has it evaluated
   * already, and the versions it may forget (the isolate keeps MAX_VERSIONS_PER_ISOLATE).
   */
  arguments(compiled: Compiled): { source: string | null; drop: string } {
    const known = this.#versions.delete(compiled.key);
    this.#versions.add(compiled.key);
    if (this.#versions.size > MAX_VERSIONS_PER_ISOLATE) {
      const [oldest] = this.#versions;
      this.#versions.delete(oldest!);
      this.#drop.push(oldest!);
    }
    const drop = this.#drop.join(',');
    this.#drop = [];
    return { source: known ? null : compiled.source, drop };
  }

  /**
   * The isolate's CPU time since the last reading, in ms (undefined at the first reading, or once it
   * is disposed). One run at a time: read after each run, it is that run's CPU, with one call into
   * isolated-vm a run rather than one before and one after.
   */
  takeCpuMs(): number | undefined {
    let now: bigint | undefined;
    try {
      now = this.isolate.cpuTime;
    } catch {
      now = undefined;
    }
    const before = this.#cpuNs;
    this.#cpuNs = now;
    return now === undefined || before === undefined ? undefined : Number(now - before) / 1e6;
  }

  /** The isolate answered that it does not have this version (it is sent again). */
  forget(compiled: Compiled): void {
    this.#versions.delete(compiled.key);
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
  /** Isolates still booting (they join the idle list, or a waiting run, once booted). */
  readonly #booting = new Set<Slot>();
  #idle: Slot[] = [];
  #waiters: Array<(slot: Slot | null) => void> = [];
  /** When the oldest run still waiting began to wait (performance.now()); see #growIfWaiting. */
  #waitingSince: number[] = [];
  #growTimer: NodeJS.Timeout | null = null;
  #disposed = false;
  /** The most isolates alive at once so far. */
  #peak = 0;

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

  /** Starts the warm isolates now rather than on the first run. */
  async warmup(): Promise<void> {
    this.#topUp();
    await Promise.all([...this.#booting].map((slot) => slot.realm.catch(() => undefined)));
  }

  stats(): { isolates: number; peakIsolates: number; maxIsolates: number; idle: number; waiting: number } {
    return { isolates: this.#slots.size, peakIsolates: this.#peak, maxIsolates: this.#maxIsolates, idle: this.#idle.length, waiting: this.#waiters.length };
  }

  /** Disposes every isolate; runs waiting for one get none. */
  dispose(): void {
    this.#disposed = true;
    if (this.#shrinkTimer !== null) clearTimeout(this.#shrinkTimer);
    this.#shrinkTimer = null;
    for (const slot of [...this.#slots]) this.retire(slot);
    if (this.#growTimer !== null) clearTimeout(this.#growTimer);
    this.#growTimer = null;
    this.#waitingSince = [];
    for (const waiter of this.#waiters.splice(0)) waiter(null);
    this.#idle = [];
  }

  #createSlot(): Slot {
    // Without a handler, isolated-vm aborts the process on a catastrophic error (V8 lost control of
    // an isolate); with one, that isolate's thread is parked for good and the handler should plan
    // a restart.
    const handler = this.#onCatastrophicError;
    const isolate = createIsolate({ memoryLimit: this.#memoryLimitMb, ...(handler ? { onCatastrophicError: handler } : {}) });
    const slot = new Slot(isolate, bootRealm(isolate, this.#bridges));
    this.#slots.add(slot);
    this.#peak = Math.max(this.#peak, this.#slots.size);
    return slot;
  }

  /** An idle isolate at once, or null (then acquire waits for one): most runs need no promise. */
  takeIdle(): Slot | null {
    return this.#disposed ? null : (this.#idle.pop() ?? null);
  }

  /**
   * A booted isolate for one run: an idle one, else the first to be free (a run ending, or a new
   * isolate booting); null past the deadline. A burst is served by the isolates already booted (a
   * run takes well under a millisecond) while the pool grows by one isolate at a time (a boot costs
   * 40–150 ms of CPU), rather than each run waiting for, and paying, a boot of its own.
   */
  acquire(deadline: number): Promise<Slot | null> {
    if (this.#disposed) return Promise.resolve(null);
    const idle = this.takeIdle();
    if (idle !== null) return Promise.resolve(idle);
    // No isolate at all (the first run, or all retired): boot one now.
    if (this.#slots.size === 0) this.#grow();
    return new Promise((resolve) => {
      const waiter = (slot: Slot | null) => {
        clearTimeout(timer);
        resolve(slot);
      };
      const timer = setTimeout(
        () => {
          const at = this.#waiters.indexOf(waiter);
          if (at !== -1) {
            this.#waiters.splice(at, 1);
            this.#waitingSince.splice(at, 1);
          }
          resolve(null);
        },
        Math.max(0, deadline - performance.now()),
      );
      this.#waiters.push(waiter);
      this.#waitingSince.push(performance.now());
      this.#scheduleGrow();
    });
  }

  /**
   * Runs that wait GROW_AFTER_MS for an isolate mean the pool is too small (slow hooks, awaiting
   * fetches): it grows by one isolate at a time then. Runs of well under a millisecond queue
   * behind the booted isolates instead, since a boot costs 40–150 ms of CPU.
   */
  #scheduleGrow(): void {
    if (this.#growTimer !== null || this.#waiters.length === 0 || this.#disposed) return;
    const wait = Math.max(0, this.#waitingSince[0]! + GROW_AFTER_MS - performance.now());
    this.#growTimer = setTimeout(() => {
      this.#growTimer = null;
      if (this.#waiters.length === 0 || this.#disposed) return;
      if (performance.now() - this.#waitingSince[0]! >= GROW_AFTER_MS && this.#booting.size === 0 && this.#slots.size < this.#maxIsolates) this.#grow();
      else if (this.#booting.size === 0) this.#scheduleGrow();
    }, wait);
  }

  /** Back to the pool after a run: to a waiting run, to the idle list, or disposed. */
  release(slot: Slot, healthy: boolean): void {
    const reusable = healthy && !slot.retired && !slot.isolate.isDisposed && slot.runs < this.#runsPerIsolate && !this.#disposed;
    if (reusable) this.#offer(slot);
    else {
      this.retire(slot);
      if (this.#slots.size === 0 && this.#waiters.length > 0) this.#grow();
      else this.#scheduleGrow();
    }
    this.#topUp();
  }

  /** A new isolate, offered once booted; one that fails to boot is disposed. */
  #grow(): void {
    const slot = this.#createSlot();
    this.#booting.add(slot);
    slot.realm.then(
      () => {
        this.#booting.delete(slot);
        this.#offer(slot);
        this.#scheduleGrow();
      },
      () => {
        this.#booting.delete(slot);
        this.retire(slot);
        if (this.#slots.size === 0 && this.#waiters.length > 0 && !this.#disposed) this.#grow();
        else this.#scheduleGrow();
      },
    );
  }

  /** A booted isolate with nothing to do: to the first waiting run, else idle (or disposed past maxIdle). */
  #offer(slot: Slot): void {
    if (slot.retired || this.#disposed) return;
    const waiter = this.#waiters.shift();
    this.#waitingSince.shift();
    if (waiter) {
      waiter(slot);
      return;
    }
    if (this.#idle.length < this.#maxIdle) {
      slot.idleSince = performance.now();
      this.#idle.push(slot);
      this.#scheduleShrink();
    } else {
      this.retire(slot);
    }
  }

  /** Keeps enough isolates idle or booting that a run rarely waits for one. */
  #topUp(): void {
    while (!this.#disposed && this.#idle.length + this.#booting.size < this.#warmIsolates && this.#slots.size < this.#maxIsolates) this.#grow();
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
    this.#booting.delete(slot);
    this.#idle = this.#idle.filter((s) => s !== slot);
    try {
      disposeIsolate(slot.isolate);
    } catch {
      /* already gone */
    }
  }
}

/** Runs the realm script in the isolate's one context and boots the prelude with the bridges. */
async function bootRealm(isolate: ivm.Isolate, bridges: Bridges): Promise<RealmEntry> {
  const script = await isolate.compileScript(REALM_SOURCE, {
    filename: 'tessera:realm',
    ...(realmCache ? { cachedData: realmCache } : { produceCachedData: true }),
  });
  const produced = script as ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };
  if (!realmCache && produced.cachedData) realmCache = produced.cachedData;
  const context = await isolate.createContext();
  const boot = (await script.run(context, { timeout: BOOT_TIMEOUT_MS, reference: true })) as ivm.Reference<(...bridges: unknown[]) => unknown>;
  script.release();
  let entries: ivm.Reference<unknown[]> | undefined;
  try {
    entries = (await boot.apply(undefined, bridges, { timeout: BOOT_TIMEOUT_MS, result: { reference: true } })) as ivm.Reference<unknown[]>;
    const entry = (index: number) => entries!.getSync(index, { reference: true });
    return { run: entry(0), start: entry(1), take: entry(2), wait: entry(3) } as RealmEntry;
  } finally {
    boot.release();
    entries?.release();
  }
}

/** Whether an error says the isolate went over its memory limit (it is gone then). */
export function isMemoryError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /memory limit|heap space|out of memory/i.test(message);
}
