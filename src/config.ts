// Every setting in one typed, validated object. Nothing else in the code base reads process.env.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundledDatabase } from './geo/locator.ts';
import { DEFAULT_FAIR_SHARE, type FairShareSettings } from './hooks/fair-share.ts';
import { MEMORY_BUDGET_MB, MEMORY_LIMIT_MB } from './hooks/sandbox/memory.ts';
import { isHostEntry } from './net/address-policy.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  /** Host to bind; loopback by default in tests, all interfaces otherwise. */
  host: string;
  issuer: string;
  databaseUrl: string;
  /** When set, the admin API key in force (written at start); otherwise the stored generated or rotated key (src/admin/key.ts). */
  adminApiKey: string | null;
  kickstartFile: string | null;
  /** The administration console (/admin). */
  console: {
    /** How long a console sign-in lasts (CONSOLE_SESSION_SECONDS). */
    sessionSeconds: number;
  };
  /** The end user's account page (/account). */
  account: {
    /** How long an account-page sign-in lasts (ACCOUNT_SESSION_SECONDS). */
    sessionSeconds: number;
    /** Sensitive changes (email, password, factors, deletion) need a sign-in at most this old (ACCOUNT_REAUTH_SECONDS). */
    reauthSeconds: number;
  };
  smtpUrl: string | null;
  /** The From address of every mail. */
  mailFrom: string;
  /**
   * The operator's mail templates folder (TEMPLATES_DIR, absolute): a file there named like a
   * built-in one (views/mail/activation.txt, layout.html.njk, …) replaces it. null: the built-ins.
   */
  templatesDir: string | null;
  smsWebhookUrl: string | null;
  /**
   * Development only: without SMS_WEBHOOK_URL, texts go to the dev outbox and SMS is offered. Off by
   * default, so a server with no SMS messenger does not offer a method that can never deliver.
   */
  smsDevOutbox: boolean;
  /** On SIGTERM/SIGINT, how long in-flight requests may take to finish before connections are cut. */
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** Bearer token for GET /metrics; the admin API key works too. */
  metricsToken: string | null;
  hooks: {
    /** Execution log kept this long, and at most this many runs per hook. */
    executionMaxAgeDays: number;
    executionsPerHook: number;
    /** Successful runs per hook and second the execution log records past a burst of 100 (Infinity: all; HOOK_EXECUTIONS_PER_SECOND). */
    executionsPerSecond: number;
    /** Delays before the retries of a failed async hook run (attempt 2, 3, ...); then the job is failed. */
    asyncRetryScheduleMs: number[];
    /** How long a claimed async job stays reserved for the process running it; longer than any hook run. */
    asyncLeaseMs: number;
    /** How often the worker looks for jobs queued by other processes (local ones wake it at once). */
    asyncPollMs: number;
    /** Async jobs run at once, per server process. */
    asyncConcurrency: number;
    /** Fair sharing between hooks (src/hooks/fair-share.ts): per-hook runs at once, CPU budget, circuit breaker. */
    fairShare: FairShareSettings;
    /** Memory for all hook isolates together, in MiB (HOOK_MEMORY_BUDGET_MB): isolates at once = this / 32. */
    memoryBudgetMb: number;
  };
  webhooks: {
    /** Delays before the retries of a failed delivery (attempt 2, 3, ...); then it is failed (dead letter). */
    retryScheduleMs: number[];
    /** Wall time of one delivery attempt (connect, send, answer). */
    timeoutMs: number;
    /** Deliveries in flight at once, per server process. */
    concurrency: number;
    /** How long a claimed delivery stays reserved for the process that claimed it; longer than the timeout. */
    leaseMs: number;
    /** After a secret rotation, deliveries are signed with the old secret too, this long. */
    rotationWindowMs: number;
    /** Delivered and failed deliveries, their attempts and their events are pruned after this. */
    retentionDays: number;
    /** How often the dispatcher looks for work written by other processes (local writes wake it at once). */
    pollMs: number;
    /** Whether this process delivers at all (a process may serve the API only). */
    dispatcher: boolean;
    /**
     * `"host[:port]"` entries webhook URLs may reach although they are (or resolve to) loopback or
     * private addresses; as in a hook's allowed_hosts, an entry without a port means the default port.
     */
    allowedHosts: string[];
  };
  // External identity providers (issue 14, src/providers/).
  federation: {
    /**
     * `"host[:port]"` entries identity providers may be reached at although they are (or resolve to)
     * loopback or private addresses (IDENTITY_PROVIDER_ALLOWED_HOSTS), as WEBHOOK_ALLOWED_HOSTS for webhooks.
     */
    allowedHosts: string[];
    /** Wall time of one call to a provider (discovery, JWKS, token, userinfo). */
    timeoutMs: number;
    /** How long a sign-in sent to a provider may take to come back. */
    pendingSeconds: number;
  };
  /** The message queue (src/messaging/): mail and texts are handed over from it, retried while the transport fails. */
  messages: {
    /** Delays before the retries of a message the transport refused (attempt 2, 3, ...); then it is failed. */
    retryScheduleMs: number[];
    /** How often the queue is looked at for retries that are due and other processes' leftovers. */
    pollMs: number;
    /** How long a message being handed over stays reserved for the process sending it. */
    leaseMs: number;
    /** Messages handed over at once, per server process. */
    concurrency: number;
    /** Sent, failed and suppressed entries are pruned after this. */
    retentionDays: number;
  };
  /** Trust X-Forwarded-* (behind a TLS terminator). */
  trustProxy: boolean;
  /** Client locations for hooks (event.request.location): the .mmdb file read at start (GEOIP_DB, or the bundled one). */
  geoip: { database: string };
  /** Several instances on one database, and a database that does not answer (#18). */
  cluster: {
    /** How often an instance reads the keys again (rotations and retirements made by another). */
    keyRefreshMs: number;
    /** A rotated key signs this long after the rotation: every instance publishes it first. */
    keyPropagationMs: number;
    /** How long a start waits for another instance's migrations before it gives up. */
    migrationLockTimeoutMs: number;
    /** Expired rows are pruned this often by one instance of all (the first run soon after start). */
    housekeepingIntervalMs: number;
    /** PostgreSQL: opening a connection, waiting for a free one in the pool, one statement. */
    dbConnectTimeoutMs: number;
    dbAcquireTimeoutMs: number;
    dbStatementTimeoutMs: number;
  };
  /** Base64 32-byte key that encrypts secrets at rest; generated and stored in the database when unset. */
  encryptionKey: string | null;
  password: {
    minLength: number;
    maxLength: number;
    /** argon2id cost; lower it only for tests. */
    hashMemoryKiB: number;
    hashIterations: number;
  };
  /** Threat signals (CONTRACT §9): breached passwords, new devices, impossible travel (src/identity/threats.ts). */
  threats: {
    /** Refuse passwords of the bundled breached-password corpus (and flag them at sign-in). */
    breachedPasswords: boolean;
    /** An HIBP-compatible range API (`…/range/` + the SHA-1 prefix), asked besides the corpus; null: the corpus only. */
    breachRangeUrl: string | null;
    /** Hosts the range API may be reached at on a loopback or private address (the address policy of src/net/). */
    breachAllowedHosts: string[];
    breachTimeoutMs: number;
    /** Two sign-ins further apart than this speed allows (km/h) are impossible travel. */
    impossibleTravelKmh: number;
    /** Below this distance (km) no travel is impossible: location databases are that coarse. */
    impossibleTravelMinKm: number;
    /** How long the device cookie lives. */
    deviceCookieDays: number;
  };
  throttle: {
    /** Failed logins allowed per account inside the window; the next one is refused unchecked. */
    maxFailuresPerAccount: number;
    maxFailuresPerIp: number;
    /** Wrong admin API keys (or metrics tokens) allowed per address inside the window. */
    adminMaxFailuresPerIp: number;
    /** Account mails (activation, "already registered", reset, username) per address inside the window. */
    mailsPerAddress: number;
    /** The same mails asked for from one client address inside the window. */
    mailsPerIp: number;
    windowSeconds: number;
  };
  mfa: {
    /** How long an emailed or texted one-time code stays valid. */
    codeTtlSeconds: number;
    /** Wrong guesses allowed per code; past them the code is dead, even the right one. */
    maxCodeAttempts: number;
    /** Least time between two codes sent to one factor (resend throttle). */
    resendIntervalSeconds: number;
    /** Codes one factor may be sent per hour. */
    codesPerHour: number;
    /** Wrong TOTP or recovery codes allowed per user inside the login throttle window. */
    maxFailures: number;
    /** The issuer name authenticator apps show for TOTP. */
    totpIssuer: string;
  };
  /** How long audit log entries are kept (AUDIT_LOG_RETENTION_DAYS). */
  auditLogRetentionDays: number;
  /** How long event log entries are kept (EVENT_LOG_RETENTION_DAYS). */
  eventLogRetentionDays: number;
  /**
   * Tests only (#18 crash tests): the named step at which the process kills itself with SIGKILL
   * (src/faults.ts). TESSERA_FAULT_POINT is read only under NODE_ENV=test or TESSERA_TEST_FAULTS=1.
   */
  faultPoint: string | null;
  ttl: {
    activationSeconds: number;
    passwordResetSeconds: number;
    /** How long an invitation link works (INVITATION_TTL_SECONDS). */
    invitationSeconds: number;
    sessionSeconds: number;
    refreshTokenSeconds: number;
    accessTokenSeconds: number;
  };
}

export class ConfigError extends Error {}

/** TEMPLATES_DIR: must name an existing folder (a typo must not silently mean the built-in mails). */
function templatesDir(env: NodeJS.ProcessEnv): string | null {
  const raw = env.TEMPLATES_DIR;
  if (!raw) return null;
  const dir = resolve(raw);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`TEMPLATES_DIR must name an existing folder, got "${raw}"`);
  return dir;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

/** HOOK_EXECUTIONS_PER_SECOND: "all", or successful runs per hook and second the execution log records (default 10). */
function executionsPerSecond(env: Env): number {
  const raw = env.HOOK_EXECUTIONS_PER_SECOND;
  if (raw === 'all') return Number.POSITIVE_INFINITY;
  const value = raw === undefined || raw === '' ? 10 : Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 1_000_000) {
    throw new ConfigError(`HOOK_EXECUTIONS_PER_SECOND must be "all" or an integer between 0 and 1000000, got "${raw}"`);
  }
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (!raw) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use one of ${protocols.join(', ')}`);
  }
  return raw;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "5s", "30m", "2h", "1d"; a bare number is seconds. Answers milliseconds. */
export function parseDuration(raw: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
  if (!match) return null;
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!);
}

function duration(env: Env, name: string, fallbackMs: number, minMs: number, maxMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const value = parseDuration(raw);
  if (value === null || value < minMs || value > maxMs) {
    throw new ConfigError(`${name} must be a duration such as 500ms, 10s, 5m or 2h, between ${minMs} ms and ${maxMs} ms, got "${raw}"`);
  }
  return value;
}

/** A comma-separated list of `host[:port]` entries (IPv6 in brackets), lower-cased. */
function hostList(env: Env, name: string): string[] {
  const entries = (env[name] ?? '')
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean);
  for (const entry of entries) {
    // Wildcards and URLs are refused rather than ignored: an entry that matches nothing would fail quietly.
    if (!isHostEntry(entry)) {
      throw new ConfigError(`${name} must be a comma-separated list of host or host:port (IPv6 in brackets, no scheme, no wildcard), got "${entry}"`);
    }
  }
  return entries;
}

/** A comma-separated list of durations, e.g. "5s,5m,30m,2h,5h,10h". */
function durations(env: Env, name: string, fallback: string): number[] {
  const raw = env[name] || fallback;
  const values = raw.split(',').map((part) => parseDuration(part));
  if (values.length > 50 || values.some((v) => v === null || v > 7 * 86_400_000)) {
    throw new ConfigError(`${name} must be a comma-separated list of at most 50 durations (each at most 7d), such as 5s,5m,30m,2h, got "${raw}"`);
  }
  return values as number[];
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Builds the configuration from environment variables. A JSON file named by TESSERA_CONFIG may add
 * variables (same names); the real environment wins over the file.
 */
export function loadConfig(processEnv: Env = process.env): Config {
  let env: Env = processEnv;
  if (processEnv.TESSERA_CONFIG) {
    let fileEnv: Env;
    try {
      fileEnv = JSON.parse(readFileSync(processEnv.TESSERA_CONFIG, 'utf8')) as Env;
    } catch (error) {
      throw new ConfigError(`TESSERA_CONFIG: cannot read ${processEnv.TESSERA_CONFIG}: ${(error as Error).message}`);
    }
    env = { ...Object.fromEntries(Object.entries(fileEnv).map(([k, v]) => [k, String(v)])), ...processEnv };
  }

  const port = int(env, 'PORT', 3000, 0, 65535);
  const issuer = (url(env, 'ISSUER', ['http:', 'https:']) ?? `http://localhost:${port}`).replace(/\/$/, '');
  const databaseUrl = env.DATABASE_URL || 'sqlite:./data/tessera.db';
  if (!/^(sqlite:|postgres:|postgresql:)/.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with sqlite: or postgres://');
  }
  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const encryptionKey = env.ENCRYPTION_KEY || null;
  if (encryptionKey && Buffer.from(encryptionKey, 'base64').length !== 32) {
    throw new ConfigError('ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  }

  return {
    port,
    host: env.HOST || '0.0.0.0',
    issuer,
    databaseUrl,
    adminApiKey: env.ADMIN_API_KEY || null,
    kickstartFile: env.KICKSTART || null,
    console: { sessionSeconds: int(env, 'CONSOLE_SESSION_SECONDS', 8 * 3600, 60, 7 * 86400) },
    account: { sessionSeconds: int(env, 'ACCOUNT_SESSION_SECONDS', 3600, 60, 7 * 86400), reauthSeconds: int(env, 'ACCOUNT_REAUTH_SECONDS', 300, 30, 86400) },
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: env.MAIL_FROM || `Tessera <no-reply@${new URL(issuer).hostname}>`,
    templatesDir: templatesDir(env),
    smsWebhookUrl: url(env, 'SMS_WEBHOOK_URL', ['http:', 'https:']),
    smsDevOutbox: bool(env, 'SMS_DEV_OUTBOX', false),
    shutdownGraceMs: duration(env, 'SHUTDOWN_GRACE', 10_000, 0, 300_000),
    logLevel,
    trustProxy: bool(env, 'TRUST_PROXY', false),
    // Location (src/geo/): the operator's own MaxMind-format file, else the country database shipped with Tessera.
    geoip: { database: geoipDatabase(env) },
    metricsToken: env.METRICS_TOKEN || null,
    hooks: {
      executionMaxAgeDays: int(env, 'HOOK_EXECUTIONS_MAX_AGE_DAYS', 14, 1, 365),
      executionsPerHook: int(env, 'HOOK_EXECUTIONS_PER_HOOK', 1000, 10, 100000),
      executionsPerSecond: executionsPerSecond(env),
      asyncRetryScheduleMs: durations(env, 'HOOK_ASYNC_RETRY_SCHEDULE', '5s,30s,2m'),
      // A hook runs at most 10 s (timeout_ms): a lease shorter than that plus a margin could run out mid-run.
      asyncLeaseMs: duration(env, 'HOOK_ASYNC_LEASE', 30_000, 12_000, 3_600_000),
      asyncPollMs: duration(env, 'HOOK_ASYNC_POLL_INTERVAL', 500, 10, 60_000),
      asyncConcurrency: int(env, 'HOOK_ASYNC_CONCURRENCY', 10, 1, 1000),
      // Fair sharing: one hook's runs at once (more wait within their timeout), the share of one core
      // its CPU budget refills at and the most it holds, and its circuit breaker (consecutive failed
      // runs that open it, and the cool-down before a trial run).
      fairShare: {
        maxConcurrency: int(env, 'HOOK_MAX_CONCURRENCY', DEFAULT_FAIR_SHARE.maxConcurrency, 1, 1000),
        cpuSharePercent: int(env, 'HOOK_CPU_SHARE_PERCENT', DEFAULT_FAIR_SHARE.cpuSharePercent, 1, 10_000),
        cpuBurstMs: duration(env, 'HOOK_CPU_BURST', DEFAULT_FAIR_SHARE.cpuBurstMs, 10, 3_600_000),
        breakerFailures: int(env, 'HOOK_BREAKER_FAILURES', DEFAULT_FAIR_SHARE.breakerFailures, 1, 1000),
        breakerCooldownMs: duration(env, 'HOOK_BREAKER_COOLDOWN', DEFAULT_FAIR_SHARE.breakerCooldownMs, 100, 3_600_000),
      },
      // At least one isolate's limit (32 MiB); hook runs beyond what fits wait for an isolate.
      memoryBudgetMb: int(env, 'HOOK_MEMORY_BUDGET_MB', MEMORY_BUDGET_MB, MEMORY_LIMIT_MB, 1_048_576),
    },
    webhooks: webhookSettings(env),
    federation: {
      allowedHosts: hostList(env, 'IDENTITY_PROVIDER_ALLOWED_HOSTS'),
      timeoutMs: duration(env, 'IDENTITY_PROVIDER_TIMEOUT', 10_000, 100, 60_000),
      pendingSeconds: int(env, 'IDENTITY_PROVIDER_PENDING_SECONDS', 600, 30, 3600),
    },
    // The message queue: a short SMTP or SMS outage delays mail, it does not lose it.
    messages: {
      retryScheduleMs: durations(env, 'MAIL_RETRY_SCHEDULE', '5s,15s,1m,5m,15m,1h'),
      pollMs: duration(env, 'MAIL_POLL_INTERVAL', 1000, 10, 60_000),
      leaseMs: duration(env, 'MAIL_LEASE', 120_000, 5_000, 3_600_000),
      concurrency: int(env, 'MAIL_CONCURRENCY', 10, 1, 1000),
      retentionDays: int(env, 'MAIL_RETENTION_DAYS', 7, 1, 3650),
    },
    cluster: clusterSettings(env),
    encryptionKey,
    password: {
      minLength: int(env, 'PASSWORD_MIN_LENGTH', 8, 6, 128),
      maxLength: 256,
      hashMemoryKiB: int(env, 'PASSWORD_HASH_MEMORY_KIB', 19456, 1024, 1048576),
      hashIterations: int(env, 'PASSWORD_HASH_ITERATIONS', 2, 1, 20),
    },
    threats: {
      breachedPasswords: bool(env, 'BREACHED_PASSWORD_CHECK', true),
      breachRangeUrl: url(env, 'BREACHED_PASSWORD_RANGE_URL', ['http:', 'https:']),
      breachAllowedHosts: hostList(env, 'BREACHED_PASSWORD_ALLOWED_HOSTS'),
      breachTimeoutMs: duration(env, 'BREACHED_PASSWORD_TIMEOUT', 2000, 100, 30_000),
      impossibleTravelKmh: int(env, 'IMPOSSIBLE_TRAVEL_KMH', 1000, 100, 100_000),
      impossibleTravelMinKm: int(env, 'IMPOSSIBLE_TRAVEL_MIN_KM', 300, 0, 20_000),
      deviceCookieDays: int(env, 'DEVICE_COOKIE_DAYS', 400, 1, 400),
    },
    throttle: {
      maxFailuresPerAccount: int(env, 'LOGIN_MAX_FAILURES_PER_ACCOUNT', 5, 1, 1000),
      maxFailuresPerIp: int(env, 'LOGIN_MAX_FAILURES_PER_IP', 100, 1, 100000),
      adminMaxFailuresPerIp: int(env, 'ADMIN_MAX_FAILURES_PER_IP', 20, 1, 100000),
      mailsPerAddress: int(env, 'MAIL_MAX_PER_ADDRESS', 10, 1, 1000),
      mailsPerIp: int(env, 'MAIL_MAX_PER_IP', 50, 1, 100000),
      windowSeconds: int(env, 'LOGIN_THROTTLE_WINDOW_SECONDS', 900, 1, 86400),
    },
    mfa: {
      codeTtlSeconds: int(env, 'MFA_CODE_TTL_SECONDS', 300, 1, 3600),
      maxCodeAttempts: int(env, 'MFA_CODE_MAX_ATTEMPTS', 5, 1, 100),
      resendIntervalSeconds: int(env, 'MFA_RESEND_INTERVAL_SECONDS', 30, 0, 3600),
      codesPerHour: int(env, 'MFA_CODES_PER_HOUR', 10, 1, 1000),
      maxFailures: int(env, 'MFA_MAX_FAILURES', 10, 1, 1000),
      totpIssuer: (env.MFA_TOTP_ISSUER || 'Tessera').slice(0, 100),
    },
    auditLogRetentionDays: int(env, 'AUDIT_LOG_RETENTION_DAYS', 365, 1, 3650),
    eventLogRetentionDays: int(env, 'EVENT_LOG_RETENTION_DAYS', 90, 1, 3650),
    // Crash tests only: never read in production, whatever the environment holds.
    faultPoint: env.NODE_ENV === 'test' || env.TESSERA_TEST_FAULTS === '1' ? env.TESSERA_FAULT_POINT || null : null,
    ttl: {
      activationSeconds: int(env, 'ACTIVATION_TTL_SECONDS', 86400, 60, 30 * 86400),
      passwordResetSeconds: int(env, 'PASSWORD_RESET_TTL_SECONDS', 3600, 10, 86400),
      invitationSeconds: int(env, 'INVITATION_TTL_SECONDS', 7 * 86400, 60, 90 * 86400),
      sessionSeconds: int(env, 'SESSION_TTL_SECONDS', 14 * 86400, 60, 365 * 86400),
      refreshTokenSeconds: int(env, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 86400, 60, 365 * 86400),
      accessTokenSeconds: int(env, 'ACCESS_TOKEN_TTL_SECONDS', 3600, 30, 86400),
    },
  };
}

function geoipDatabase(env: Env): string {
  const path = env.GEOIP_DB;
  if (!path) return bundledDatabase();
  if (!existsSync(path)) throw new ConfigError(`GEOIP_DB: no file at ${path}`);
  return path;
}

function clusterSettings(env: Env): Config['cluster'] {
  const keyRefreshMs = duration(env, 'KEY_REFRESH_INTERVAL', 30_000, 100, 3_600_000);
  const keyPropagationMs = duration(env, 'KEY_PROPAGATION_DELAY', 2 * keyRefreshMs, 0, 30 * 86_400_000);
  // A key that signed before every instance had refreshed once could sign tokens another does not publish.
  if (keyPropagationMs < keyRefreshMs) throw new ConfigError('KEY_PROPAGATION_DELAY must be at least KEY_REFRESH_INTERVAL');
  return {
    keyRefreshMs,
    keyPropagationMs,
    migrationLockTimeoutMs: duration(env, 'MIGRATION_LOCK_TIMEOUT', 120_000, 1000, 3_600_000),
    housekeepingIntervalMs: duration(env, 'CLEANUP_INTERVAL', 600_000, 100, 86_400_000),
    dbConnectTimeoutMs: duration(env, 'DB_CONNECT_TIMEOUT', 3000, 100, 600_000),
    dbAcquireTimeoutMs: duration(env, 'DB_ACQUIRE_TIMEOUT', 3000, 100, 600_000),
    dbStatementTimeoutMs: duration(env, 'DB_STATEMENT_TIMEOUT', 4000, 100, 3_600_000),
  };
}

function webhookSettings(env: Env): Config['webhooks'] {
  const timeoutMs = duration(env, 'WEBHOOK_TIMEOUT', 10_000, 100, 60_000);
  const leaseMs = duration(env, 'WEBHOOK_LEASE', Math.max(60_000, timeoutMs * 3), 1000, 3_600_000);
  if (leaseMs < timeoutMs + 2000) throw new ConfigError('WEBHOOK_LEASE must be at least 2s longer than WEBHOOK_TIMEOUT');
  return {
    // Standard Webhooks' schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h and 10 h.
    retryScheduleMs: durations(env, 'WEBHOOK_RETRY_SCHEDULE', '5s,5m,30m,2h,5h,10h'),
    timeoutMs,
    concurrency: int(env, 'WEBHOOK_CONCURRENCY', 50, 1, 1000),
    leaseMs,
    rotationWindowMs: duration(env, 'WEBHOOK_SECRET_ROTATION_WINDOW', 86_400_000, 0, 30 * 86_400_000),
    retentionDays: int(env, 'WEBHOOK_RETENTION_DAYS', 30, 1, 3650),
    pollMs: duration(env, 'WEBHOOK_POLL_INTERVAL', 500, 10, 60_000),
    dispatcher: bool(env, 'WEBHOOK_DISPATCHER', true),
    allowedHosts: hostList(env, 'WEBHOOK_ALLOWED_HOSTS'),
  };
}
