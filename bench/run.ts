// npm run bench: every benchmark, side by side in one run, printed as tables.
//   BENCH_DURATION_MS (default 10000) sets each throughput run's length.
//   TIMING_BASELINE=/path/to/checkout interleaves that checkout's server in the timing bench (§4).
//   REFRESH_BASELINE=/path/to/checkout adds that checkout's server (no hooks) to the refresh bench (§2).
import { cpus } from 'node:os';
import { measureHookOverhead, measureRss } from './hooks-overhead.ts';
import { measureImport } from './import.ts';
import { measureNoisyNeighbour } from './noisy-neighbour.ts';
import { sustained, sweepCost } from './oidc-growth.ts';
import { loadGenerator, measureRefreshThroughput, printRatios } from './refresh.ts';
import { measureTiming, printTiming } from './timing.ts';
import { measureWebhooks, printWebhookTable } from './webhooks.ts';

const duration = Number(process.env.BENCH_DURATION_MS ?? 10_000);
console.log(`Tessera benchmarks: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);

console.log('1. Hook sandbox: warm overhead of a trivial sync hook (hardened realm, one call per run)');
const overhead = [await measureHookOverhead(2000, 'paced'), await measureHookOverhead(2000, 'back-to-back')];
console.table(overhead);
console.log('   targets: back to back p50 <= 0.3 ms, p99 <= 1.5 ms; paced p50 <= 0.3 ms');
const rss = await measureRss(Number(process.env.BENCH_HOOK_RUNS ?? 100_000));
console.log(
  `   RSS over ${rss.runs} runs after ${rss.warmup_runs} of warm-up (${rss.warmup_mib.join(' → ')} MiB), every tenth: ${rss.samples_mib.join(' ')} MiB; growth ${rss.growth_percent} % (target: within 10 %)\n`,
);

console.log(`2. Refresh-token grant throughput, ${duration / 1000} s per target in 5 interleaved rounds, 8 concurrent clients (${loadGenerator()})`);
const refresh = await measureRefreshThroughput(duration, 8, 5);
console.table(refresh.results);
printRatios(refresh);
console.log();

console.log('3. Webhooks on SQLite: change → delivery to a fast local receiver');
printWebhookTable(await measureWebhooks(1000, 5, 10_000));
console.log('   targets: >= 1000 events/s delivered, p99 change → delivery < 250 ms');

console.log('\n4. Timing: identify and forgot-password for existing and unknown accounts, a sync hook awaiting a loopback service on each event');
printTiming(await measureTiming(Number(process.env.TIMING_SAMPLES ?? 250)));
console.log('   target: the known − unknown median difference inside the noise (its 95 % interval holds 0), AUC near 0.5');

console.log('\n5. Growth of oidc_models under sustained refreshes (1000 access tokens a second, TTL 60 s, a sweep every 10 s)');
console.table(await sustained(1000, 120));
console.log('   rows bounded by rate × (TTL + sweep interval) = 70000; the sweep against the table size:');
console.table(await sweepCost());

console.log("\n6. Noisy neighbour: application Y's logins while application X's hooks spin, leak and hang");
console.table(await measureNoisyNeighbour(3, 20, 2));
console.log("   target: Y's login p99 while X's hooks misbehave <= 1.5 × its p99 while they behave (fair sharing as shipped)");

console.log('\n7. Bulk import: one call of 10 000 users, hashes of five formats mixed (SQLite; PostgreSQL too with TEST_POSTGRES_URL)');
console.table(await measureImport(10_000, 3));
