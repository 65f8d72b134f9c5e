// Which runs the execution log records (HOOK_EXECUTIONS_PER_SECOND, src/hooks/run-sampling.ts):
// every failed or denied run; successful runs of a hook for a burst of 100, then at the configured
// rate (0 here: none after the burst). /metrics counts every run, recorded or not.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './support/databases.ts';
import type { Execution } from './support/hook-peer.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';

for (const kind of databaseKinds()) {
  describe(`the execution log samples successful runs under load, and records every failure and denial (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { env: { HOOK_EXECUTIONS_PER_SECOND: '0' } });
    });
    after(() => server.close());

    test('105 successful runs: the first 100 are recorded; then a failure and a denial are, and /metrics counts all 107', async () => {
      const hook = await server.admin('POST', '/hooks', {
        name: 'sampled',
        event: 'before_registration',
        mode: 'sync',
        code: "export default async (event, api) => {\n  if (event.user.email.startsWith('fail')) throw new Error('asked to fail');\n  if (event.user.email.startsWith('deny')) api.deny('not today');\n  api.user.setMetadata('n', event.user.email);\n}",
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const run = (email: string) =>
        server.server.services.lifecycle.run('before_registration', { user: { email }, invited: false } as never, { applicationId: null, ip: null, userAgent: null, locale: null });
      for (let i = 0; i < 105; i += 1) assert.equal((await run(`u${i}@example.com`)).denied, null);
      assert.notEqual((await run('fail@example.com')).denied, null, 'on_error "fail" by default: the failure denies');
      assert.equal((await run('deny@example.com')).denied?.message, 'not today');

      const listed = await server.admin('GET', `/hooks/${hook.body.id}/executions?limit=500`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      const runs = (listed.body as Execution[]).reverse();
      assert.equal(runs.length, 102);
      assert.deepEqual(
        runs.slice(0, 100).map((r) => r.actions),
        Array.from({ length: 100 }, (_, i) => [{ type: 'user.setMetadata', key: 'n', value: `u${i}@example.com` }]),
        'the first 100, in order',
      );
      assert.deepEqual(
        runs.slice(100).map((r) => [r.outcome, r.error ?? null, r.actions]),
        [
          ['error', 'Error: asked to fail (line 2)', []],
          [
            'success',
            null,
            [
              { type: 'deny', message: 'not today' },
              { type: 'user.setMetadata', key: 'n', value: 'deny@example.com' },
            ],
          ],
        ],
      );
      for (const r of runs) assert.equal((r as { has_event?: boolean }).has_event, true, 'a recorded run keeps its event');
      const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
      assert.match(metrics, /tessera_hook_runs_total\{event="before_registration",mode="sync",outcome="success"\} 106\n/);
      assert.match(metrics, /tessera_hook_runs_total\{event="before_registration",mode="sync",outcome="error"\} 1\n/);
    });
  });
}
