import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Browser } from '../test/support/browser.ts';
import { startBenchServer } from './tessera-server.ts';

const CALLBACK = 'http://rp.bench/callback';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USERS = 60;
/** A pause after each request, so that one answer's after-work does not sit in the next one's time. */
const GAP_MS = 30;

type Step = 'identify' | 'forgot-password';
type Side = 'known' | 'unknown';

export interface TimingRow {
  target: string;
  step: Step;
  side: Side;
  n: number;
  median_ms: number;
  p90_ms: number;
}

export interface TimingVerdict {
  target: string;
  step: Step;
  median_diff_ms: number;
  ci95_ms: string;
  noise_ms: number;
  auc: number;
}

/** The loopback services the hooks await: each path answers after its delay. */
async function startDelayPeer(): Promise<{ server: Server; host: string }> {
  const delays: Record<string, number> = { '/crm': 25, '/legacy': 5, '/reset-policy': 20 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const delay = delays[new URL(req.url ?? '/', 'http://peer').pathname] ?? 0;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const hookAwaiting = (host: string, path: string) =>
  `export default async function (event, api) {\n  await (await fetch('http://${host}${path}', { method: 'POST', body: JSON.stringify({ id: event.user?.id ?? null }) })).text();\n}`;

/** One journey page of a target: its form's action and fields, and the browser's cookies. */
interface FormTarget {
  action: string;
  fields: Record<string, string>;
  cookie: string;
}

interface Target {
  label: string;
  forms: Record<Step, FormTarget>;
  stop(): Promise<void>;
}

async function startTarget(label: string, root: string, peerHost: string): Promise<Target> {
  const server = await startBenchServer(root, label, { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' });
  const { url } = server;
  const admin = server.create;
  const app = await admin('/applications', { name: 'Timing', redirect_uris: [CALLBACK] });
  for (let i = 0; i < USERS; i++) await admin('/users', { email: `user${i}@example.com`, username: `user${i}`, password: 'correct horse battery', email_verified: true });
  for (const [event, path] of [
    ['after_identification', '/crm'],
    ['at_failed_identification', '/legacy'],
    ['before_password_reset', '/reset-policy'],
  ] as const) {
    await admin('/hooks', { name: `${event} awaits ${path}`, event, mode: 'sync', code: hookAwaiting(peerHost, path), allowed_hosts: [peerHost] });
  }
  // One interaction, whose identify and forgot-password forms are posted again and again.
  const browser = new Browser(url);
  const auth = new URL(`${url}/auth`);
  for (const [k, v] of Object.entries({ client_id: app.client_id!, response_type: 'code', scope: 'openid email', redirect_uri: CALLBACK })) auth.searchParams.set(k, v);
  const identify = await browser.get(auth.toString());
  const forgotHref = identify.doc.querySelector('a[href$="/forgot-password"]')?.getAttribute('href');
  if (!forgotHref) throw new Error(`${label}: no forgot-password link on ${identify.url}`);
  const forgot = await browser.get(forgotHref);
  const formOf = async (page: typeof identify): Promise<FormTarget> => {
    const form = browser.form(page);
    return { action: form.action, fields: form.fields, cookie: await browser.jar.getCookieString(form.action) };
  };
  return {
    label,
    forms: { identify: await formOf(identify), 'forgot-password': await formOf(forgot) },
    async stop() {
      await server.stop();
    },
  };
}

/** One POST of a form, timed to the end of its answer (the redirect is not followed). */
async function timedPost(form: FormTarget, identifier: string): Promise<number> {
  const body = new URLSearchParams({ ...form.fields, identifier }).toString();
  const started = performance.now();
  const response = await fetch(form.action, {
    method: 'POST',
    redirect: 'manual',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie, accept: 'text/html' },
  });
  await response.arrayBuffer();
  const elapsed = performance.now() - started;
  if (response.status !== 303) throw new Error(`${form.action} answered ${response.status} for ${identifier}`);
  return elapsed;
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
function quantile(values: number[], q: number): number {
  const s = sorted(values);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
const median = (values: number[]) => {
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** P(a random known answer is slower than a random unknown one), ties counted half (Mann–Whitney). */
function auc(known: number[], unknown: number[]): number {
  const all = [...known.map((v) => ({ v, k: true })), ...unknown.map((v) => ({ v, k: false }))].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const rank = (i + j + 1) / 2; // average rank of the tie group (1-based)
    for (let t = i; t < j; t++) if (all[t]!.k) rankSum += rank;
    i = j;
  }
  const u = rankSum - (known.length * (known.length + 1)) / 2;
  return u / (known.length * unknown.length);
}

/** A 95 % bootstrap interval of median(known) − median(unknown). */
function bootstrapCi(known: number[], unknown: number[], resamples = 2000): [number, number] {
  const pick = (values: number[]) => Array.from({ length: values.length }, () => values[Math.floor(Math.random() * values.length)]!);
  const diffs = Array.from({ length: resamples }, () => median(pick(known)) - median(pick(unknown)));
  return [quantile(diffs, 0.025), quantile(diffs, 0.975)];
}

/** What chance alone gives: the difference of medians between the even and the odd samples of one side. */
function halvesNoise(values: number[]): number {
  return Math.abs(median(values.filter((_, i) => i % 2 === 0)) - median(values.filter((_, i) => i % 2 === 1)));
}

export async function measureTiming(samples = 250, baselineRoot = process.env.TIMING_BASELINE): Promise<{ rows: TimingRow[]; verdicts: TimingVerdict[] }> {
  const peer = await startDelayPeer();
  const targets: Target[] = [];
  try {
    targets.push(await startTarget('this checkout', ROOT, peer.host));
    if (baselineRoot) targets.push(await startTarget(`baseline (${baselineRoot})`, baselineRoot, peer.host));
    const kinds = targets.flatMap((target) => (['identify', 'forgot-password'] as const).flatMap((step) => (['known', 'unknown'] as const).map((side) => ({ target, step, side }))));
    const times = new Map(kinds.map((k) => [k, [] as number[]]));
    // Both sides draw from a pool of the same size, in both forms (username, email): each identifier
    // comes back as often on either side (the mail throttle's counter exists for both alike).
    const identifierFor = (side: Side, i: number) => {
      const name = `${side === 'known' ? 'user' : 'nobody'}${i % USERS}`;
      return Math.floor(i / USERS) % 2 ? name : `${name}@example.com`;
    };
    const warmup = 30;
    for (let i = 0; i < warmup + samples; i++) {
      for (const kind of shuffle(kinds)) {
        const elapsed = await timedPost(kind.target.forms[kind.step], identifierFor(kind.side, i));
        if (i >= warmup) times.get(kind)!.push(elapsed);
        await sleep(GAP_MS);
      }
    }
    const rows: TimingRow[] = kinds.map((k) => {
      const values = times.get(k)!;
      return { target: k.target.label, step: k.step, side: k.side, n: values.length, median_ms: round(median(values)), p90_ms: round(quantile(values, 0.9)) };
    });
    const verdicts: TimingVerdict[] = targets.flatMap((target) =>
      (['identify', 'forgot-password'] as const).map((step) => {
        const known = times.get(kinds.find((k) => k.target === target && k.step === step && k.side === 'known')!)!;
        const unknown = times.get(kinds.find((k) => k.target === target && k.step === step && k.side === 'unknown')!)!;
        const [low, high] = bootstrapCi(known, unknown);
        return {
          target: target.label,
          step,
          median_diff_ms: round(median(known) - median(unknown)),
          ci95_ms: `${round(low)} … ${round(high)}`,
          noise_ms: round(Math.max(halvesNoise(known), halvesNoise(unknown))),
          auc: round(auc(known, unknown), 3),
        };
      }),
    );
    return { rows, verdicts };
  } finally {
    for (const t of targets) await t.stop();
    peer.server.close();
    peer.server.closeAllConnections();
  }
}

export function printTiming(result: { rows: TimingRow[]; verdicts: TimingVerdict[] }): void {
  console.table(result.rows);
  console.table(result.verdicts);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printTiming(await measureTiming(Number(process.argv[2] ?? 250)));
}
