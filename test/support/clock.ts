// The wall clock of this test process, moved forward by the test instead of waited for. The test
// servers run in this process (startServer), so an expiry, a throttle window or a rotation window
// ends for them too. `Date` keeps running at real speed, only ahead by what the tests moved: it
// never stands still and never goes back, so the server's own loops (the webhook dispatcher's
// round gap, leases, timeouts) see an ordinary clock that jumped. (node:test's mock.timers Date
// stands still between ticks and goes back on reset, which stalls those loops.)
// Timers (setTimeout, performance.now) are not moved: only what reads Date.
const RealDate = Date;
let offset = 0;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const now = () => RealDate.now() + offset;
  globalThis.Date = new Proxy(RealDate, {
    // `new Date()` is now; `new Date(x)` is x, as before.
    construct: (target, args, newTarget) => Reflect.construct(target, args.length ? args : [now()], newTarget),
    // `Date()` without `new` answers the current time as a string.
    apply: () => new RealDate(now()).toString(),
    get: (target, key, receiver) => (key === 'now' ? now : Reflect.get(target, key, receiver)),
  });
}

/** Moves this process's clock forward by `ms`. */
export function advanceClock(ms: number): void {
  if (!(ms >= 0)) throw new Error(`the clock only moves forward, not by ${ms} ms`);
  install();
  offset += ms;
}

/** Moves this process's clock forward to `epochMs` (nothing when it is already past it). */
export function advanceClockTo(epochMs: number): void {
  const ahead = epochMs - Date.now();
  if (ahead > 0) advanceClock(ahead);
}
