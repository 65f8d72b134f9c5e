// Every lifecycle event of CONTRACT §5 that is wired, end to end with REAL hooks created through the
// admin API: the hook posts the event it received to an HTTP peer of the test (so the payload is
// checked exactly as a brand's hook sees it), and each of the event's actions takes effect in the
// journey a browser walks through (denials in role="alert", profile changes visible through the
// admin API, progressive profiling pages, failed-login messages and redirects, no reset mail).
// The MFA and external-login events are only listed in the catalog for now (their own issues).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { assertCodeRedirect, mailsTo, REDIRECT_URI, signIn, startLogin } from './support/hosted-pages.ts';
import { executions, HookFixtures, hookCode, report, startHookPeer, waitForExecutions, type HookPeer } from './support/hook-peer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { hookJobsDone, mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

// The browser asks for French (HEADERS): the pages speak it; hook messages stay as the hook gave them.
const WRONG_CREDENTIALS = 'L’adresse e-mail, le nom d’utilisateur ou le mot de passe est incorrect.';
const HEADERS = { 'user-agent': 'tessera-hooks-test/1.0', 'accept-language': 'fr-CH,fr;q=0.9' };

for (const kind of databaseKinds()) {
  describe(`lifecycle events with real hooks (${kind})`, () => {
    let smtp: SmtpReceiver;
    let peer: HookPeer;
    let server: TestServer;
    let clientId: string;
    const hooks = new HookFixtures(() => server);

    before(async () => {
      smtp = await startSmtpReceiver();
      peer = await startHookPeer();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      const app = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      clientId = app.body.client_id;
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

    /** A hook that reports its event to the peer at `/<event>` and then runs `then`. */
    const reportingHook = (event: string, then = '', extra: Record<string, unknown> = {}) =>
      hooks.create({ event, code: hookCode(`${report(peer, `/${event}`)}\n${then}`), allowed_hosts: [peer.host], ...extra });

    const createUser = async (body: Record<string, unknown>): Promise<any> => {
      const created = await server.admin('POST', '/users', { email_verified: true, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    };
    const getUser = async (id: string): Promise<any> => {
      const found = await server.admin('GET', `/users/${id}`);
      assert.equal(found.status, 200, JSON.stringify(found.body));
      return found.body;
    };
    const userByEmail = async (email: string): Promise<any | null> => {
      const found = await server.admin('GET', `/users?email=${encodeURIComponent(email)}`);
      assert.equal(found.status, 200, JSON.stringify(found.body));
      return found.body[0] ?? null;
    };

    const browser = () => new Browser(server.url, HEADERS);

    const registerForm = async (b: Browser) => {
      const { uid, state } = await startLogin(b, server, clientId);
      return { form: await b.get(`/interaction/${uid}/register`), uid, state };
    };

    /** The fields every event carries. */
    const assertCommon = (event: any, type: string, hookId: string, options: { application?: boolean; browser?: boolean } = {}) => {
      assert.equal(event.type, type);
      assert.match(event.id, /^evt_[0-9a-f]{32}$/);
      assert.deepEqual(event.hook, { id: hookId, name: `test ${type}` });
      if (options.application === false) assert.equal(event.application, null);
      else assert.deepEqual(event.application, { client_id: clientId, name: 'Notes' });
      assert.ok(!Number.isNaN(Date.parse(event.created_at)), 'created_at is a date');
      assert.equal(typeof event.secrets, 'object');
      assert.deepEqual(Object.keys(event.request).sort(), ['ip', 'locale', 'location', 'user_agent']);
      assert.equal(event.request.location, null, 'loopback is in no location database');
      if (options.browser !== false) {
        assert.match(event.request.ip, /127\.0\.0\.1|::1/);
        assert.equal(event.request.user_agent, HEADERS['user-agent']);
        assert.equal(event.request.locale, 'fr', 'the language the pages speak: fr-CH asks for French');
      }
    };

    /** A user as hooks see it: the public fields, never a password or its hash. */
    const assertUserShape = (user: any) => {
      for (const key of ['id', 'email', 'username', 'given_name', 'family_name', 'email_verified', 'status', 'attributes', 'metadata', 'login_count', 'created_at']) {
        assert.ok(key in user, `event.user has ${key}`);
      }
      for (const key of Object.keys(user)) assert.doesNotMatch(key, /password_hash|hash|secret/, `event.user has no ${key}`);
    };

    const noPasswordIn = (calls: Array<{ body: unknown }>, password: string) => {
      for (const call of calls) assert.ok(!JSON.stringify(call.body).includes(password), `no hook saw the password (${JSON.stringify(call.body).slice(0, 80)})`);
    };

    // ---- registration --------------------------------------------------------------------------

    it('before_registration: the user as submitted (no id, no password); deny; setAttribute and setMetadata', async () => {
      const hookId = await reportingHook(
        'before_registration',
        `
        if (event.user.email.endsWith('@blocked.test')) { api.deny('Sign-ups from blocked.test are closed.'); return; }
        api.user.setAttribute('plan', 'gold');
        api.user.setAttribute('crm', { tier: 2, tags: ['a', 'b'] });
        api.user.setMetadata('crm_id', 42);`,
        { secrets: { CRM_TOKEN: 'crm-token-abcdef' } },
      );

      const b = browser();
      const { form } = await registerForm(b);
      const done = await b.submit(form, { email: 'Jack@Example.com', password: 'jacks password 1', given_name: 'Jack', family_name: 'Frost' });
      assert.equal(done.status, 200, alertText(done) ?? '');
      assert.match(done.doc.querySelector('h1')?.text ?? '', /consultez votre messagerie/i);

      const event = (await peer.waitFor('/before_registration')).body;
      assertCommon(event, 'before_registration', hookId);
      assert.deepEqual(event.secrets, { CRM_TOKEN: 'crm-token-abcdef' }, "the hook's secrets are injected");
      assert.equal(event.user.email, 'jack@example.com');
      assert.equal(event.user.given_name, 'Jack');
      assert.equal(event.user.family_name, 'Frost');
      assert.equal(event.user.id, undefined, 'no id before the user exists');
      assert.equal(event.password, undefined);
      noPasswordIn(peer.calls, 'jacks password 1');

      const jack = await userByEmail('jack@example.com');
      assert.ok(jack, 'the user was created');
      assert.deepEqual(jack.attributes, { plan: 'gold', crm: { tier: 2, tags: ['a', 'b'] } });
      assert.deepEqual(jack.metadata, { crm_id: 42 });
      const [run] = await executions(server, hookId);
      assert.equal(run!.outcome, 'success');
      assert.equal(run!.event_id, event.id);

      // A denial: the message in role="alert", the form refilled, no account.
      const { form: form2 } = await registerForm(b);
      const denied = await b.submit(form2, { email: 'kim@blocked.test', password: 'kims password 1', given_name: 'Kim' });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Sign-ups from blocked.test are closed.');
      assert.equal(denied.doc.querySelector('input[name="email"]')?.getAttribute('value'), 'kim@blocked.test');
      assert.equal(await userByEmail('kim@blocked.test'), null);
      await mailsSent(server);
      assert.equal(mailsTo(smtp, 'kim@blocked.test').length, 0);
    });

    it('after_registration: the created user (id, pending); setMetadata is saved', async () => {
      const hookId = await reportingHook('after_registration', `api.user.setMetadata('welcome', { sent: true, by: event.hook.name });`);
      const b = browser();
      const { form } = await registerForm(b);
      const done = await b.submit(form, { email: 'lena@example.com', password: 'lenas password 1', given_name: 'Lena' });
      assert.equal(done.status, 200, alertText(done) ?? '');

      const event = (await peer.waitFor('/after_registration')).body;
      assertCommon(event, 'after_registration', hookId);
      assertUserShape(event.user);
      const lena = await userByEmail('lena@example.com');
      assert.equal(event.user.id, lena.id);
      assert.equal(event.user.email, 'lena@example.com');
      assert.equal(event.user.status, 'pending');
      assert.equal(event.user.email_verified, false);
      noPasswordIn(peer.calls, 'lenas password 1');
      assert.deepEqual((await getUser(lena.id)).metadata, { welcome: { sent: true, by: 'test after_registration' } });
    });

    it('before_progressive_profiling (registration): the fields are rendered and saved; a taken address looks the same', async () => {
      const hookId = await reportingHook(
        'before_progressive_profiling',
        `
        if (event.flow === 'registration') api.form.requireFields([{ name: 'company', label: 'Company name' }]);`,
      );
      const existing = await createUser({ email: 'olga@example.com', password: 'olgas password 1', attributes: { company: 'Initech' } });

      const register = async (email: string) => {
        const b = browser();
        const { form } = await registerForm(b);
        const profile = await b.submit(form, { email, password: 'profiled password 1' });
        assert.equal(profile.status, 200, alertText(profile) ?? '');
        assert.ok(profile.doc.querySelector('input[name="company"]'), `the profile page asks for company (${email})`);
        assert.match(profile.doc.querySelector('label[for="f-company"]')?.text ?? '', /Company name/);
        const empty = await b.submit(profile, { company: '' });
        assert.equal(empty.status, 400);
        assert.match(alertText(empty) ?? '', /Company name est obligatoire/);
        const done = await b.submit(empty, { company: 'Globex' });
        assert.match(done.doc.querySelector('h1')?.text ?? '', /consultez votre messagerie/i);
      };
      await register('newbie@example.com');
      const event = (await peer.waitFor('/before_progressive_profiling')).body;
      assertCommon(event, 'before_progressive_profiling', hookId);
      assert.equal(event.flow, 'registration');
      assert.deepEqual(event.consents, {});
      assert.equal(event.step, 0);
      assert.deepEqual(event.answers, {});
      assert.equal(event.user.id, undefined, 'the pages come before the account exists');
      assert.equal(event.user.email, 'newbie@example.com');
      // The page submitted: the hook is asked again with what was typed, asks nothing new, and the account follows.
      const submitted = (await peer.waitFor('/before_progressive_profiling', 2)).body;
      assert.equal(submitted.step, 1);
      assert.deepEqual(submitted.answers, { company: 'Globex' });
      const newbie = await userByEmail('newbie@example.com');
      assert.equal(newbie.attributes.company, 'Globex');

      await register('olga@example.com');
      const taken = (await peer.waitFor('/before_progressive_profiling', 3)).body;
      assert.equal(taken.flow, 'registration');
      assert.equal(taken.user.email, 'olga@example.com');
      assert.deepEqual(Object.keys(taken.user).sort(), Object.keys(event.user).sort(), 'a taken address looks the same to the hook');
      await peer.waitFor('/before_progressive_profiling', 4);
      assert.equal((await getUser(existing.id)).attributes.company, 'Initech', 'the owner of a taken address keeps their data');
    });

    it('after_account_activation (async): fires when the link is opened, with the verified user', async () => {
      const hookId = await reportingHook('after_account_activation', '', { mode: 'async' });
      const b = browser();
      const { form } = await registerForm(b);
      await b.submit(form, { email: 'mia@example.com', password: 'mias password 1' });
      await hookJobsDone(server, hookId);
      assert.equal(peer.callsTo('/after_account_activation').length, 0);
      const activated = await b.get(linkIn(await smtp.waitFor('mia@example.com', /activate/i), `${server.url}/activate/`));
      assert.equal(activated.status, 200);
      const event = (await peer.waitFor('/after_account_activation')).body;
      assertCommon(event, 'after_account_activation', hookId);
      assert.equal(event.user.email, 'mia@example.com');
      assert.equal(event.user.email_verified, true);
      assert.equal(event.user.status, 'active');
      const [run] = await waitForExecutions(server, hookId);
      assert.equal(run!.mode, 'async');
      assert.equal(run!.outcome, 'success');
    });

    // ---- login ---------------------------------------------------------------------------------

    it('after_identification: the user and the identifier as typed; deny stops before the password', async () => {
      const hookId = await reportingHook(
        'after_identification',
        `
        if (event.user.attributes.region === 'blocked') api.deny('Sign-in from this region is blocked.');`,
      );
      const nora = await createUser({ email: 'nora@example.com', username: 'nora', password: 'noras password 1' });
      await createUser({ email: 'otto@example.com', password: 'ottos password 1', attributes: { region: 'blocked' } });

      const b = browser();
      const { page, state } = await startLogin(b, server, clientId);
      const passwordPage = await b.submit(page, { identifier: 'NORA' });
      assert.ok(passwordPage.doc.querySelector('input[name="password"]'), 'an allowed user gets the password step');
      const event = (await peer.waitFor('/after_identification')).body;
      assertCommon(event, 'after_identification', hookId);
      assertUserShape(event.user);
      assert.equal(event.user.id, nora.id);
      assert.equal(event.identifier, 'NORA');
      assertCodeRedirect(await b.submit(passwordPage, { password: 'noras password 1' }), state);

      const b2 = browser();
      const { page: page2 } = await startLogin(b2, server, clientId);
      const denied = await b2.submit(page2, { identifier: 'otto@example.com' });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Sign-in from this region is blocked.');
      assert.equal(denied.doc.querySelector('input[name="password"]'), null, 'no password step');
      // An identifier nobody has does not reach this point.
      await b2.submit(await b2.get(page2.url), { identifier: 'ghost@example.com' });
      assert.equal(peer.callsTo('/after_identification').length, 2);
    });

    it('at_failed_identification: the identifier (user null); migration.createUser creates the user', async () => {
      const hookId = await reportingHook(
        'at_failed_identification',
        `
        if (event.identifier.endsWith('@legacy.test')) {
          api.migration.createUser({ email: event.identifier, username: 'pat_legacy', given_name: 'Pat', attributes: { legacy_id: '7' } });
        }`,
      );
      const b = browser();
      const { page } = await startLogin(b, server, clientId);
      const passwordPage = await b.submit(page, { identifier: 'pat@legacy.test' });
      assert.ok(passwordPage.doc.querySelector('input[name="password"]'));
      const event = (await peer.waitFor('/at_failed_identification')).body;
      assertCommon(event, 'at_failed_identification', hookId);
      assert.equal(event.user, null);
      assert.equal(event.identifier, 'pat@legacy.test');

      const pat = await userByEmail('pat@legacy.test');
      assert.ok(pat, 'the hook created the user');
      assert.equal(pat.source, 'migration');
      assert.equal(pat.has_password, false);
      assert.equal(pat.username, 'pat_legacy');
      assert.equal(pat.given_name, 'Pat');
      assert.deepEqual(pat.attributes, { legacy_id: '7' });

      // An identifier the hook does not migrate: no user, and a failed login like any other.
      const b2 = browser();
      const { page: page2 } = await startLogin(b2, server, clientId);
      const failed = await signIn(b2, page2, 'nobody@example.com', 'whatever password');
      assert.equal(failed.status, 400);
      assert.equal(alertText(failed), WRONG_CREDENTIALS);
      assert.equal(await userByEmail('nobody@example.com'), null);
    });

    it('before_password_validation: lazy migration from a legacy user store (an HTTP server)', async () => {
      // The legacy store: look-up by identifier, and password check.
      const legacyUsers: Record<string, { email: string; username: string; given_name: string; id: string; password: string }> = {
        oldtimer: { email: 'leo@legacy.example', username: 'oldtimer', given_name: 'Leo', id: '42', password: 'legacy pw 42' },
        rookie: { email: 'rae@legacy.example', username: 'rookie', given_name: 'Rae', id: '43', password: 'legacy pw 43' },
      };
      const find = (identifier: string) => Object.values(legacyUsers).find((u) => u.username === identifier || u.email === identifier);
      peer.respond('/legacy/users', (call) => {
        const user = find(call.query.get('identifier') ?? '');
        return user ? { body: { email: user.email, username: user.username, given_name: user.given_name, legacy_id: user.id } } : { status: 404, body: {} };
      });
      peer.respond('/legacy/verify', (call) => {
        const user = Object.values(legacyUsers).find((u) => u.id === call.body?.legacy_id);
        return { status: user && user.password === call.body.password ? 200 : 401, body: {} };
      });
      await hooks.create({
        event: 'at_failed_identification',
        allowed_hosts: [peer.host],
        code: hookCode(`
          const res = await fetch('${peer.url}/legacy/users?identifier=' + encodeURIComponent(event.identifier));
          if (!res.ok) return;
          const u = await res.json();
          api.migration.createUser({ email: u.email, username: u.username, given_name: u.given_name, attributes: { legacy_id: u.legacy_id } });`),
      });
      const validationHook = await hooks.create({
        event: 'before_password_validation',
        allowed_hosts: [peer.host],
        code: hookCode(`
          ${report(peer, '/before_password_validation')}
          const res = await fetch('${peer.url}/legacy/verify', {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ legacy_id: event.user.attributes.legacy_id, password: event.password }),
          });
          if (res.ok) api.password.accept(); else api.password.reject();`),
      });
      const legacyCalls = () => peer.calls.filter((c) => c.path.startsWith('/legacy/')).length;

      // First login: the user is created from the store, the password checked there and kept.
      const b = browser();
      const { page, state } = await startLogin(b, server, clientId);
      assertCodeRedirect(await signIn(b, page, 'oldtimer', 'legacy pw 42'), state);
      const event = (await peer.waitFor('/before_password_validation')).body;
      assertCommon(event, 'before_password_validation', validationHook);
      assert.equal(event.password, 'legacy pw 42', 'the only event that sees a password');
      assert.equal(event.user.email, 'leo@legacy.example');
      assert.equal(event.user.attributes.legacy_id, '42');
      assert.equal(event.user.has_password, false);
      const leo = await userByEmail('leo@legacy.example');
      assert.equal(leo.source, 'migration');
      assert.equal(leo.has_password, true, 'the password was adopted');
      assert.equal(legacyCalls(), 2);

      // Second login: the local password; the legacy store is not called.
      const b2 = browser();
      const { page: p2, state: s2 } = await startLogin(b2, server, clientId);
      assertCodeRedirect(await signIn(b2, p2, 'leo@legacy.example', 'legacy pw 42'), s2);
      const b2b = browser();
      const { page: p2b } = await startLogin(b2b, server, clientId);
      assert.equal(alertText(await signIn(b2b, p2b, 'oldtimer', 'not it at all')), WRONG_CREDENTIALS);
      assert.equal(legacyCalls(), 2, 'no call to the legacy store once the password is local');

      // A wrong first password is refused by the store: a plain failed login, nothing adopted.
      const b3 = browser();
      const { page: p3 } = await startLogin(b3, server, clientId);
      const refused = await signIn(b3, p3, 'rookie', 'wrong legacy pw');
      assert.equal(refused.status, 400);
      assert.equal(alertText(refused), WRONG_CREDENTIALS);
      assert.equal((await userByEmail('rae@legacy.example')).has_password, false);
      // ...and the right one afterwards works.
      const { page: p3b, state: s3b } = await startLogin(b3, server, clientId);
      assertCodeRedirect(await signIn(b3, p3b, 'rookie', 'legacy pw 43'), s3b);

      // Unknown to both: fails like any failed login.
      const b4 = browser();
      const { page: p4 } = await startLogin(b4, server, clientId);
      const unknown = await signIn(b4, p4, 'stranger', 'some password 1');
      assert.equal(unknown.status, 400);
      assert.equal(alertText(unknown), WRONG_CREDENTIALS);

      // Only before_password_validation ever saw a password.
      noPasswordIn(
        peer.calls.filter((c) => c.path !== '/before_password_validation' && c.path !== '/legacy/verify'),
        'legacy pw',
      );
    });

    it('at_failed_authentication: user, identifier, reason; error.setMessage is shown, api.redirect is followed', async () => {
      const hookId = await reportingHook(
        'at_failed_authentication',
        `
        if (event.identifier === 'rita') api.redirect('https://help.example.com/locked?from=tessera');
        else api.error.setMessage('Wrong again? Call us on 555-0100.');`,
      );
      const quinn = await createUser({ email: 'quinn@example.com', username: 'quinn', password: 'quinns password 1' });
      await createUser({ email: 'rita@example.com', username: 'rita', password: 'ritas password 1' });

      const b = browser();
      const { page } = await startLogin(b, server, clientId);
      const wrong = await signIn(b, page, 'quinn', 'not the password');
      assert.equal(wrong.status, 400);
      assert.equal(alertText(wrong), 'Wrong again? Call us on 555-0100.');
      const event = (await peer.waitFor('/at_failed_authentication')).body;
      assertCommon(event, 'at_failed_authentication', hookId);
      assert.equal(event.user.id, quinn.id);
      assert.equal(event.identifier, 'quinn');
      assert.equal(event.reason, 'invalid_credentials');
      assert.equal(event.flow, 'login');
      noPasswordIn(peer.calls, 'not the password');

      const unknown = await signIn(b, await b.get(page.url), 'nobody@example.com', 'whatever password');
      assert.equal(alertText(unknown), 'Wrong again? Call us on 555-0100.');
      const unknownEvent = (await peer.waitFor('/at_failed_authentication', 2)).body;
      assert.equal(unknownEvent.user, null);
      assert.equal(unknownEvent.identifier, 'nobody@example.com');

      // The hook's URL (never one from the request).
      const sent = await signIn(b, await b.get(page.url), 'rita', 'not the password');
      assert.equal(sent.redirectedTo, 'https://help.example.com/locked?from=tessera');

      // A failed registration fires it too.
      const { form } = await registerForm(b);
      const short = await b.submit(form, { email: 'sam@example.com', password: 'short' });
      assert.equal(short.status, 400);
      assert.equal(alertText(short), 'Wrong again? Call us on 555-0100.');
      const registration = (await peer.waitFor('/at_failed_authentication', 4)).body;
      assert.equal(registration.flow, 'registration');
      assert.equal(registration.reason, 'registration_failed');
      assert.equal(registration.identifier, 'sam@example.com');

      // A hook's denial is a failed login too (reason "denied"); this hook's message replaces the denial's.
      await hooks.create({ event: 'after_identification', code: hookCode(`api.deny('Blocked by policy.');`) });
      const { page: page2 } = await startLogin(b, server, clientId);
      const denied = await b.submit(page2, { identifier: 'quinn' });
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Wrong again? Call us on 555-0100.');
      const deniedEvent = (await peer.waitFor('/at_failed_authentication', 5)).body;
      assert.equal(deniedEvent.reason, 'denied');
      assert.equal(deniedEvent.user.id, quinn.id);
    });

    it('before_progressive_profiling (login) asks for fields and consents, saves them, then fires after_consent_update', async () => {
      const profilingHook = await reportingHook(
        'before_progressive_profiling',
        `
        if (event.flow !== 'login') return;
        if (!event.user.attributes.company) {
          api.form.requireFields([{ name: 'company', label: 'Company' }, { name: 'phone_number', label: 'Mobile', type: 'tel', required: false }]);
        }
        api.form.requireConsents([{ key: 'terms-v2', label: 'I accept the terms', required: true }, { key: 'newsletter', label: 'Send me news' }]);`,
      );
      const consentHook = await reportingHook('after_consent_update', '', { mode: 'async' });
      const uma = await createUser({ email: 'uma@example.com', password: 'umas password 1' });

      const b = browser();
      const { page, state } = await startLogin(b, server, clientId);
      const profile = await signIn(b, page, 'uma@example.com', 'umas password 1');
      assert.equal(profile.status, 200);
      assert.equal(profile.redirectedTo, null);
      for (const name of ['company', 'phone_number', 'consent:terms-v2', 'consent:newsletter', 'csrf']) {
        assert.ok(profile.doc.querySelector(`input[name="${name}"]`), `the profile page has ${name}`);
      }
      assert.match(profile.html, /I accept the terms/);
      const event = (await peer.waitFor('/before_progressive_profiling')).body;
      assertCommon(event, 'before_progressive_profiling', profilingHook);
      assert.equal(event.flow, 'login');
      assert.equal(event.user.id, uma.id);
      assert.deepEqual(event.consents, {});

      const missing = await b.submit(profile, { company: '' });
      assert.equal(missing.status, 400);
      assert.match(alertText(missing) ?? '', /Company est obligatoire/);
      const noTerms = await b.submit(missing, { company: 'Initech' });
      assert.equal(noTerms.status, 400);
      assert.match(alertText(noTerms) ?? '', /I accept the terms/);
      const badPhone = await b.submit(noTerms, { company: 'Initech', phone_number: '12', 'consent:terms-v2': 'yes' });
      assert.equal(badPhone.status, 400);
      assert.match(alertText(badPhone) ?? '', /Mobile/);
      await hookJobsDone(server, consentHook);
      assert.equal(peer.callsTo('/after_consent_update').length, 0, 'nothing saved while the form is invalid');

      assertCodeRedirect(await b.submit(badPhone, { company: 'Initech', phone_number: '+15551234567', 'consent:terms-v2': 'yes' }), state);
      const saved = await getUser(uma.id);
      assert.equal(saved.attributes.company, 'Initech');
      assert.equal(saved.phone_number, '+15551234567');

      const update = (await peer.waitFor('/after_consent_update')).body;
      assertCommon(update, 'after_consent_update', consentHook);
      assert.equal(update.user.id, uma.id);
      assert.deepEqual(update.consents, { newsletter: false, 'terms-v2': true });
      assert.deepEqual([...update.changed].sort(), ['newsletter', 'terms-v2']);

      // Next login: the hook sees the saved consents; the page shows them checked; no change, no event.
      const b2 = browser();
      const { page: p2, state: s2 } = await startLogin(b2, server, clientId);
      const again = await signIn(b2, p2, 'uma@example.com', 'umas password 1');
      // The page ran the hook again each time it passed the required checks (the bad phone, then the good one).
      const accepted = (await peer.waitFor('/before_progressive_profiling', 3)).body;
      assert.equal(accepted.step, 1);
      assert.deepEqual(accepted.answers, { company: 'Initech', phone_number: '+15551234567' });
      const second = (await peer.waitFor('/before_progressive_profiling', 4)).body;
      assert.equal(second.step, 0);
      assert.deepEqual(second.consents, { newsletter: false, 'terms-v2': true });
      assert.equal(again.doc.querySelector('input[name="company"]'), null, 'the field is not asked again');
      assert.ok(again.doc.querySelector('input[name="consent:terms-v2"]')?.hasAttribute('checked'));
      assert.ok(!again.doc.querySelector('input[name="consent:newsletter"]')?.hasAttribute('checked'));
      assertCodeRedirect(await b2.submit(again), s2);
      await hookJobsDone(server, consentHook); // every run the journey queued has ended
      assert.equal(peer.callsTo('/after_consent_update').length, 1, 'unchanged consents fire nothing');
    });

    it('after_login: the user; setMetadata is saved; deny stops the login', async () => {
      const hookId = await reportingHook(
        'after_login',
        `
        if (event.user.attributes.subscription === 'ended') { api.deny('Your subscription has ended.'); return; }
        api.user.setMetadata('last_app', event.application.client_id);`,
      );
      const vera = await createUser({ email: 'vera@example.com', password: 'veras password 1', metadata: { keep: 1 } });
      const walt = await createUser({ email: 'walt@example.com', password: 'walts password 1', attributes: { subscription: 'ended' } });

      const b = browser();
      const { page, state } = await startLogin(b, server, clientId);
      assertCodeRedirect(await signIn(b, page, 'vera@example.com', 'veras password 1'), state);
      const event = (await peer.waitFor('/after_login')).body;
      assertCommon(event, 'after_login', hookId);
      assertUserShape(event.user);
      assert.equal(event.user.id, vera.id);
      const saved = await getUser(vera.id);
      assert.deepEqual(saved.metadata, { keep: 1, last_app: clientId });
      assert.equal(saved.login_count, 1);

      const b2 = browser();
      const { page: p2 } = await startLogin(b2, server, clientId);
      const denied = await signIn(b2, p2, 'walt@example.com', 'walts password 1');
      assert.equal(denied.redirectedTo, null, 'no code for the application');
      assert.equal(denied.status, 403);
      assert.equal(alertText(denied), 'Your subscription has ended.');
      assert.equal((await getUser(walt.id)).login_count, 0, 'the login did not happen');
      // The session was not established either: a new authorization shows the sign-in page.
      const { page: fresh } = await startLogin(b2, server, clientId);
      assert.ok(fresh.doc.querySelector('input[name="identifier"]'));
    });

    // ---- recovery ------------------------------------------------------------------------------

    it('before_password_reset: the user; deny sends no mail, and the answer is the one every identifier gets', async () => {
      const hookId = await reportingHook(
        'before_password_reset',
        `
        if (event.user.attributes.managed) api.deny('Resets are handled by your administrator.');`,
      );
      const xena = await createUser({ email: 'xena@example.com', username: 'xena', password: 'xenas password 1', attributes: { managed: true } });
      const yuri = await createUser({ email: 'yuri@example.com', username: 'yuri', password: 'yuris password 1' });

      const b = browser();
      const { uid } = await startLogin(b, server, clientId);
      // The hook runs after the answer (which would otherwise tell that the account exists), so its
      // denial cannot be shown: the page is the one an unknown identifier gets.
      const refused = await b.submit(await b.get(`/interaction/${uid}/forgot-password`), { identifier: 'xena' });
      const unknown = await b.submit(await b.get(`/interaction/${uid}/forgot-password`), { identifier: 'nobody-here' });
      assert.equal(refused.status, 200);
      assert.equal(alertText(refused), null);
      assert.equal(refused.doc.querySelector('main')!.text, unknown.doc.querySelector('main')!.text);
      const event = (await peer.waitFor('/before_password_reset')).body;
      assertCommon(event, 'before_password_reset', hookId);
      assert.equal(event.user.id, xena.id);
      const [denial] = await waitForExecutions(server, hookId, 1);
      assert.deepEqual(denial!.actions, [{ type: 'deny', message: 'Resets are handled by your administrator.' }]);

      const sent = await b.submit(await b.get(`/interaction/${uid}/forgot-password`), { identifier: 'yuri' });
      assert.equal(sent.status, 200);
      assert.equal((await peer.waitFor('/before_password_reset', 2)).body.user.id, yuri.id);
      await smtp.waitFor('yuri@example.com', /reset/i);
      await mailsSent(server);
      assert.equal(mailsTo(smtp, 'xena@example.com').length, 0, 'no reset mail after a denial');
    });

    it('after_password_reset (async): fires with the user once the new password is set', async () => {
      const hookId = await reportingHook('after_password_reset', '', { mode: 'async' });
      const zoe = await createUser({ email: 'zoe@example.com', password: 'zoes password 1' });
      const b = browser();
      const { uid } = await startLogin(b, server, clientId);
      await b.submit(await b.get(`/interaction/${uid}/forgot-password`), { identifier: 'zoe@example.com' });
      const link = linkIn(await smtp.waitFor('zoe@example.com', /reset/i), `${server.url}/reset-password/`);
      await hookJobsDone(server, hookId);
      assert.equal(peer.callsTo('/after_password_reset').length, 0);
      const changed = await b.submit(await b.get(link), { password: 'zoes new password 2' });
      assert.equal(changed.status, 200);
      const event = (await peer.waitFor('/after_password_reset')).body;
      assertCommon(event, 'after_password_reset', hookId);
      assert.equal(event.user.id, zoe.id);
      noPasswordIn(peer.calls, 'zoes new password 2');
    });

    it('after_username_request (async): fires with the user after the mail', async () => {
      const hookId = await reportingHook('after_username_request', '', { mode: 'async' });
      const adam = await createUser({ email: 'adam@example.com', username: 'adam_u', password: 'adams password 1' });
      const b = browser();
      const { uid } = await startLogin(b, server, clientId);
      await b.submit(await b.get(`/interaction/${uid}/forgot-username`), { email: 'nobody-here@example.com' });
      await b.submit(await b.get(`/interaction/${uid}/forgot-username`), { email: 'adam@example.com' });
      await smtp.waitFor('adam@example.com', /adam_u/);
      const event = (await peer.waitFor('/after_username_request')).body;
      assertCommon(event, 'after_username_request', hookId);
      assert.equal(event.user.id, adam.id);
      assert.equal(event.user.username, 'adam_u');
      await hookJobsDone(server, hookId);
      assert.equal(peer.callsTo('/after_username_request').length, 1, 'an unknown address fires nothing');
    });

    // ---- admin API -----------------------------------------------------------------------------

    it('after_account_disabled and after_account_deleted (async): fired by the admin API', async () => {
      const disabledHook = await reportingHook('after_account_disabled', '', { mode: 'async' });
      const deletedHook = await reportingHook('after_account_deleted', '', { mode: 'async' });
      const bea = await createUser({ email: 'bea@example.com', password: 'beas password 1' });

      assert.equal((await server.admin('POST', `/users/${bea.id}/disable`)).status, 200);
      const disabled = (await peer.waitFor('/after_account_disabled')).body;
      assertCommon(disabled, 'after_account_disabled', disabledHook, { application: false, browser: false });
      assert.equal(disabled.user.id, bea.id);
      assert.equal(disabled.user.status, 'disabled');
      // Disabling a disabled account changes nothing and fires nothing.
      assert.equal((await server.admin('POST', `/users/${bea.id}/disable`)).status, 200);

      assert.equal((await server.admin('DELETE', `/users/${bea.id}`)).status, 204);
      const deleted = (await peer.waitFor('/after_account_deleted')).body;
      assertCommon(deleted, 'after_account_deleted', deletedHook, { application: false, browser: false });
      assert.equal(deleted.user.id, bea.id);
      assert.equal(deleted.user.email, 'bea@example.com');
      assert.equal((await server.admin('GET', `/users/${bea.id}`)).status, 404);
      assert.equal(peer.callsTo('/after_account_disabled').length, 1);
      assert.equal((await waitForExecutions(server, deletedHook))[0]!.outcome, 'success');
    });

    it('the MFA, external-login and identity-verification events are in the catalog', async () => {
      const events = await server.admin('GET', '/events');
      assert.equal(events.status, 200);
      const byName = new Map<string, any>(events.body.map((e: any) => [e.name, e]));
      const expected: Record<string, { sync: boolean; actions: string[] }> = {
        before_mfa_send: { sync: true, actions: ['deny'] },
        after_mfa_send: { sync: true, actions: ['user.setMetadata', 'user.setAttribute'] },
        after_mfa_change: { sync: true, actions: ['deny', 'user.setMetadata', 'user.setAttribute'] },
        after_external_login: { sync: true, actions: ['user.setAttribute', 'user.setMetadata', 'deny'] },
        before_identity_verification: { sync: true, actions: ['identityVerification.skip', 'identityVerification.useProvider', 'deny'] },
        after_identity_verification: { sync: true, actions: ['user.setAttribute', 'user.setMetadata', 'deny'] },
      };
      for (const [name, spec] of Object.entries(expected)) {
        const entry = byName.get(name);
        assert.ok(entry, `${name} is listed`);
        assert.equal(entry.sync, spec.sync, `${name} sync`);
        assert.deepEqual(
          entry.actions.map((a: any) => a.type),
          spec.actions,
          `${name} actions`,
        );
        assert.equal(entry.sample.type, name);
      }
    });
  });
}
