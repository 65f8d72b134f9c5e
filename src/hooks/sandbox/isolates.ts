// Every isolate this process makes, so that none outlives the process's own teardown. isolated-vm
// can abort the process when an isolate or one of its handles is collected while Node tears its
// environment down (isolated-vm issue 464: "Environment can be null"); an isolate disposed while the
// process is still whole leaves nothing for that teardown to collect.
import ivm from 'isolated-vm';

const live = new Set<ivm.Isolate>();
let hooked = false;

function disposeAll(): void {
  for (const isolate of live) {
    try {
      if (!isolate.isDisposed) isolate.dispose();
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

/** A new isolate, disposed at process exit unless `release` was called first. */
export function createIsolate(options: ivm.IsolateOptions): ivm.Isolate {
  if (!hooked) {
    process.once('exit', disposeAll);
    hooked = true;
  }
  const isolate = new ivm.Isolate(options);
  live.add(isolate);
  return isolate;
}

/** Disposes an isolate made by createIsolate (a second call does nothing). */
export function disposeIsolate(isolate: ivm.Isolate): void {
  live.delete(isolate);
  if (!isolate.isDisposed) isolate.dispose();
}
