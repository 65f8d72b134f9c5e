// Registrations and roles (CONTRACT §9): applications declare roles and open or closed sign-up; the
// admin API registers users with roles (unknown roles refused, naming the role); self-service sign-up
// registers the user, and the activation link verifies that registration; scope `roles` gives
// openid-client the user's roles for the asking application only (own and through a group), in the
// ID token, userinfo and the access token (introspection), scope `groups` the group names; a closed
// application's hosted pages refuse sign-up with a way back; a role still held cannot be removed;
// deleting an application or a user leaves no registration or membership behind; every change is in
// the audit log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { alertText, Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { mailsSent } from './support/settle.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

for (const kind of databaseKinds()) {
  describe(`registrations and roles (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let notes: { client_id: string; client_secret: string };
    let billing: { client_id: string; client_secret: string };
    let seq = 0;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      const a = await server.admin('POST', '/applications', {
        name: 'Notes',
        redirect_uris: [CALLBACK],
        roles: [{ name: 'admin', description: 'Everything' }, { name: 'editor' }, { name: 'reader', default: true }],
      });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      notes = a.body;
      const b = await server.admin('POST', '/applications', { name: 'Billing', redirect_uris: [CALLBACK], roles: [{ name: 'accountant' }, { name: 'admin' }] });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      billing = b.body;
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    async function user(password = 'a long enough password 1') {
      const created = await server.admin('POST', '/users', { email: `user${++seq}@example.com`, password, email_verified: true });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body as { id: string; email: string };
    }

    async function tokensFor(rp: RelyingParty, email: string, scope: string, params: Record<string, string> = {}) {
      const start = await authorizationUrl(rp, { scope, ...params });
      const done = await signIn(new Browser(server.url), start, email, 'a long enough password 1');
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `signed in: ${done.status} ${alertText(done) ?? done.html.slice(0, 300)}`);
      return exchangeCode(rp, start, done.redirectedTo!);
    }

    test('applications declare roles and open or closed sign-up; bad values are refused naming the field', async () => {
      const got = await server.admin('GET', `/applications/${notes.client_id}`);
      assert.deepEqual(got.body.roles, [
        { name: 'admin', description: 'Everything', default: false },
        { name: 'editor', description: null, default: false },
        { name: 'reader', description: null, default: true },
      ]);
      assert.equal(got.body.registration, 'open');
      for (const [body, field] of [
        [{ roles: [{ name: 'has space' }] }, 'roles[0].name'],
        [{ roles: [{ name: 'a' }, { name: 'a' }] }, 'roles[1].name'],
        [{ roles: [{ name: 'a', level: 3 }] }, 'roles[0].level'],
        [{ roles: [{ name: 'a', default: 'yes' }] }, 'roles[0].default'],
        [{ roles: 'admin' }, 'roles'],
        [{ registration: 'invite-only' }, 'registration'],
      ] as const) {
        const answer = await server.admin('POST', '/applications', { name: 'Bad', redirect_uris: [CALLBACK], ...body });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.match(answer.body.message, new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `), JSON.stringify(answer.body));
      }
    });

    test('the admin API registers users with roles; unknown roles are refused naming the role', async () => {
      const ada = await user();
      const unknown = await server.admin('POST', `/users/${ada.id}/registrations`, { application: notes.client_id, roles: ['editor', 'owner'] });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.message, /^roles\[1\]: "owner" is not a role of application/);
      const noApp = await server.admin('POST', `/users/${ada.id}/registrations`, { application: 'no-such-app' });
      assert.equal(noApp.status, 400);
      assert.match(noApp.body.message, /^application: /);
      assert.equal((await server.admin('POST', `/users/${ada.id}/registrations`, { roles: [] })).status, 400);
      assert.equal((await server.admin('POST', `/users/${ada.id}/registrations`, { application: notes.client_id, colour: 'red' })).body.message.split(':')[0], 'colour');
      assert.equal((await server.admin('POST', '/users/00000000-0000-4000-8000-000000000000/registrations', { application: notes.client_id })).status, 404);

      const created = await server.admin('POST', `/users/${ada.id}/registrations`, { application: notes.client_id, roles: ['reader', 'editor'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.roles, ['editor', 'reader']);
      assert.equal(created.body.verified, false);
      const again = await server.admin('POST', `/users/${ada.id}/registrations`, { application: notes.client_id });
      assert.equal(again.status, 409);
      assert.match(again.body.message, /^application: /);

      const patched = await server.admin('PATCH', `/users/${ada.id}/registrations/${notes.client_id}`, { roles: ['admin'], verified: true });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body.roles, ['admin']);
      assert.equal(patched.body.verified, true);
      assert.ok(patched.body.verified_at);
      const badPatch = await server.admin('PATCH', `/users/${ada.id}/registrations/${notes.client_id}`, { roles: ['accountant'] });
      assert.equal(badPatch.status, 400);
      assert.match(badPatch.body.message, /^roles\[0\]: "accountant"/, 'a role of another application is not one of this one');
      assert.equal((await server.admin('PATCH', `/users/${ada.id}/registrations/${billing.client_id}`, { roles: [] })).status, 404);

      const listed = await server.admin('GET', `/users/${ada.id}/registrations`);
      assert.deepEqual(
        listed.body.map((r: any) => [r.application, r.roles]),
        [[notes.client_id, ['admin']]],
      );
      assert.equal((await server.admin('DELETE', `/users/${ada.id}/registrations/${notes.client_id}`)).status, 204);
      assert.deepEqual((await server.admin('GET', `/users/${ada.id}/registrations`)).body, []);
      assert.equal((await server.admin('DELETE', `/users/${ada.id}/registrations/${notes.client_id}`)).status, 404);
      // Naming no roles gives the application's default roles; naming none explicitly gives none.
      const defaulted = await server.admin('POST', `/users/${ada.id}/registrations`, { application: notes.client_id });
      assert.deepEqual(defaulted.body.roles, ['reader']);
      const none = await server.admin('POST', `/users/${ada.id}/registrations`, { application: billing.client_id, roles: [] });
      assert.deepEqual(none.body.roles, []);

      // Every change is in the audit log, with the registrations before and after.
      const audit = (await server.admin('GET', `/audit-log?target=${ada.id}`)).body;
      const patchEntry = audit.find((e: any) => e.action === 'PATCH /users/:id/registrations/:client_id' && e.status === 200);
      assert.ok(patchEntry, JSON.stringify(audit.map((e: any) => e.action)));
      assert.deepEqual(patchEntry.before[0].roles, ['editor', 'reader']);
      assert.deepEqual(patchEntry.after[0].roles, ['admin']);
      assert.ok(audit.some((e: any) => e.action === 'DELETE /users/:id/registrations/:client_id'));

      // The routes need the admin key.
      const anonymous = await fetch(`${server.url}/admin/api/users/${ada.id}/registrations`);
      assert.equal(anonymous.status, 401);
    });

    test('openid-client sees the roles of the asking application only, own and through a group, and the groups', async () => {
      const grace = await user();
      assert.equal((await server.admin('POST', `/users/${grace.id}/registrations`, { application: notes.client_id, roles: ['editor'] })).status, 201);
      assert.equal((await server.admin('POST', `/users/${grace.id}/registrations`, { application: billing.client_id, roles: ['accountant'] })).status, 201);
      const staff = await server.admin('POST', '/groups', { name: `Staff ${seq}`, roles: { [notes.client_id]: ['admin'] } });
      assert.equal(staff.status, 201, JSON.stringify(staff.body));
      const readers = await server.admin('POST', '/groups', { name: `Readers ${seq}`, roles: { [notes.client_id]: ['reader', 'editor'], [billing.client_id]: ['admin'] } });
      assert.equal(readers.status, 201, JSON.stringify(readers.body));
      assert.equal((await server.admin('PUT', `/groups/${staff.body.id}/members/${grace.id}`)).status, 201);
      assert.equal((await server.admin('PUT', `/groups/${readers.body.id}/members/${grace.id}`)).status, 201);

      const notesRp = await discoverClient(server.url, notes.client_id, notes.client_secret);
      const billingRp = await discoverClient(server.url, billing.client_id, billing.client_secret);
      assert.ok(notesRp.config.serverMetadata().scopes_supported?.includes('roles'), 'discovery lists the roles scope');

      const atNotes = await tokensFor(notesRp, grace.email, 'openid email roles groups');
      const claims = atNotes.claims()!;
      assert.deepEqual(claims.roles, ['admin', 'editor', 'reader'], 'own (editor) and through the groups (admin, reader), each once');
      assert.deepEqual(claims.groups, [`Readers ${seq}`, `Staff ${seq}`]);
      const info = await oidc.fetchUserInfo(notesRp.config, atNotes.access_token, claims.sub);
      assert.deepEqual(info.roles, ['admin', 'editor', 'reader']);
      const introspected = await oidc.tokenIntrospection(notesRp.config, atNotes.access_token);
      assert.equal(introspected.active, true);
      assert.deepEqual(introspected.roles, ['admin', 'editor', 'reader'], 'the access token carries them too');
      assert.deepEqual(introspected.groups, [`Readers ${seq}`, `Staff ${seq}`]);

      // A resource server's JWT access token carries them (its own scope holds only the API's scopes).
      const api = 'https://api.notes.test';
      assert.equal((await server.admin('POST', '/resource-servers', { identifier: api, name: 'Notes API', scopes: ['notes:read'] })).status, 201);
      assert.equal((await server.admin('PATCH', `/applications/${notes.client_id}`, { resource_servers: [api] })).status, 200);
      const withApi = await tokensFor(notesRp, grace.email, 'openid roles notes:read', { resource: api });
      const { payload } = await jwtVerify(withApi.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: api });
      assert.equal(payload.scope, 'notes:read');
      assert.deepEqual(payload.roles, ['admin', 'editor', 'reader']);
      assert.equal(payload.groups, undefined, 'groups only when asked');

      const atBilling = await tokensFor(billingRp, grace.email, 'openid roles');
      assert.deepEqual(atBilling.claims()!.roles, ['accountant', 'admin'], "billing's roles only: never notes'");
      assert.equal(atBilling.claims()!.groups, undefined, 'no groups claim without the groups scope');

      const withoutScope = await tokensFor(notesRp, grace.email, 'openid email');
      assert.equal(withoutScope.claims()!.roles, undefined, 'no roles claim without the roles scope');

      // A before_id_token hook sees them in `claims` and may overwrite them.
      const hook = await server.admin('POST', '/hooks', {
        name: 'roles seen',
        event: 'before_id_token',
        mode: 'sync',
        applications: [notes.client_id],
        code: `export default async function (event, api) {
  api.idToken.setClaim('roles_seen', (event.claims.roles ?? []).join(' '));
  api.idToken.setClaim('groups_seen', (event.claims.groups ?? []).length);
  if (event.user.email === '${grace.email}') api.idToken.setClaim('roles', [...event.claims.roles, 'from-hook']);
}`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const hooked = (await tokensFor(notesRp, grace.email, 'openid roles groups')).claims()!;
      assert.equal(hooked.roles_seen, 'admin editor reader');
      assert.equal(hooked.groups_seen, 2);
      assert.deepEqual(hooked.roles, ['admin', 'editor', 'reader', 'from-hook']);
      assert.equal((await server.admin('DELETE', `/hooks/${hook.body.id}`)).status, 204);

      // Leaving a group takes its roles away at the next token.
      assert.equal((await server.admin('DELETE', `/groups/${staff.body.id}/members/${grace.id}`)).status, 204);
      assert.deepEqual((await tokensFor(notesRp, grace.email, 'openid roles')).claims()!.roles, ['editor', 'reader']);
      // A user with no registration and no group gets an empty list, not another application's roles.
      const nobody = await user();
      assert.deepEqual((await tokensFor(notesRp, nobody.email, 'openid roles')).claims()!.roles, []);
    });

    test('a role still held by a user or a group cannot be removed from the application (409 naming how many)', async () => {
      const app = await server.admin('POST', '/applications', { name: 'Wiki', redirect_uris: [CALLBACK], roles: [{ name: 'writer' }, { name: 'mod' }, { name: 'spare' }] });
      const held = await user();
      assert.equal((await server.admin('POST', `/users/${held.id}/registrations`, { application: app.body.client_id, roles: ['writer'] })).status, 201);
      const group = await server.admin('POST', '/groups', { name: `Mods ${seq}`, roles: { [app.body.client_id]: ['mod'] } });
      assert.equal(group.status, 201);

      const byUser = await server.admin('PATCH', `/applications/${app.body.client_id}`, { roles: [{ name: 'mod' }, { name: 'spare' }] });
      assert.equal(byUser.status, 409);
      assert.match(byUser.body.message, /^roles: the role "writer" is still held by 1 user:/);
      const byGroup = await server.admin('PATCH', `/applications/${app.body.client_id}`, { roles: [{ name: 'writer' }, { name: 'spare' }] });
      assert.equal(byGroup.status, 409);
      assert.match(byGroup.body.message, /"mod" is still held by 1 group/);
      assert.equal((await server.admin('GET', `/applications/${app.body.client_id}`)).body.roles.length, 3, 'nothing changed');
      // A role no one holds goes; a new one comes.
      const fine = await server.admin('PATCH', `/applications/${app.body.client_id}`, { roles: [{ name: 'writer' }, { name: 'mod' }, { name: 'new' }] });
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
      assert.deepEqual(
        fine.body.roles.map((r: any) => r.name),
        ['writer', 'mod', 'new'],
      );

      // Deleting the application removes its registrations and the groups' roles for it.
      assert.equal((await server.admin('DELETE', `/applications/${app.body.client_id}`)).status, 204);
      assert.deepEqual((await server.admin('GET', `/users/${held.id}/registrations`)).body, []);
      assert.deepEqual((await server.admin('GET', `/groups/${group.body.id}`)).body.roles, {});
      const db = server.server.services.db;
      assert.equal((await db('user_registrations').where({ client_id: app.body.client_id })).length, 0);
      assert.equal((await db('group_roles').where({ client_id: app.body.client_id })).length, 0);

      // Deleting the user removes its registrations and memberships.
      assert.equal((await server.admin('POST', `/users/${held.id}/registrations`, { application: notes.client_id })).status, 201);
      assert.equal((await server.admin('PUT', `/groups/${group.body.id}/members/${held.id}`)).status, 201);
      assert.equal((await server.admin('DELETE', `/users/${held.id}`)).status, 204);
      assert.equal((await db('user_registrations').where({ user_id: held.id })).length, 0);
      assert.equal((await db('group_members').where({ user_id: held.id })).length, 0);
      assert.equal((await server.admin('GET', `/groups/${group.body.id}`)).body.member_count, 0);
    });

    test('self-service sign-up registers the user with the application (its default roles); the activation link verifies it', async () => {
      const rp = await discoverClient(server.url, notes.client_id, notes.client_secret);
      const browser = new Browser(server.url);
      const identify = await browser.get((await authorizationUrl(rp)).url.toString());
      const href = identify.doc.querySelector('a[href$="/register"]')?.getAttribute('href');
      assert.ok(href, 'an open application links to sign-up');
      const email = `signup${++seq}@example.com`;
      const registered = await browser.submit(await browser.get(href), { email, password: 'a long enough password 1', given_name: 'Sig', family_name: 'Nup' });
      assert.equal(registered.status, 200, alertText(registered) ?? '');
      const [created] = (await server.admin('GET', `/users?email=${email}`)).body;
      const before = (await server.admin('GET', `/users/${created.id}/registrations`)).body;
      assert.deepEqual(
        before.map((r: any) => [r.application, r.roles, r.verified]),
        [[notes.client_id, ['reader'], false]],
      );
      const link = linkIn(await smtp.waitFor(email, /activate/i), `${server.url}/activate/`);
      assert.equal((await browser.get(link)).status, 200);
      const afterActivation = (await server.admin('GET', `/users/${created.id}/registrations`)).body;
      assert.equal(afterActivation[0].verified, true);
    });

    test('closed registration: the identify page has no sign-up link, the register page says so with a way back, and a POST creates nothing', async () => {
      const closed = await server.admin('POST', '/applications', {
        name: 'Staff Portal',
        redirect_uris: [CALLBACK],
        registration: 'closed',
        post_logout_redirect_uris: ['https://staff.example.com/'],
      });
      assert.equal(closed.status, 201, JSON.stringify(closed.body));
      assert.equal(closed.body.registration, 'closed');
      const rp = await discoverClient(server.url, closed.body.client_id, closed.body.client_secret);
      const browser = new Browser(server.url);
      const identify = await browser.get((await authorizationUrl(rp)).url.toString());
      assert.equal(identify.status, 200);
      assert.equal(identify.doc.querySelector('a[href$="/register"]'), null, 'no sign-up link');
      const uid = new URL(identify.url).pathname.split('/')[2];
      const page = await browser.get(`${server.url}/interaction/${uid}/register`);
      assert.equal(page.status, 403);
      assert.match(alertText(page) ?? '', /New accounts cannot be created for Staff Portal/);
      assert.ok(page.doc.querySelector(`a[href="/interaction/${uid}"]`), 'a way back to sign in');
      assert.ok(page.doc.querySelector('a[href="https://staff.example.com/"]'), 'and back to the application');
      assert.equal(page.doc.querySelector('input[name="password"]'), null, 'no form');

      // A POST straight to the form's address (with the form token of the identify page) is refused too.
      const csrf = identify.doc.querySelector('input[name="csrf"]')?.getAttribute('value');
      assert.ok(csrf);
      const fields = { csrf, email: `closed${++seq}@example.com`, password: 'a long enough password 1', given_name: '', family_name: '' };
      const posted = await browser.post(`${server.url}/interaction/${uid}/register`, fields);
      assert.equal(posted.status, 403, posted.html.slice(0, 300));
      assert.deepEqual((await server.admin('GET', `/users?email=${fields.email}`)).body, [], 'no account');
      // An address that has an account gets the very same answer: the refusal tells nothing about it.
      const existing = await user();
      const taken = await browser.post(`${server.url}/interaction/${uid}/register`, { ...fields, email: existing.email });
      assert.equal(taken.status, 403);
      assert.equal(alertText(taken), alertText(posted));
      await mailsSent(server); // whatever the refusals had started sending has been handed to SMTP
      assert.equal(smtp.mails.filter((m) => m.to.includes(existing.email)).length, 0, 'and no mail to its owner');

      // Opening it again brings the link back.
      assert.equal((await server.admin('PATCH', `/applications/${closed.body.client_id}`, { registration: 'open' })).status, 200);
      const reopened = await new Browser(server.url).get((await authorizationUrl(rp)).url.toString());
      assert.ok(reopened.doc.querySelector('a[href$="/register"]'));
    });

    test('invitations name roles of the application; accepting registers the user with them, verified', async () => {
      const unknown = await server.admin('POST', '/invitations', { email: `inv${++seq}@example.com`, application: notes.client_id, roles: ['editor', 'janitor'] });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.message, /^roles\[1\]: "janitor" is not a role/);
      const email = `inv${++seq}@example.com`;
      const invited = await server.admin('POST', '/invitations', { email, application: notes.client_id, roles: ['editor'] });
      assert.equal(invited.status, 201, JSON.stringify(invited.body));
      const link = linkIn(await smtp.waitFor(email, /invit/i), `${server.url}/invitation/`);
      const browser = new Browser(server.url);
      const form = await browser.get(link);
      assert.equal(form.status, 200, alertText(form) ?? '');
      await browser.submit(form, { password: 'a long enough password 1' });
      const [accepted] = (await server.admin('GET', `/users?email=${email}`)).body;
      assert.equal(accepted.status, 'active');
      const registrations = (await server.admin('GET', `/users/${accepted.id}/registrations`)).body;
      assert.deepEqual(
        registrations.map((r: any) => [r.application, r.roles, r.verified]),
        [[notes.client_id, ['editor'], true]],
      );
    });
  });
}
