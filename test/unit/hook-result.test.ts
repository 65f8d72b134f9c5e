// The host's reading of a hook's result (src/hooks/sandbox/run.ts parseResult): it is measured here,
// outside the isolate, whatever the prelude claims; a short result skips the per-value measure only
// where no value of it could be over the cap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_ACTION_VALUE_CHARS, MAX_ACTIONS, parseResult } from '../../src/hooks/sandbox/run.ts';

const resultOf = (actions: unknown[]) => JSON.stringify({ actions, logged: 0 });
/** The `value` of the first action read back. */
const firstValue = (parsed: ReturnType<typeof parseResult>) => (parsed.actions[0] as unknown as { value: unknown }).value;

test('a plain result comes back as its actions, without a __proto__ key', () => {
  const parsed = parseResult(resultOf([{ type: 'idToken.setClaim', name: 'tier', value: 'gold' }]));
  assert.deepEqual(parsed, { actions: [{ type: 'idToken.setClaim', name: 'tier', value: 'gold' }], logged: 0 });
  const proto = parseResult('{"actions":[{"type":"user.setMetadata","key":"k","value":{"__proto__":{"polluted":1},"ok":true}}],"logged":0}');
  assert.deepEqual(Object.keys(firstValue(proto) as object), ['ok']);
  const escaped = parseResult('{"actions":[{"type":"user.setMetadata","key":"k","value":{"\\u005f_proto__":{"polluted":1}}}],"logged":0}');
  assert.deepEqual(Object.keys(firstValue(escaped) as object), [], 'an escaped __proto__ key is dropped too');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('a value over 64 KiB is refused, in a long result or written short (numbers that grow when written out)', () => {
  const long = parseResult(resultOf([{ type: 'user.setMetadata', key: 'k', value: 'x'.repeat(MAX_ACTION_VALUE_CHARS) }]));
  assert.match(String(long.error), /over the limits/);
  // 1e20 is 4 characters of text and 21 once written out: 3200 of them are 16 KiB of text, 70 KiB written out.
  const grown = parseResult(`{"actions":[{"type":"user.setMetadata","key":"k","value":[${Array(3200).fill('1e20').join(',')}]}],"logged":0}`);
  assert.match(String(grown.error), /over the limits/);
  const fits = parseResult(`{"actions":[{"type":"user.setMetadata","key":"k","value":[${Array(500).fill('1e20').join(',')}]}],"logged":0}`);
  assert.equal(fits.error, undefined);
  assert.equal((firstValue(fits) as number[]).length, 500);
});

test('more than 200 actions, a malformed action or an unreadable text is refused', () => {
  assert.match(String(parseResult(resultOf(Array.from({ length: MAX_ACTIONS + 1 }, () => ({ type: 'mfa.skip' })))).error), /over the limits/);
  assert.equal(parseResult(resultOf([{ name: 'no type' }])).error, 'the hook returned a malformed action');
  assert.equal(parseResult('{not json').error, 'the hook returned an unreadable result');
  assert.equal(parseResult(42).error, 'the hook returned an unreadable result');
});
