// Answer times that do not tell whether an account exists (the figures are in bench/timing.ts and
// docs/BENCHMARKS.md; no test here measures time). What is proven here is the mechanism:
// - the identify step holds every answer, of either path, to one floor learned from both paths;
// - forgot-password answers before the known account's work (before_password_reset, the mail) runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EqualTime } from '../src/flows/equal-time.ts';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestApplication, createTestUser, startLogin } from './support/hosted-pages.ts';
import { HookFixtures, hookCode, report, startHookPeer, waitForExecutions, type HookPeer } from './support/hook-peer.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

/** A clock the test moves by hand; sleep() records what was asked and moves the clock. */
function manualClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    advance: (ms: number) => {
      now += ms;
    },
    clock: {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
    },
  };
}

describe('EqualTime: one floor for both paths of a step', () => {
  it('holds the faster path to the slower one, per step and scope', async () => {
    const { clock, advance, sleeps } = manualClock();
    const seen: Array<[string, string, number]> = [];
    const equal = new EqualTime({ clock, observe: (step, side, wait) => seen.push([step, side, wait]) });
    const run = async (scope: string, side: 'known' | 'unknown', work: number) => {
      const started = equal.start();
      advance(work);
      return equal.settle('identify', scope, side, started);
    };
    // The known path runs a 40 ms hook, the unknown one a 5 ms hook.
    assert.equal(await run('app', 'known', 40), 0, 'the first answer has nothing to wait for');
    assert.equal(await run('app', 'unknown', 5), 35, "the unknown path waits for the known path's time");
    assert.equal(await run('app', 'known', 38), 2, 'the known path is held to its own tail too');
    assert.equal(await run('app', 'unknown', 6), 34);
    // Another application (other hooks) and another step learn their own floors.
    assert.equal(await run('other-app', 'unknown', 5), 0);
    assert.equal(await equal.settle('forgot', 'app', 'unknown', equal.start()), 0);
    assert.deepEqual(sleeps, [35, 2, 34]);
    assert.deepEqual(
      seen.map(([step, side]) => `${step}/${side}`),
      ['identify/known', 'identify/unknown', 'identify/known', 'identify/unknown', 'identify/unknown', 'forgot/unknown'],
    );
  });

  it('an answer that is not recorded waits but does not move the floor', async () => {
    const { clock, advance } = manualClock();
    const equal = new EqualTime({ clock });
    const started = equal.start();
    advance(500);
    assert.equal(await equal.settle('identify', 'app', 'unknown', started, { record: false }), 0);
    const next = equal.start();
    advance(3);
    assert.equal(await equal.settle('identify', 'app', 'known', next), 0, 'the 500 ms error did not become the floor');
  });
});

for (const kind of databaseKinds()) {
  describe(`equal answers for existing and unknown accounts (${kind})`, () => {
    let server: TestServer;
    let peer: HookPeer;
    let smtp: SmtpReceiver;
    let clientId: string;
    const hooks = new HookFixtures(() => server);

    before(async () => {
      peer = await startHookPeer();
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      clientId = await createTestApplication(server);
      await createTestUser(server, { email: 'una@example.com', username: 'una', password: 'unas password 1' });
    });
    after(async () => {
      await hooks.clear();
      await server?.close();
      await peer?.close();
      await smtp?.close();
    });

    /** tessera_equal_time_wait_seconds{step="identify"} from /metrics: answers counted and seconds held, per side. */
    const identifyWaits = async () => {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
      const read = (suffix: string, side: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`tessera_equal_time_wait_seconds_${suffix}{step="identify",side="${side}"}`));
        return line ? Number(line.split(' ').at(-1)) : 0;
      };
      return { known: { count: read('count', 'known'), sum: read('sum', 'known') }, unknown: { count: read('count', 'unknown'), sum: read('sum', 'unknown') } };
    };

    it("identify: an unknown identifier's answer is held to the time of the known path's hooks", async () => {
      // after_identification waits 400 ms on a CRM; at_failed_identification has nothing to do.
      peer.respond('/crm', { delayMs: 400 });
      const hookId = await hooks.create({ event: 'after_identification', code: hookCode(report(peer, '/crm')), allowed_hosts: [peer.host] });
      const before = await identifyWaits();
      const b = new Browser(server.url);
      const known = await startLogin(b, server, clientId);
      const password = await b.submit(known.page, { identifier: 'una' });
      assert.ok(password.doc.querySelector('input[name="password"]'), alertText(password) ?? '');
      assert.equal((await waitForExecutions(server, hookId, 1)).length, 1);
      const unknown = await startLogin(b, server, clientId);
      const passwordToo = await b.submit(unknown.page, { identifier: 'nobody-by-this-name' });
      assert.ok(passwordToo.doc.querySelector('input[name="password"]'), 'the password page follows for an unknown identifier too');

      const afterBoth = await identifyWaits();
      assert.equal(afterBoth.known.count - before.known.count, 1, 'the known answer went through the floor');
      assert.equal(afterBoth.unknown.count - before.unknown.count, 1, 'the unknown answer went through the floor');
      assert.ok(afterBoth.unknown.sum > before.unknown.sum, 'the unknown answer was held (its own work had no hook to wait for)');
      assert.equal(peer.callsTo('/crm').length, 1, 'no hook ran for the unknown identifier: it was held, not given work');
    });

    it('forgot password: the answer goes out before before_password_reset and the mail', async () => {
      // The hook's CRM answers only after 3 s: the page must not wait for it.
      peer.respond('/reset-policy', { delayMs: 3000 });
      const hookId = await hooks.create({
        event: 'before_password_reset',
        code: hookCode(report(peer, '/reset-policy')),
        allowed_hosts: [peer.host],
        timeout_ms: 8000,
      });
      const b = new Browser(server.url);
      const { uid } = await startLogin(b, server, clientId);
      const sent = await b.submit(await b.get(`/interaction/${uid}/forgot-password`), { identifier: 'una@example.com' });
      assert.equal(sent.status, 200);
      assert.match(sent.doc.querySelector('main')!.text, /if an account matches/i);
      const unanswered = peer.callsTo('/reset-policy').filter((c) => c.answeredAt !== null);
      assert.equal(unanswered.length, 0, 'the page came back while the hook was still waiting on its CRM');
      assert.equal(smtp.mails.filter((m) => m.to.includes('una@example.com')).length, 0, 'and before the mail');
      // The work happens after the answer: the hook runs to its end, then the mail goes out.
      await peer.waitForAnswered('/reset-policy', 1, 8000);
      await smtp.waitFor('una@example.com', /reset/i, 8000);
      const [run] = await waitForExecutions(server, hookId, 1);
      assert.equal(run!.outcome, 'success');
    });
  });
}
