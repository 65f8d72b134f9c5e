// The hooks admin API: CRUD with validation (code that does not compile is refused with its line),
// secrets never returned, the dry-run test endpoint, the execution log, the event catalog and the
// template library.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EVENTS } from '../src/hooks/catalog/events.ts';
import { databaseKinds } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CLAIMS_HOOK = `export default async function (event, api) {
  console.log('issuing for', event.user.email, 'with', event.secrets.CRM_TOKEN);
  api.idToken.setClaim('tier', 'gold');
}`;

for (const kind of databaseKinds()) {
  describe(`hooks admin API (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test('create, read, update, delete; secrets stay on the server', async () => {
      const created = await server.admin('POST', '/hooks', {
        name: 'CRM tier',
        event: 'before_id_token',
        mode: 'sync',
        code: CLAIMS_HOOK,
        secrets: { CRM_TOKEN: 'sekret-value-123' },
        allowed_hosts: ['crm.example.com'],
        timeout_ms: 1500,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.id, /^hook_/);
      assert.deepEqual(created.body.secrets, ['CRM_TOKEN']);
      assert.equal(created.body.on_error, 'fail');
      assert.equal(created.body.enabled, true);
      assert.equal(created.body.version, 1);

      const listed = await server.admin('GET', '/hooks');
      assert.equal(listed.status, 200);
      assert.ok(!JSON.stringify(listed.body).includes('sekret-value-123'), 'a secret value never leaves the server');

      const patched = await server.admin('PATCH', `/hooks/${created.body.id}`, { code: CLAIMS_HOOK.replace('gold', 'silver'), enabled: false });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.version, 2);
      assert.equal(patched.body.enabled, false);

      const removed = await server.admin('DELETE', `/hooks/${created.body.id}`);
      assert.equal(removed.status, 204);
      assert.equal((await server.admin('GET', `/hooks/${created.body.id}`)).status, 404);
    });

    test('PATCH secrets merges: named secrets are set, null removes one, the others are kept', async () => {
      // The values are logged reversed, so the log's redaction of secret values does not hide them.
      const code = `export default async function (event) {
        console.log(JSON.stringify(Object.fromEntries(Object.entries(event.secrets).map(([k, v]) => [k, [...v].reverse().join('')]))));
      }`;
      const created = await server.admin('POST', '/hooks', { name: 'secrets', event: 'before_id_token', mode: 'sync', code, secrets: { A: 'a-one', B: 'b-one' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      const seen = async () => {
        const run = await server.admin('POST', `/hooks/${id}/test`, {});
        assert.equal(run.body.outcome, 'success', JSON.stringify(run.body));
        const reversed = JSON.parse(run.body.logs[0].replace(/^\[log\] /, '')) as Record<string, string>;
        return Object.fromEntries(Object.entries(reversed).map(([k, v]) => [k, [...v].reverse().join('')]));
      };

      const changed = await server.admin('PATCH', `/hooks/${id}`, { secrets: { B: 'b-two', C: 'c-one' } });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual([...changed.body.secrets].sort(), ['A', 'B', 'C']);
      assert.deepEqual(await seen(), { A: 'a-one', B: 'b-two', C: 'c-one' });

      const removed = await server.admin('PATCH', `/hooks/${id}`, { secrets: { A: null } });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.deepEqual([...removed.body.secrets].sort(), ['B', 'C']);
      assert.deepEqual(await seen(), { B: 'b-two', C: 'c-one' });

      // A PATCH without secrets leaves them alone; a bad value names the secret and changes nothing.
      await server.admin('PATCH', `/hooks/${id}`, { enabled: false });
      const bad = await server.admin('PATCH', `/hooks/${id}`, { secrets: { B: 42, D: 'd-one' } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^secrets\.B: .*or null to remove it/);
      assert.deepEqual(await seen(), { B: 'b-two', C: 'c-one' });
      // null is for removing: a new hook cannot be created with one.
      const createdWithNull = await server.admin('POST', '/hooks', { name: 'x', event: 'before_id_token', mode: 'sync', code, secrets: { A: null } });
      assert.equal(createdWithNull.status, 400);
      assert.match(createdWithNull.body.message, /^secrets\.A: /);
      assert.equal((await server.admin('DELETE', `/hooks/${id}`)).status, 204);
    });

    test('bad hooks are refused with a message naming the field (and the line for code)', async () => {
      const broken = await server.admin('POST', '/hooks', { name: 'x', event: 'after_login', mode: 'sync', code: 'export default async function (event, api) {\n  const = 1;\n}' });
      assert.equal(broken.status, 400);
      assert.match(broken.body.message, /^code: /);
      assert.match(broken.body.message, /line 2/);

      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ name: 'x', event: 'nope', mode: 'sync', code: CLAIMS_HOOK }, /^event: /],
        [{ name: 'x', event: 'after_login', mode: 'sync', code: CLAIMS_HOOK, timeout_ms: 60000 }, /^timeout_ms: /],
        [{ name: 'x', event: 'after_login', mode: 'sync', code: CLAIMS_HOOK, on_error: 'ignore' }, /^on_error: /],
        [{ name: 'x', event: 'after_login', mode: 'sync', code: CLAIMS_HOOK, applications: ['no-such-app'] }, /^applications\[0\]: /],
        [{ name: 'x', event: 'after_login', mode: 'sync', code: CLAIMS_HOOK, allowed_hosts: ['http://x'] }, /^allowed_hosts\[0\]: /],
        [{ name: 'x', event: 'after_login', mode: 'sync', code: CLAIMS_HOOK, secrets: { 'bad name': 'v' } }, /^secrets\./],
        [{ name: 'x', event: 'after_login', mode: 'sync', code: 'export const x = 1;' }, /^code: .*default/],
        [{ event: 'after_login', mode: 'sync', code: CLAIMS_HOOK }, /^name: /],
      ];
      for (const [body, message] of cases) {
        const answer = await server.admin('POST', '/hooks', body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.match(answer.body.message, message);
      }
    });

    test('the test endpoint runs the hook as a journey would, changing nothing', async () => {
      const created = await server.admin('POST', '/hooks', { name: 'CRM tier', event: 'before_id_token', mode: 'sync', code: CLAIMS_HOOK, secrets: { CRM_TOKEN: 'sekret-value-123' } });
      const result = await server.admin('POST', `/hooks/${created.body.id}/test`, { event: { user: { id: 'u1', email: 'tester@example.com' } } });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.outcome, 'success');
      assert.deepEqual(result.body.actions, [{ type: 'idToken.setClaim', key: 'tier', value: 'gold' }]);
      assert.equal(result.body.logs.length, 1);
      assert.match(result.body.logs[0], /tester@example\.com/);
      assert.ok(!result.body.logs[0].includes('sekret-value-123'), 'secrets are redacted from logs');
      assert.equal(typeof result.body.duration_ms, 'number');
      // A dry run records nothing.
      const executions = await server.admin('GET', `/hooks/${created.body.id}/executions`);
      assert.deepEqual(executions.body, []);

      const forbidden = await server.admin('POST', '/hooks', {
        name: 'sub',
        event: 'before_id_token',
        mode: 'sync',
        code: "export default async (e, api) => { api.idToken.setClaim('sub', 'someone-else'); }",
      });
      const refused = await server.admin('POST', `/hooks/${forbidden.body.id}/test`, {});
      assert.equal(refused.body.outcome, 'invalid_action');
      assert.match(refused.body.error, /protected claim/);

      const wrongEvent = await server.admin('POST', '/hooks', { name: 'deny', event: 'after_registration', mode: 'sync', code: "export default async (e, api) => { api.deny('no'); }" });
      const notAllowed = await server.admin('POST', `/hooks/${wrongEvent.body.id}/test`);
      assert.equal(notAllowed.body.outcome, 'invalid_action');
      assert.match(notAllowed.body.error, /not allowed in after_registration/);

      // A field the page or the account owns is refused with a reason, not silently dropped.
      const reserved = await server.admin('POST', '/hooks', {
        name: 'ask password',
        event: 'before_progressive_profiling',
        mode: 'sync',
        code: "export default async (e, api) => { api.form.requireFields([{ name: 'password', label: 'Password' }]); }",
      });
      const reservedRun = await server.admin('POST', `/hooks/${reserved.body.id}/test`);
      assert.equal(reservedRun.body.outcome, 'invalid_action');
      assert.match(reservedRun.body.error, /field password is reserved/);
    });

    test('POST /hooks/test runs code that is not saved, as a journey would, and stores nothing', async () => {
      const before = (await server.admin('GET', '/hooks')).body.length;
      const result = await server.admin('POST', '/hooks/test', {
        event_type: 'before_id_token',
        code: CLAIMS_HOOK,
        secrets: { CRM_TOKEN: 'draft-secret-456' },
        event: { user: { id: 'u2', email: 'draft@example.com' } },
      });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.outcome, 'success');
      assert.deepEqual(result.body.actions, [{ type: 'idToken.setClaim', key: 'tier', value: 'gold' }]);
      assert.match(result.body.logs[0], /draft@example\.com/);
      assert.ok(!result.body.logs[0].includes('draft-secret-456'), 'secrets are redacted from logs');
      assert.equal((await server.admin('GET', '/hooks')).body.length, before, 'no hook was saved');

      // An async-only event runs as it would run; its actions are checked against the catalog.
      const asyncOnly = await server.admin('POST', '/hooks/test', { event_type: 'after_password_reset', code: 'export default async (e, api) => { console.log(e.type); }' });
      assert.equal(asyncOnly.status, 200, JSON.stringify(asyncOnly.body));
      assert.deepEqual(asyncOnly.body.logs, ['[log] after_password_reset']);
      const refused = await server.admin('POST', '/hooks/test', { event_type: 'after_registration', code: "export default async (e, api) => { api.deny('no'); }" });
      assert.equal(refused.body.outcome, 'invalid_action');

      // Bad bodies name their field, as POST /hooks does.
      const cases: Array<[unknown, RegExp]> = [
        [{ code: CLAIMS_HOOK }, /^event_type: is required/],
        [{ event_type: 'no_such_event', code: CLAIMS_HOOK }, /^event: must be one of the events/],
        [{ event_type: 'before_id_token', code: 'export default async function () {\n  const = 1;\n}' }, /^code: does not compile \(line 2\)/],
        [{ event_type: 'before_id_token', code: CLAIMS_HOOK, name: 'x' }, /^name: is not a known field/],
        [{ event_type: 'before_id_token', code: CLAIMS_HOOK, event: 'user' }, /^event: /],
      ];
      for (const [body, message] of cases) {
        const answer = await server.admin('POST', '/hooks/test', body);
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.match(answer.body.message, message);
      }
    });

    test('the event catalog lists every event with its actions and a sample', async () => {
      const events = await server.admin('GET', '/events');
      assert.equal(events.status, 200);
      assert.deepEqual(
        events.body.map((e: { name: string }) => e.name),
        EVENTS.map((e) => e.name),
        'every event of the catalog, in its order',
      );
      const messageSend = events.body.find((e: { name: string }) => e.name === 'before_message_send');
      assert.deepEqual(messageSend.actions.map((a: { type: string }) => a.type).sort(), ['deny', 'message.suppress']);
      assert.equal(messageSend.sample.message.type, 'password_reset');
      const idToken = events.body.find((e: { name: string }) => e.name === 'before_id_token');
      assert.equal(idToken.sync, true);
      assert.deepEqual(idToken.actions.map((a: { type: string }) => a.type).sort(), ['accessToken.setClaim', 'deny', 'idToken.setClaim', 'user.setMetadata']);
      assert.equal(idToken.sample.type, 'before_id_token');
      assert.ok(idToken.sample.user.email);
    });

    test('templates are listed and published as hooks', async () => {
      const templates = await server.admin('GET', '/templates');
      assert.equal(templates.status, 200);
      const names = templates.body.map((t: { name: string }) => t.name);
      for (const name of [
        'legacy-migration-identify',
        'legacy-migration-password',
        'crm-claims',
        'crm-sync-new-user',
        'deny-email-domains',
        'risk-step-up',
        'consents-to-marketing-hub',
        'password-reset-alert',
        'progressive-phone',
      ]) {
        assert.ok(names.includes(name), `${name} is in the library`);
      }
      const sync = templates.body.find((t: { name: string }) => t.name === 'crm-sync-new-user');
      assert.equal(sync.event, 'after_registration');
      assert.equal(sync.mode, 'async');
      assert.deepEqual(sync.secrets, ['CRM_URL', 'CRM_TOKEN']);

      const published = await server.admin('POST', '/templates/deny-email-domains/publish', { secrets: { BLOCKED_DOMAINS: 'competitor.com' } });
      assert.equal(published.status, 201, JSON.stringify(published.body));
      assert.equal(published.body.event, 'before_registration');
      const run = await server.admin('POST', `/hooks/${published.body.id}/test`, { event: { user: { email: 'spy@competitor.com' } } });
      assert.deepEqual(run.body.actions, [{ type: 'deny', message: 'Sign-ups from this email domain are not allowed.' }]);
      assert.equal((await server.admin('POST', '/templates/no-such-template/publish', {})).status, 404);
    });
  });
}
