// Where a hooked token request's main-thread CPU goes, without HTTP (docs/BENCHMARKS.md §13, §14): a
// Tessera server started in this process (SQLite), a user and the bench's `before_id_token` claims
// hook, and two layers called back to back, each measured by this thread's own CPU
// (process.threadCpuUsage: the isolate's threads are not counted, but a run on the sandbox's fast
// path executes the isolate on this thread, so its work is counted then, §14):
// - sandbox: HookSandbox.run of the hook on a prebuilt event (the sandbox alone: its host side and the isolate call);
// - lifecycle: lifecycle.run('before_id_token', …) (store, event, fair share, the run, and its
//   record, whose batched insert falls within the loop).
// Rounds alternate the layers so that the VM's drift hits them alike.
//
//   node --no-node-snapshot bench/hook-path.ts [runs per round] [rounds]
import { setImmediate as turn } from 'node:timers/promises';
import { publicUser } from '../src/identity/users.ts';
import { startTestServer } from '../test/support/server.ts';

const runs = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 4);
const HOOK_CODE = "export default async function (event, api) {\n  api.idToken.setClaim('tier', event.user.email.endsWith('@example.com') ? 'gold' : 'basic');\n}";

const server = await startTestServer('sqlite', { env: { LOG_LEVEL: 'silent' } });
try {
  const services = server.server.services;
  const app = (await server.admin('POST', '/applications', { name: 'Bench', redirect_uris: ['http://127.0.0.1/cb'] })).body;
  const user = (await server.admin('POST', '/users', { email: 'ada@example.com', password: 'correct horse battery', email_verified: true })).body;
  const hook = (await server.admin('POST', '/hooks', { name: 'tier claim', event: 'before_id_token', mode: 'sync', code: HOOK_CODE })).body;
  if (!app.client_id || !user.id || !hook.id) throw new Error('set-up failed');
  const payload = {
    // The user as token-hooks hands it over.
    user: publicUser((await services.users.findById(user.id))!),
    scopes: ['openid', 'email', 'offline_access'],
    grant_type: 'refresh_token' as const,
    claims: { email: 'ada@example.com', email_verified: true },
  };
  const ctx = { applicationId: app.client_id as string, ip: '127.0.0.1', userAgent: 'bench', locale: null };
  const sandboxHook = { id: hook.id, version: 1, code: HOOK_CODE, timeout_ms: 1000 };
  const event = { id: 'evt_bench', type: 'before_id_token', application: { client_id: app.client_id, name: 'Bench' }, request: { ip: '127.0.0.1' }, ...payload, secrets: {} };

  const layers: Record<string, () => Promise<unknown>> = {
    sandbox: () => services.sandbox.run(sandboxHook, event),
    lifecycle: () => services.lifecycle.run('before_id_token', payload, ctx),
  };
  const cpuOf = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  const results: Record<string, number[]> = { sandbox: [], lifecycle: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [name, call] of Object.entries(layers)) {
      for (let i = 0; i < 200; i++) await call(); // warm (and the previous layer's batch written)
      await services.executions.flush();
      await turn();
      const before = process.threadCpuUsage();
      for (let i = 0; i < runs; i++) await call();
      const spent = cpuOf(process.threadCpuUsage(before));
      results[name]!.push((spent * 1000) / runs);
    }
  }
  const check = await services.lifecycle.run('before_id_token', payload, ctx);
  if (check.decision.idTokenClaims.tier !== 'gold') throw new Error(`the hook did not run: ${JSON.stringify(check)}`);
  console.log(`main-thread CPU per call, µs (${rounds} rounds × ${runs} runs):`);
  for (const [name, values] of Object.entries(results)) console.log(`  ${name.padEnd(13)} ${values.map((v) => v.toFixed(1).padStart(7)).join(' ')}`);
} finally {
  await server.close();
}
