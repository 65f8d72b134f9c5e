// Mail is durable (issue 18.5): every mail goes through the message queue, so an SMTP server that is
// down when the mail is asked for (and comes up 20 s later, on the test's clock) still gets it,
// across a restart too; a mail whose every attempt fails ends as failed with its content dropped.
// Nothing sleeps: the test moves the clock past the retry delay and waits for the queue's record.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { alertText, Browser } from './support/browser.ts';
import { advanceClock } from './support/clock.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestApplication, sleep, startLogin } from './support/hosted-pages.ts';
import { ADMIN_KEY, freePort, startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

/** Polls the message queue (the admin API) until `done` holds for the entries to `to`; answers them. */
async function queueUntil(server: TestServer, to: string, done: (entries: any[]) => boolean, what: string, timeoutMs = 10_000): Promise<any[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await server.admin('GET', `/message-queue?to=${encodeURIComponent(to)}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    if (done(answer.body)) return answer.body;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(answer.body)}`);
    await sleep(25);
  }
}

/** Registers through the hosted pages; answers the page after the form. */
async function register(server: TestServer, clientId: string, email: string) {
  const browser = new Browser(server.url);
  const { uid } = await startLogin(browser, server, clientId);
  const form = await browser.get(`/interaction/${uid}/register`);
  return { browser, page: await browser.submit(form, { email, password: 'correct horse battery', given_name: 'Dee', family_name: 'Lay' }) };
}

for (const kind of databaseKinds()) {
  describe(`the message queue keeps mail through an SMTP outage (${kind})`, () => {
    const closers: Array<() => Promise<void>> = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
    });

    test('an SMTP receiver that starts 20 s late still gets the activation mail, across a restart', async () => {
      const smtpPort = await freePort(); // nothing listens there yet
      const server = await startTestServer(kind, { env: { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, MAIL_POLL_INTERVAL: '50ms' } });
      closers.push(() => server.close());
      const clientId = await createTestApplication(server);

      const { browser, page } = await register(server, clientId, 'dee@example.com');
      assert.equal(page.status, 200);
      assert.match(page.doc.querySelector('h1')?.text ?? '', /check your email/i, 'the mail is durably queued, so the page says so');

      // The first attempt failed (connection refused) and a retry is scheduled.
      const [pending] = await queueUntil(server, 'dee@example.com', (e) => e.length === 1 && e[0].attempts >= 1, 'the first attempt');
      assert.equal(pending.status, 'pending');
      assert.equal(pending.type, 'activation');
      assert.match(pending.last_error, /ECONNREFUSED|connect/i);
      assert.ok(Date.parse(pending.next_attempt_at) > Date.now() - 1000);
      // Its content (the link) is sealed at rest.
      const row = await server.server.services.db('message_queue').where({ id: pending.id }).first();
      assert.ok(row.content_enc && !row.content_enc.includes('/activate/'), 'the link is not stored in the clear');

      // A restart in the middle loses nothing.
      await server.restart();

      // The SMTP server comes up 20 s later.
      let smtp: SmtpReceiver | null = null;
      try {
        advanceClock(20_000);
        smtp = await startSmtpReceiver(smtpPort);
        const mail = await smtp.waitFor('dee@example.com', /activate/i, 10_000);
        const [sent] = await queueUntil(server, 'dee@example.com', (e) => e[0]?.status === 'sent', 'the mail to be recorded as sent');
        assert.ok(sent.attempts >= 2, `sent after ${sent.attempts} attempts`);
        assert.equal(sent.last_error, null);
        assert.equal((await server.server.services.db('message_queue').where({ id: sent.id }).first()).content_enc, null, 'no content kept once sent');
        assert.equal(smtp.mails.length, 1, 'sent once');
        // The attempts are counted (this process restarted: its registry holds the attempts since then).
        const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
        assert.match(metrics, /tessera_message_attempts_total\{channel="email",outcome="sent"\} 1/);

        // The link works.
        const activated = await browser.get(linkIn(mail, `${server.url}/activate/`));
        assert.equal(activated.status, 200);
        assert.match(activated.doc.querySelector('h1')?.text ?? '', /verified/i);
      } finally {
        await smtp?.close();
      }
    });

    test('the page says "check your email" only once the mail is queued: a queue that cannot be written is an error page', async () => {
      const smtp = await startSmtpReceiver();
      closers.push(() => smtp.close());
      const server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      closers.push(() => server.close());
      const clientId = await createTestApplication(server);
      const { db } = server.server.services;
      // A real fault: the queue's table is not there for a moment.
      await db.schema.renameTable('message_queue', 'message_queue_away');
      let page;
      try {
        ({ page } = await register(server, clientId, 'eve@example.com'));
      } finally {
        await db.schema.renameTable('message_queue_away', 'message_queue');
      }
      assert.equal(page.status, 503);
      assert.match(alertText(page) ?? '', /could not be sent right now/);
      assert.doesNotMatch(page.doc.querySelector('h1')?.text ?? '', /check your email/i);
      assert.ok(page.doc.querySelector('a[href^="/interaction/"]'), 'a way back');

      // Trying again works: the account waits for its activation, and the mail is queued and sent.
      const again = await register(server, clientId, 'eve@example.com');
      assert.match(again.page.doc.querySelector('h1')?.text ?? '', /check your email/i);
      assert.ok(linkIn(await smtp.waitFor('eve@example.com', /activate/i), `${server.url}/activate/`));
    });

    test('a mail whose every attempt fails ends as failed, logged, its content dropped', async () => {
      const smtpPort = await freePort();
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const log = createLogger('info', sink);
      const server = await startTestServer(kind, { env: { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, MAIL_POLL_INTERVAL: '50ms', MAIL_RETRY_SCHEDULE: '5s' }, log });
      closers.push(() => server.close());
      const clientId = await createTestApplication(server);
      await register(server, clientId, 'gone@example.com');
      await queueUntil(server, 'gone@example.com', (e) => e[0]?.attempts === 1, 'the first attempt');
      advanceClock(10_000);
      const [failed] = await queueUntil(server, 'gone@example.com', (e) => e[0]?.status === 'failed', 'the last attempt');
      assert.equal(failed.attempts, 2);
      assert.equal(failed.max_attempts, 2);
      assert.equal((await server.server.services.db('message_queue').where({ id: failed.id }).first()).content_enc, null);
      const reported = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'a message could not be sent: every attempt failed');
      assert.equal(reported.length, 1);
      assert.equal(reported[0].type, 'activation');
      assert.ok(!lines.some((line) => line.includes('/activate/')), 'no link in the logs');
      const bad = await server.admin('GET', '/message-queue?status=lost');
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /^status: /);
    });
  });
}
