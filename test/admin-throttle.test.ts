// Guessing the admin API key is throttled per client address: past ADMIN_MAX_FAILURES_PER_IP wrong
// keys inside the window, that address gets 429 for every key, the right one included (a guess made
// while throttled says nothing), on the admin API and on GET /metrics alike; other addresses and the
// box itself are not affected, and a forged X-Forwarded-For entry does not change the address; right
// keys are not counted; the window's end lifts it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`admin key throttle (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { env: { ADMIN_MAX_FAILURES_PER_IP: '3', LOGIN_THROTTLE_WINDOW_SECONDS: '2', TRUST_PROXY: 'true' } });
    });
    after(() => server.close());

    const call = async (from: string, key: string | null, path = '/admin/api/applications') => {
      const response = await fetch(`${server.url}${path}`, {
        headers: { 'x-forwarded-for': from, ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
      });
      const body = await response.text();
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
    };

    test('wrong keys are counted per address; right keys are not; past the limit every key gets 429', async () => {
      const attacker = '203.0.113.7';
      assert.equal((await call(attacker, 'guess-1')).status, 401);
      assert.equal((await call(attacker, 'guess-2')).status, 401);
      for (let i = 0; i < 5; i++) assert.equal((await call(attacker, ADMIN_KEY)).status, 200, 'a right key is not counted');
      assert.equal((await call(attacker, null)).status, 401, 'no key at all is not a guess');
      assert.equal((await call(attacker, 'guess-3')).status, 401, 'the third wrong key is still inside the limit');

      const throttled = await call(attacker, 'guess-4');
      assert.equal(throttled.status, 429);
      assert.equal(throttled.retryAfter, '2');
      assert.match(JSON.parse(throttled.body).message, /too many wrong keys from this address/);
      const right = await call(attacker, ADMIN_KEY);
      assert.deepEqual({ status: right.status, body: right.body }, { status: throttled.status, body: throttled.body }, 'the right key gets the same answer as a wrong one');
      assert.equal((await call(attacker, ADMIN_KEY, '/metrics')).status, 429, 'GET /metrics shares the throttle');
      assert.equal((await call(attacker, 'guess-5', '/metrics')).status, 429);

      // A client cannot choose its address: only the entry our proxy appended (the last) counts.
      assert.equal((await call(`127.0.0.1, ${attacker}`, ADMIN_KEY)).status, 429, 'a forged loopback entry before the real one does not lift it');
      assert.equal((await call(`198.51.100.99, ${attacker}`, ADMIN_KEY)).status, 429);

      // Another address, and the box itself, are not throttled.
      assert.equal((await call('198.51.100.20', ADMIN_KEY)).status, 200);
      assert.equal((await call('198.51.100.20', 'typo')).status, 401);
      assert.equal((await server.admin('GET', '/applications')).status, 200, 'loopback (no proxy header) is not throttled');

      // Once the window has passed (on the clock: test/support/clock.ts), the right key works again.
      advanceClock(2200);
      assert.equal((await call(attacker, ADMIN_KEY)).status, 200);
    });

    test('wrong keys from the box itself are never throttled', async () => {
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${server.url}/admin/api/applications`, { headers: { authorization: 'Bearer wrong' } });
        assert.equal(response.status, 401);
      }
      assert.equal((await server.admin('GET', '/applications')).status, 200);
    });
  });
}
