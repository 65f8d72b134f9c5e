// Fair sharing between hooks (issue #18.8): the circuit breaker opens after consecutive failed runs,
// the hook is then skipped under its on_error (a `skipped: circuit open` execution, a log line, a
// hook.failed event and metrics say so), a trial run after the cool-down reopens or closes it; and a
// hook's runs at once are bounded. The clock is moved (test/support/clock.ts), not waited for.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { createLogger } from '../src/log.ts';
import { Browser } from './support/browser.ts';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

const COOLDOWN_MS = 60_000;
// Fails while its secret MODE says so: the operator "fixes the upstream" without a new version
// (a new version would start with a fresh breaker).
const FLAKY = `export default async function (event, api) {
  if (event.secrets.MODE === 'down') throw new Error('upstream down');
  api.idToken.setClaim('tier', 'gold');
}`;
const HANGS = `export default async function () {
  await new Promise(() => {});
}`;

for (const kind of databaseKinds()) {
  describe(`hook fair sharing (${kind})`, () => {
    let server: TestServer;
    let rp: RelyingParty;
    let refreshToken: string;
    const lines: Array<Record<string, unknown>> = [];

    before(async () => {
      const sink = new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      });
      server = await startTestServer(kind, {
        env: { HOOK_BREAKER_FAILURES: '3', HOOK_BREAKER_COOLDOWN: `${COOLDOWN_MS / 1000}s`, HOOK_MAX_CONCURRENCY: '1' },
        log: createLogger('info', sink),
      });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK] });
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      assert.equal((await server.admin('POST', '/users', { email: 'ada@example.com', password: 'correct horse battery', email_verified: true })).status, 201);
      const start = await authorizationUrl(rp, { scope: 'openid email offline_access', prompt: 'consent' });
      const done = await signIn(new Browser(server.url), start, 'ada@example.com', 'correct horse battery');
      refreshToken = (await exchangeCode(rp, start, done.redirectedTo!)).refresh_token!;
      assert.ok(refreshToken);
    });
    after(() => server?.close());

    /** A refresh grant: its ID token's claims, or the error the token endpoint answered. */
    async function refresh(): Promise<{ claims?: Record<string, unknown>; error?: string }> {
      try {
        const tokens = await oidc.refreshTokenGrant(rp.config, refreshToken);
        if (tokens.refresh_token) refreshToken = tokens.refresh_token;
        return { claims: tokens.claims() as Record<string, unknown> };
      } catch (error) {
        return { error: (error as { error?: string }).error ?? String(error) };
      }
    }

    async function executions(hookId: string): Promise<Array<{ outcome: string; error: string | null }>> {
      const listed = await server.admin('GET', `/hooks/${hookId}/executions?limit=100`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body.reverse(); // oldest first
    }

    async function metrics(): Promise<string> {
      const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      assert.equal(response.status, 200);
      return response.text();
    }

    test('the breaker opens after consecutive failures, skips under on_error, and a trial run after the cool-down closes it', async () => {
      const created = await server.admin('POST', '/hooks', { name: 'flaky CRM', event: 'before_id_token', mode: 'sync', code: FLAKY, secrets: { MODE: 'down' }, on_error: 'continue' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const hookId = created.body.id;

      for (let i = 0; i < 3; i += 1) assert.equal((await refresh()).claims?.tier, undefined, 'on_error continue: the grant goes on without the claim');
      assert.equal(server.server.services.runner.shareOf(hookId)?.breaker, 'open');
      assert.equal((await refresh()).claims?.tier, undefined);
      let runs = await executions(hookId);
      assert.deepEqual(
        runs.map((r) => r.outcome),
        ['error', 'error', 'error', 'skipped'],
        'three failed runs, then skipped without running',
      );
      assert.equal(runs[3]!.error, 'skipped: circuit open');

      // on_error "fail": while the circuit is open, the grant is refused as for a failed run.
      assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { on_error: 'fail' })).status, 200);
      assert.equal((await refresh()).error, 'access_denied');
      assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { on_error: 'continue' })).status, 200);

      // Said once, when it opened: a structured log line, a hook.failed event and a metric.
      const opened = lines.filter((l) => l.hook_id === hookId && String(l.msg).startsWith('hook circuit open'));
      assert.equal(opened.length, 1, 'one log line for the opening');
      assert.equal(opened[0]!.failures, 3);
      const failedEvents = await server.server.services.db('webhook_events').where({ type: 'hook.failed' });
      const skippedEvent = failedEvents.map((e) => JSON.parse(e.data)).filter((d) => d.hook_id === hookId && d.outcome === 'skipped');
      assert.equal(skippedEvent.length, 1);
      assert.match(skippedEvent[0].error, /circuit open for 60 s after 3 consecutive failed runs/);
      let text = await metrics();
      assert.match(text, new RegExp(`tessera_hook_circuit_changes_total\\{hook_id="${hookId}",state="open"\\} 1`));
      assert.match(text, /tessera_hook_skipped_total\{event="before_id_token",reason="circuit open"\} 2/);

      // After the cool-down one trial run: still failing, it opens the breaker again.
      advanceClock(COOLDOWN_MS);
      await refresh();
      assert.equal(server.server.services.runner.shareOf(hookId)?.breaker, 'open');
      await refresh();
      runs = await executions(hookId);
      assert.deepEqual(
        runs.slice(-2).map((r) => r.outcome),
        ['error', 'skipped'],
        'the trial failed, and the next run is skipped again',
      );

      // The upstream is back: after the next cool-down the trial succeeds and the hook runs again.
      assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { secrets: { MODE: 'up' } })).status, 200);
      assert.equal((await refresh()).claims?.tier, undefined, 'still open until the cool-down ends');
      advanceClock(COOLDOWN_MS);
      assert.equal((await refresh()).claims?.tier, 'gold', 'the trial run succeeded');
      assert.equal(server.server.services.runner.shareOf(hookId)?.breaker, 'closed');
      assert.equal((await refresh()).claims?.tier, 'gold');
      runs = await executions(hookId);
      assert.deepEqual(
        runs.slice(-3).map((r) => r.outcome),
        ['skipped', 'success', 'success'],
      );
      assert.equal(lines.filter((l) => l.hook_id === hookId && String(l.msg).startsWith('hook circuit closed')).length, 1);
      text = await metrics();
      assert.match(text, new RegExp(`tessera_hook_circuit_changes_total\\{hook_id="${hookId}",state="closed"\\} 1`));
      assert.equal((await server.admin('DELETE', `/hooks/${hookId}`)).status, 204);
    });

    test("a hook's runs at once are bounded: a run that finds none free before its timeout is skipped", async () => {
      const created = await server.admin('POST', '/hooks', { name: 'hangs', event: 'before_id_token', mode: 'sync', code: HANGS, timeout_ms: 2000, on_error: 'continue' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const hookId = created.body.id;
      // HOOK_MAX_CONCURRENCY=1: two grants at once, the hook hangs in the first until its timeout; the
      // second waits for it and would be left with far less than a tenth of its own timeout.
      const results = await Promise.all([refresh(), refresh()]);
      for (const result of results) assert.ok(result.claims, `the grant went on (on_error continue): ${result.error}`);
      const outcomes = (await executions(hookId)).map((r) => `${r.outcome}${r.outcome === 'skipped' ? `: ${r.error}` : ''}`).sort();
      assert.deepEqual(outcomes, ['skipped: skipped: no free run before its timeout', 'timeout']);
      assert.equal((await server.admin('DELETE', `/hooks/${hookId}`)).status, 204);
    });
  });
}
