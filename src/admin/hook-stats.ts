// Admin API: GET /hook-stats, each hook's runs of the last 24 hours from the execution log (runs,
// errors, p95 of the duration), for the console's journey map.
import type Router from '@koa/router';
import type { Services } from '../services.ts';
import { queryInt } from './body.ts';

export interface HookStats {
  hook_id: string;
  runs: number;
  errors: number;
  p95_ms: number | null;
  last_run_at: string | null;
}

/** The nearest-rank 95th percentile of sorted durations. */
function p95(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

export function hookStatsRoutes(router: Router, services: Services): void {
  router.get('/hook-stats', async (ctx) => {
    const hours = queryInt(ctx, 'hours', 24, 1, 24 * 14);
    await services.executions.flush();
    const since = Date.now() - hours * 3600_000;
    const rows: Array<{ hook_id: string; outcome: string; duration_ms: number | string; created_at: number | string }> = await services
      .db('hook_executions')
      .where('created_at', '>=', since)
      .select('hook_id', 'outcome', 'duration_ms', 'created_at');
    const byHook = new Map<string, { durations: number[]; errors: number; last: number }>();
    for (const row of rows) {
      const entry = byHook.get(row.hook_id) ?? { durations: [], errors: 0, last: 0 };
      entry.durations.push(Number(row.duration_ms));
      if (row.outcome !== 'success') entry.errors++;
      entry.last = Math.max(entry.last, Number(row.created_at));
      byHook.set(row.hook_id, entry);
    }
    const stats: HookStats[] = [...byHook].map(([hookId, entry]) => ({
      hook_id: hookId,
      runs: entry.durations.length,
      errors: entry.errors,
      p95_ms: p95(entry.durations.sort((a, b) => a - b)),
      last_run_at: entry.last ? new Date(entry.last).toISOString() : null,
    }));
    ctx.body = { hours, hooks: stats };
  });
}
