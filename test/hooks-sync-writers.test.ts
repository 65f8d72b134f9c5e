// A sync after_* hook never holds SQLite's one writer (issue #13): while an after_account_disabled
// hook waits 1.5 s on a slow peer, other users' sign-ups and logins (each several writes) keep
// completing: two streams run while it waits, at least one of each must complete before the hook's
// peer has answered, and each within a generous bound (one queued behind the hook would wait for the
// rest of its 1.5 s). The latencies, beside the same operations with no hook waiting, are printed for
// docs/BENCHMARKS.md.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { HookFixtures, startHookPeer, type HookPeer } from './support/hook-peer.ts';
import { assertCodeRedirect, signIn, startLogin } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PASSWORD = 'correct horse battery';
const HOOK_WAIT_MS = 1500;
/** Each sign-up or login, well under the hook's wait: one queued behind the hook would take it all. */
const BOUND_MS = 1400;
const ROUNDS = 4;

describe('a sync after_* hook waiting on a slow peer does not block other writers (sqlite)', () => {
  let smtp: SmtpReceiver;
  let peer: HookPeer;
  let server: TestServer;
  let clientId: string;
  const hooks = new HookFixtures(() => server);

  before(async () => {
    smtp = await startSmtpReceiver();
    peer = await startHookPeer();
    server = await startTestServer('sqlite', { env: { SMTP_URL: smtp.url } });
    const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: ['http://localhost:8976/callback'], token_endpoint_auth_method: 'none' });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    clientId = app.body.client_id;
  });
  after(async () => {
    await server?.close();
    await peer?.close();
    await smtp?.close();
  });

  let serial = 0;
  const signUp = async () => {
    const b = new Browser(server.url);
    const { uid } = await startLogin(b, server, clientId);
    const done = await b.submit(await b.get(`/interaction/${uid}/register`), { email: `new-${serial++}@example.com`, password: PASSWORD, given_name: 'New', family_name: 'User' });
    assert.equal(done.status, 200, alertText(done) ?? '');
  };
  const logIn = async (email: string) => {
    const b = new Browser(server.url);
    const { page, state } = await startLogin(b, server, clientId);
    assertCodeRedirect(await signIn(b, page, email, PASSWORD), state);
  };
  /**
   * Sign-ups and logins in two streams side by side, each op after the last, until `done()` (checked
   * before each op) or `rounds` ops per stream; answers each op's time, start and end (Date.now()).
   */
  const traffic = async (emails: string[], done: () => boolean = () => false, rounds = ROUNDS) => {
    const results: Array<{ kind: string; ms: number; startedAt: number; endedAt: number }> = [];
    const stream = async (kind: string, work: (i: number) => Promise<void>) => {
      for (let i = 0; i < rounds && !done(); i++) {
        const startedAt = Date.now();
        const start = performance.now();
        await work(i);
        results.push({ kind, ms: performance.now() - start, startedAt, endedAt: Date.now() });
      }
    };
    await Promise.all([stream('sign-up', () => signUp()), stream('login', (i) => logIn(emails[i % emails.length]!))]);
    return results;
  };
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  it(`sign-ups and logins complete while the hook waits ${HOOK_WAIT_MS} ms`, async () => {
    const emails = Array.from({ length: ROUNDS }, (_, i) => `member-${i}@example.com`);
    for (const email of [...emails, 'leaving@example.com']) {
      assert.equal((await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true })).status, 201);
    }
    const leaving = (await server.admin('GET', '/users?email=leaving@example.com')).body[0];
    // Warm-up and baseline: the same traffic with no hook waiting.
    await traffic(emails);
    const baseline = await traffic(emails);

    await hooks.create({
      event: 'after_account_disabled',
      allowed_hosts: [peer.host],
      timeout_ms: 5000,
      code: `export default async function (event, api) {
  await fetch(${JSON.stringify(`${peer.url}/slow`)}, { method: 'POST', body: event.user.id });
  api.user.setMetadata('offboarded', true);
}`,
    });
    peer.respond('/slow', { delayMs: HOOK_WAIT_MS });
    const disabling = server.admin('POST', `/users/${leaving.id}/disable`);
    const call = await peer.waitFor('/slow');
    // As many as fit while the hook waits: they run until its peer has answered.
    const during = (await traffic(emails, () => call.answeredAt !== null, 1000)).filter((op) => op.startedAt < call.answeredAt!);
    const disabled = await disabling;
    assert.equal(disabled.status, 200);
    assert.equal(disabled.body.metadata.offboarded, true, 'the hook ran to its end and its change committed');

    const completedWhileWaiting = (kind: string) => during.filter((op) => op.kind === kind && op.endedAt < call.answeredAt!).length;
    // Queued behind the hook, none would complete before its peer answered.
    assert.ok(completedWhileWaiting('sign-up') >= 1, 'sign-ups completed while the hook waited');
    assert.ok(completedWhileWaiting('login') >= 1, 'logins completed while the hook waited');
    for (const op of during) assert.ok(op.ms < BOUND_MS, `a ${op.kind} took ${Math.round(op.ms)} ms while the hook waited (bound ${BOUND_MS} ms)`);
    const figure = (kind: string, list: typeof during) => {
      const ms = list.filter((op) => op.kind === kind).map((op) => op.ms);
      return `${kind} median ${Math.round(median(ms))} ms, max ${Math.round(Math.max(...ms))} ms`;
    };
    console.log(
      `[writers] while the hook waited ${HOOK_WAIT_MS} ms: ${completedWhileWaiting('sign-up')} sign-ups and ${completedWhileWaiting('login')} logins completed; ${figure('sign-up', during)}; ${figure('login', during)} | no hook waiting: ${figure('sign-up', baseline)}; ${figure('login', baseline)}`,
    );
  });
});
