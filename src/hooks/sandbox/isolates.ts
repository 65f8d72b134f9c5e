// Every isolate this process makes, disposed at exit at the latest; and an exit that skips V8's last
// garbage collection. When a process ends by itself (its event loop empty), Node tears the main
// isolate down, and that last collection runs the weak callbacks of isolated-vm's handles
// (References, Callbacks, scripts, contexts) with no isolate environment current: isolated-vm
// asserts and aborts the process (issue 464, "Environment can be null"; seen here as
// ClassHandle::WeakCallback under Heap::StartTearDown in a core dump). process.exit() ends the
// process without that teardown, so once the loop is empty the last 'exit' listener calls it.
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
    hooked = true;
    // Registered when the loop first runs empty, so that every other 'exit' listener runs before it.
    process.once('beforeExit', () =>
      process.once('exit', (code) => {
        disposeAll();
        process.exit(code);
      }),
    );
    process.once('exit', disposeAll);
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
