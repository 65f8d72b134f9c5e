// Several instances on one PostgreSQL (#18.1, #18.2): three processes started at the same moment on an
// empty database agree on one key set (ten rounds), and a key rotated on one is published by all
// within KEY_REFRESH_INTERVAL (sooner through NOTIFY), signs only once all publish it, and no token fails
// to verify against any instance's JWKS while the rotation rolls through (instances restarting meanwhile
// included).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import pg from 'pg';
import { Browser } from './support/browser.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { killAll, spawnServer, type ServerProcess, waitHealthy, waitUntil } from './support/processes.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn } from './support/rp.ts';

const skip = process.env.TEST_POSTGRES_URL ? false : 'needs TEST_POSTGRES_URL';

async function jwks(server: ServerProcess): Promise<JSONWebKeySet> {
  return (await (await fetch(`${server.url}/jwks`)).json()) as JSONWebKeySet;
}

async function keyRows(url: string): Promise<Array<{ kind: string; kid: string }>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT kind, kid FROM keys WHERE retired_at IS NULL ORDER BY kind')).rows;
  } finally {
    await client.end();
  }
}

describe('three instances on one PostgreSQL', { skip }, () => {
  const databases: TestDatabase[] = [];
  after(async () => {
    await killAll();
    for (const database of databases) await database.drop();
  });

  test('ten rounds of simultaneous cold starts on an empty database: one key set, three healthy instances', async () => {
    for (let round = 1; round <= 10; round += 1) {
      const database = await createTestDatabase('postgres');
      databases.push(database);
      const servers = await Promise.all([1, 2, 3].map(() => spawnServer({ DATABASE_URL: database.url })));
      try {
        await Promise.all(servers.map((server) => waitHealthy(server)));
        const rows = await keyRows(database.url);
        assert.deepEqual(
          rows.map((row) => row.kind),
          ['cookie', 'signing'],
          `round ${round}: one signing key and one cookie key, got ${JSON.stringify(rows)}`,
        );
        const published = await Promise.all(servers.map(async (server) => (await jwks(server)).keys.map((key) => key.kid)));
        const signingKid = rows.find((row) => row.kind === 'signing')!.kid;
        for (const kids of published) assert.deepEqual(kids, [signingKid], `round ${round}: every instance publishes the one key`);
        for (const server of servers) {
          assert.ok(!server.logs().some((line) => Number(line.level) >= 50), `round ${round}: no error logged:\n${server.output().slice(-2000)}`);
        }
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
      }
    }
  });

  test('a rotation on one instance is published by all within the interval; no token fails to verify while it rolls through', async () => {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    const REFRESH_MS = 2000;
    const env = { DATABASE_URL: database.url, KEY_REFRESH_INTERVAL: `${REFRESH_MS}ms`, KEY_PROPAGATION_DELAY: '6s' };
    const servers = [await spawnServer(env)];
    await waitHealthy(servers[0]!);
    servers.push(...(await Promise.all([spawnServer(env), spawnServer(env)])));
    await Promise.all(servers.map((server) => waitHealthy(server)));

    const first = servers[0]!;
    const app = await first.admin('POST', '/applications', { name: 'Cluster', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const user = await first.admin('POST', '/users', { email: 'ada@example.com', password: 'analytical-engine-1843', email_verified: true });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const rp = await discoverClient(first.url, app.body.client_id, app.body.client_secret);
    const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const done = await signIn(new Browser(first.url), start, 'ada@example.com', 'analytical-engine-1843');
    assert.ok(done.redirectedTo?.startsWith(CALLBACK), `signed in: ${done.status} ${done.html.slice(0, 200)}`);
    let refreshToken = (await exchangeCode(rp, start, done.redirectedTo!)).refresh_token!;
    const oldKid = (await jwks(first)).keys[0]!.kid!;

    // One refresh at a time, round robin over the instances; each ID token is checked against the JWKS
    // every instance publishes at that moment.
    const failures: string[] = [];
    const signedBy = new Map<string, Set<number>>();
    let turn = 0;
    let newKid = '';
    let activatesAt = Number.POSITIVE_INFINITY;
    const refreshOnce = async () => {
      const index = turn++ % servers.length;
      const server = servers[index]!;
      let idToken: string;
      try {
        const client = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
        const tokens = await oidc.refreshTokenGrant(client.config, refreshToken);
        refreshToken = tokens.refresh_token ?? refreshToken;
        idToken = tokens.id_token!;
      } catch {
        return; // an instance restarting: not a verification failure
      }
      const kid = decodeProtectedHeader(idToken).kid!;
      if (kid === newKid && Date.now() < activatesAt) failures.push(`instance ${index} signed with the new key before its activation`);
      if (!signedBy.has(kid)) signedBy.set(kid, new Set());
      signedBy.get(kid)!.add(index);
      for (const [other, verifier] of servers.entries()) {
        let set: JSONWebKeySet;
        try {
          set = await jwks(verifier);
        } catch {
          continue; // restarting
        }
        try {
          await jwtVerify(idToken, createLocalJWKSet(set));
        } catch (err) {
          failures.push(`token of instance ${index} (kid ${kid}) did not verify against instance ${other}: ${(err as Error).message}`);
        }
      }
    };

    const rotated = await servers[1]!.admin('POST', '/keys/rotate');
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    const rotatedAt = Date.now();
    newKid = rotated.body.kid as string;
    activatesAt = Date.parse(rotated.body.activates_at);
    // Watched on its own, polling fast, while the refreshes go on beside it.
    const publishedAt = new Map<number, number>();
    const watch = waitUntil(
      'every instance to publish the rotated key',
      async () => {
        await Promise.all(
          servers.map(async (server, index) => {
            if (!publishedAt.has(index) && (await jwks(server)).keys.some((key) => key.kid === newKid)) publishedAt.set(index, Date.now() - rotatedAt);
          }),
        );
        return publishedAt.size === servers.length;
      },
      30_000,
    );
    let watching = true;
    void watch.finally(() => {
      watching = false;
    });
    while (watching) await refreshOnce();
    await watch;
    for (const [index, ms] of publishedAt) {
      // Within the interval, with two seconds of slack for a loaded machine.
      assert.ok(ms <= REFRESH_MS + 2000, `instance ${index} published the new key ${ms} ms after the rotation`);
    }
    // While the new key waits for its activation, the instances restart one after the other (a rolling
    // restart): a restarted instance must not sign with it early, and every token keeps verifying.
    for (const index of [2, 0]) {
      await servers[index]!.stop();
      servers[index] = await spawnServer(env, servers[index]!.port);
      await waitHealthy(servers[index]!);
      await refreshOnce();
    }
    await waitUntil(
      'every instance to sign with the rotated key',
      async () => {
        await refreshOnce();
        return (signedBy.get(newKid)?.size ?? 0) === servers.length;
      },
      90_000,
    );
    assert.deepEqual(failures, []);
    assert.ok(signedBy.has(oldKid), 'the old key signed during the rotation');
    // The 6 s delay counts from the rotation (the key's generation, a second at most, comes out of it).
    assert.ok(activatesAt - Date.parse(rotated.body.created_at) >= 5000, 'the new key activates after the propagation delay');

    // Retiring the old key: every instance stops publishing it within the interval.
    const retired = await servers[1]!.admin('POST', `/keys/${oldKid}/retire`);
    assert.equal(retired.status, 200, JSON.stringify(retired.body));
    await waitUntil('every instance to drop the retired key', async () => (await Promise.all(servers.map(jwks))).every((set) => !set.keys.some((key) => key.kid === oldKid)), REFRESH_MS + 15_000);
    await Promise.all(servers.map((server) => server.stop()));
  });

  test('PostgreSQL NOTIFY: a rotation reaches another instance long before its refresh interval', async () => {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    const env = { DATABASE_URL: database.url, KEY_REFRESH_INTERVAL: '10m' };
    const one = await spawnServer(env);
    await waitHealthy(one);
    const two = await spawnServer(env);
    await waitHealthy(two);
    const rotated = await one.admin('POST', '/keys/rotate');
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    // The interval is ten minutes: only the notification can bring it within seconds.
    await waitUntil('the other instance to publish the rotated key', async () => (await jwks(two)).keys.some((key) => key.kid === rotated.body.kid), 10_000);
    await Promise.all([one.stop(), two.stop()]);
  });
});
