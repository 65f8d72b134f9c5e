// Refresh-token grant throughput, side by side in one run:
//   1. bare oidc-provider (in-memory adapter, static client and account): the baseline;
//   2. bare oidc-provider on Tessera's own SQL adapter (SQLite): the baseline of "as lean as bare";
//   3. Tessera (SQLite) without hooks;
//   4. Tessera (SQLite) with a sync before_id_token claims hook;
//   5. with REFRESH_BASELINE=/path/to/another/checkout (npm ci'd): that checkout's Tessera without
//      hooks (with REFRESH_BASELINE_HOOKED=1, with the claims hook), so a change is measured against
//      the code before it in the same interleaved run.
// Each target runs as its own server process (as deployed); this process is the load generator.
// Next to throughput, each target's server CPU per grant (user + system time of its process, from
// /proc, over the load), which the VM's drifting speed moves far less than throughput.
// Each target gets the same closed-loop load: CONCURRENCY clients POSTing refresh grants for
// DURATION_MS after a warm-up; we count completed 200s and record latencies.
//
//   node --no-node-snapshot bench/refresh.ts [durationMs] [concurrency]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BARE_CLIENT } from './bare-provider-client.ts';
import { spawnServer, startBenchServer, stop } from './tessera-server.ts';
import { Browser } from '../test/support/browser.ts';
import { freePort } from '../test/support/server.ts';

export interface ThroughputResult {
  target: string;
  requests: number;
  per_second: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  /** Server CPU (user + system) per completed grant, in ms; null where /proc cannot be read. */
  cpu_ms_per_grant: number | null;
  /** The same less what the server spends idle over as long (measured while the others are loaded). */
  cpu_ms_per_grant_above_idle?: number | null;
  /** The server's CPU while idle, in ms a second. */
  idle_cpu_ms_per_s?: number;
}

const CLOCK_TICKS_PER_SECOND = 100; // Linux's USER_HZ

/** CPU time a process has used so far, in ms (Linux /proc); null elsewhere. */
function processCpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

const CALLBACK = 'http://rp.bench/callback';
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}

/** Closed-loop load: `concurrency` connections send refresh grants back to back for `durationMs`. */
export async function load(t: Target, durationMs: number, concurrency: number): Promise<ThroughputResult> {
  const { label: target, tokenUrl, clientId, secret, refreshToken } = t;
  const auth = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
  const once = async () => {
    const response = await fetch(tokenUrl, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body });
    const json = (await response.json()) as { id_token?: string };
    return response.status === 200 && Boolean(json.id_token);
  };
  // Warm-up: JIT, connection pool, caches. The first request may go down a pooled socket the server
  // closed while this process was blocked running wrk for another target ("other side closed"):
  // a fresh connection is tried once then.
  const warm = () => once().catch(async (error: unknown) => ((error as { cause?: { code?: string } }).cause?.code === 'UND_ERR_SOCKET' ? once() : Promise.reject(error)));
  for (let i = 0; i < 20; i += 1) if (!(await warm())) throw new Error(`${target}: refresh grant failed during warm-up`);
  const cpuBefore = processCpuMs(t.pid);
  const result = LOAD_GENERATOR === 'wrk' ? wrkLoad(target, tokenUrl, auth, body, durationMs, concurrency) : await fetchLoad(target, once, durationMs, concurrency);
  const cpuAfter = processCpuMs(t.pid);
  const cpu = cpuBefore !== null && cpuAfter !== null && result.requests > 0 ? Math.round(((cpuAfter - cpuBefore) / result.requests) * 1000) / 1000 : null;
  return { ...result, cpu_ms_per_grant: cpu };
}

async function fetchLoad(target: string, once: () => Promise<boolean>, durationMs: number, concurrency: number): Promise<Omit<ThroughputResult, 'cpu_ms_per_grant'>> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        if (await once()) latencies.push(performance.now() - t);
        else errors += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { target, requests: latencies.length, per_second: Math.round(latencies.length / elapsed), p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99), errors };
}

/**
 * The load generator: wrk (C, from Debian's packages) when installed, so the 2-core box spends its
 * CPU on the server rather than on the client; Node's fetch otherwise. BENCH_LOADGEN=node forces fetch.
 */
const LOAD_GENERATOR: 'wrk' | 'node' = process.env.BENCH_LOADGEN !== 'node' && spawnSync('wrk', ['--version']).error === undefined ? 'wrk' : 'node';

function wrkLoad(target: string, url: string, auth: string, body: string, durationMs: number, concurrency: number): Omit<ThroughputResult, 'cpu_ms_per_grant'> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-wrk-'));
  const script = join(dir, 'refresh.lua');
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = "${body}"`,
      'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
      `wrk.headers["Authorization"] = "${auth}"`,
      'done = function(summary, latency, requests)',
      '  local e = summary.errors',
      '  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests, e.status + e.connect + e.read + e.write + e.timeout, summary.duration, latency:percentile(50), latency:percentile(99)))',
      'end',
    ].join('\n'),
  );
  try {
    const run = spawnSync('wrk', ['-t1', `-c${concurrency}`, `-d${Math.round(durationMs / 1000)}s`, '-s', script, url], { encoding: 'utf8' });
    const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`wrk gave no result: ${run.stdout} ${run.stderr}`);
    const [requests, errors, durationUs, p50Us, p99Us] = line.split(' ').slice(1).map(Number) as [number, number, number, number, number];
    const ok = requests - errors;
    return { target, requests: ok, per_second: Math.round(ok / (durationUs / 1e6)), p50_ms: Math.round(p50Us / 10) / 100, p99_ms: Math.round(p99Us / 10) / 100, errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Drives the hosted pages (Tessera) or the dev interactions (bare provider) to a code. */
async function codeThroughPages(
  issuer: string,
  clientId: string,
  fill: (browser: Browser, page: Awaited<ReturnType<Browser['get']>>) => Promise<Awaited<ReturnType<Browser['get']>>>,
): Promise<string> {
  const browser = new Browser(issuer);
  const auth = new URL(`${issuer}/auth`);
  for (const [k, v] of Object.entries({ client_id: clientId, response_type: 'code', scope: 'openid email offline_access', prompt: 'consent', redirect_uri: CALLBACK })) auth.searchParams.set(k, v);
  let page = await browser.get(auth.toString());
  page = await fill(browser, page);
  if (!page.redirectedTo?.startsWith(CALLBACK)) throw new Error(`login did not reach the callback: ${page.status} ${page.html.slice(0, 300)}`);
  const code = new URL(page.redirectedTo).searchParams.get('code');
  if (!code) throw new Error(`no code: ${page.redirectedTo}`);
  return code;
}

async function exchange(issuer: string, clientId: string, secret: string, code: string): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK }).toString(),
  });
  const json = (await response.json()) as { refresh_token?: string };
  if (!json.refresh_token) throw new Error(`no refresh token: ${JSON.stringify(json)}`);
  return json.refresh_token;
}

/** A target ready to be loaded: a running server and a refresh token for its client. */
export interface Target {
  label: string;
  pid: number | undefined;
  tokenUrl: string;
  clientId: string;
  secret: string;
  refreshToken: string;
  stop(): Promise<void>;
}

/** Bare oidc-provider with its in-memory adapter, or (`sql`) with Tessera's SQL adapter on SQLite. */
export async function bareProvider(sql = false, hop?: 'threadpool' | 'isolate'): Promise<Target> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const dir = sql ? mkdtempSync(join(tmpdir(), 'tessera-bare-')) : null;
  const env: Record<string, string> = { PORT: String(port), CALLBACK, ...(dir ? { DATABASE_URL: `sqlite:${join(dir, 'bare.db')}` } : {}), ...(hop ? { BARE_HOP: hop } : {}) };
  const child = await spawnServer([join(BENCH_DIR, 'bare-provider.ts')], env, `${issuer}/.well-known/openid-configuration`);
  const code = await codeThroughPages(issuer, BARE_CLIENT.client_id, async (browser, page) => {
    let current = await browser.submit(page, { login: 'ada', password: 'x' });
    while (!current.redirectedTo && current.doc.querySelector('form')) current = await browser.submit(current);
    return current;
  });
  const refreshToken = await exchange(issuer, BARE_CLIENT.client_id, BARE_CLIENT.client_secret, code);
  return {
    label: `${sql ? "bare oidc-provider (Tessera's SQL adapter, SQLite)" : 'bare oidc-provider (memory)'}${hop ? `, one ${hop} round trip a grant` : ''}`,
    pid: child.pid,
    tokenUrl: `${issuer}/token`,
    clientId: BARE_CLIENT.client_id,
    secret: BARE_CLIENT.client_secret,
    refreshToken,
    async stop() {
      await stop(child);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Tessera server from `root` (this checkout by default), with or without the claims hook. */
export async function tessera(withHook: boolean, root = join(BENCH_DIR, '..'), label?: string): Promise<Target> {
  const server = await startBenchServer(root, label ?? 'Tessera');
  const { url, child } = server;
  const admin = server.create;
  const app = await admin('/applications', { name: 'Bench', redirect_uris: [CALLBACK] });
  await admin('/users', { email: 'ada@example.com', password: 'correct horse battery', email_verified: true });
  if (withHook) {
    await admin('/hooks', {
      name: 'tier claim',
      event: 'before_id_token',
      mode: 'sync',
      code: "export default async function (event, api) {\n  api.idToken.setClaim('tier', event.user.email.endsWith('@example.com') ? 'gold' : 'basic');\n}",
    });
  }
  const code = await codeThroughPages(url, app.client_id!, async (browser, page) => {
    const password = await browser.submit(page, { identifier: 'ada@example.com' });
    return browser.submit(password, { password: 'correct horse battery' });
  });
  const refreshToken = await exchange(url, app.client_id!, app.client_secret!, code);
  return {
    label: label ?? (withHook ? 'Tessera, SQLite, before_id_token claims hook' : 'Tessera, SQLite, no hooks'),
    pid: child.pid,
    tokenUrl: `${url}/token`,
    clientId: app.client_id!,
    secret: app.client_secret!,
    refreshToken,
    stop: server.stop,
  };
}

export const loadGenerator = (): string => LOAD_GENERATOR;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * All targets run at once (idle between their turns); the load visits them in rotating order for
 * `rounds` rounds of `durationMs / rounds` each, so a drift in the machine's speed (a shared VM)
 * falls on every target alike. Per target: the median of its rounds.
 */
export interface RefreshRatios {
  /** With the claims hook over without hooks, by grants/s (median of the rounds' ratios). */
  hookRatio: number;
  /** The same by CPU per grant: without hooks' CPU over with the hook's. */
  hookCpuRatio: number;
  /** Tessera without hooks over bare oidc-provider on Tessera's SQL adapter, by grants/s. */
  bareRatio: number;
  /** The same by CPU per grant: bare's CPU over Tessera's (≥ 0.9: Tessera costs at most 1/0.9 of bare). */
  bareCpuRatio: number;
  /** The same by CPU per grant above each server's idle CPU. */
  bareCpuAboveIdleRatio: number;
  /** REFRESH_HOP=1: bare on the SQL adapter with one round trip off its main thread a grant, over without: [by grants/s, by CPU per grant]. */
  hopRatios?: { threadpool: [number, number]; isolate: [number, number] };
}

export async function measureRefreshThroughput(durationMs = 10_000, concurrency = 8, rounds = 5): Promise<{ results: ThroughputResult[] } & RefreshRatios> {
  const targets: Target[] = [];
  try {
    targets.push(await bareProvider(), await bareProvider(true), await tessera(false), await tessera(true));
    const baseline = process.env.REFRESH_BASELINE;
    // REFRESH_BASELINE_HOOKED=1: the baseline runs the claims hook, to measure a change of the hook path.
    const hooked = process.env.REFRESH_BASELINE_HOOKED === '1';
    if (baseline) targets.push(await tessera(hooked, baseline, `baseline checkout (${baseline}), ${hooked ? 'claims hook' : 'no hooks'}`));
    // REFRESH_HOP=1: bare oidc-provider on the SQL adapter leaving its main thread once a grant (a
    // no-op on libuv's pool; a trivial isolated-vm call): the floor of any hook run off that thread.
    const hops = process.env.REFRESH_HOP === '1';
    if (hops) targets.push(await bareProvider(true, 'threadpool'), await bareProvider(true, 'isolate'));
    const runs: ThroughputResult[][] = targets.map(() => []);
    const slice = Math.max(2000, Math.round(durationMs / rounds));
    // Each server's CPU while the others are loaded: its idle rate (Tessera's background loops: the
    // webhook dispatcher's and the hook worker's polls). On a box so busy that grants are few, that
    // fixed cost weighs on CPU per grant; `cpu_ms_per_grant_above_idle` takes it out.
    const idle = targets.map(() => ({ cpuMs: 0, ms: 0 }));
    for (let round = 0; round < rounds; round += 1) {
      for (let k = 0; k < targets.length; k += 1) {
        const i = (round + k) % targets.length;
        const t = targets[i]!;
        const before = targets.map((other) => processCpuMs(other.pid));
        const started = performance.now();
        const result = await load(t, slice, concurrency);
        const elapsed = performance.now() - started;
        targets.forEach((other, j) => {
          const after = processCpuMs(other.pid);
          if (j === i || after === null || before[j] === null) return;
          idle[j]!.cpuMs += after - before[j]!;
          idle[j]!.ms += elapsed;
        });
        runs[i]!.push(result);
      }
    }
    const idleRate = idle.map((d) => (d.ms > 0 ? d.cpuMs / d.ms : 0));
    const aboveIdle = (r: ThroughputResult, i: number) => (r.cpu_ms_per_grant === null || r.requests === 0 ? null : r.cpu_ms_per_grant - (idleRate[i]! * slice) / r.requests);
    runs.forEach((rs, i) => {
      for (const r of rs) r.cpu_ms_per_grant_above_idle = aboveIdle(r, i);
    });
    const results = runs.map((rs, i) => ({
      target: targets[i]!.label,
      requests: rs.reduce((sum, r) => sum + r.requests, 0),
      per_second: Math.round(median(rs.map((r) => r.per_second))),
      p50_ms: Math.round(median(rs.map((r) => r.p50_ms)) * 100) / 100,
      p99_ms: Math.round(median(rs.map((r) => r.p99_ms)) * 100) / 100,
      errors: rs.reduce((sum, r) => sum + r.errors, 0),
      cpu_ms_per_grant: rs.some((r) => r.cpu_ms_per_grant === null) ? null : Math.round(median(rs.map((r) => r.cpu_ms_per_grant!)) * 1000) / 1000,
      cpu_ms_per_grant_above_idle: rs.some((r) => r.cpu_ms_per_grant_above_idle == null) ? null : Math.round(median(rs.map((r) => r.cpu_ms_per_grant_above_idle!)) * 1000) / 1000,
      idle_cpu_ms_per_s: Math.round(idleRate[i]! * 1000 * 10) / 10,
    }));
    // The ratio per round (the targets ran one after the other in it), then its median.
    const ratio = (a: number, b: number, measure: (r: ThroughputResult) => number | null) => median(runs[a]!.map((r, round) => (measure(r) ?? Number.NaN) / (measure(runs[b]![round]!) ?? Number.NaN)));
    const perSecond = (r: ThroughputResult) => r.per_second;
    const cpu = (r: ThroughputResult) => r.cpu_ms_per_grant;
    const cpuAboveIdle = (r: ThroughputResult) => r.cpu_ms_per_grant_above_idle ?? null;
    const hopAt = targets.length - 2;
    return {
      results,
      ...(hops ? { hopRatios: { threadpool: [ratio(hopAt, 1, perSecond), ratio(1, hopAt, cpu)], isolate: [ratio(hopAt + 1, 1, perSecond), ratio(1, hopAt + 1, cpu)] } } : {}),
      hookRatio: ratio(3, 2, perSecond),
      hookCpuRatio: ratio(2, 3, cpu),
      bareRatio: ratio(2, 1, perSecond),
      bareCpuRatio: ratio(1, 2, cpu),
      bareCpuAboveIdleRatio: ratio(1, 2, cpuAboveIdle),
    };
  } finally {
    for (const t of targets) await t.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const measured = await measureRefreshThroughput(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 8), Number(process.argv[4] ?? 5));
  console.table(measured.results);
  printRatios(measured);
}

/** The two acceptance ratios of issue #12, by throughput and by CPU per grant. */
export function printRatios(r: RefreshRatios): void {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  console.log(`   with the claims hook: ${pct(r.hookRatio)} of the grants/s without hooks, ${pct(r.hookCpuRatio)} by CPU per grant (medians of the rounds; target >= 85%)`);
  console.log(
    `   Tessera without hooks: ${pct(r.bareRatio)} of bare oidc-provider on Tessera's SQL adapter by grants/s, ${pct(r.bareCpuRatio)} by CPU per grant, ${pct(r.bareCpuAboveIdleRatio)} by CPU per grant above idle (target >= 90%)`,
  );
  for (const [hop, [perSecond, cpu]] of Object.entries(r.hopRatios ?? {})) {
    console.log(`   bare oidc-provider (SQL adapter) with one ${hop} round trip a grant: ${pct(perSecond)} of its grants/s without, ${pct(cpu)} by CPU per grant`);
  }
}
