// The hook runner seen from the journey, with real hooks created through the admin API: on_error
// "fail" shows a generic error and "continue" goes on (both recorded); sync hooks run in `order`;
// the applications filter and `enabled`; async hooks never hold up the journey, run afterwards
// (their steering actions refused and logged) and survive a restart; a runaway sync hook is stopped
// at its timeout while the server keeps answering.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, REDIRECT_URI, signIn, sleep, startLogin } from './support/hosted-pages.ts';
import { executions, HookFixtures, hookCode, startHookPeer, waitForExecutions, type HookPeer } from './support/hook-peer.ts';
import { advanceClock } from './support/clock.ts';
import { freePort, startTestServer, type TestServer } from './support/server.ts';
import { hookJobsDone } from './support/settle.ts';

const GENERIC_HOOK_FAILURE = 'We could not complete this step right now. Please try again later.';

for (const kind of databaseKinds()) {
  describe(`hook runner in the journey (${kind})`, () => {
    let server: TestServer;
    let peer: HookPeer;
    let appA: string;
    let appB: string;
    const hooks = new HookFixtures(() => server);
    const password = 'a good password 1';
    let userCount = 0;

    before(async () => {
      peer = await startHookPeer();
      server = await startTestServer(kind);
      const app = async (name: string) => {
        const created = await server.admin('POST', '/applications', {
          name,
          redirect_uris: [REDIRECT_URI],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        return created.body.client_id as string;
      };
      appA = await app('App A');
      appB = await app('App B');
    });
    afterEach(async () => {
      await hooks.clear();
      peer.reset();
    });
    after(async () => {
      await server?.close();
      await peer?.close();
    });

    /** A fresh user (so one test's logins never count in another's). */
    const newUser = async (extra: Record<string, unknown> = {}): Promise<any> => {
      userCount += 1;
      const created = await server.admin('POST', '/users', { email: `user${userCount}@example.com`, password, email_verified: true, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    };
    const getUser = async (id: string) => (await server.admin('GET', `/users/${id}`)).body;

    /** identify → password on `clientId`; answers the last page and the state to check the callback. */
    const login = async (email: string, clientId = appA) => {
      const browser = new Browser(server.url);
      const { page, state } = await startLogin(browser, server, clientId);
      return { page: await signIn(browser, page, email, password), state };
    };

    test('on_error "fail": a throwing hook stops the journey with a generic error, and the run is recorded', async () => {
      const hookId = await hooks.create({
        event: 'after_login',
        code: hookCode(`console.log('checking', event.user.email); throw new Error('CRM is down: internal detail 0xBEEF');`),
      });
      const user = await newUser();
      const { page } = await login(user.email);
      assert.equal(page.redirectedTo, null, 'no code for the application');
      assert.equal(page.status, 403);
      assert.equal(alertText(page), GENERIC_HOOK_FAILURE);
      assert.ok(!page.html.includes('0xBEEF'), "the hook's error is not shown to the user");
      assert.equal((await getUser(user.id)).login_count, 0);

      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'error');
      assert.equal(run!.mode, 'sync');
      assert.match(run!.error ?? '', /CRM is down/);
      assert.equal(run!.logs.length, 1);
      assert.match(run!.logs[0]!, new RegExp(`checking ${user.email}$`));
      assert.equal(typeof run!.duration_ms, 'number');
    });

    test('on_error "fail": a hook past its timeout (awaiting a slow peer) stops the journey too', async () => {
      peer.respond('/slow', { delayMs: 3000 });
      const hookId = await hooks.create({
        event: 'after_identification',
        timeout_ms: 300,
        allowed_hosts: [peer.host],
        code: hookCode(`await fetch('${peer.url}/slow');`),
      });
      const user = await newUser();
      const browser = new Browser(server.url);
      const { page } = await startLogin(browser, server, appA);
      const stopped = await browser.submit(page, { identifier: user.email });
      assert.equal(stopped.status, 403);
      assert.equal(alertText(stopped), GENERIC_HOOK_FAILURE);
      assert.equal(stopped.doc.querySelector('input[name="password"]'), null);
      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'timeout');
    });

    test('on_error "continue": the journey goes on as if the hook had not run, and the run is recorded', async () => {
      const hookId = await hooks.create({
        event: 'after_login',
        on_error: 'continue',
        code: hookCode(`api.user.setMetadata('half', 'done'); throw new Error('boom');`),
      });
      const user = await newUser();
      const { page, state } = await login(user.email);
      assertCodeRedirect(page, state);
      const saved = await getUser(user.id);
      assert.equal(saved.login_count, 1);
      assert.deepEqual(saved.metadata, {}, 'nothing of the failed run is applied');
      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'error');
      assert.match(run!.error ?? '', /boom/);
    });

    test('sync hooks run in order: the first denial wins and later hooks do not run', async () => {
      // Created out of order on purpose.
      const third = await hooks.create({ event: 'after_identification', order: 3, code: hookCode(`api.deny('third says no');`) });
      const second = await hooks.create({ event: 'after_identification', order: 2, code: hookCode(`api.deny('second says no');`) });
      const first = await hooks.create({ event: 'after_identification', order: 1, code: hookCode(`console.log('first ran');`) });
      const user = await newUser();
      const browser = new Browser(server.url);
      const { page } = await startLogin(browser, server, appA);
      const denied = await browser.submit(page, { identifier: user.email });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'second says no');
      assert.deepEqual(
        (await executions(server, first)).map((r) => r.outcome),
        ['success'],
      );
      assert.deepEqual(
        (await executions(server, second)).map((r) => r.outcome),
        ['success'],
      );
      assert.deepEqual(await executions(server, third), [], 'a hook after a denial does not run');

      // Actions of hooks that all pass are merged in order: the later value wins.
      await hooks.clear();
      await hooks.create({ event: 'after_login', order: 20, code: hookCode(`api.user.setMetadata('winner', 'order 20');`) });
      await hooks.create({ event: 'after_login', order: 10, code: hookCode(`api.user.setMetadata('winner', 'order 10'); api.user.setMetadata('first', true);`) });
      const user2 = await newUser();
      const { page: done, state } = await login(user2.email);
      assertCodeRedirect(done, state);
      assert.deepEqual((await getUser(user2.id)).metadata, { winner: 'order 20', first: true });
    });

    test('a hook limited to one application runs only for it', async () => {
      const hookId = await hooks.create({
        event: 'after_login',
        applications: [appA],
        code: hookCode(`api.deny('App A is closed today.');`),
      });
      const user = await newUser();
      const onB = await login(user.email, appB);
      assertCodeRedirect(onB.page, onB.state);
      assert.deepEqual(await executions(server, hookId), [], 'the hook did not run for app B');
      const onA = await login(user.email, appA);
      assert.equal(onA.page.status, 403);
      assert.equal(alertText(onA.page), 'App A is closed today.');
      assert.equal((await executions(server, hookId)).length, 1);
    });

    test('a disabled hook does not run; enabling it makes it run', async () => {
      const hookId = await hooks.create({ event: 'after_login', enabled: false, code: hookCode(`api.deny('Maintenance.');`) });
      const user = await newUser();
      const first = await login(user.email);
      assertCodeRedirect(first.page, first.state);
      assert.deepEqual(await executions(server, hookId), []);

      const enabled = await server.admin('PATCH', `/hooks/${hookId}`, { enabled: true });
      assert.equal(enabled.status, 200);
      const second = await login(user.email);
      assert.equal(alertText(second.page), 'Maintenance.');
    });

    test("async: the journey completes while the hook's peer is still delaying; the effect shows afterwards", async () => {
      peer.respond('/crm', { delayMs: 2000, body: { synced: true } });
      const hookId = await hooks.create({
        event: 'after_login',
        mode: 'async',
        timeout_ms: 5000,
        allowed_hosts: [peer.host],
        code: hookCode(`
          const res = await fetch('${peer.url}/crm', { method: 'POST', body: JSON.stringify({ user: event.user.id, event: event.id }) });
          console.log('crm answered', res.status, JSON.stringify(await res.json()));`),
      });
      const user = await newUser();
      const { page, state } = await login(user.email);
      assertCodeRedirect(page, state);
      // The callback arrived before the peer answered (it may not even have been called yet).
      assert.equal(peer.callsTo('/crm').filter((c) => c.answeredAt !== null).length, 0, 'the journey did not wait for the peer');
      assert.equal((await getUser(user.id)).login_count, 1);

      const call = await peer.waitForAnswered('/crm', 1, 6000);
      assert.equal(call.body.user, user.id);
      const [run] = await waitForExecutions(server, hookId, 1, 6000);
      assert.equal(run!.mode, 'async');
      assert.equal(run!.outcome, 'success');
      assert.equal(run!.event_id, call.body.event);
      assert.equal(run!.logs.length, 1);
      assert.match(run!.logs[0]!, /crm answered 200 {"synced":true}$/);
      assert.ok(run!.duration_ms >= 1900, `the run took the peer's delay (${run!.duration_ms} ms)`);
    });

    test('async: steering actions are refused and logged, the journey goes on', async () => {
      const hookId = await hooks.create({
        event: 'after_login',
        mode: 'async',
        code: hookCode(`api.user.setMetadata('from_async', true); api.deny('too late to deny');`),
      });
      const user = await newUser();
      const { page, state } = await login(user.email);
      assertCodeRedirect(page, state);
      const [run] = await waitForExecutions(server, hookId);
      assert.equal(run!.mode, 'async');
      assert.deepEqual(run!.actions, [], 'no action is kept');
      assert.ok(
        run!.logs.some((line) => /action\(s\) refused/.test(line)),
        `a log line says so: ${JSON.stringify(run!.logs)}`,
      );
      assert.deepEqual((await getUser(user.id)).metadata, {}, 'the async hook changed nothing');
    });

    test('async: queued runs survive a restart', async () => {
      // The peer is down: the first attempt fails and the run stays queued for a retry.
      const port = await freePort();
      const hookId = await hooks.create({
        event: 'after_login',
        mode: 'async',
        allowed_hosts: [`127.0.0.1:${port}`],
        code: hookCode(`await fetch('http://127.0.0.1:${port}/notify', { method: 'POST', body: JSON.stringify({ event: event.id, user: event.user.id }) });`),
      });
      const user = await newUser();
      const { page, state } = await login(user.email);
      assertCodeRedirect(page, state);
      const [failed] = await waitForExecutions(server, hookId);
      assert.equal(failed!.outcome, 'error');

      await server.restart();
      const late = await startHookPeer(port);
      advanceClock(5_000); // the retry's delay passes on the clock
      try {
        const call = await late.waitFor('/notify', 1, 15000);
        assert.equal(call.body.user, user.id);
        assert.equal(call.body.event, failed!.event_id, 'the retry carries the same event id');
        const runs = await waitForExecutions(server, hookId, 2, 5000);
        assert.equal(runs[0]!.outcome, 'success');
        assert.equal(runs[0]!.event_id, failed!.event_id);
        await hookJobsDone(server, hookId);
        assert.equal(late.callsTo('/notify').length, 1, 'run once, not again');
      } finally {
        await late.close();
      }
    });

    test('while (true) {} in a sync hook is stopped at timeout_ms; with on_error "continue" the login completes; the server keeps answering', async () => {
      const hookId = await hooks.create({
        event: 'after_identification',
        timeout_ms: 200,
        on_error: 'continue',
        code: hookCode('while (true) {}'),
      });
      const user = await newUser();
      const browser = new Browser(server.url);
      const { page, state } = await startLogin(browser, server, appA);
      let identified = false;
      const identify = browser.submit(page, { identifier: user.email }).finally(() => {
        identified = true;
      });
      // While the hook spins, other requests are answered.
      let answeredMeanwhile = 0;
      while (!identified) {
        const health = await fetch(`${server.url}/health`);
        assert.equal(health.status, 200);
        await health.arrayBuffer();
        if (!identified) answeredMeanwhile += 1;
        await sleep(10);
      }
      assert.ok(answeredMeanwhile > 0, 'the server answered /health while the hook was running');
      const passwordPage = await identify;
      assert.ok(passwordPage.doc.querySelector('input[name="password"]'), `the journey goes on: ${alertText(passwordPage)}`);
      assertCodeRedirect(await browser.submit(passwordPage, { password }), state);
      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'timeout');
      assert.ok(run!.duration_ms >= 150, `stopped near its limit (${run!.duration_ms} ms)`);
      assert.ok(run!.duration_ms < 2000, `not left running (${run!.duration_ms} ms)`);

      // The same hook with the default on_error ("fail") stops the journey.
      assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { on_error: 'fail' })).status, 200);
      const again = new Browser(server.url);
      const { page: p2 } = await startLogin(again, server, appA);
      const stopped = await again.submit(p2, { identifier: user.email });
      assert.equal(alertText(stopped), GENERIC_HOOK_FAILURE);
    });
  });
}
