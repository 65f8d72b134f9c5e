// Webhook delivery throughput and latency on SQLite, to a fast local receiver.
//
// A real server (startServer, a SQLite file, the default dispatcher settings: concurrency 50) delivers
// to a receiver that runs in a worker thread (its own event loop) and answers 200 at once. Latency is
// measured per event from the moment its change is made (just before its write) to the moment the
// receiver has the request: the change→delivery time a subscriber sees. Scenarios:
// - 10 changes per transaction at `rate` events/s: each change a user row written with its outbox
//   event; ten commit together (a bulk import, or sign-ins landing at the same moment). The first
//   change of a group waits for the tenth (up to 10 ms at 1000/s): that wait is in its latency.
// - 1 change per transaction (at rate/2 unless given): the same change alone in its transaction. On SQLite every
//   statement goes through the one connection (with the old sqlite3 driver this box ran only about
//   1000 such transactions a second, so the producer, not delivery, was the bound; see BENCHMARKS §3).
// - UserService.update at rate/4: the admin API's whole update path (read, validate, write, re-read,
//   event).
// - backlog: events already pending when a dispatcher starts; how fast it drains them.
//
//   node --no-node-snapshot bench/webhooks.ts [rate=1000] [seconds=5] [backlog=10000] [single-change rate=rate/2]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { WebhookDispatcher } from '../src/webhooks/dispatcher.ts';
import { recordEvent } from '../src/webhooks/outbox.ts';

export interface WebhookBenchRow {
  scenario: string;
  events: number;
  delivered: number;
  duplicates: number;
  events_per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

const now = () => performance.timeOrigin + performance.now();

// The receiver: counts each event id, and keeps (arrival - t0) for the user.update events whose
// metadata carries t0 (the time just before the change).
const RECEIVER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const seen = new Map();
const latencies = [];
let first = 0, last = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    res.writeHead(200, { 'content-length': 0 });
    res.end();
    const body = JSON.parse(Buffer.concat(chunks).toString());
    const count = (seen.get(body.id) ?? 0) + 1;
    seen.set(body.id, count);
    if (count === 1) {
      if (!first) first = at;
      last = at;
      const t0 = body.data.t0 ?? body.data.user?.metadata?.t0;
      if (typeof t0 === 'number') latencies.push(at - t0);
    }
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'stats') {
    let duplicates = 0;
    for (const c of seen.values()) duplicates += c - 1;
    parentPort.postMessage({ unique: seen.size, duplicates, first, last, latencies });
  }
  if (m === 'reset') { seen.clear(); latencies.length = 0; first = 0; last = 0; }
  if (m === 'close') server.close(() => process.exit(0));
});
`;

interface Stats {
  unique: number;
  duplicates: number;
  first: number;
  last: number;
  latencies: number[];
}

class Receiver {
  readonly #worker: Worker;
  port = 0;
  constructor() {
    this.#worker = new Worker(RECEIVER, { eval: true });
  }
  async ready(): Promise<void> {
    this.port = await new Promise<number>((resolve) => this.#worker.once('message', (m: { port: number }) => resolve(m.port)));
  }
  stats(): Promise<Stats> {
    return new Promise((resolve) => {
      this.#worker.once('message', (m: Stats) => resolve(m));
      this.#worker.postMessage('stats');
    });
  }
  reset(): void {
    this.#worker.postMessage('reset');
  }
  async close(): Promise<void> {
    this.#worker.postMessage('close');
    await new Promise((resolve) => this.#worker.once('exit', resolve));
  }
  async waitFor(count: number, timeoutMs: number): Promise<Stats> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = await this.stats();
      if (stats.unique >= count || Date.now() > deadline) return stats;
      await sleep(20);
    }
  }
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 10) / 10;
}

function row(scenario: string, events: number, stats: Stats, startedAt: number): WebhookBenchRow {
  const sorted = [...stats.latencies].sort((a, b) => a - b);
  const seconds = (stats.last - startedAt) / 1000;
  return {
    scenario,
    events,
    delivered: stats.unique,
    duplicates: stats.duplicates,
    events_per_s: Math.round(stats.unique / seconds),
    p50_ms: percentile(sorted, 0.5),
    p99_ms: percentile(sorted, 0.99),
    max_ms: sorted.length ? Math.round(sorted[sorted.length - 1]! * 10) / 10 : null,
  };
}

type Change = (i: number, t0: number) => Promise<unknown>;

async function paced(receiver: Receiver, label: string, rate: number, seconds: number, change: Change): Promise<WebhookBenchRow> {
  receiver.reset();
  const total = rate * seconds;
  const tickMs = 5;
  const perTick = (rate * tickMs) / 1000;
  const writes: Promise<unknown>[] = [];
  const startedAt = now();
  const elu0 = performance.eventLoopUtilization();
  let sent = 0;
  let next = performance.now();
  let owed = 0;
  while (sent < total) {
    owed += perTick;
    while (owed >= 1 && sent < total) {
      owed -= 1;
      const i = sent++;
      writes.push(change(i, now()));
    }
    next += tickMs;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(writes);
  const producedIn = now() - startedAt;
  const stats = await receiver.waitFor(total, 60_000);
  if (process.env.BENCH_DEBUG) console.log(label, 'produced in', Math.round(producedIn), 'ms; main-thread utilization', performance.eventLoopUtilization(elu0).utilization.toFixed(2));
  return row(`${label}, paced ${rate}/s for ${seconds} s`, total, stats, startedAt);
}

async function backlog(server: RunningServer, receiver: Receiver, count: number): Promise<WebhookBenchRow> {
  receiver.reset();
  const { services } = server;
  // Stop the server's dispatcher, queue `count` events, then start a fresh one and time the drain.
  await services.webhookDispatcher!.stop();
  for (let i = 0; i < count; i += 500) {
    await services.db.transaction(async (trx) => {
      for (let j = i; j < Math.min(count, i + 500); j++) await recordEvent(trx, 'user.update', { seq: j });
    });
  }
  const dispatcher = new WebhookDispatcher({ db: services.db, store: services.webhooks, log: services.log, settings: services.config.webhooks });
  const startedAt = now();
  await dispatcher.start();
  const stats = await receiver.waitFor(count, 120_000);
  await dispatcher.stop();
  return row(`backlog of ${count} pending events`, count, stats, startedAt);
}

export async function measureWebhooks(rate = 1000, seconds = 5, backlogCount = 10_000, singleRate = Math.round(rate / 2)): Promise<WebhookBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-webhooks-'));
  const receiver = new Receiver();
  await receiver.ready();
  const server = await startServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
      ADMIN_API_KEY: 'bench-admin-key-0123456789',
      LOG_LEVEL: 'silent',
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
      WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`, // the receiver is on loopback
    }),
    { announce: () => {} },
  );
  try {
    const { webhooks, users } = server.services;
    await webhooks.create({ url: `http://127.0.0.1:${receiver.port}/hook`, events: ['user.update'] });
    const userIds: string[] = [];
    for (let i = 0; i < 200; i++) userIds.push((await users.create({ email: `bench${i}@example.com` }, 'admin')).id);
    const { db } = server.services;
    // A change as small as a real one gets: one row written and its event, in one transaction.
    const single: Change = (i, t0) =>
      db.transaction(async (trx) => {
        await trx('users')
          .where({ id: userIds[i % userIds.length]! })
          .update({ updated_at: Date.now() });
        await recordEvent(trx, 'user.update', { user_id: userIds[i % userIds.length]!, t0 });
      });
    // Ten such changes committed together (a bulk import, or sign-ins that commit at the same moment):
    // each change is still timed from just before its own write.
    let group: Array<{ i: number; t0: number }> = [];
    const batched: Change = (i, t0) => {
      group.push({ i, t0 });
      if (group.length < 10) return Promise.resolve();
      const changes = group;
      group = [];
      return db.transaction(async (trx) => {
        for (const change of changes) {
          const id = userIds[change.i % userIds.length]!;
          await trx('users').where({ id }).update({ updated_at: Date.now() });
          await recordEvent(trx, 'user.update', { user_id: id, t0: change.t0 });
        }
      });
    };
    // The full user update of the admin API (read, validate, write, re-read, event).
    const update: Change = (i, t0) => users.update(userIds[i % userIds.length]!, { metadata: { t0, seq: i } });
    await paced(receiver, 'warm-up', 300, 1, single);
    const rows = [
      await paced(receiver, '10 changes per transaction', rate, seconds, batched),
      await paced(receiver, '1 change per transaction', singleRate, seconds, single),
      await paced(receiver, 'UserService.update', Math.round(rate / 4), seconds, update),
    ];
    if (backlogCount > 0) rows.push(await backlog(server, receiver, backlogCount));
    return rows;
  } finally {
    await server.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printWebhookTable(rows: WebhookBenchRow[]): void {
  const header = ['scenario', 'events', 'delivered', 'dupes', 'events/s', 'p50 ms', 'p99 ms', 'max ms'];
  const lines = rows.map((r) => [r.scenario, r.events, r.delivered, r.duplicates, r.events_per_s, r.p50_ms ?? '-', r.p99_ms ?? '-', r.max_ms ?? '-'].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const line of lines) console.log(fmt(line));
  console.log("latency: from just before the change's transaction to the receiver having the request; targets: >= 1000 events/s, p99 < 250 ms");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [rate, seconds, backlogCount] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 10_000)];
  printWebhookTable(await measureWebhooks(rate, seconds, backlogCount, Number(process.argv[5] ?? Math.round(rate / 2))));
}
