// Every after_* event runs sync (issue #13, CONTRACT §5): one test per event that used to be async
// only. Each hook is a real hook created through the admin API that asks an HTTP peer of the test
// (a CRM) what to do: the peer answers an enrich value, a denial, or a failure. For each event the
// journey (or the admin API call) waits for the hook, which sees the change before it commits (nothing
// of it written, no webhook event about it yet); its api.user.setMetadata is saved with the change;
// where the change can be refused, a denial leaves it undone and shows the message (admin API: 409
// hook_denied); with on_error "continue" a failing hook is skipped and the change goes on.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { HookFixtures, startHookPeer, waitForExecutions, type HookPeer } from './support/hook-peer.ts';
import { assertCodeRedirect, startLogin, waitForMailCount } from './support/hosted-pages.ts';
import { assertCodePage, assertEnrolPage, codeIn, recoveryCodesOf } from './support/mfa.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PASSWORD = 'correct horse battery';

for (const kind of databaseKinds()) {
  describe(`sync hooks on every after_* change (${kind})`, () => {
    let smtp: SmtpReceiver;
    let peer: HookPeer;
    let server: TestServer;
    let clientId: string;
    let mfaClientId: string;
    const hooks = new HookFixtures(() => server);

    before(async () => {
      smtp = await startSmtpReceiver();
      peer = await startHookPeer();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, MFA_RESEND_INTERVAL_SECONDS: '0' } });
      const base = { redirect_uris: ['http://localhost:8976/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] };
      const app = await server.admin('POST', '/applications', { name: 'Notes', ...base });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      clientId = app.body.client_id;
      const mfaApp = await server.admin('POST', '/applications', { name: 'Vault', mfa: 'required', ...base });
      assert.equal(mfaApp.status, 201, JSON.stringify(mfaApp.body));
      mfaClientId = mfaApp.body.client_id;
    });
    afterEach(async () => {
      await hooks.clear();
      peer.reset();
    });
    after(async () => {
      await server?.close();
      await peer?.close();
      await smtp?.close();
    });

    // ---- helpers -------------------------------------------------------------------------------

    /**
     * A sync hook on `event` that posts its event to the peer at /<event> and does what the peer
     * answers: {fail} throws, {deny} denies (events that allow it), {crm} enriches the user.
     */
    const crmHook = (event: string, options: { deny?: boolean; on_error?: 'fail' | 'continue' } = {}) =>
      hooks.create({
        event,
        on_error: options.on_error ?? 'fail',
        allowed_hosts: [peer.host],
        code: `export default async function (event, api) {
  const res = await fetch(${JSON.stringify(`${peer.url}/${event}`)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
  const answer = await res.json();
  if (answer.fail) throw new Error('the CRM is down');
  ${options.deny === false ? '' : 'if (answer.deny) api.deny(answer.deny);'}
  if (answer.crm) api.user.setMetadata('crm_id', answer.crm);
}`,
      });
    const setOnError = async (hookId: string, onError: 'fail' | 'continue') => assert.equal((await server.admin('PATCH', `/hooks/${hookId}`, { on_error: onError })).status, 200);

    const db = () => server.server.services.db;
    const createUser = async (email: string, extra: Record<string, unknown> = {}): Promise<any> => {
      const created = await server.admin('POST', '/users', { email, password: PASSWORD, email_verified: true, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    };
    const getUser = async (id: string): Promise<any> => (await server.admin('GET', `/users/${id}`)).body;
    /** Webhook events of `type` about the user so far (the outbox row is written with the change). */
    const eventsAbout = async (type: string, userId: string): Promise<any[]> =>
      (await db()('webhook_events').where({ type })).map((row) => JSON.parse(String(row.data))).filter((data) => (data.user?.id ?? data.user_id) === userId);

    /** Registers `email` through the hosted pages; answers the mailed activation link. */
    const register = async (email: string): Promise<string> => {
      const b = new Browser(server.url);
      const { uid } = await startLogin(b, server, clientId);
      const done = await b.submit(await b.get(`/interaction/${uid}/register`), { email, password: PASSWORD, given_name: 'Reg', family_name: 'Istered' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      return linkIn(await smtp.waitFor(email, /activat/i), `${server.url}/activate/`);
    };

    /** Asks for a reset link for `email`; answers it. */
    const resetLink = async (email: string, count: number): Promise<string> => {
      const b = new Browser(server.url);
      const { uid } = await startLogin(b, server, clientId);
      await b.submit(await b.get(`/interaction/${uid}/forgot-password`), { identifier: email });
      return linkIn(await waitForMailCount(smtp, email, count), `${server.url}/reset-password/`);
    };
    const passwordWorks = async (userId: string, password: string) => {
      const { users } = server.server.services;
      return users.verifyPassword(await users.findById(userId), password);
    };

    /** A login to the MFA app up to its code page (enrolment: the email method chosen, its code mailed). */
    const toCodePage = async (email: string, mailsBefore: number, enrol: boolean): Promise<{ b: Browser; page: Page; code: string; state: string }> => {
      const b = new Browser(server.url);
      const { page: identify, state } = await startLogin(b, server, mfaClientId);
      const passwordPage = await b.submit(identify, { identifier: email });
      let page = await b.submit(passwordPage, { password: PASSWORD });
      if (enrol) {
        assertEnrolPage(page);
        page = await b.submit(page, { method: 'email' });
      }
      assertCodePage(page);
      return { b, page, state, code: codeIn((await waitForMailCount(smtp, email, mailsBefore + 1)).text) };
    };
    const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email)).length;
    const activeFactors = async (userId: string) => (await server.admin('GET', `/users/${userId}/factors`)).body.filter((f: any) => f.status === 'active' && f.type !== 'recovery_codes');

    // ---- the hosted journeys -------------------------------------------------------------------

    it('after_account_activation: waits, enriches, a denial leaves the account pending with its link unused, continue goes on', async () => {
      const hookId = await crmHook('after_account_activation');
      const link = await register('ivy@example.com');
      const ivy = (await server.admin('GET', '/users?email=ivy@example.com')).body[0];

      peer.respond('/after_account_activation', { body: { deny: 'Your membership is not confirmed yet.' } });
      const denied = await new Browser(server.url).get(link);
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Your membership is not confirmed yet.');
      assert.equal((await getUser(ivy.id)).status, 'pending', 'the account stays pending');
      assert.equal((await getUser(ivy.id)).email_verified, false);
      assert.deepEqual(await eventsAbout('user.email.verified', ivy.id), [], 'no webhook event about a refused change');

      peer.respond('/after_account_activation', { body: { crm: 'crm-ivy' }, delayMs: 300 });
      const opening = new Browser(server.url).get(link);
      const call = await peer.waitFor('/after_account_activation', 2);
      assert.equal(call.body.user.status, 'active', 'the hook sees the account as it will be');
      assert.equal(call.body.user.email_verified, true);
      assert.equal((await getUser(ivy.id)).status, 'pending', 'nothing is written while the hook runs');
      assert.deepEqual(await eventsAbout('user.email.verified', ivy.id), [], 'no webhook event before the hook is done');
      const opened = await opening;
      assert.equal(opened.status, 200, alertText(opened) ?? '');
      const activated = await getUser(ivy.id);
      assert.equal(activated.status, 'active');
      assert.equal(activated.metadata.crm_id, 'crm-ivy', 'the enrich action is saved with the activation');
      assert.equal((await eventsAbout('user.email.verified', ivy.id)).length, 1);

      await setOnError(hookId, 'continue');
      peer.respond('/after_account_activation', { body: { fail: true } });
      const second = await register('jan@example.com');
      const opened2 = await new Browser(server.url).get(second);
      assert.equal(opened2.status, 200, alertText(opened2) ?? '');
      assert.equal((await server.admin('GET', '/users?email=jan@example.com')).body[0].status, 'active', 'a failing hook under on_error "continue" is skipped');
    });

    it('after_password_reset: waits, enriches, a denial leaves the password and the link as they were, continue goes on', async () => {
      const hookId = await crmHook('after_password_reset');
      const kim = await createUser('kim@example.com');
      const link = await resetLink('kim@example.com', 1);

      peer.respond('/after_password_reset', { body: { deny: 'Resets need a call to the help desk.' } });
      const b = new Browser(server.url);
      const denied = await b.submit(await b.get(link), { password: 'kims new password 2' });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Resets need a call to the help desk.');
      assert.ok(await passwordWorks(kim.id, PASSWORD), 'the old password still works');
      assert.ok(!(await passwordWorks(kim.id, 'kims new password 2')));
      assert.deepEqual(await eventsAbout('user.password.reset.success', kim.id), []);

      peer.respond('/after_password_reset', { body: { crm: 'crm-kim' }, delayMs: 300 });
      const form = await b.get(link);
      assert.equal(form.status, 200, 'the link was not used up by the refused reset');
      const submitting = b.submit(form, { password: 'kims new password 2' });
      await peer.waitFor('/after_password_reset', 2);
      assert.ok(await passwordWorks(kim.id, PASSWORD), 'nothing is written while the hook runs');
      assert.deepEqual(await eventsAbout('user.password.reset.success', kim.id), []);
      const done = await submitting;
      assert.equal(done.status, 200, alertText(done) ?? '');
      assert.ok(await passwordWorks(kim.id, 'kims new password 2'));
      assert.equal((await getUser(kim.id)).metadata.crm_id, 'crm-kim');
      assert.equal((await eventsAbout('user.password.reset.success', kim.id)).length, 1);

      await setOnError(hookId, 'continue');
      peer.respond('/after_password_reset', { body: { fail: true } });
      const again = await resetLink('kim@example.com', 2);
      const b2 = new Browser(server.url);
      const changed = await b2.submit(await b2.get(again), { password: 'kims third password 3' });
      assert.equal(changed.status, 200, alertText(changed) ?? '');
      assert.ok(await passwordWorks(kim.id, 'kims third password 3'));
    });

    it('after_username_request: runs after the answer, enriches, continue goes on (nothing to refuse: the mail went out)', async () => {
      const hookId = await crmHook('after_username_request', { deny: false });
      const lou = await createUser('lou@example.com', { username: 'lou_name' });
      peer.respond('/after_username_request', { body: { crm: 'crm-lou' }, delayMs: 200 });
      const b = new Browser(server.url);
      const { uid } = await startLogin(b, server, clientId);
      const sent = await b.submit(await b.get(`/interaction/${uid}/forgot-username`), { email: 'lou@example.com' });
      assert.equal(sent.status, 200);
      await smtp.waitFor('lou@example.com', /lou_name/);
      await peer.waitForAnswered('/after_username_request');
      const [run] = await waitForExecutions(server, hookId);
      assert.equal(run!.mode, 'sync');
      assert.equal(run!.outcome, 'success');
      // The enrich is written once the run ends; the execution log is batched, so wait on the user.
      const deadline = Date.now() + 5000;
      while ((await getUser(lou.id)).metadata.crm_id !== 'crm-lou') {
        assert.ok(Date.now() < deadline, 'the enrich action is saved');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      await setOnError(hookId, 'continue');
      peer.respond('/after_username_request', { body: { fail: true } });
      await b.submit(await b.get(`/interaction/${uid}/forgot-username`), { email: 'lou@example.com' });
      await waitForMailCount(smtp, 'lou@example.com', 2);
      await waitForExecutions(server, hookId, 2);
    });

    it('after_mfa_send: the code page waits, enriches, continue goes on (nothing to refuse: the code is used)', async () => {
      const hookId = await crmHook('after_mfa_send', { deny: false });
      const mo = await createUser('mo@example.com');
      peer.respond('/after_mfa_send', { body: { crm: 'crm-mo' }, delayMs: 300 });
      // The enrolment's confirming code fires after_mfa_send too.
      const enrol = await toCodePage('mo@example.com', mailsTo('mo@example.com'), true);
      const confirming = enrol.b.submit(enrol.page, { code: enrol.code });
      const call = await peer.waitFor('/after_mfa_send');
      assert.equal(call.body.channel, 'email');
      assert.deepEqual(await activeFactors(mo.id), [], 'the journey waits: the factor is not confirmed yet');
      const codes = await confirming;
      assert.equal(recoveryCodesOf(codes).length, 10, alertText(codes) ?? codes.html.slice(0, 300));
      assert.equal((await getUser(mo.id)).metadata.crm_id, 'crm-mo');
      assertCodeRedirect(await enrol.b.submit(codes), enrol.state);

      await setOnError(hookId, 'continue');
      peer.respond('/after_mfa_send', { body: { fail: true } });
      const login = await toCodePage('mo@example.com', mailsTo('mo@example.com'), false);
      assertCodeRedirect(await login.b.submit(login.page, { code: login.code }), login.state);
    });

    it('after_mfa_change (enrolment): waits, enriches, a denial leaves the factor unconfirmed, continue goes on', async () => {
      const hookId = await crmHook('after_mfa_change');
      const nia = await createUser('nia@example.com');

      peer.respond('/after_mfa_change', { body: { deny: 'Use the company authenticator instead.' } });
      const first = await toCodePage('nia@example.com', mailsTo('nia@example.com'), true);
      const denied = await first.b.submit(first.page, { code: first.code });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Use the company authenticator instead.');
      assert.deepEqual(await activeFactors(nia.id), [], 'the factor stays unconfirmed');
      assert.deepEqual(await eventsAbout('user.two-factor.method.add', nia.id), []);
      assert.equal(recoveryCodesOf(denied).length, 0);

      // The same journey, a new code: the hook now enriches, after a while.
      peer.respond('/after_mfa_change', { body: { crm: 'crm-nia' }, delayMs: 300 });
      const codePage = await first.b.get(denied.doc.querySelector('a[href$="/mfa"]')!.getAttribute('href')!);
      assertCodePage(codePage);
      const before = mailsTo('nia@example.com');
      await first.b.submit(codePage, {}, 'form#mfa-resend');
      const code = codeIn((await waitForMailCount(smtp, 'nia@example.com', before + 1)).text);
      const confirming = first.b.submit(codePage, { code });
      const call = await peer.waitFor('/after_mfa_change', 2);
      assert.equal(call.body.change, 'enrolled');
      assert.equal(call.body.factor.type, 'email');
      assert.deepEqual(await activeFactors(nia.id), [], 'nothing is written while the hook runs');
      const codes = await confirming;
      assert.equal(recoveryCodesOf(codes).length, 10, alertText(codes) ?? codes.html.slice(0, 300));
      assert.equal((await activeFactors(nia.id)).length, 1);
      assert.equal((await getUser(nia.id)).metadata.crm_id, 'crm-nia');
      assert.equal((await eventsAbout('user.two-factor.method.add', nia.id)).length, 1);
      assertCodeRedirect(await first.b.submit(codes), first.state);

      await setOnError(hookId, 'continue');
      peer.respond('/after_mfa_change', { body: { fail: true } });
      const oz = await createUser('oz@example.com');
      const enrol = await toCodePage('oz@example.com', mailsTo('oz@example.com'), true);
      const done = await enrol.b.submit(enrol.page, { code: enrol.code });
      assert.equal(recoveryCodesOf(done).length, 10, alertText(done) ?? '');
      assert.equal((await activeFactors(oz.id)).length, 1);
    });

    it('after_consent_update: the profile page waits, enriches, a denial leaves the consents as they were, continue goes on', async () => {
      await hooks.create({
        event: 'before_progressive_profiling',
        code: `export default async function (event, api) {
  if (event.flow === 'login' && event.consents.newsletter === undefined) api.form.requireConsents([{ key: 'newsletter', label: 'Send me the newsletter' }]);
}`,
      });
      const hookId = await crmHook('after_consent_update');
      const pat = await createUser('pat@example.com');
      const profilePage = async (email: string) => {
        const b = new Browser(server.url);
        const { page, state } = await startLogin(b, server, clientId);
        const profile = await b.submit(await b.submit(page, { identifier: email }), { password: PASSWORD });
        assert.ok(profile.doc.querySelector('input[name="consent:newsletter"]'), `the consent is asked: ${profile.html.slice(0, 300)}`);
        return { b, profile, state };
      };
      const consents = async (userId: string) => server.server.services.consents.list(userId);

      peer.respond('/after_consent_update', { body: { deny: 'The newsletter is for members only.' } });
      const first = await profilePage('pat@example.com');
      const denied = await first.b.submit(first.profile, { 'consent:newsletter': 'on' });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'The newsletter is for members only.');
      assert.deepEqual(await consents(pat.id), [], 'the consents stay as they were');
      assert.deepEqual(await eventsAbout('user.consent.update', pat.id), []);

      peer.respond('/after_consent_update', { body: { crm: 'crm-pat' }, delayMs: 300 });
      const submitting = first.b.submit(denied, { 'consent:newsletter': 'on' });
      const call = await peer.waitFor('/after_consent_update', 2);
      assert.deepEqual(call.body.changed, ['newsletter']);
      assert.deepEqual(call.body.consents, { newsletter: true }, 'the hook sees the consents as they will be');
      assert.deepEqual(await consents(pat.id), [], 'nothing is written while the hook runs');
      assertCodeRedirect(await submitting, first.state);
      assert.deepEqual(
        (await consents(pat.id)).map((c) => [c.key, c.granted]),
        [['newsletter', true]],
      );
      assert.equal((await getUser(pat.id)).metadata.crm_id, 'crm-pat');

      await setOnError(hookId, 'continue');
      peer.respond('/after_consent_update', { body: { fail: true } });
      const quin = await createUser('quin@example.com');
      const second = await profilePage('quin@example.com');
      assertCodeRedirect(await second.b.submit(second.profile, {}), second.state);
      assert.deepEqual(
        (await consents(quin.id)).map((c) => [c.key, c.granted]),
        [['newsletter', false]],
      );
    });

    // ---- the admin API -------------------------------------------------------------------------

    it('after_mfa_change (removal by the admin API): waits, enriches, a denial is 409 hook_denied and the factor stays, continue goes on', async () => {
      const rae = await createUser('rae@example.com');
      const enrol = await toCodePage('rae@example.com', mailsTo('rae@example.com'), true);
      assert.equal(recoveryCodesOf(await enrol.b.submit(enrol.page, { code: enrol.code })).length, 10);
      const [factor] = await activeFactors(rae.id);
      const hookId = await crmHook('after_mfa_change');

      peer.respond('/after_mfa_change', { body: { deny: 'Factors are removed by the security team.' } });
      const denied = await server.admin('DELETE', `/users/${rae.id}/factors/${factor.id}`);
      assert.equal(denied.status, 409);
      assert.deepEqual(denied.body, { error: 'hook_denied', message: 'Factors are removed by the security team.' });
      assert.equal((await activeFactors(rae.id)).length, 1, 'the factor stays');
      const reset = await server.admin('DELETE', `/users/${rae.id}/factors`);
      assert.equal(reset.status, 409);
      assert.equal((await activeFactors(rae.id)).length, 1);

      peer.respond('/after_mfa_change', { body: { crm: 'crm-rae' }, delayMs: 300 });
      const removing = server.admin('DELETE', `/users/${rae.id}/factors/${factor.id}`);
      const call = await peer.waitFor('/after_mfa_change', 3);
      assert.equal(call.body.change, 'removed');
      assert.equal(call.body.factor.id, factor.id);
      assert.equal((await activeFactors(rae.id)).length, 1, 'nothing is written while the hook runs');
      assert.deepEqual(await eventsAbout('user.two-factor.method.remove', rae.id), []);
      assert.equal((await removing).status, 204);
      assert.deepEqual(await activeFactors(rae.id), []);
      assert.equal((await getUser(rae.id)).metadata.crm_id, 'crm-rae');
      assert.equal((await eventsAbout('user.two-factor.method.remove', rae.id)).length, 1);

      await setOnError(hookId, 'continue');
      peer.respond('/after_mfa_change', { body: { fail: true } });
      const enrolAgain = await toCodePage('rae@example.com', mailsTo('rae@example.com'), true);
      await enrolAgain.b.submit(enrolAgain.page, { code: enrolAgain.code });
      assert.equal((await activeFactors(rae.id)).length, 1);
      assert.equal((await server.admin('DELETE', `/users/${rae.id}/factors`)).status, 204);
      assert.deepEqual(await activeFactors(rae.id), []);
    });

    it('after_account_disabled: waits, enriches, a denial is 409 hook_denied and the account stays enabled, continue goes on', async () => {
      const hookId = await crmHook('after_account_disabled');
      const sam = await createUser('sam@example.com');

      peer.respond('/after_account_disabled', { body: { deny: 'Sam has an open invoice: close it first.' } });
      const denied = await server.admin('POST', `/users/${sam.id}/disable`);
      assert.equal(denied.status, 409);
      assert.deepEqual(denied.body, { error: 'hook_denied', message: 'Sam has an open invoice: close it first.' });
      assert.equal((await getUser(sam.id)).status, 'active');
      assert.deepEqual(await eventsAbout('user.deactivate', sam.id), []);

      peer.respond('/after_account_disabled', { body: { crm: 'crm-sam' }, delayMs: 300 });
      const disabling = server.admin('POST', `/users/${sam.id}/disable`);
      const call = await peer.waitFor('/after_account_disabled', 2);
      assert.equal(call.body.user.status, 'disabled', 'the hook sees the account as it will be');
      assert.equal((await getUser(sam.id)).status, 'active', 'nothing is written while the hook runs');
      assert.deepEqual(await eventsAbout('user.deactivate', sam.id), [], 'no webhook event before the hook is done');
      const disabled = await disabling;
      assert.equal(disabled.status, 200);
      assert.equal(disabled.body.status, 'disabled');
      assert.equal(disabled.body.metadata.crm_id, 'crm-sam');
      const [deactivate] = await eventsAbout('user.deactivate', sam.id);
      assert.equal(deactivate.user.metadata.crm_id, 'crm-sam', 'the webhook event carries the enriched user');

      await setOnError(hookId, 'continue');
      peer.respond('/after_account_disabled', { body: { fail: true } });
      const tia = await createUser('tia@example.com');
      const goesOn = await server.admin('POST', `/users/${tia.id}/disable`);
      assert.equal(goesOn.status, 200);
      assert.equal(goesOn.body.status, 'disabled');
    });

    it('after_account_deleted: waits, enriches the user.delete event, a denial is 409 hook_denied and the account stays, continue goes on', async () => {
      const hookId = await crmHook('after_account_deleted');
      const uma = await createUser('uma@example.com');

      peer.respond('/after_account_deleted', { body: { deny: 'Accounts under legal hold cannot be deleted.' } });
      const denied = await server.admin('DELETE', `/users/${uma.id}`);
      assert.equal(denied.status, 409);
      assert.deepEqual(denied.body, { error: 'hook_denied', message: 'Accounts under legal hold cannot be deleted.' });
      assert.equal((await server.admin('GET', `/users/${uma.id}`)).status, 200, 'the account stays');

      peer.respond('/after_account_deleted', { body: { crm: 'crm-uma' }, delayMs: 300 });
      const deleting = server.admin('DELETE', `/users/${uma.id}`);
      await peer.waitFor('/after_account_deleted', 2);
      assert.equal((await server.admin('GET', `/users/${uma.id}`)).status, 200, 'nothing is written while the hook runs');
      assert.deepEqual(await eventsAbout('user.delete', uma.id), []);
      assert.equal((await deleting).status, 204);
      assert.equal((await server.admin('GET', `/users/${uma.id}`)).status, 404);
      const [deleted] = await eventsAbout('user.delete', uma.id);
      assert.equal(deleted.user.metadata.crm_id, 'crm-uma', 'the enrich action goes into the user.delete event');

      await setOnError(hookId, 'continue');
      peer.respond('/after_account_deleted', { body: { fail: true } });
      const val = await createUser('val@example.com');
      assert.equal((await server.admin('DELETE', `/users/${val.id}`)).status, 204);
      assert.equal((await server.admin('GET', `/users/${val.id}`)).status, 404);
    });

    it('async hooks of a refused change are never queued; those of a committed change are', async () => {
      await crmHook('after_account_disabled');
      const asyncHook = await hooks.create({ event: 'after_account_disabled', mode: 'async', code: 'export default async function (event, api) { console.log(event.user.id); }' });
      const wes = await createUser('wes@example.com');
      peer.respond('/after_account_disabled', { body: { deny: 'Not today.' } });
      assert.equal((await server.admin('POST', `/users/${wes.id}/disable`)).status, 409);
      assert.equal((await db()('hook_jobs').where({ hook_id: asyncHook })).length, 0, 'no async run about a change that did not happen');
      peer.respond('/after_account_disabled', { body: {} });
      assert.equal((await server.admin('POST', `/users/${wes.id}/disable`)).status, 200);
      assert.equal((await db()('hook_jobs').where({ hook_id: asyncHook })).length, 1);
    });
  });
}
