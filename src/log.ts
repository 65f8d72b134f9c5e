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
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'tessera' } }, destination as never);
}
