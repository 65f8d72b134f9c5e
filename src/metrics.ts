// Prometheus metrics: one registry per server (tests run several servers in one process).
// Served at GET /metrics with a bearer token (METRICS_TOKEN, or the admin API key).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PasswordCheckCounter } from './identity/passwords.ts';

export interface Metrics {
  registry: Registry;
  httpRequests: Histogram<'method' | 'status'>;
  hookRuns: Counter<'event' | 'mode' | 'outcome'>;
  hookDuration: Histogram<'event' | 'mode'>;
  webhookAttempts: Counter<'outcome'>;
  webhookAttemptDuration: Histogram;
  webhookLag: Histogram;
  /** Calls to transactional endpoints before a change commits (src/webhooks/transactional.ts). */
  webhookTransactional: Counter<'outcome'>;
  /** Hand-overs of queued mail and texts (src/messaging/dispatcher.ts). */
  messageAttempts: Counter<'channel' | 'outcome'>;
  passwordChecks: PasswordCheckCounter;
  equalTimeWait: Histogram<'step' | 'side'>;
  hookSkips: Counter<'event' | 'reason'>;
  hookCircuitChanges: Counter<'hook_id' | 'state'>;
}

export function createMetrics(defaults = true): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'tessera_' });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP requests by method and status',
      labelNames: ['method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    hookRuns: new Counter({
      name: 'tessera_hook_runs_total',
      help: 'Hook runs by event, mode and outcome',
      labelNames: ['event', 'mode', 'outcome'],
      registers: [registry],
    }),
    hookDuration: new Histogram({
      name: 'tessera_hook_duration_seconds',
      help: 'Hook run wall time',
      labelNames: ['event', 'mode'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: 'tessera_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry, failed, gone)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookAttemptDuration: new Histogram({
      name: 'tessera_webhook_attempt_duration_seconds',
      help: 'Wall time of one webhook delivery attempt',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookTransactional: new Counter({
      name: 'tessera_webhook_transactional_calls_total',
      help: 'Calls to transactional webhook endpoints before a change commits, by outcome (accepted, refused)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    messageAttempts: new Counter({
      name: 'tessera_message_attempts_total',
      help: 'Mail and text hand-overs from the message queue by channel and outcome (sent, retry, failed, expired)',
      labelNames: ['channel', 'outcome'],
      registers: [registry],
    }),
    webhookLag: new Histogram({
      name: 'tessera_webhook_delivery_lag_seconds',
      help: 'Time from the event (the change) to its successful delivery',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600],
      registers: [registry],
    }),
    // against="dummy": a sign-in for an identifier with no account (or no password); a surge of them
    // is someone trying a list of addresses.
    passwordChecks: new Counter({
      name: 'tessera_password_checks_total',
      help: 'Password verifications (argon2id) by what was checked (stored hash or dummy) and outcome',
      labelNames: ['against', 'outcome'],
      registers: [registry],
    }),
    // How long answers were held so that both paths of a step take the same time (flows/equal-time.ts);
    // side="known": the identifier named an account.
    equalTimeWait: new Histogram({
      name: 'tessera_equal_time_wait_seconds',
      help: 'Time an answer was held to the common floor of its step, by step and side',
      labelNames: ['step', 'side'],
      buckets: [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    // Fair sharing (hooks/fair-share.ts): runs skipped, and each hook's breaker opening and closing.
    hookSkips: new Counter({
      name: 'tessera_hook_skipped_total',
      help: 'Hook runs skipped by fair sharing, by event and reason (circuit open, over its CPU budget, no free run before its timeout)',
      labelNames: ['event', 'reason'],
      registers: [registry],
    }),
    hookCircuitChanges: new Counter({
      name: 'tessera_hook_circuit_changes_total',
      help: "A hook's circuit breaker opening (state=open) or closing again after a good trial run (state=closed)",
      labelNames: ['hook_id', 'state'],
      registers: [registry],
    }),
  };
}

/** The sandbox's figures as /metrics reads them (src/hooks/sandbox/sandbox.ts stats()). */
export interface SandboxFigures {
  isolates: number;
  /** The bound on isolates alive at once (maxIsolates within HOOK_MEMORY_BUDGET_MB). */
  maxIsolates: number;
  idle: number;
  waiting: number;
  fast: number;
  slicesOver: number;
}

/**
 * The hook sandbox's pool and paths, read when /metrics is scraped: isolates alive and idle, runs
 * waiting for one, the bound on isolates alive at once, and runs by where they executed (fast:
 * started on the server's thread, see src/hooks/sandbox/run.ts runSlice; slice_over: stopped past
 * the fast path's slice and run again).
 */
export function observeSandbox(registry: Registry, figures: () => SandboxFigures): void {
  new Gauge({
    name: 'tessera_hook_isolates',
    help: 'Hook isolates alive, by state (idle, busy), and hook runs waiting for one (waiting)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = figures();
      this.set({ state: 'idle' }, now.idle);
      this.set({ state: 'busy' }, now.isolates - now.idle);
      this.set({ state: 'waiting' }, now.waiting);
    },
  });
  new Gauge({
    name: 'tessera_hook_isolates_max',
    help: 'Hook isolates alive at most at once: what the hook memory budget (HOOK_MEMORY_BUDGET_MB) fits',
    registers: [registry],
    collect() {
      this.set(figures().maxIsolates);
    },
  });
  const seen = { fast: 0, slicesOver: 0 };
  new Counter({
    name: 'tessera_hook_sandbox_paths_total',
    help: "Hook runs that started on the server's thread (path=fast) and fast-path slices that ran over and were run again (path=slice_over)",
    labelNames: ['path'],
    registers: [registry],
    collect() {
      const now = figures();
      this.inc({ path: 'fast' }, now.fast - seen.fast);
      this.inc({ path: 'slice_over' }, now.slicesOver - seen.slicesOver);
      seen.fast = now.fast;
      seen.slicesOver = now.slicesOver;
    },
  });
}
