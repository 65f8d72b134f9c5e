// Transactional webhooks (CONTRACT §6, issue 16): an endpoint with `transactional: true` gets the
// events that have a `.complete` twin before the change commits; a non-2xx (or a refused address)
// refuses the change (admin API 409 webhook_refused, the hosted sign-up's message) and nothing is
// written; a 2xx lets it through, and the `.complete` twin follows from the outbox. While the endpoint
// holds its answer, other users' logins complete: no write lock is held during the call.
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, test } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver.ts';

const PASSWORD = 'transactional password 1';

for (const kind of databaseKinds()) {
  describe(`transactional webhooks (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let rp: RelyingParty;
    let seq = 0;
    /** `rebound.test` resolves to a public address until a test points it inside. */
    let rebound: LookupAddress[] = [{ address: '93.184.216.34', family: 4 }];
    /** Every event, from an ordinary endpoint: what the outbox delivered after commits. */
    let observer: { id: string; path: string; secret: string };

    before(async () => {
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, {
        env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, WEBHOOK_TIMEOUT: '20s', WEBHOOK_LEASE: '60s', WEBHOOK_RETRY_SCHEDULE: '0.2s' },
        resolve: async (hostname) => (hostname === 'rebound.test' ? rebound : [{ address: '127.0.0.1', family: 4 }]),
      });
      const app = await server.admin('POST', '/applications', { name: 'Transactional RP', redirect_uris: [CALLBACK] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      observer = await endpoint(['*']);
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    async function endpoint(events: string[], body: Record<string, unknown> = {}): Promise<{ id: string; path: string; secret: string }> {
      const path = `/tx-${++seq}`;
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}${path}`, events, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id, path, secret: created.body.secret };
    }

    async function user(email = `tx${++seq}@example.com`): Promise<{ id: string; email: string }> {
      const created = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id, email };
    }

    const ofUser = (requests: ReceivedWebhook[], type: string, userId: string) => requests.filter((r) => r.payload.type === type && r.payload.data.user?.id === userId);

    test('a transactional endpoint is an endpoint field: answered, changed, refused when not a boolean (400 naming it)', async () => {
      const made = await endpoint(['user.update'], { transactional: true });
      assert.equal((await server.admin('GET', `/webhooks/${made.id}`)).body.transactional, true);
      const bad = await server.admin('PATCH', `/webhooks/${made.id}`, { transactional: 'yes' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^transactional: /);
      const off = await server.admin('PATCH', `/webhooks/${made.id}`, { transactional: false });
      assert.equal(off.status, 200);
      assert.equal(off.body.transactional, false);
      assert.equal((await endpoint(['user.update'])).id.startsWith('wh_'), true);
      assert.equal((await server.admin('GET', '/webhooks')).body.find((w: { id: string }) => w.id === made.id).transactional, false);
      assert.equal((await server.admin('DELETE', `/webhooks/${made.id}`)).status, 204);
    });

    test('an endpoint answering 500 refuses a user update (409, nothing changed, no .complete); answering 200 lets it through and the .complete twin follows', async () => {
      const subject = await user();
      const gate = await endpoint(['user.update'], { transactional: true });
      let status = 500;
      receiver.behave(gate.path, () => ({ status }));
      try {
        const refused = await server.admin('PATCH', `/users/${subject.id}`, { given_name: 'Refused' });
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.equal(refused.body.error, 'webhook_refused');
        assert.match(refused.body.message, new RegExp(`${gate.id}: HTTP 500`));
        assert.equal((await server.admin('GET', `/users/${subject.id}`)).body.given_name, null, 'nothing changed');
        const [asked] = receiver.on(gate.path);
        assert.ok(asked, 'the endpoint was asked before the commit');
        verifyWebhook(gate.secret, asked);
        assert.equal(asked.payload.type, 'user.update');
        assert.equal(asked.payload.data.user.given_name, 'Refused', 'it sees the user as the change would leave it');
        await webhooksSettled(server);
        const seen = receiver.on(observer.path);
        assert.deepEqual(ofUser(seen, 'user.update', subject.id), [], 'no user.update of a refused change');
        assert.deepEqual(ofUser(seen, 'user.update.complete', subject.id), [], 'no .complete of a refused change');

        status = 200;
        const passed = await server.admin('PATCH', `/users/${subject.id}`, { given_name: 'Passed' });
        assert.equal(passed.status, 200, JSON.stringify(passed.body));
        assert.equal(passed.body.given_name, 'Passed');
        await receiver.waitFor(
          'user.update.complete at the observer',
          (all) =>
            ofUser(
              all.filter((r) => r.path === observer.path),
              'user.update.complete',
              subject.id,
            ).length === 1,
        );
        await webhooksSettled(server);
        const requests = receiver.requests;
        const accepted = receiver.on(gate.path)[1]!;
        assert.equal(receiver.on(gate.path).length, 2, 'the endpoint got the accepted event once: the outbox does not send it again');
        const complete = ofUser(receiver.on(observer.path), 'user.update.complete', subject.id)[0]!;
        const update = ofUser(receiver.on(observer.path), 'user.update', subject.id)[0]!;
        assert.ok(requests.indexOf(accepted) < requests.indexOf(complete), 'the .complete twin comes after the endpoint accepted');
        assert.equal(complete.payload.data.user.given_name, 'Passed');
        assert.deepEqual(complete.payload.data, accepted.payload.data, 'the twin carries the data the endpoint accepted');
        assert.equal(update.headers['webhook-id'], accepted.headers['webhook-id'], 'the same event, the same id for every endpoint');
        verifyWebhook(observer.secret, complete);
        const log = (await server.admin('GET', `/webhooks/${gate.id}/deliveries`)).body;
        assert.equal(log.length, 1);
        assert.equal(log[0].status, 'delivered');
        assert.equal(log[0].log[0].status_code, 200);
        const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
        for (const outcome of ['accepted', 'refused']) assert.match(metrics, new RegExp(`tessera_webhook_transactional_calls_total\\{outcome="${outcome}"\\} [1-9]`));
      } finally {
        await server.admin('DELETE', `/webhooks/${gate.id}`);
      }
    });

    test('creating and deleting through the admin API wait too: a refusal leaves no user, and keeps the one there', async () => {
      const gate = await endpoint(['user.create', 'user.delete'], { transactional: true });
      receiver.behave(gate.path, () => ({ status: 503 }));
      try {
        const email = `refused${++seq}@example.com`;
        const created = await server.admin('POST', '/users', { email });
        assert.equal(created.status, 409, JSON.stringify(created.body));
        assert.equal(created.body.error, 'webhook_refused');
        assert.deepEqual((await server.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body, []);
        assert.equal(receiver.on(gate.path).at(-1)!.payload.data.user.email, email);

        await server.admin('PATCH', `/webhooks/${gate.id}`, { events: ['user.delete'] });
        const kept = await user();
        const deleted = await server.admin('DELETE', `/users/${kept.id}`);
        assert.equal(deleted.status, 409, JSON.stringify(deleted.body));
        assert.equal(deleted.body.error, 'webhook_refused');
        assert.equal((await server.admin('GET', `/users/${kept.id}`)).status, 200, 'the user is still there');
        await webhooksSettled(server);
        assert.deepEqual(ofUser(receiver.on(observer.path), 'user.delete.complete', kept.id), []);
        assert.ok(!receiver.on(observer.path).some((r) => r.payload.type === 'user.create' && r.payload.data.user.email === email));
      } finally {
        await server.admin('DELETE', `/webhooks/${gate.id}`);
      }
    });

    test('while the transactional endpoint holds its answer, other users’ logins complete (the change holds no write lock)', async () => {
      const subject = await user();
      const others = [await user(), await user(), await user()];
      const gate = await endpoint(['user.update'], { transactional: true });
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      receiver.behave(gate.path, () => ({ until: held }));
      let answered = false;
      const change = server.admin('PATCH', `/users/${subject.id}`, { family_name: 'Slow' }).finally(() => {
        answered = true;
      });
      try {
        await receiver.waitForCount(gate.path, 1);
        for (const other of others) {
          const start = await authorizationUrl(rp);
          const done = await signIn(new Browser(server.url), start, other.email, PASSWORD);
          assert.ok(done.redirectedTo?.startsWith(CALLBACK), `${other.email} signs in: ${alertText(done) ?? done.status}`);
          const tokens = await exchangeCode(rp, start, done.redirectedTo!);
          assert.equal(tokens.claims()!.sub, other.id);
          assert.equal(answered, false, 'the login completed while the change still waited for the endpoint');
          assert.equal(receiver.open, 1, 'the endpoint had not answered yet');
        }
        // Each login's event was committed (user.login.success) while the change waited.
        const logins = await server.server.services.db('webhook_events').where({ type: 'user.login.success' }).select('data');
        for (const other of others) assert.ok(logins.some((row) => JSON.parse(String(row.data)).user_id === other.id));
      } finally {
        release();
      }
      const result = await change;
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.family_name, 'Slow');
      await server.admin('DELETE', `/webhooks/${gate.id}`);
    });

    test('a change made meanwhile wins: the change the endpoint accepted is refused (409) rather than overwrite it', async () => {
      const subject = await user();
      const gate = await endpoint(['user.update'], { transactional: true });
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      receiver.behave(gate.path, (_request, n) => (n === 1 ? { until: held } : {}));
      try {
        const first = server.admin('PATCH', `/users/${subject.id}`, { given_name: 'First' });
        await receiver.waitForCount(gate.path, 1);
        const second = await server.admin('PATCH', `/users/${subject.id}`, { given_name: 'Second' });
        assert.equal(second.status, 200, JSON.stringify(second.body));
        release();
        const late = await first;
        assert.equal(late.status, 409, JSON.stringify(late.body));
        assert.equal(late.body.error, 'conflict');
        assert.equal((await server.admin('GET', `/users/${subject.id}`)).body.given_name, 'Second');
      } finally {
        release();
        await server.admin('DELETE', `/webhooks/${gate.id}`);
      }
    });

    test('no answer within WEBHOOK_TIMEOUT refuses the change too', async () => {
      const quick = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, WEBHOOK_TIMEOUT: '300ms', WEBHOOK_LEASE: '5s' } });
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      try {
        const created = await quick.admin('POST', '/users', { email: 'quick@example.com' });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const gate = await quick.admin('POST', '/webhooks', { url: `${receiver.url}/tx-slow`, events: ['user.update'], transactional: true });
        assert.equal(gate.status, 201, JSON.stringify(gate.body));
        receiver.behave('/tx-slow', () => ({ until: held }));
        const refused = await quick.admin('PATCH', `/users/${created.body.id}`, { given_name: 'Late' });
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.equal(refused.body.error, 'webhook_refused');
        assert.match(refused.body.message, /timeout: no complete answer within 300 ms/);
        assert.equal(receiver.on('/tx-slow').length, 1, 'it was asked');
        assert.equal((await quick.admin('GET', `/users/${created.body.id}`)).body.given_name, null);
      } finally {
        release();
        await quick.close();
      }
    });

    test('the call obeys the address policy: a name that now resolves inside refuses the change, nothing is connected', async () => {
      const subject = await user();
      const port = receiver.hostPort.split(':')[1];
      const created = await server.admin('POST', '/webhooks', { url: `http://rebound.test:${port}/rebound`, events: ['user.update'], transactional: true });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      rebound = [{ address: '127.0.0.1', family: 4 }];
      try {
        const refused = await server.admin('PATCH', `/users/${subject.id}`, { given_name: 'Inside' });
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.equal(refused.body.error, 'webhook_refused');
        assert.match(refused.body.message, /refused \(not connected\): rebound\.test resolves to 127\.0\.0\.1, a loopback address/);
        assert.deepEqual(receiver.on('/rebound'), []);
        assert.equal((await server.admin('GET', `/users/${subject.id}`)).body.given_name, null);
      } finally {
        await server.admin('DELETE', `/webhooks/${created.body.id}`);
      }
    });

    test('sign-up on the hosted pages: a refusal shows a clear message and writes no user; accepted, the account and user.create.complete follow', async () => {
      const gate = await endpoint(['user.create'], { transactional: true });
      let status = 500;
      receiver.behave(gate.path, () => ({ status }));
      const register = async (email: string) => {
        const browser = new Browser(server.url);
        const identify = await browser.get((await authorizationUrl(rp)).url.toString());
        const href = identify.doc.querySelector('a[href$="/register"]')?.getAttribute('href');
        assert.ok(href, 'the identify page links to registration');
        return browser.submit(await browser.get(href), { email, password: PASSWORD, given_name: 'Sign', family_name: 'Up' });
      };
      try {
        const email = `signup${++seq}@example.com`;
        const refused = await register(email);
        assert.equal(refused.status, 409);
        assert.match(refused.html, /could not be created/);
        assert.doesNotMatch(refused.html, new RegExp(gate.id), 'the page does not name the endpoint');
        assert.deepEqual((await server.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body, [], 'no half-written user');
        assert.equal(receiver.on(gate.path).at(-1)!.payload.data.user.email, email);
        await webhooksSettled(server);
        assert.ok(!receiver.on(observer.path).some((r) => r.payload.data.user?.email === email), 'no event of the refused account');

        status = 200;
        const accepted = await register(email);
        assert.equal(accepted.status, 200, alertText(accepted) ?? accepted.html.slice(0, 300));
        const [made] = (await server.admin('GET', `/users?email=${encodeURIComponent(email)}`)).body;
        assert.ok(made, 'the account exists');
        await receiver.waitFor(
          'user.create.complete',
          (all) =>
            ofUser(
              all.filter((r) => r.path === observer.path),
              'user.create.complete',
              made.id,
            ).length === 1,
        );
        assert.equal(ofUser(receiver.on(observer.path), 'user.create.complete', made.id)[0]!.payload.data.application_id, rp.clientId);
      } finally {
        await server.admin('DELETE', `/webhooks/${gate.id}`);
      }
    });

    test('the profile page a hook asks for at login: a refusal keeps the page with a message and saves nothing', async () => {
      const subject = await user();
      const hook = await server.admin('POST', '/hooks', {
        name: 'ask for the customer number',
        event: 'before_progressive_profiling',
        mode: 'sync',
        code: `export default async function (event, api) {
  if (event.flow === 'login' && event.step === 0 && event.user.email === ${JSON.stringify(subject.email)}) api.form.requireFields([{ name: 'customer_number', label: 'Customer number' }]);
}`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const gate = await endpoint(['user.update'], { transactional: true });
      let status = 500;
      receiver.behave(gate.path, () => ({ status }));
      try {
        const browser = new Browser(server.url);
        const start = await authorizationUrl(rp);
        const profile = await signIn(browser, start, subject.email, PASSWORD);
        assert.ok(profile.doc.querySelector('input[name="customer_number"]'), `the hook's field is asked: ${alertText(profile) ?? profile.status}`);
        const refused = await browser.submit(profile, { customer_number: 'C-1' });
        assert.equal(refused.status, 409);
        assert.match(alertText(refused) ?? '', /could not be saved/);
        assert.ok(refused.doc.querySelector('input[name="customer_number"]'), 'the page stays');
        assert.deepEqual((await server.admin('GET', `/users/${subject.id}`)).body.attributes, {}, 'nothing saved');
        assert.equal(receiver.on(gate.path).at(-1)!.payload.data.user.attributes.customer_number, 'C-1');

        status = 200;
        const done = await browser.submit(refused, { customer_number: 'C-2' });
        assert.ok(done.redirectedTo?.startsWith(CALLBACK), alertText(done) ?? String(done.status));
        await exchangeCode(rp, start, done.redirectedTo!);
        assert.equal((await server.admin('GET', `/users/${subject.id}`)).body.attributes.customer_number, 'C-2');
      } finally {
        await server.admin('DELETE', `/webhooks/${gate.id}`);
        await server.admin('DELETE', `/hooks/${hook.body.id}`);
      }
    });

    test('registrations and groups wait too: a 500 refuses them (nothing written, no .complete); a 200 lets them through once', async () => {
      const roled = await server.admin('POST', '/applications', { name: 'Roles RP', redirect_uris: [CALLBACK], roles: [{ name: 'editor' }] });
      assert.equal(roled.status, 201, JSON.stringify(roled.body));
      const clientId = roled.body.client_id as string;
      const subject = await user();
      const gate = await endpoint(['user.registration.*', 'group.*'], { transactional: true });
      let status = 500;
      receiver.behave(gate.path, () => ({ status }));
      try {
        const registration = await server.admin('POST', `/users/${subject.id}/registrations`, { application: clientId, roles: ['editor'] });
        assert.equal(registration.status, 409, JSON.stringify(registration.body));
        assert.equal(registration.body.error, 'webhook_refused');
        assert.deepEqual((await server.admin('GET', `/users/${subject.id}/registrations`)).body, [], 'no registration written');
        const group = await server.admin('POST', '/groups', { name: 'Refused group' });
        assert.equal(group.status, 409, JSON.stringify(group.body));
        assert.ok(!(await server.admin('GET', '/groups')).body.some((g: { name: string }) => g.name === 'Refused group'), 'no group written');
        assert.deepEqual(
          receiver.on(gate.path).map((r) => r.payload.type),
          ['user.registration.create', 'group.create'],
          'the endpoint was asked about each, before anything was written',
        );

        status = 200;
        const registered = await server.admin('POST', `/users/${subject.id}/registrations`, { application: clientId, roles: ['editor'] });
        assert.equal(registered.status, 201, JSON.stringify(registered.body));
        const created = await server.admin('POST', '/groups', { name: 'Passed group', roles: { [clientId]: ['editor'] } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const member = await server.admin('PUT', `/groups/${created.body.id}/members/${subject.id}`);
        assert.equal(member.status, 201, JSON.stringify(member.body));
        const changed = await server.admin('PATCH', `/users/${subject.id}/registrations/${clientId}`, { roles: [] });
        assert.equal(changed.status, 200, JSON.stringify(changed.body));
        assert.deepEqual(changed.body.roles, []);
        await receiver.waitFor('the .complete twins at the observer', (all) => {
          const types = all.filter((r) => r.path === observer.path).map((r) => r.payload.type);
          return ['user.registration.create.complete', 'group.create.complete', 'group.member.add.complete', 'user.registration.update.complete'].every((t) => types.includes(t));
        });
        await webhooksSettled(server);
        // The endpoint subscribes to the .complete twins too: they come after the commit, like any delivery.
        const asked = receiver.on(gate.path).filter((r) => !r.payload.type.endsWith('.complete'));
        assert.deepEqual(
          asked.slice(2).map((r) => r.payload.type),
          ['user.registration.create', 'group.create', 'group.member.add', 'user.registration.update'],
          'each accepted event once: the outbox does not send it again',
        );
        for (const request of receiver.on(gate.path)) verifyWebhook(gate.secret, request);
        const group2 = asked[3]!.payload.data.group;
        assert.equal(group2.id, created.body.id, 'the endpoint saw the group as it was written');
      } finally {
        await server.admin('DELETE', `/webhooks/${gate.id}`);
      }
    });
  });
}
