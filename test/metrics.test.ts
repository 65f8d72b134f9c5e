// Metrics are served to the holder of the token only, and count requests and hook runs; the hook
// execution log is pruned by age and by count.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { advanceClock } from './support/clock.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';
import { databaseKinds } from './support/databases.ts';

for (const kind of databaseKinds()) {
  describe(`metrics and execution log pruning (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      // A hook memory budget of 96 MiB: three isolates of 32 MiB at most.
      server = await startTestServer(kind, { env: { METRICS_TOKEN: 'scrape-token-123', HOOK_MEMORY_BUDGET_MB: '96' } });
    });
    after(() => server.close());

    test('GET /metrics needs a bearer token and counts hook runs', async () => {
      assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
      assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);

      const hook = await server.admin('POST', '/hooks', { name: 'stamp', event: 'after_login', mode: 'sync', code: "export default async (e, api) => { api.user.setMetadata('seen', true); }" });
      assert.equal(hook.status, 201);
      const user = await server.admin('POST', '/users', { email: 'm@example.com' });
      const outcome = await server.server.services.lifecycle.run(
        'after_login',
        { user: user.body, device: { id: 'd1', new: false }, risk: { new_device: false, impossible_travel: false, breached_password: false, travel: null } },
        { applicationId: null, ip: null, userAgent: null, locale: null },
      );
      assert.deepEqual(outcome.actions, [{ type: 'user.setMetadata', key: 'seen', value: true }]);

      for (const token of ['scrape-token-123', ADMIN_KEY]) {
        const answer = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(answer.status, 200);
        const text = await answer.text();
        assert.match(text, /tessera_hook_runs_total\{event="after_login",mode="sync",outcome="success"\} 1/);
        assert.match(text, /tessera_http_request_duration_seconds_count\{method="POST",status="201"\} \d+/);
      }
    });

    test("GET /metrics shows the hook isolates and how many runs started on the server's thread", async () => {
      const hook = await server.admin('POST', '/hooks', { name: 'fast', event: 'after_registration', mode: 'sync', code: "export default async (e, api) => { api.user.setMetadata('fast', true); }" });
      assert.equal(hook.status, 201);
      const user = await server.admin('POST', '/users', { email: 'fast@example.com' });
      const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
      const fastRuns = (text: string) => Number(/tessera_hook_sandbox_paths_total\{path="fast"\} (\d+)/.exec(text)?.[1] ?? Number.NaN);
      const before = fastRuns(await scrape());
      // An isolate runs a version the async way first (it carries the source), then once more to
      // learn that its runs are short; the pool has two warm isolates.
      for (let i = 0; i < 6; i += 1) {
        await server.server.services.lifecycle.run('after_registration', { user: user.body, invited: false }, { applicationId: null, ip: null, userAgent: null, locale: null });
      }
      const text = await scrape();
      assert.ok(fastRuns(text) - before >= 2, `fast runs: ${before} then ${fastRuns(text)}`);
      assert.match(text, /tessera_hook_sandbox_paths_total\{path="slice_over"\} 0/);
      assert.match(text, /tessera_hook_isolates\{state="idle"\} [1-9]/);
      assert.match(text, /tessera_hook_isolates\{state="waiting"\} 0/);
      assert.match(text, /\ntessera_hook_isolates_max 3\n/);
    });

    test('executions are pruned beyond the count per hook and past the age', async () => {
      const hook = await server.admin('POST', '/hooks', { name: 'count', event: 'after_registration', mode: 'sync', code: 'export default async () => {}' });
      const user = await server.admin('POST', '/users', { email: 'p@example.com' });
      for (let i = 0; i < 12; i += 1) {
        await server.server.services.lifecycle.run('after_registration', { user: user.body, invited: false }, { applicationId: null, ip: null, userAgent: null, locale: null });
        advanceClock(2); // distinct created_at
      }
      const before = await server.admin('GET', `/hooks/${hook.body.id}/executions?limit=100`);
      assert.equal(before.body.length, 12);
      await server.server.services.executions.prune(86400_000, 10);
      const kept = await server.admin('GET', `/hooks/${hook.body.id}/executions?limit=100`);
      assert.equal(kept.body.length, 10);
      assert.deepEqual(
        kept.body.map((e: { id: string }) => e.id),
        before.body.slice(0, 10).map((e: { id: string }) => e.id),
        'the newest runs are kept',
      );
      advanceClock(5); // every run is now older than 1 ms
      await server.server.services.executions.prune(1, 10);
      assert.equal((await server.admin('GET', `/hooks/${hook.body.id}/executions?limit=100`)).body.length, 0);
    });
  });
}
