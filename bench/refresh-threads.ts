// Diagnosis of the refresh-grant bench (docs/BENCHMARKS.md §2, "what the bottleneck is"): loads one
// Tessera server (SQLite) with wrk and prints where its CPU went, per thread kind, and the whole
// box's load. Linux only (reads /proc), needs wrk. Not part of `npm run bench`.
//
//   node --no-node-snapshot bench/refresh-threads.ts [hook|nohook] [--connections N] [--seconds S]
//        [--isolate-policy idle|batch|nice]
//
// --isolate-policy re-runs the scheduling experiments: it moves the isolate threads of the server
// (isolated-vm's pool: threads named like the main thread) to SCHED_IDLE (`chrt -i`), SCHED_BATCH
// (`chrt -b`) or nice 19 (`renice`) once warm. Experiments only: the server itself never does this.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tessera } from './refresh.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { connections: { type: 'string', default: '8' }, seconds: { type: 'string', default: '5' }, 'isolate-policy': { type: 'string' } },
});
const withHook = positionals[0] !== 'nohook';
const policy = values['isolate-policy'];
if (policy !== undefined && !['idle', 'batch', 'nice'].includes(policy)) throw new Error('--isolate-policy must be idle, batch or nice');

/** CPU ticks per thread, keyed "kind#tid" (kind: main, isolate, libuv, v8 or the thread's name). */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const kind = Number(tid) === pid ? 'main' : name === 'MainThread' ? 'isolate' : name.startsWith('libuv') ? 'libuv' : name.startsWith('V8') ? 'v8' : name;
    ticks.set(`${kind}#${tid}`, Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

function boxTicks(): { total: number; idle: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3]! + fields[4]! };
}

/** Pids of the Tessera server processes running now (the bench starts them as `node --no-node-snapshot … src/main.ts`). */
function serverPids(): Set<string> {
  const found = spawnSync('pgrep', ['-f', '[n]o-node-snapshot.*src/main.ts'], { encoding: 'utf8' });
  return new Set(found.stdout.trim().split('\n').filter(Boolean));
}

const running = serverPids();
const target = await tessera(withHook);
const dir = mkdtempSync(join(tmpdir(), 'tessera-threads-'));
try {
  const started = [...serverPids()].find((p) => !running.has(p));
  if (!started) throw new Error('the server process was not found');
  const pid = Number(started);
  const auth = `Basic ${Buffer.from(`${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.secret)}`).toString('base64')}`;
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: target.refreshToken }).toString();
  const script = join(dir, 'refresh.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = "${body}"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "${auth}"\n`);
  const wrk = (seconds: number) => spawnSync('wrk', ['-t1', `-c${values.connections}`, `-d${seconds}s`, '-s', script, target.tokenUrl], { encoding: 'utf8' });

  wrk(2); // warm-up: JIT, isolates, caches
  if (policy) {
    for (const key of threadTicks(pid).keys()) {
      if (!key.startsWith('isolate#')) continue;
      const tid = key.split('#')[1]!;
      if (policy === 'idle') spawnSync('chrt', ['-i', '-p', '0', tid]);
      else if (policy === 'batch') spawnSync('chrt', ['-b', '-p', '0', tid]);
      else spawnSync('renice', ['-n', '19', '-p', tid]);
    }
  }
  const seconds = Number(values.seconds);
  const threadsBefore = threadTicks(pid);
  const boxBefore = boxTicks();
  const run = wrk(seconds);
  const threadsAfter = threadTicks(pid);
  const boxAfter = boxTicks();

  const perSecond = /Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1];
  const byKind = new Map<string, number>();
  for (const [key, ticks] of threadsAfter) {
    const kind = key.split('#')[0]!;
    byKind.set(kind, (byKind.get(kind) ?? 0) + (ticks - (threadsBefore.get(key) ?? 0)));
  }
  const busy = 1 - (boxAfter.idle - boxBefore.idle) / (boxAfter.total - boxBefore.total);
  console.log(`${withHook ? 'claims hook' : 'no hooks'}${policy ? `, isolate threads ${policy}` : ''}: ${perSecond ?? '?'} grants/s with ${values.connections} connections`);
  // Ticks are 1/100 s: ticks / seconds is the percentage of one core.
  for (const [kind, ticks] of [...byKind].sort((a, b) => b[1] - a[1])) if (ticks > 0) console.log(`  ${kind.padEnd(10)} ${Math.round(ticks / seconds)} % of a core`);
  console.log(`  whole box  ${Math.round(busy * 200)} % of 200 %`);
} finally {
  await target.stop();
  rmSync(dir, { recursive: true, force: true });
}
