// The event a hook run keeps for a replay (src/hooks/redact.ts): what is redacted at any depth (keys
// naming secrets, one-time codes and links, token-shaped values), what is kept (flags, nulls, ordinary
// fields that only look alike), what is left out (the run's secrets and hook) and the size cap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_EVENT_CHARS, REDACTED, redactEvent, redactedEventJson, userIdOf } from '../../src/hooks/redact.ts';

const kept = (event: Record<string, unknown>) => JSON.parse(redactedEventJson(event)!);

test('keys naming passwords, secrets, tokens and keys are redacted at any depth, flags and nulls kept', () => {
  const event = kept({
    password: 'hunter2 hunter2',
    user: { email: 'ada@example.com', has_password: true, attributes: { api_key: 'k-123', nested: [{ client_secret: 's' }, { refresh_token: 'r' }] } },
    profile: { id_token: 'x', access_token: 'y', sub: '123', session_state: 'abc' },
    request: { headers: { authorization: 'whatever', cookie: 'a=b' } },
    signing_key: 'pem',
    key: 'k',
    code_verifier: 'v',
    password_hint: null,
  });
  assert.equal(event.password, REDACTED);
  assert.equal(event.user.email, 'ada@example.com');
  assert.equal(event.user.has_password, true);
  assert.equal(event.user.attributes.api_key, REDACTED);
  assert.deepEqual(event.user.attributes.nested, [{ client_secret: REDACTED }, { refresh_token: REDACTED }]);
  assert.deepEqual(event.profile, { id_token: REDACTED, access_token: REDACTED, sub: '123', session_state: REDACTED });
  assert.deepEqual(event.request.headers, { authorization: REDACTED, cookie: REDACTED });
  assert.equal(event.signing_key, REDACTED);
  assert.equal(event.key, REDACTED);
  assert.equal(event.code_verifier, REDACTED);
  assert.equal(event.password_hint, null);
});

test("a message's one-time code and link, and token-shaped values under any key, are redacted", () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl';
  const event = kept({
    message: { type: 'password_reset', to: 'ada@example.com', link: 'https://id.example.com/reset-password/3q2-7bQk', code: '123456' },
    answers: { otp: '999999', pin: '1234', note: jwt, auth: 'Bearer abc.def', basic: 'Basic dXNlcjpwYXNz' },
    postal_code: '10115',
    country_code: 'DE',
    links: ['https://example.com'],
  });
  assert.deepEqual(event.message, { type: 'password_reset', to: 'ada@example.com', link: REDACTED, code: REDACTED });
  assert.deepEqual(event.answers, { otp: REDACTED, pin: REDACTED, note: REDACTED, auth: REDACTED, basic: REDACTED });
  assert.equal(event.postal_code, '10115', 'a field ending in _code is not a one-time code');
  assert.equal(event.country_code, 'DE');
  assert.deepEqual(event.links, ['https://example.com']);
});

test("the run's secrets and hook are left out; a key __proto__ stays a key; a larger event is not kept", () => {
  const event = kept({ id: 'evt_1', type: 'after_login', hook: { id: 'hook_1' }, secrets: { CRM_TOKEN: 'tok' }, ...JSON.parse('{"__proto__": {"polluted": "yes"}}') });
  assert.deepEqual(Object.keys(event).sort(), ['__proto__', 'id', 'type']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.ok(!redactedEventJson({ secrets: { CRM_TOKEN: 'tok-value' } })!.includes('tok-value'));
  assert.equal(redactedEventJson({ blob: 'x'.repeat(MAX_EVENT_CHARS) }), null);
  assert.equal(typeof redactedEventJson({ blob: 'x'.repeat(MAX_EVENT_CHARS - 100) }), 'string');
});

test('the user an event is about: user.id, else user_id, else none', () => {
  assert.equal(userIdOf({ user: { id: 'u1' }, user_id: 'u2' }), 'u1');
  assert.equal(userIdOf({ user: null, user_id: 'u2' }), 'u2');
  assert.equal(userIdOf({ user: { email: 'x' } }), null);
  assert.equal(userIdOf({ audit: { id: 'a' } }), null);
});

test("what was redacted is scrubbed from the run's logs and actions; short values and other text stay", () => {
  const event = redactEvent({ password: 'hunter2 hunter2', message: { code: '123456', link: 'https://id.example.com/r/abcdef' }, answers: { pin: '12' }, user: { email: 'ada@example.com' } });
  assert.equal(event.redacted, true);
  assert.equal(event.scrub('got hunter2 hunter2 for ada@example.com, code 123456'), `got ${REDACTED} for ada@example.com, code ${REDACTED}`);
  assert.equal(event.scrub('link https://id.example.com/r/abcdef!'), `link ${REDACTED}!`);
  assert.equal(event.scrub('pin 12'), 'pin 12', 'too short to scrub without shredding every line');
  assert.deepEqual(JSON.parse(JSON.stringify(event.scrubValue([{ type: 'idToken.setClaim', key: 'pw', value: 'x hunter2 hunter2 y', n: 123456 }]))), [
    { type: 'idToken.setClaim', key: 'pw', value: `x ${REDACTED} y`, n: 123456 },
  ]);
  const nothing = redactEvent({ user: { email: 'ada@example.com', has_password: true } });
  assert.equal(nothing.redacted, false);
  assert.equal(nothing.scrub('ada@example.com'), 'ada@example.com');
});
