// Structured JSON logs (pino). Secrets are redacted by path wherever they might appear.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger };

const REDACT_PATHS = [
  'password',
  '*.password',
  'client_secret',
  '*.client_secret',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  'token',
  '*.token',
  'code',
  '*.code',
  // Named as well, so the censor below sees whose code it is (a wildcard's part comes to it as null).
  'err.code',
  'error.code',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

// An error's code (ECONNREFUSED, SQLITE_FULL's ERR_SQLITE_ERROR, PostgreSQL's SQLSTATE 57014) is what
// an operator needs, and no secret: it is kept where `code` is otherwise redacted (OAuth and one-time codes).
const ERROR_CODE = /^(?:[A-Z][A-Z0-9_]{1,63}|[0-9A-Z]{5})$/;

function censor(value: unknown, path: string[]): unknown {
  const isErrorCode = path.length === 2 && (path[0] === 'err' || path[0] === 'error') && path[1] === 'code';
  return isErrorCode && typeof value === 'string' && ERROR_CODE.test(value) ? value : '[redacted]';
}

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor }, base: { service: 'tessera' } }, destination as never);
}

/** Node's process warnings (deprecations, experimental features) as JSON log lines instead of plain stderr text. */
export function logProcessWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn({ warning: { name: warning.name, message: warning.message } }, 'process warning'));
}
