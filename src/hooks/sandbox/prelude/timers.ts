// setTimeout and clearTimeout for the isolate: each timer waits on the host (the async bridge's
// 'sleep', never past the run's deadline) and fires only while its run lasts; when the run ends,
// its timers are dropped (cancelAll), so nothing of one run fires during the next.
import { ReflectApply, TypeErrorCtor } from './intrinsics.ts';

export function makeTimers(callAsync: (op: string, args: unknown[]) => Promise<unknown>, runId: () => number) {
  const MAX_PENDING = 100;
  const pending = new Map<number, number>(); // timer id → its run's id
  let nextId = 1;

  function setTimeout(callback: unknown, delay?: unknown, ...args: unknown[]): number {
    if (typeof callback !== 'function') throw new TypeErrorCtor('setTimeout: the callback must be a function (code strings are not run)');
    const run = runId();
    let count = 0;
    for (const owner of pending.values()) if (owner === run) count++;
    if (count >= MAX_PENDING) throw new TypeErrorCtor('setTimeout: at most ' + MAX_PENDING + ' pending timers per run');
    const ms = Math.max(0, Math.min(10000, Number(delay) || 0));
    const id = nextId++;
    pending.set(id, run);
    callAsync('sleep', [ms]).then(
      (fired) => {
        if (fired !== true || pending.get(id) !== run) return;
        pending.delete(id);
        ReflectApply(callback, undefined, args);
      },
      () => {
        pending.delete(id);
      },
    );
    return id;
  }

  function clearTimeout(id: unknown): void {
    pending.delete(Number(id));
  }

  function cancelAll(run: number): void {
    for (const [id, owner] of pending) if (owner === run) pending.delete(id);
  }

  return { setTimeout, clearTimeout, cancelAll };
}
