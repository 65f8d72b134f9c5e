// Configuration errors, without a server: a bad value of any setting stops the start with a
// ConfigError whose message names the variable, says what is allowed and shows what was given.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../src/config.ts';

/** The message of the ConfigError that `env` causes (fails when it is accepted or fails otherwise). */
function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, not ${String(error)}`);
    return error.message;
  }
  assert.fail(`accepted: ${JSON.stringify(env)}`);
}

describe('config errors name the variable', () => {
  test('integers: not a number, not whole, out of range', () => {
    const table: Array<[Record<string, string>, string]> = [
      [{ PORT: 'abc' }, 'PORT must be an integer between 0 and 65535, got "abc"'],
      [{ PORT: '1.5' }, 'PORT must be an integer between 0 and 65535, got "1.5"'],
      [{ PORT: '65536' }, 'PORT must be an integer between 0 and 65535, got "65536"'],
      [{ PORT: '-1' }, 'PORT must be an integer between 0 and 65535, got "-1"'],
      [{ PASSWORD_MIN_LENGTH: '5' }, 'PASSWORD_MIN_LENGTH must be an integer between 6 and 128, got "5"'],
      [{ PASSWORD_HASH_MEMORY_KIB: '512' }, 'PASSWORD_HASH_MEMORY_KIB must be an integer between 1024 and 1048576, got "512"'],
      [{ LOGIN_THROTTLE_WINDOW_SECONDS: '0' }, 'LOGIN_THROTTLE_WINDOW_SECONDS must be an integer between 1 and 86400, got "0"'],
      [{ ADMIN_MAX_FAILURES_PER_IP: 'many' }, 'ADMIN_MAX_FAILURES_PER_IP must be an integer between 1 and 100000, got "many"'],
      [{ MFA_RESEND_INTERVAL_SECONDS: '3601' }, 'MFA_RESEND_INTERVAL_SECONDS must be an integer between 0 and 3600, got "3601"'],
      [{ PASSWORD_RESET_TTL_SECONDS: '9' }, 'PASSWORD_RESET_TTL_SECONDS must be an integer between 10 and 86400, got "9"'],
      [{ HOOK_EXECUTIONS_PER_HOOK: '9' }, 'HOOK_EXECUTIONS_PER_HOOK must be an integer between 10 and 100000, got "9"'],
      [{ HOOK_EXECUTIONS_PER_SECOND: 'some' }, 'HOOK_EXECUTIONS_PER_SECOND must be "all" or an integer between 0 and 1000000, got "some"'],
      [{ HOOK_EXECUTIONS_PER_SECOND: '-1' }, 'HOOK_EXECUTIONS_PER_SECOND must be "all" or an integer between 0 and 1000000, got "-1"'],
      [{ WEBHOOK_CONCURRENCY: '0' }, 'WEBHOOK_CONCURRENCY must be an integer between 1 and 1000, got "0"'],
      [{ HOOK_MEMORY_BUDGET_MB: '16' }, 'HOOK_MEMORY_BUDGET_MB must be an integer between 32 and 1048576, got "16"'],
    ];
    for (const [env, message] of table) assert.equal(configError(env), message, JSON.stringify(env));
  });

  test('URLs: not a URL, or the wrong scheme', () => {
    const table: Array<[Record<string, string>, string]> = [
      [{ ISSUER: 'not a url' }, 'ISSUER is not a valid URL'],
      [{ ISSUER: 'ftp://id.example.com' }, 'ISSUER must use one of http:, https:'],
      [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL must use one of smtp:, smtps:'],
      [{ SMTP_URL: '::' }, 'SMTP_URL is not a valid URL'],
      [{ SMS_WEBHOOK_URL: 'smtp://sms.example.com' }, 'SMS_WEBHOOK_URL must use one of http:, https:'],
    ];
    for (const [env, message] of table) assert.equal(configError(env), message, JSON.stringify(env));
  });

  test('the database URL, the log level and the encryption key', () => {
    assert.equal(configError({ DATABASE_URL: 'mysql://db/tessera' }), 'DATABASE_URL must start with sqlite: or postgres://');
    assert.equal(configError({ LOG_LEVEL: 'loud' }), 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent');
    assert.equal(configError({ ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') }), 'ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  });

  test('booleans take true/false, 1/0, yes/no, on/off and nothing else', () => {
    for (const name of ['TRUST_PROXY', 'SMS_DEV_OUTBOX', 'WEBHOOK_DISPATCHER']) {
      assert.equal(configError({ [name]: 'maybe' }), `${name} must be true or false, got "maybe"`);
    }
    for (const [raw, value] of [
      ['TRUE', true],
      ['1', true],
      ['yes', true],
      ['On', true],
      ['false', false],
      ['0', false],
      ['NO', false],
      ['off', false],
    ] as const) {
      assert.equal(loadConfig({ TRUST_PROXY: raw }).trustProxy, value, raw);
    }
  });

  test('durations: a unit or bare seconds, inside the bounds', () => {
    assert.equal(configError({ SHUTDOWN_GRACE: 'soon' }), 'SHUTDOWN_GRACE must be a duration such as 500ms, 10s, 5m or 2h, between 0 ms and 300000 ms, got "soon"');
    assert.equal(configError({ SHUTDOWN_GRACE: '6m' }), 'SHUTDOWN_GRACE must be a duration such as 500ms, 10s, 5m or 2h, between 0 ms and 300000 ms, got "6m"');
    assert.equal(configError({ WEBHOOK_TIMEOUT: '50ms' }), 'WEBHOOK_TIMEOUT must be a duration such as 500ms, 10s, 5m or 2h, between 100 ms and 60000 ms, got "50ms"');
    assert.equal(configError({ WEBHOOK_POLL_INTERVAL: '-1s' }), 'WEBHOOK_POLL_INTERVAL must be a duration such as 500ms, 10s, 5m or 2h, between 10 ms and 60000 ms, got "-1s"');
    assert.equal(configError({ WEBHOOK_SECRET_ROTATION_WINDOW: '31d' }), 'WEBHOOK_SECRET_ROTATION_WINDOW must be a duration such as 500ms, 10s, 5m or 2h, between 0 ms and 2592000000 ms, got "31d"');
    const table: Array<[string, number | null]> = [
      ['250ms', 250],
      ['5s', 5000],
      ['5', 5000],
      ['1.5s', 1500],
      [' 2m ', 120_000],
      ['2h', 7_200_000],
      ['1d', 86_400_000],
      ['0', 0],
      ['5 s', 5000],
      ['5sec', null],
      ['s', null],
      ['-1', null],
      ['1e3', null],
      ['', null],
      ['10w', null],
    ];
    for (const [raw, ms] of table) assert.equal(parseDuration(raw), ms, JSON.stringify(raw));
  });

  test('the retry schedule: durations only, each at most 7 days, at most 50', () => {
    const message = (raw: string) => `WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of at most 50 durations (each at most 7d), such as 5s,5m,30m,2h, got "${raw}"`;
    for (const raw of ['5s,soon', '5s,,5m', '8d', Array(51).fill('1s').join(',')]) {
      assert.equal(configError({ WEBHOOK_RETRY_SCHEDULE: raw }), message(raw), raw.slice(0, 40));
    }
    assert.deepEqual(loadConfig({ WEBHOOK_RETRY_SCHEDULE: '0.2s, 1m,7d' }).webhooks.retryScheduleMs, [200, 60_000, 604_800_000]);
  });

  test('HOOK_EXECUTIONS_PER_SECOND: 10 by default, a whole number, or all', () => {
    assert.equal(loadConfig({}).hooks.executionsPerSecond, 10);
    assert.equal(loadConfig({ HOOK_EXECUTIONS_PER_SECOND: '0' }).hooks.executionsPerSecond, 0);
    assert.equal(loadConfig({ HOOK_EXECUTIONS_PER_SECOND: '50' }).hooks.executionsPerSecond, 50);
    assert.equal(loadConfig({ HOOK_EXECUTIONS_PER_SECOND: 'all' }).hooks.executionsPerSecond, Number.POSITIVE_INFINITY);
  });

  test('HOOK_MEMORY_BUDGET_MB: 512 by default, at least one isolate (32)', () => {
    assert.equal(loadConfig({}).hooks.memoryBudgetMb, 512);
    assert.equal(loadConfig({ HOOK_MEMORY_BUDGET_MB: '32' }).hooks.memoryBudgetMb, 32);
    assert.equal(loadConfig({ HOOK_MEMORY_BUDGET_MB: '2048' }).hooks.memoryBudgetMb, 2048);
  });

  test('the webhook lease must outlast the timeout by 2 s', () => {
    assert.equal(configError({ WEBHOOK_TIMEOUT: '10s', WEBHOOK_LEASE: '11s' }), 'WEBHOOK_LEASE must be at least 2s longer than WEBHOOK_TIMEOUT');
    assert.equal(loadConfig({ WEBHOOK_TIMEOUT: '10s', WEBHOOK_LEASE: '12s' }).webhooks.leaseMs, 12_000);
    assert.equal(loadConfig({ WEBHOOK_TIMEOUT: '30s' }).webhooks.leaseMs, 90_000, 'by default three timeouts, at least a minute');
  });

  test('WEBHOOK_ALLOWED_HOSTS: each entry one host or host:port', () => {
    const message = (entry: string) => `WEBHOOK_ALLOWED_HOSTS must be a comma-separated list of host or host:port (IPv6 in brackets, no scheme, no wildcard), got "${entry}"`;
    assert.equal(configError({ WEBHOOK_ALLOWED_HOSTS: 'ok.internal, *.internal' }), message('*.internal'));
    assert.equal(configError({ WEBHOOK_ALLOWED_HOSTS: 'HTTP://Hooks.Internal' }), message('http://hooks.internal'));
    assert.equal(configError({ WEBHOOK_ALLOWED_HOSTS: 'hooks.internal:0' }), message('hooks.internal:0'));
  });

  test('TESSERA_CONFIG: an unreadable file is named; the environment wins over the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    try {
      const missing = join(dir, 'missing.json');
      assert.match(configError({ TESSERA_CONFIG: missing }), new RegExp(`^TESSERA_CONFIG: cannot read ${missing}: ENOENT`));
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '{"PORT": ');
      assert.match(configError({ TESSERA_CONFIG: broken }), new RegExp(`^TESSERA_CONFIG: cannot read ${broken}: .*JSON`));
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ PORT: 4000, LOG_LEVEL: 'debug', TRUST_PROXY: true }));
      const config = loadConfig({ TESSERA_CONFIG: file, LOG_LEVEL: 'warn' });
      assert.deepEqual([config.port, config.logLevel, config.trustProxy], [4000, 'warn', true]);
      // A bad value from the file is named like one from the environment.
      writeFileSync(file, JSON.stringify({ PORT: 'eighty' }));
      assert.equal(configError({ TESSERA_CONFIG: file }), 'PORT must be an integer between 0 and 65535, got "eighty"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an empty value is the default, not an error', () => {
    const config = loadConfig({ PORT: '', TRUST_PROXY: '', SHUTDOWN_GRACE: '', LOG_LEVEL: '', WEBHOOK_RETRY_SCHEDULE: '' });
    assert.deepEqual([config.port, config.trustProxy, config.shutdownGraceMs, config.logLevel], [3000, false, 10_000, 'info']);
    assert.deepEqual(config.webhooks.retryScheduleMs, [5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000]);
  });
});
