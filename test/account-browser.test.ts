// The account page (/account) in headless Chromium, end to end: a user signs in through the hosted
// pages, changes their email through the link mailed to the new address, withdraws a consent (the
// sync hook runs and the webhook arrives at a real receiver), adds TOTP then removes it, revokes an
// application whose refresh token (openid-client) then stops working, and deletes the account. Each
// sensitive change made with an old sign-in asks for a fresh one first (the test clock moves). No
// CSP violation on the way, and axe-core finds nothing on the account pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Page, Browser as Chromium } from 'playwright-core';
import { advanceClock } from './support/clock.ts';
import { launchChromium, openJourney, type JourneyPage } from './support/chromium.ts';
import { assertNoAxeViolations } from './support/console-chromium.ts';
import { databaseKinds } from './support/databases.ts';
import { totp } from './support/mfa.ts';
import { authorizationUrl, discoverClient, exchangeCode } from './support/rp.ts';
import { startRpPages, type RpPages } from './support/rp-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const PASSWORD = 'account browser password 1';
const SIX_MINUTES = 6 * 60 * 1000;

let chrome: Chromium;
before(async () => {
  chrome = await launchChromium();
});
after(() => chrome?.close());

/** The identify → password (→ code) pages of a sign-in, from the identify page the browser is on. */
async function passSignIn(page: Page, email: string, secret?: string): Promise<void> {
  const identifier = page.locator('input[name="identifier"]');
  await identifier.waitFor();
  if ((await identifier.inputValue()) !== email) await identifier.fill(email);
  await page.locator('form.stack button[type="submit"]').first().click();
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.locator('form.stack button[type="submit"]').first().click();
  if (secret) {
    await page.locator('#mfa-code input[name="code"]').fill(totp(secret, 1));
    await page.locator('#mfa-code button[type="submit"]').click();
  }
}

async function onAccountPage(page: Page): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
}

/** Submits a sensitive form after the sign-in got old: a fresh sign-in is asked for, then the page is back. */
async function afterStepUp(page: Page, email: string, submit: () => Promise<void>, secret?: string): Promise<void> {
  advanceClock(SIX_MINUTES);
  await submit();
  await page.locator('input[name="identifier"]').waitFor();
  assert.equal(await page.locator('input[name="identifier"]').inputValue(), email, 'the fresh sign-in knows who it is for');
  await passSignIn(page, email, secret);
}

for (const kind of databaseKinds()) {
  describe(`the account page in Chromium (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let receiver: WebhookReceiver;
    let rpPages: RpPages;
    let journey: JourneyPage;
    const email = 'grace@example.com';
    let userId = '';

    before(async () => {
      [smtp, receiver, rpPages] = await Promise.all([startSmtpReceiver(), WebhookReceiver.start(), startRpPages()]);
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
      const made = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true, given_name: 'Grace' });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      userId = made.body.id;
      journey = await openJourney(chrome);
      journey.page.setDefaultTimeout(10_000);
    });
    after(async () => {
      await journey?.close();
      await Promise.all([server?.close(), smtp?.close(), receiver?.close(), rpPages?.close()]);
    });

    test('signs in through the hosted pages; the account page passes axe-core', async () => {
      const { page } = journey;
      await page.goto(`${server.url}/account`);
      await passSignIn(page, email);
      await onAccountPage(page);
      assert.equal(await page.evaluate('document.cookie'), '', 'no cookie is readable by JavaScript');
      await assertNoAxeViolations(page, 'account page');
    });

    test('changes the email through the link mailed to the new address, after a fresh sign-in', async () => {
      const { page } = journey;
      await afterStepUp(page, email, async () => {
        await page.locator('#email-form input[name="email"]').fill('grace.new@example.com');
        await page.locator('#email-form button[type="submit"]').click();
      });
      await onAccountPage(page);
      // Back after the sign-in: the form is sent again, now fresh.
      await page.locator('#email-form input[name="email"]').fill('grace.new@example.com');
      await page.locator('#email-form button[type="submit"]').click();
      await page.getByRole('status').getByText('We sent a link to grace.new@example.com').waitFor();
      const link = linkIn(await smtp.waitFor('grace.new@example.com', /confirm/i), `${server.url}/account/email/`);
      await page.goto(link);
      await page.getByRole('heading', { name: 'Confirm your new email address' }).waitFor();
      await assertNoAxeViolations(page, 'email confirmation page');
      await page.getByRole('button', { name: 'Yes, use this address' }).click();
      await page.getByRole('heading', { name: 'Your email address was changed' }).waitFor();
      assert.equal((await server.admin('GET', `/users/${userId}`)).body.email, 'grace.new@example.com');
      await page.getByRole('link', { name: 'Back to your account' }).click();
      await onAccountPage(page);
      await page.getByText('Signed in as grace.new@example.com').waitFor();
    });

    test('withdraws a consent: the sync hook runs and the webhook arrives', async () => {
      const { page } = journey;
      await server.server.services.consents.set(userId, [{ key: 'newsletter', granted: true }]);
      const hook = await server.admin('POST', '/hooks', {
        name: 'consent log',
        event: 'after_consent_update',
        mode: 'sync',
        code: 'export default async function (event) { console.log(JSON.stringify(event.consents)); }',
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const endpoint = await server.admin('POST', '/webhooks', { url: `${receiver.url}/consents`, events: ['user.consent.update'] });
      assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
      await page.goto(`${server.url}/account`); // a full load (a #fragment alone would not reload the page)
      await onAccountPage(page);
      const box = page.getByLabel('newsletter');
      assert.equal(await box.isChecked(), true);
      await box.uncheck();
      await page.getByRole('button', { name: 'Save choices' }).click();
      await page.getByRole('status').getByText('Your choices were saved.').waitFor();
      assert.equal(await page.getByLabel('newsletter').isChecked(), false);
      const [delivered] = await receiver.waitForCount('/consents', 1);
      assert.deepEqual(delivered!.payload.data.consents, [{ key: 'newsletter', granted: false }]);
      assert.equal(delivered!.payload.data.user_id, userId);
      const runs = (await server.admin('GET', `/hooks/${hook.body.id}/executions`)).body;
      assert.equal(runs[0].logs[0], '[log] {"newsletter":false}');
    });

    test('adds TOTP, then removes it after proving it again', async () => {
      const { page } = journey;
      await page.goto(`${server.url}/account`); // a full load (a #fragment alone would not reload the page)
      await page.getByRole('button', { name: 'Add an authenticator app' }).click();
      await page.getByRole('heading', { name: 'Add an authenticator app' }).waitFor();
      await assertNoAxeViolations(page, 'authenticator setup page');
      const secret = ((await page.locator('#totp-secret').textContent()) ?? '').trim();
      await page.getByLabel('Code').fill(totp(secret));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
      assert.equal(await page.locator('#recovery-codes code').count(), 10);
      await assertNoAxeViolations(page, 'recovery codes page');
      await page.getByRole('link', { name: /back to your account/i }).click();
      await onAccountPage(page);
      await afterStepUp(page, 'grace.new@example.com', () => page.getByRole('button', { name: 'Remove Authenticator app' }).click(), secret);
      await onAccountPage(page);
      await page.getByRole('button', { name: 'Remove Authenticator app' }).click();
      await page.getByRole('status').getByText('The second step was removed.').waitFor();
      assert.deepEqual((await server.admin('GET', `/users/${userId}/factors`)).body, []);
    });

    test('revokes an application: its refresh token stops working', async () => {
      const { page } = journey;
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [rpPages.callback], grant_types: ['authorization_code', 'refresh_token'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const start = await authorizationUrl(rp, { redirect_uri: rpPages.callback, scope: 'openid email offline_access', prompt: 'consent' });
      const before = rpPages.callbacks.length;
      await page.goto(start.url.toString()); // the browser's session signs in to Notes without a page
      await page.waitForURL((url) => url.toString().startsWith(rpPages.callback));
      const tokens = await exchangeCode(rp, start, rpPages.callbacks[before]!.url);
      assert.ok(tokens.refresh_token);
      await page.goto(`${server.url}/account`); // a full load (a #fragment alone would not reload the page)
      await page.getByRole('button', { name: 'Remove access of Notes' }).click();
      await page.getByRole('status').getByText('The application no longer has access to your account.').waitFor();
      await assert.rejects(oidc.refreshTokenGrant(rp.config, tokens.refresh_token), (error: { error?: string }) => error.error === 'invalid_grant');
    });

    test('deletes the account after a fresh sign-in; no CSP violation on the way', async () => {
      const { page } = journey;
      await page.goto(`${server.url}/account`);
      await afterStepUp(page, 'grace.new@example.com', () => page.getByRole('link', { name: 'Delete your account…' }).click());
      await page.getByRole('heading', { name: 'Delete your account' }).waitFor();
      await assertNoAxeViolations(page, 'delete page');
      await page.getByLabel('I understand: delete my account for good').check();
      await page.getByRole('button', { name: 'Delete my account' }).click();
      await page.getByRole('heading', { name: 'Your account was deleted' }).waitFor();
      await assertNoAxeViolations(page, 'account deleted page');
      assert.equal((await server.admin('GET', `/users/${userId}`)).status, 404);
      assert.deepEqual(journey.violations, []);
    });
  });
}
