// The noisy neighbour (issue #18.8): application X has hooks that spin, leak memory and hang on its
// login; application Y has none. X's logins arrive at a steady rate all along (open loop); Y signs in
// one user at a time through the hosted pages (identify, password, to the redirect with the code).
// Phases alternate: X quiet (its misbehaving hooks disabled, a trivial hook of its own running) and
// X noisy (them enabled, as PATCH /hooks does: same versions, so the breaker remembers them), so that
// the difference is the hooks' and not X's own traffic, and the VM's drift falls on both. Two servers,
// one after the other: fair sharing as shipped, and fair sharing turned off (limits no hook reaches).
// Target: Y's login p99 while X misbehaves within 1.5× of its p99 while X is quiet.
//
//   node --no-node-snapshot bench/noisy-neighbour.ts [rounds] [loginsPerPhase] [xLoginsPerSecond]
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Browser } from '../test/support/browser.ts';
import { BENCH_ADMIN_KEY, startBenchServer, type BenchServer } from './tessera-server.ts';

const CALLBACK = 'http://rp.bench/callback';
const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const PASSWORD = 'correct horse battery';

const MISBEHAVING = [
  { name: 'spins', event: 'after_identification', code: 'export default async function () {\n  for (;;) {}\n}' },
  { name: 'leaks', event: 'after_login', code: 'export default async function () {\n  const kept = [];\n  for (;;) kept.push(new Array(100000).fill(kept.length));\n}' },
  { name: 'hangs', event: 'after_login', code: 'export default async function () {\n  await new Promise(() => {});\n}' },
];

// Cheap password hashing (as the tests use): on a 2-core box production argon2id makes X's own logins
// the load, and the bound is about what X's hooks do to Y, not what X's traffic does.
const CHEAP_HASHING = { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' };

/** Fair sharing out of reach: what the server did before it. */
const UNLIMITED = { HOOK_MAX_CONCURRENCY: '1000', HOOK_CPU_SHARE_PERCENT: '10000', HOOK_CPU_BURST: '3600s', HOOK_BREAKER_FAILURES: '1000' };

export interface NoisyResult {
  server: string;
  quiet_p50_ms: number;
  quiet_p99_ms: number;
  noisy_p50_ms: number;
  noisy_p99_ms: number;
  /** Y's p99 with X misbehaving over Y's p99 with X quiet (target <= 1.5). */
  p99_ratio: number;
  x_logins: number;
  x_failed: number;
}

async function login(server: BenchServer, clientId: string, email: string): Promise<boolean> {
  const browser = new Browser(server.url);
  const auth = new URL(`${server.url}/auth`);
  for (const [k, v] of Object.entries({ client_id: clientId, response_type: 'code', scope: 'openid email', redirect_uri: CALLBACK })) auth.searchParams.set(k, v);
  const identify = await browser.get(auth.toString());
  const password = await browser.submit(identify, { identifier: email });
  const done = await browser.submit(password, { password: PASSWORD });
  return Boolean(done.redirectedTo?.startsWith(CALLBACK));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
}

async function measure(label: string, env: Record<string, string>, rounds: number, perPhase: number, xRate: number): Promise<NoisyResult> {
  const server = await startBenchServer(ROOT, label, { ...CHEAP_HASHING, ...env });
  try {
    const x = await server.create('/applications', { name: 'X', redirect_uris: [CALLBACK] });
    const y = await server.create('/applications', { name: 'Y', redirect_uris: [CALLBACK] });
    for (const who of ['x', 'y']) await server.create('/users', { email: `${who}@example.com`, password: PASSWORD, email_verified: true });
    await server.create('/hooks', {
      name: 'behaves',
      event: 'after_login',
      mode: 'sync',
      applications: [x.client_id],
      code: "export default async function (event, api) {\n  api.user.setMetadata('seen', true);\n}",
    });
    const misbehaving: string[] = [];
    for (const hook of MISBEHAVING) misbehaving.push((await server.create('/hooks', { ...hook, mode: 'sync', applications: [x.client_id], on_error: 'continue', enabled: false })).id!);
    const setMisbehaving = async (enabled: boolean) => {
      for (const id of misbehaving) {
        const response = await fetch(`${server.url}/admin/api/hooks/${id}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ enabled }),
        });
        if (response.status !== 200) throw new Error(`${label}: PATCH /hooks/${id}: ${response.status}`);
      }
    };

    const yLogins = async (into: number[]) => {
      for (let i = 0; i < perPhase; i += 1) {
        const started = performance.now();
        if (!(await login(server, y.client_id!, 'y@example.com'))) throw new Error(`${label}: Y's login failed`);
        into.push(performance.now() - started);
      }
    };
    for (let i = 0; i < 3; i += 1) await login(server, y.client_id!, 'y@example.com'); // warm-up

    const quiet: number[] = [];
    const noisy: number[] = [];
    let xLogins = 0;
    let xFailed = 0;
    // X's logins arrive at a steady rate (open loop: they do not wait for each other), in both phases.
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      if (inFlight.size >= 16) return;
      xLogins += 1;
      const one = login(server, x.client_id!, 'x@example.com')
        .then((ok) => {
          if (!ok) xFailed += 1;
        })
        .catch(() => {
          xFailed += 1;
        })
        .finally(() => inFlight.delete(one));
      inFlight.add(one);
    }, 1000 / xRate);
    try {
      for (let round = 0; round < rounds; round += 1) {
        await yLogins(quiet);
        await setMisbehaving(true);
        await yLogins(noisy);
        await setMisbehaving(false);
        process.stderr.write(`${label}: round ${round + 1}/${rounds}, Y quiet p99 ${percentile(quiet, 99)} ms, noisy p99 ${percentile(noisy, 99)} ms\n`);
      }
    } finally {
      clearInterval(timer);
      await Promise.all(inFlight);
    }
    const quietP99 = percentile(quiet, 99);
    const noisyP99 = percentile(noisy, 99);
    return {
      server: label,
      quiet_p50_ms: percentile(quiet, 50),
      quiet_p99_ms: quietP99,
      noisy_p50_ms: percentile(noisy, 50),
      noisy_p99_ms: noisyP99,
      p99_ratio: Math.round((noisyP99 / quietP99) * 100) / 100,
      x_logins: xLogins,
      x_failed: xFailed,
    };
  } finally {
    await server.stop();
  }
}

export async function measureNoisyNeighbour(rounds = 3, perPhase = 20, xRate = 2): Promise<NoisyResult[]> {
  return [await measure('fair sharing (as shipped)', {}, rounds, perPhase, xRate), await measure('fair sharing off', UNLIMITED, rounds, perPhase, xRate)];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await measureNoisyNeighbour(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 20), Number(process.argv[4] ?? 2)));
  console.log("   target: Y's login p99 while X's hooks misbehave <= 1.5 × its p99 while X is quiet (fair sharing as shipped)");
}
