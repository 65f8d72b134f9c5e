// Log lines keep what an operator needs: an error's code (ECONNREFUSED, a SQLSTATE) is not redacted as
// the OAuth and one-time `code`s are.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../src/log.ts';

test('error codes are kept; other codes are redacted', () => {
  const lines: Array<Record<string, any>> = [];
  const log = createLogger(
    'info',
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  log.warn({ err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) }, 'refused');
  log.warn({ err: Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }) }, 'timeout');
  log.info({ code: 'SplxlOBeZQQYbYS6WxSbIA' }, 'an authorization code');
  log.info({ params: { code: '123456' } }, 'a one-time code');
  log.warn({ err: { code: 'not-an-error-code secret' } }, 'odd');
  assert.equal(lines[0]!.err.code, 'ECONNREFUSED');
  assert.equal(lines[1]!.err.code, '57014');
  assert.equal(lines[2]!.code, '[redacted]');
  assert.equal(lines[3]!.params.code, '[redacted]');
  assert.equal(lines[4]!.err.code, '[redacted]');
});
