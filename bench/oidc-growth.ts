// Growth of oidc_models under sustained refreshes, with the expiry sweep (issue #12.6), on SQLite
// through Tessera's adapter (no HTTP: the table and the sweep are what is measured).
//   1. Sustained: RATE access tokens a second (what RATE refresh grants store), TTL 60 s, the clock
//      moved one second per step, a sweep every 10 s: the rows over time (bounded: RATE × (TTL + 10 s))
//      and each sweep's time.
//   2. The sweep's cost against the table's size: 10 000 expired rows among 10 000, 100 000 and
//      1 000 000 live ones; the whole sweep and its longest statement (the longest the main thread is
//      held: node:sqlite runs statements on it), batched as shipped and as one DELETE.
//
//   node --no-node-snapshot bench/oidc-growth.ts [rate] [seconds]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase, type Db } from '../src/db/knex.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createAdapterFactory, deleteExpiredModels } from '../src/oidc/adapter.ts';
import { advanceClock } from '../test/support/clock.ts';

const TTL_S = 60;
const SWEEP_EVERY_S = 10;

export interface GrowthSample {
  second: number;
  rows: number;
  sweep_ms: number;
  swept: number;
}

export interface SweepCost {
  live_rows: number;
  expired_rows: number;
  batched_ms: number;
  batched_longest_statement_ms: number;
  one_delete_ms: number;
}

async function withDatabase<T>(run: (db: Db) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-growth-'));
  const db = openDatabase(`sqlite:${join(dir, 'growth.db')}`);
  try {
    await migrateToLatest(db);
    return await run(db);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rowCount = async (db: Db) => Number((await db('oidc_models').count({ n: '*' }))[0]!.n);

export async function sustained(rate = 1000, seconds = 180): Promise<GrowthSample[]> {
  return withDatabase(async (db) => {
    const tokens = new (createAdapterFactory(db, { clientMetadata: async () => undefined }))('AccessToken');
    const samples: GrowthSample[] = [];
    let n = 0;
    for (let second = 1; second <= seconds; second += 1) {
      for (let i = 0; i < rate; i += 1) {
        n += 1;
        await tokens.upsert(`at-${n}`, { accountId: 'acc-1', clientId: 'app', grantId: `grant-${n % 100}`, kind: 'AccessToken', scope: 'openid email', jti: `at-${n}` }, TTL_S);
      }
      advanceClock(1000);
      if (second % SWEEP_EVERY_S === 0) {
        const started = performance.now();
        const swept = await deleteExpiredModels(db);
        samples.push({ second, rows: await rowCount(db), sweep_ms: Math.round((performance.now() - started) * 10) / 10, swept });
      }
    }
    return samples;
  });
}

/** Times `statement` calls by wrapping knex's query events (the longest one holds the main thread longest). */
function statementTimer(db: Db): { longest(): number; stop(): void } {
  const started = new Map<string, number>();
  let longest = 0;
  const onQuery = (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now());
  const onResponse = (_r: unknown, q: { __knexQueryUid: string }) => {
    const at = started.get(q.__knexQueryUid);
    if (at !== undefined) longest = Math.max(longest, performance.now() - at);
  };
  db.on('query', onQuery).on('query-response', onResponse);
  return {
    longest: () => Math.round(longest * 10) / 10,
    stop: () => {
      db.off('query', onQuery);
      db.off('query-response', onResponse);
    },
  };
}

async function fill(db: Db, live: number, expired: number, now: number): Promise<void> {
  const insert = (count: number, prefix: string, expiresAt: number) =>
    db.raw(
      `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
       INSERT INTO oidc_models (model, id, payload, grant_id, account_id, expires_at)
       SELECT 'AccessToken', ? || x, '{"kind":"AccessToken","scope":"openid email","accountId":"acc-1"}', 'grant-' || (x % 100), 'acc-1', ? + x FROM c`,
      [count, prefix, expiresAt],
    );
  await db('oidc_models').delete();
  await insert(live, 'live-', now + 3_600_000);
  await insert(expired, 'old-', now - 3_600_000);
}

export async function sweepCost(sizes = [10_000, 100_000, 1_000_000], expired = 10_000): Promise<SweepCost[]> {
  return withDatabase(async (db) => {
    const out: SweepCost[] = [];
    for (const live of sizes) {
      const now = Date.now();
      await fill(db, live, expired, now);
      let timer = statementTimer(db);
      let started = performance.now();
      const swept = await deleteExpiredModels(db, now);
      const batched = performance.now() - started;
      const batchedLongest = timer.longest();
      timer.stop();
      if (swept !== expired) throw new Error(`swept ${swept}, expected ${expired}`);

      await fill(db, live, expired, now);
      timer = statementTimer(db);
      started = performance.now();
      await db('oidc_models').where('expires_at', '<=', now).delete();
      const single = performance.now() - started;
      timer.stop();
      out.push({ live_rows: live, expired_rows: expired, batched_ms: Math.round(batched * 10) / 10, batched_longest_statement_ms: batchedLongest, one_delete_ms: Math.round(single * 10) / 10 });
    }
    return out;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const samples = await sustained(Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 180));
  console.table(samples);
  console.log(`   rows bounded by rate × (TTL + sweep interval) = ${Number(process.argv[2] ?? 1000) * (TTL_S + SWEEP_EVERY_S)}`);
  console.table(await sweepCost());
}
