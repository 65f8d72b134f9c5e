// What the console's editor and user page read besides the resources themselves: the event a hook run
// got, kept redacted (a password given at a lazy migration, a reset mail's link never come back, nor
// are they at rest in the log, even where the hook logged them), a test run of unsaved code on it; every hook's runs for one user; the
// webhook events of one user; a user's consents. Each behind the admin guard, with 4xx for bad input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, createTestApplication, signIn, startLogin } from './support/hosted-pages.ts';
import { hookCode, waitForExecutions } from './support/hook-peer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const LEGACY_PASSWORD = 'legacy pw 9137';

for (const kind of databaseKinds()) {
  describe(`the console's look-ups: recorded events, a user's runs, webhook events, consents (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let clientId: string;
    let validationHook: string;
    let messageHook: string;
    let leoId: string;
    let resetLink: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      clientId = await createTestApplication(server);
      // A lazy migration: the unknown identifier becomes a user, whose first password a hook checks.
      const created = await server.admin('POST', '/hooks', {
        name: 'Migrate',
        mode: 'sync',
        event: 'at_failed_identification',
        code: hookCode(`if (event.identifier === 'leo') api.migration.createUser({ email: 'leo@legacy.example', username: 'leo' });`),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      validationHook = (
        await server.admin('POST', '/hooks', {
          name: 'Legacy check',
          mode: 'sync',
          event: 'before_password_validation',
          code: hookCode(`console.log('checking ' + event.password); if (event.password === ${JSON.stringify(LEGACY_PASSWORD)}) api.password.accept(); else api.password.reject();`),
        })
      ).body.id;
      messageHook = (await server.admin('POST', '/hooks', { name: 'Mail watch', mode: 'sync', event: 'before_message_send', code: hookCode('console.log(event.message.type);') })).body.id;

      const browser = new Browser(server.url);
      const { page, state } = await startLogin(browser, server, clientId);
      assertCodeRedirect(await signIn(browser, page, 'leo', LEGACY_PASSWORD), state);
      leoId = (await server.admin('GET', '/users?email=leo@legacy.example')).body[0].id;

      // A reset mail for leo: its link carries a one-time token.
      const reset = new Browser(server.url);
      const { uid } = await startLogin(reset, server, clientId);
      await reset.submit(await reset.get(`/interaction/${uid}/forgot-password`), { identifier: 'leo' });
      resetLink = linkIn(await smtp.waitFor('leo@legacy.example', /reset/i), `${server.url}/reset-password/`);
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    test("a run's event comes back with the password redacted, and the password is not at rest in the log", async () => {
      const [run] = await waitForExecutions(server, validationHook);
      assert.equal(run!.outcome, 'success');
      assert.equal((run as { has_event?: boolean }).has_event, true);
      assert.equal((run as { user_id?: string }).user_id, leoId);
      const answer = await server.admin('GET', `/hooks/${validationHook}/executions/${run!.id}/event`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.event_type, 'before_password_validation');
      assert.equal(answer.body.event.password, '[redacted]');
      assert.equal(answer.body.event.user.email, 'leo@legacy.example');
      assert.equal(answer.body.event.user.has_password, false, 'a flag is not a secret');
      assert.equal(answer.body.event.secrets, undefined, "the hook's secrets are not part of it");
      assert.ok(!JSON.stringify(answer.body).includes(LEGACY_PASSWORD));
      // The hook logged the password: the log keeps the redaction instead.
      assert.deepEqual(run!.logs, ['[log] checking [redacted]']);
      const stored = await server.server.services.db('hook_executions').select('event_payload', 'logs', 'actions', 'error');
      assert.ok(stored.length > 0);
      for (const row of stored) assert.ok(!JSON.stringify(row).includes(LEGACY_PASSWORD), 'the password is not stored');
    });

    test("a reset mail's link and token are redacted from before_message_send's recorded event", async () => {
      const runs = await waitForExecutions(server, messageHook);
      const run = runs.find((r) => r.logs.includes('[log] password_reset'));
      assert.ok(run, JSON.stringify(runs));
      const answer = await server.admin('GET', `/hooks/${messageHook}/executions/${run.id}/event`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.event.message.type, 'password_reset');
      assert.equal(answer.body.event.message.link, '[redacted]');
      const token = resetLink.split('/').pop()!;
      assert.ok(token.length > 8);
      assert.ok(!JSON.stringify(answer.body).includes(token), 'the reset token never comes back');
      for (const row of await server.server.services.db('hook_executions').select('event_payload')) assert.ok(!String(row.event_payload).includes(token));
    });

    test('unsaved code test-runs on the recorded event; it sees the redaction, not the password', async () => {
      const [run] = await waitForExecutions(server, validationHook);
      const { event } = (await server.admin('GET', `/hooks/${validationHook}/executions/${run!.id}/event`)).body;
      const result = await server.admin('POST', '/hooks/test', {
        event_type: 'before_password_validation',
        code: hookCode(`console.log(event.user.email + ' ' + event.password); api.password.reject();`),
        event,
      });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.outcome, 'success');
      assert.deepEqual(result.body.logs, ['[log] leo@legacy.example [redacted]']);
      assert.deepEqual(result.body.actions, [{ type: 'password.reject' }]);
    });

    test("a run of another hook, an unknown run or hook: 404; the look-ups need the admin's credentials", async () => {
      const [run] = await waitForExecutions(server, validationHook);
      assert.equal((await server.admin('GET', `/hooks/${messageHook}/executions/${run!.id}/event`)).status, 404);
      assert.equal((await server.admin('GET', `/hooks/${validationHook}/executions/exe_nope/event`)).status, 404);
      assert.equal((await server.admin('GET', `/hooks/hook_nope/executions/${run!.id}/event`)).status, 404);
      for (const path of [`/hooks/${validationHook}/executions/${run!.id}/event`, `/executions?user_id=${leoId}`, `/webhook-events?user_id=${leoId}`, `/users/${leoId}/consents`]) {
        const stranger = await fetch(`${server.url}/admin/api${path}`);
        assert.equal(stranger.status, 401, path);
        const wrongKey = await fetch(`${server.url}/admin/api${path}`, { headers: { authorization: 'Bearer not-the-key' } });
        assert.equal(wrongKey.status, 401, path);
      }
    });

    test("every hook's runs for one user; user_id is required", async () => {
      const runs = await server.admin('GET', `/executions?user_id=${leoId}`);
      assert.equal(runs.status, 200);
      const hooks = new Set(runs.body.map((r: { hook_id: string }) => r.hook_id));
      assert.ok(hooks.has(validationHook) && hooks.has(messageHook), JSON.stringify(runs.body));
      assert.ok(runs.body.every((r: { user_id: string }) => r.user_id === leoId));
      assert.deepEqual((await server.admin('GET', '/executions?user_id=nobody')).body, []);
      const missing = await server.admin('GET', '/executions');
      assert.equal(missing.status, 400);
      assert.match(missing.body.message, /^user_id: is required/);
      assert.equal((await server.admin('GET', `/executions?user_id=${leoId}&limit=0`)).status, 400);
    });

    test("one user's webhook events; a type that does not exist is refused", async () => {
      const other = await server.admin('POST', '/users', { email: 'someone@example.com', password: 'correct horse battery' });
      const events = await server.admin('GET', `/webhook-events?user_id=${leoId}`);
      assert.equal(events.status, 200);
      const types = events.body.map((e: { type: string }) => e.type);
      assert.ok(types.includes('user.password.reset.start'), JSON.stringify(types));
      assert.ok(types.includes('user.login.success'), JSON.stringify(types));
      assert.ok(events.body.every((e: { user_id: string }) => e.user_id === leoId));
      assert.ok(!JSON.stringify(events.body).includes(other.body.id));
      const resets = await server.admin('GET', `/webhook-events?user_id=${leoId}&type=user.password.reset.start`);
      assert.deepEqual(
        resets.body.map((e: { type: string }) => e.type),
        ['user.password.reset.start'],
      );
      const bad = await server.admin('GET', '/webhook-events?type=user.nothing');
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^type: /);
    });

    test("a user's consents; an unknown user is 404", async () => {
      assert.deepEqual((await server.admin('GET', `/users/${leoId}/consents`)).body, []);
      await server.server.services.consents.set(leoId, [{ key: 'newsletter', granted: true }]);
      const consents = await server.admin('GET', `/users/${leoId}/consents`);
      assert.equal(consents.status, 200);
      assert.deepEqual(
        consents.body.map((c: { key: string; granted: boolean }) => [c.key, c.granted]),
        [['newsletter', true]],
      );
      assert.equal((await server.admin('GET', '/users/00000000-0000-4000-8000-000000000000/consents')).status, 404);
    });
  });
}
