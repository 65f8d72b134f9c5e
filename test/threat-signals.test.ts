// Threat signals (CONTRACT §9): a sign-in from a browser the user never used (the device cookie) is
// user.login.new-device and event.device.new; two sign-ins too far apart for the time between them
// (the locations of a test .mmdb, the addresses forwarded by a trusted proxy) are
// user.login.suspicious and event.risk.impossible_travel; a password of the bundled breached corpus is
// refused at registration, reset and change, and flagged at sign-in (an imported hash) as
// user.password.breach and event.risk.breached_password; an HIBP-compatible range API on loopback is
// asked with the SHA-1 prefix only, and only when the address policy allows its host.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { hookCode, report, startHookPeer, type HookPeer } from './support/hook-peer.ts';
import { assertCodeRedirect, createTestApplication, signIn, startLogin } from './support/hosted-pages.ts';
import { cityRecord, writeMmdb } from './support/mmdb.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

const BERLIN = '192.0.2.10';
const BERLIN_TOO = '192.0.2.77';
const BOSTON = '203.0.113.30';
const BREACHED_MESSAGE = /exposed in data breaches/;

/** A loopback HIBP-compatible range API: answers `suffix:count` lines for the passwords it knows. */
async function startRangeApi(leaked: string[]): Promise<{ url: string; host: string; paths: string[]; close: () => Promise<void> }> {
  const paths: string[] = [];
  const hashes = leaked.map((password) => createHash('sha1').update(password).digest('hex').toUpperCase());
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    const prefix = (req.url ?? '').split('/').pop() ?? '';
    const lines = hashes.filter((hash) => hash.startsWith(prefix)).map((hash) => `${hash.slice(5)}:42`);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end([...lines, '0000000000000000000000000000000000A:0'].join('\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/range/`, host: `127.0.0.1:${port}`, paths, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

for (const kind of databaseKinds()) {
  describe(`threat signals (${kind})`, () => {
    let server: TestServer;
    let peer: HookPeer;
    let receiver: WebhookReceiver;
    let smtp: SmtpReceiver;
    let clientId: string;
    let webhook: { id: string; secret: string };

    before(async () => {
      const database = writeMmdb([
        { cidr: '192.0.2.0/24', record: cityRecord('DE', { city: 'Berlin', latitude: 52.52, longitude: 13.405 }) },
        { cidr: '203.0.113.0/24', record: cityRecord('US', { city: 'Boston', latitude: 42.36, longitude: -71.06 }) },
      ]);
      peer = await startHookPeer();
      receiver = await WebhookReceiver.start();
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { GEOIP_DB: database, TRUST_PROXY: 'true', SMTP_URL: smtp.url, WEBHOOK_ALLOWED_HOSTS: receiver.hostPort, WEBHOOK_RETRY_SCHEDULE: '0.2s' } });
      clientId = await createTestApplication(server);
      const created = await server.admin('POST', '/webhooks', { url: `${receiver.url}/threats`, events: ['user.login.new-device', 'user.login.suspicious', 'user.password.breach'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      webhook = { id: created.body.id, secret: created.body.secret };
      const hook = await server.admin('POST', '/hooks', { name: 'risk', event: 'after_login', mode: 'sync', allowed_hosts: [peer.host], code: hookCode(report(peer, '/login')) });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
    });
    after(async () => {
      await server?.close();
      await peer?.close();
      await receiver?.close();
      await smtp?.close();
    });

    const newUser = async (email: string, password = 'a long password 1') => {
      const created = await server.admin('POST', '/users', { email, password, email_verified: true });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.id as string;
    };
    /** A whole sign-in in `browser`; answers the after_login event the hook reported. */
    const login = async (browser: Browser, email: string, password = 'a long password 1') => {
      const before = peer.callsTo('/login').length;
      const { page, state } = await startLogin(browser, server, clientId);
      assertCodeRedirect(await signIn(browser, page, email, password), state);
      return (await peer.waitFor('/login', before + 1)).body;
    };
    /** The same device (its device cookie) without its session, so the next sign-in asks for the password again. */
    const sameDevice = (browser: Browser, ip: string) => {
      const next = new Browser(server.url, { 'x-forwarded-for': ip });
      for (const cookie of browser.jar.getCookiesSync(server.url)) if (cookie.key.startsWith('tessera_device')) next.jar.setCookieSync(cookie.toString(), server.url);
      return next;
    };
    const delivered = (type: string, userId: string) => receiver.on('/threats').filter((r) => r.payload.type === type && r.payload.data.user_id === userId);

    test('a new device: user.login.new-device and event.device.new; the same browser again is known', async () => {
      const userId = await newUser('device@example.com');
      const browser = new Browser(server.url, { 'x-forwarded-for': BERLIN });
      const first = await login(browser, 'device@example.com');
      assert.equal(first.device.new, true);
      assert.equal(first.risk.new_device, true);
      assert.match(first.device.id, /^[0-9a-f]{32}$/);
      const cookie = browser.jar.getCookiesSync(server.url).find((c) => c.key === 'tessera_device');
      assert.ok(cookie?.httpOnly, 'an httpOnly device cookie');
      assert.notEqual(cookie.value.split('.')[0], first.device.id, 'the id is not the cookie');

      const second = await login(sameDevice(browser, BERLIN), 'device@example.com');
      assert.deepEqual(second.device, { id: first.device.id, new: false });
      assert.equal(second.risk.new_device, false);

      const other = await login(new Browser(server.url, { 'x-forwarded-for': BERLIN_TOO }), 'device@example.com');
      assert.equal(other.device.new, true);
      assert.notEqual(other.device.id, first.device.id);

      await receiver.waitFor('two new-device events', () => delivered('user.login.new-device', userId).length >= 2);
      await webhooksSettled(server);
      const events = delivered('user.login.new-device', userId);
      assert.equal(events.length, 2, 'the known browser was no new device');
      for (const event of events) verifyWebhook(webhook.secret, event);
      assert.deepEqual(events[0]!.payload.data.device, { id: first.device.id, new: true });
      assert.equal(events[0]!.payload.data.application_id, clientId);
      assert.equal(events[0]!.payload.data.request.ip, BERLIN);
      assert.equal(events[0]!.payload.data.request.location.city, 'Berlin');
      // A device of another user's is new for this one.
      await newUser('device2@example.com');
      const shared = await login(sameDevice(browser, BERLIN), 'device2@example.com');
      assert.equal(shared.device.new, true);
      assert.equal(delivered('user.login.suspicious', userId).length, 0, 'Berlin to Berlin is no travel');

      // A device unseen for longer than its cookie lives (DEVICE_COOKIE_DAYS) is forgotten by the clean-up.
      const { db, threats } = server.server.services;
      await db('user_devices')
        .where({ user_id: userId })
        .update({ last_seen_at: Date.now() - 401 * 86_400_000 });
      assert.equal(await threats.prune(), 2);
      assert.equal((await login(sameDevice(browser, BERLIN), 'device@example.com')).device.new, true);
    });

    test('impossible travel: Berlin, then Boston minutes later, is user.login.suspicious and event.risk.impossible_travel', async () => {
      const userId = await newUser('traveller@example.com');
      const browser = new Browser(server.url, { 'x-forwarded-for': BERLIN });
      const first = await login(browser, 'traveller@example.com');
      assert.equal(first.risk.impossible_travel, false);
      assert.equal(first.risk.travel, null);
      const boston = sameDevice(browser, BOSTON);
      const second = await login(boston, 'traveller@example.com');
      assert.equal(second.risk.impossible_travel, true);
      assert.equal(second.risk.new_device, false, 'the same browser');
      assert.equal(second.risk.travel.from.city, 'Berlin');
      assert.equal(second.risk.travel.to.city, 'Boston');
      assert.ok(second.risk.travel.distance_km > 6000 && second.risk.travel.distance_km < 6200, JSON.stringify(second.risk.travel));
      assert.ok(second.risk.travel.speed_kmh > 1000);
      await receiver.waitFor('the suspicious login', () => delivered('user.login.suspicious', userId).length === 1);
      const [event] = delivered('user.login.suspicious', userId);
      verifyWebhook(webhook.secret, event!);
      assert.equal(event!.payload.data.risk.impossible_travel, true);
      assert.equal(event!.payload.data.application_id, clientId);
      assert.equal(event!.payload.data.request.ip, BOSTON);

      // Back in Boston: no travel since the last sign-in.
      const third = await login(sameDevice(boston, BOSTON), 'traveller@example.com');
      assert.equal(third.risk.impossible_travel, false);
    });

    test('a breached password is refused at registration, reset and change, and flagged at sign-in', async () => {
      // Registration on the hosted pages.
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const form = await browser.get(`/interaction/${uid}/register`);
      const refused = await browser.submit(form, { email: 'newbie@example.com', password: 'Password123', given_name: 'New', family_name: 'Bie' });
      assert.equal(refused.status, 400);
      assert.match(alertText(refused) ?? '', BREACHED_MESSAGE);
      assert.equal((await server.admin('GET', '/users?email=newbie@example.com')).body.length, 0);

      // The admin API: create and change.
      const created = await server.admin('POST', '/users', { email: 'admin-made@example.com', password: 'iloveyou2' });
      assert.equal(created.status, 400);
      assert.match(created.body.message, /^password: .*exposed in data breaches/);
      const userId = await newUser('changer@example.com');
      const changed = await server.admin('PATCH', `/users/${userId}`, { password: 'qwertyuiop' });
      assert.equal(changed.status, 400);
      assert.match(changed.body.message, /^password: /);

      // A reset link: the breached password is refused, a good one is taken.
      const reset = new Browser(server.url);
      const started = await startLogin(reset, server, clientId);
      await reset.submit(await reset.get(`/interaction/${started.uid}/forgot-password`), { identifier: 'changer@example.com' });
      const link = linkIn(await smtp.waitFor('changer@example.com', /reset/i), `${server.url}/reset-password/`);
      const resetPage = await reset.get(link);
      const badReset = await reset.submit(resetPage, { password: 'trustno1' });
      assert.equal(badReset.status, 400, alertText(badReset) ?? '');
      assert.match(alertText(badReset) ?? '', BREACHED_MESSAGE);
      const goodReset = await reset.submit(await reset.get(link), { password: 'a fresh long password 2' });
      assert.equal(goodReset.status, 200, alertText(goodReset) ?? '');

      // An imported account whose old password is breached signs in, flagged.
      const imported = await server.admin('POST', '/users/import', {
        users: [{ email: 'legacy@example.com', email_verified: true, password_hash: { algorithm: 'bcrypt', hash: bcrypt.hashSync('password123', 4) } }],
      });
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      const legacyId = (await server.admin('GET', '/users?email=legacy@example.com')).body[0].id;
      const event = await login(new Browser(server.url, { 'x-forwarded-for': BERLIN }), 'legacy@example.com', 'password123');
      assert.equal(event.risk.breached_password, true);
      await receiver.waitFor('the breach event', () => delivered('user.password.breach', legacyId).length === 1);
      const [breach] = delivered('user.password.breach', legacyId);
      verifyWebhook(webhook.secret, breach!);
      assert.deepEqual(breach!.payload.data, { user_id: legacyId, application_id: clientId });
      // A good password is not flagged.
      const fine = await login(new Browser(server.url), 'changer@example.com', 'a fresh long password 2');
      assert.equal(fine.risk.breached_password, false);
      await webhooksSettled(server);
      assert.equal(delivered('user.password.breach', userId).length, 0);
    });
  });

  describe(`breached passwords from a range API (${kind})`, () => {
    test('asked with the SHA-1 prefix only, on loopback only when BREACHED_PASSWORD_ALLOWED_HOSTS lists it', async () => {
      const leaked = 'correct horse battery staple 7';
      const api = await startRangeApi([leaked]);
      const allowed = await startTestServer(kind, { env: { BREACHED_PASSWORD_RANGE_URL: api.url, BREACHED_PASSWORD_ALLOWED_HOSTS: api.host } });
      try {
        const refused = await allowed.admin('POST', '/users', { email: 'range@example.com', password: leaked });
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.match(refused.body.message, BREACHED_MESSAGE);
        const sha1 = createHash('sha1').update(leaked).digest('hex').toUpperCase();
        assert.deepEqual(api.paths, [`/range/${sha1.slice(0, 5)}`], 'only the five-digit prefix left the server');
        const fine = await allowed.admin('POST', '/users', { email: 'range@example.com', password: 'not in any list 8' });
        assert.equal(fine.status, 201, JSON.stringify(fine.body));
      } finally {
        await allowed.close();
      }
      const asked = api.paths.length;
      // Without the allowance, the loopback API is never asked (the address policy); the corpus still applies.
      const refusedHost = await startTestServer(kind, { env: { BREACHED_PASSWORD_RANGE_URL: api.url } });
      try {
        const created = await refusedHost.admin('POST', '/users', { email: 'range@example.com', password: leaked });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(api.paths.length, asked, 'no request reached the loopback API');
        assert.equal((await refusedHost.admin('POST', '/users', { email: 'corpus@example.com', password: 'password1' })).status, 400);
      } finally {
        await refusedHost.close();
        await api.close();
      }
    });
  });
}
