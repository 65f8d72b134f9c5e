// Growth of oidc_models (issue #12.6): under sustained refresh grants with the expiry sweep, the
// table holds what is alive and no more (each refresh stores an access token for its TTL), and the
// sweep deletes in batches found through the expires_at index, so its cost follows what expired, not
// the table's size. The clock is moved (test/support/clock.ts), not waited for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { deleteExpiredModels } from '../src/oidc/adapter.ts';
import { Browser } from './support/browser.ts';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ACCESS_TTL_S = 60;
const WINDOW_MS = 20_000;
const REFRESHES_PER_WINDOW = 6;
const WINDOWS = 8;

for (const kind of databaseKinds()) {
  describe(`oidc_models growth (${kind})`, () => {
    let server: TestServer;
    let rp: RelyingParty;
    let refreshToken: string;

    before(async () => {
      server = await startTestServer(kind, { env: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL_S) } });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK] });
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      assert.equal((await server.admin('POST', '/users', { email: 'ada@example.com', password: 'correct horse battery', email_verified: true })).status, 201);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(new Browser(server.url), start, 'ada@example.com', 'correct horse battery');
      refreshToken = (await exchangeCode(rp, start, done.redirectedTo!)).refresh_token!;
      assert.ok(refreshToken);
    });
    after(() => server?.close());

    const rows = async () => Number((await server.server.services.db('oidc_models').count({ n: '*' }))[0]!.n);

    test('rows stay bounded under sustained refreshes with the sweep, which deletes in index-found batches', async () => {
      const { db } = server.server.services;
      advanceClock(ACCESS_TTL_S * 1000); // the sign-in's own short-lived artifacts (code, interaction) expire
      await deleteExpiredModels(db);
      const base = await rows(); // session, grant, refresh token
      const counts: number[] = [];
      let swept = 0;
      for (let window = 0; window < WINDOWS; window += 1) {
        for (let i = 0; i < REFRESHES_PER_WINDOW; i += 1) assert.ok((await oidc.refreshTokenGrant(rp.config, refreshToken)).access_token);
        advanceClock(WINDOW_MS);
        // A batch of 7 makes every sweep take several statements.
        swept += await deleteExpiredModels(db, Date.now(), 7);
        counts.push(await rows());
      }
      // Alive after a sweep: the access tokens of the last TTL (and the window that straddles it).
      const bound = base + REFRESHES_PER_WINDOW * (ACCESS_TTL_S / (WINDOW_MS / 1000) + 1);
      for (const [window, count] of counts.entries()) assert.ok(count <= bound, `window ${window}: ${count} rows, more than the ${bound} alive`);
      const steady = counts.slice(4);
      assert.ok(Math.max(...steady) - Math.min(...steady) <= REFRESHES_PER_WINDOW, `steady state, not growth: ${counts.join(', ')}`);
      assert.equal(swept + (counts.at(-1)! - base), REFRESHES_PER_WINDOW * WINDOWS, 'every access token issued is either swept or still alive');

      // Each batch is found through the expires_at index (not a scan of the table).
      if (kind === 'sqlite') {
        const plan = (await db.raw('EXPLAIN QUERY PLAN SELECT rowid FROM oidc_models WHERE expires_at <= ? LIMIT ?', [Date.now(), 7])) as Array<{ detail: string }>;
        assert.match(plan.map((p) => p.detail).join('; '), /USING (COVERING )?INDEX oidc_models_expires_at_index/);
      } else {
        await db.transaction(async (trx) => {
          await trx.raw('SET LOCAL enable_seqscan = off');
          const explained = await trx.raw('EXPLAIN SELECT model, id FROM oidc_models WHERE expires_at <= ? LIMIT ?', [Date.now(), 7]);
          const plan = (explained.rows as Array<Record<string, string>>).map((r) => Object.values(r)[0]).join('\n');
          assert.match(plan, /Index (Only )?Scan (using|on) oidc_models_expires_at_index/);
        });
      }
    });
  });
}
