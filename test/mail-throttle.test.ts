// Account mails are throttled per recipient address and per client address: past the limit inside
// the window no more mails reach the real SMTP receiver, while the page shown is the same as before
// (whether an address has an account, or is being throttled, cannot be read from it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestApplication, createTestUser, mailsTo, startLogin, waitForMailCount } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent } from './support/settle.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PER_ADDRESS = 3;
const PER_IP = 5;

let nextIp = 10;
/** A client address of its own (the server trusts X-Forwarded-For in this suite). */
const freshIp = () => `198.51.100.${nextIp++}`;

/** The page as a person reads it: its main text, with what differs per request (the uid, the address typed) masked. */
function seen(page: Page): string {
  const uid = /\/interaction\/([^/?#]+)/.exec(new URL(page.url).pathname)?.[1] ?? '';
  const text = `${page.status} ${new URL(page.url).pathname.replaceAll(uid, 'UID')} ${alertText(page) ?? ''} ${page.doc.querySelector('main')?.text}`;
  return text
    .replace(/\s+/g, ' ')
    .replace(/[\w.+-]+@example\.com/gi, 'EMAIL')
    .trim();
}

for (const kind of databaseKinds()) {
  describe(`account mail throttle (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, {
        env: { SMTP_URL: smtp.url, TRUST_PROXY: 'true', MAIL_MAX_PER_ADDRESS: String(PER_ADDRESS), MAIL_MAX_PER_IP: String(PER_IP) },
      });
      clientId = await createTestApplication(server);
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    const register = async (email: string, ip: string) => {
      const browser = new Browser(server.url, { 'x-forwarded-for': ip });
      const { uid } = await startLogin(browser, server, clientId);
      const form = await browser.get(`/interaction/${uid}/register`);
      return browser.submit(form, { email, password: 'a good password 1', given_name: 'Tess' });
    };
    const forgot = async (path: 'forgot-password' | 'forgot-username', fields: Record<string, string>, ip: string) => {
      const browser = new Browser(server.url, { 'x-forwarded-for': ip });
      const { uid } = await startLogin(browser, server, clientId);
      return browser.submit(await browser.get(`/interaction/${uid}/${path}`), fields);
    };
    /**
     * Waits for a mail that was asked for after all the others (to an address and from a client
     * nothing throttles), so every mail the requests before it sent has been handed to the receiver.
     */
    const settle = async (): Promise<void> => {
      const marker = `marker-${nextIp}@example.com`;
      await register(marker, freshIp());
      await waitForMailCount(smtp, marker, 1);
      await mailsSent(server); // and every mail asked for before it has gone too
    };

    it('registering one address again and again mails it only up to the limit, with the same page each time', async () => {
      const pages: string[] = [];
      for (let i = 0; i < PER_ADDRESS + 3; i++) pages.push(seen(await register('tina@example.com', freshIp())));
      await waitForMailCount(smtp, 'tina@example.com', PER_ADDRESS);
      await settle();
      assert.equal(mailsTo(smtp, 'tina@example.com').length, PER_ADDRESS, 'no mail past the limit');
      for (const page of pages) assert.equal(page, pages[0], 'the throttled attempts show the same page');
      assert.match(pages[0]!, /check your email/i);
      // One account, still pending.
      const tina = await server.server.services.users.findByEmail('tina@example.com');
      assert.equal(tina?.status, 'pending');
    });

    it('the "already registered" mail to an existing account is throttled the same way', async () => {
      await createTestUser(server, { email: 'walt@example.com', password: 'walts password 1' });
      const pages: string[] = [];
      for (let i = 0; i < PER_ADDRESS + 2; i++) pages.push(seen(await register('Walt@Example.com', freshIp())));
      await waitForMailCount(smtp, 'walt@example.com', PER_ADDRESS);
      await settle();
      const mails = mailsTo(smtp, 'walt@example.com');
      assert.equal(mails.length, PER_ADDRESS);
      assert.ok(mails.every((m) => /already have an account/i.test(m.text)));
      for (const page of pages) assert.equal(page, pages[0]);
      // And a new address sees exactly what the owner of a taken one sees.
      assert.equal(seen(await register('newbie@example.com', freshIp())), pages[0]);
    });

    it('one address shares its count across kinds of mail: reset and username requests after registrations', async () => {
      await createTestUser(server, { email: 'mia@example.com', password: 'mias password 1', username: 'mia' });
      const first = seen(await forgot('forgot-password', { identifier: 'mia@example.com' }, freshIp()));
      await forgot('forgot-username', { email: 'mia@example.com' }, freshIp());
      await register('mia@example.com', freshIp());
      await waitForMailCount(smtp, 'mia@example.com', PER_ADDRESS);
      const throttledReset = seen(await forgot('forgot-password', { identifier: 'mia@example.com' }, freshIp()));
      const throttledUsername = await forgot('forgot-username', { email: 'mia@example.com' }, freshIp());
      await settle();
      assert.equal(mailsTo(smtp, 'mia@example.com').length, PER_ADDRESS);
      assert.equal(throttledReset, first, 'a throttled reset shows the same page');
      assert.equal(throttledUsername.status, 200);
      assert.match(throttledUsername.doc.querySelector('main')?.text ?? '', /if an account uses this email address/i);
    });

    it('one client address gets only so many mails sent, to whatever addresses, with the same page', async () => {
      const ip = freshIp();
      const pages: string[] = [];
      const addresses = Array.from({ length: PER_IP + 2 }, (_, i) => `spray-${i}@example.com`);
      for (const address of addresses) pages.push(seen(await register(address, ip)));
      for (const address of addresses.slice(0, PER_IP)) await waitForMailCount(smtp, address, 1);
      await settle();
      for (const address of addresses.slice(PER_IP)) assert.equal(mailsTo(smtp, address).length, 0, `${address}: throttled by the client address`);
      for (const page of pages) assert.equal(page, pages[0]);
      // The forgot pages from that client send nothing either, and look the same.
      await createTestUser(server, { email: 'otto@example.com', password: 'ottos password 1' });
      const fromThrottled = seen(await forgot('forgot-username', { email: 'otto@example.com' }, ip));
      const fromElsewhere = seen(await forgot('forgot-username', { email: 'nobody@example.com' }, freshIp()));
      await settle();
      assert.equal(mailsTo(smtp, 'otto@example.com').length, 0);
      assert.equal(fromThrottled, fromElsewhere);
    });
  });
}
