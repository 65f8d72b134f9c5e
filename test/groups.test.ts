// Groups and memberships (CONTRACT §9): create, read, change and delete a group with roles per
// application (unknown applications and roles refused, naming them; a taken name is 409); members
// are put (201 added, 200 data changed) and removed; each change is a signed group.* webhook with
// its `.complete` twin, and is in the audit log; KICKSTART applies groups (with members),
// registrations and roles through the same checks, and a bad entry stops start-up naming it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { createTestDatabase, databaseKinds } from './support/databases.ts';
import { CALLBACK } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { webhooksSettled } from './support/settle.ts';
import { verifyWebhook, WebhookReceiver } from './support/webhook-receiver.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-groups-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;

for (const kind of databaseKinds()) {
  describe(`groups (${kind})`, () => {
    let server: TestServer;
    let receiver: WebhookReceiver;
    let app: { client_id: string };
    let seq = 0;

    before(async () => {
      receiver = await WebhookReceiver.start();
      server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
      const created = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK], roles: [{ name: 'admin' }, { name: 'editor' }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      app = created.body;
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    test('create, read, change, delete; members put and removed; bad input refused naming the field', async () => {
      for (const [body, status, field] of [
        [{}, 400, 'name'],
        [{ name: '  ' }, 400, 'name'],
        [{ name: 'X', roles: { 'no-such-app': ['admin'] } }, 400, 'roles.no-such-app'],
        [{ name: 'X', roles: { [app.client_id]: ['admin', 'owner'] } }, 400, `roles.${app.client_id}[1]`],
        [{ name: 'X', roles: { [app.client_id]: 'admin' } }, 400, `roles.${app.client_id}`],
        [{ name: 'X', roles: ['admin'] }, 400, 'roles'],
        [{ name: 'X', colour: 'red' }, 400, 'colour'],
        [{ name: 'X', member_count: 3 }, 400, 'member_count'],
      ] as const) {
        const answer = await server.admin('POST', '/groups', body);
        assert.equal(answer.status, status, JSON.stringify(answer.body));
        assert.equal(answer.body.message.split(': ')[0], field, JSON.stringify(answer.body));
      }

      const created = await server.admin('POST', '/groups', { name: 'Editors', description: 'Edit notes', roles: { [app.client_id]: ['editor'] } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.id, /^grp_/);
      assert.deepEqual(created.body.roles, { [app.client_id]: ['editor'] });
      assert.equal((await server.admin('POST', '/groups', { name: 'Editors' })).status, 409, 'a taken name');

      const patched = await server.admin('PATCH', `/groups/${created.body.id}`, { name: 'Chief editors', roles: { [app.client_id]: ['editor', 'admin'] } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body.roles, { [app.client_id]: ['admin', 'editor'] });
      assert.equal(patched.body.description, 'Edit notes', 'a field not given stays');
      const listed = await server.admin('GET', '/groups');
      assert.deepEqual(
        listed.body.map((g: any) => [g.name, g.member_count]),
        [['Chief editors', 0]],
      );

      const user = await server.admin('POST', '/users', { email: `member${++seq}@example.com` });
      const member = `/groups/${created.body.id}/members/${user.body.id}`;
      const added = await server.admin('PUT', member, { data: { team: 'north' } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.deepEqual(added.body.data, { team: 'north' });
      assert.equal((await server.admin('PUT', member, { data: { team: 'north' } })).status, 200, 'the same again: no change');
      const moved = await server.admin('PUT', member, { data: { team: 'south' } });
      assert.equal(moved.status, 200);
      assert.deepEqual(moved.body.data, { team: 'south' });
      assert.equal((await server.admin('PUT', member, { data: 'south' })).status, 400);
      assert.equal((await server.admin('PUT', `/groups/${created.body.id}/members/00000000-0000-4000-8000-000000000000`)).status, 404, 'no such user');
      assert.equal((await server.admin('PUT', `/groups/grp_nope/members/${user.body.id}`)).status, 404, 'no such group');
      const members = await server.admin('GET', `/groups/${created.body.id}/members`);
      assert.deepEqual(
        members.body.map((m: any) => [m.user_id, m.email, m.data]),
        [[user.body.id, user.body.email, { team: 'south' }]],
      );
      assert.equal((await server.admin('GET', `/groups/${created.body.id}`)).body.member_count, 1);
      const ofUser = await server.admin('GET', `/users/${user.body.id}/groups`);
      assert.deepEqual(
        ofUser.body.map((g: any) => [g.id, g.name, g.data]),
        [[created.body.id, 'Chief editors', { team: 'south' }]],
      );
      assert.equal((await server.admin('GET', '/users/00000000-0000-4000-8000-000000000000/groups')).status, 404);

      // Every change is in the audit log.
      const audit = (await server.admin('GET', `/audit-log?target=${created.body.id}`)).body;
      assert.deepEqual([...new Set(audit.map((e: any) => e.action))].sort(), ['PATCH /groups/:id', 'POST /groups', 'PUT /groups/:id/members/:user_id']);
      const moveEntry = audit.find((e: any) => e.action === 'PUT /groups/:id/members/:user_id' && e.after?.member?.data?.team === 'south');
      assert.equal(moveEntry?.before.member.data.team, 'north');

      assert.equal((await server.admin('DELETE', member)).status, 204);
      assert.equal((await server.admin('DELETE', member)).status, 404);
      // Deleting the group takes its memberships and roles along; the user stays.
      assert.equal((await server.admin('PUT', member)).status, 201);
      assert.equal((await server.admin('DELETE', `/groups/${created.body.id}`)).status, 204);
      const db = server.server.services.db;
      assert.equal((await db('group_members').where({ group_id: created.body.id })).length, 0);
      assert.equal((await db('group_roles').where({ group_id: created.body.id })).length, 0);
      assert.equal((await server.admin('GET', `/users/${user.body.id}`)).status, 200);
      assert.equal((await server.admin('GET', `/groups/${created.body.id}`)).status, 404);
      assert.equal((await fetch(`${server.url}/admin/api/groups`)).status, 401, 'the admin key is needed');
    });

    test('every group change is a signed webhook, followed by its .complete twin', async () => {
      const path = `/groups-${++seq}`;
      const hook = await server.admin('POST', '/webhooks', { url: `${receiver.url}${path}`, events: ['group.*'], secret: SECRET });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const group = await server.admin('POST', '/groups', { name: `Team ${seq}`, roles: { [app.client_id]: ['admin'] } });
      const user = await server.admin('POST', '/users', { email: `team${seq}@example.com` });
      const member = `/groups/${group.body.id}/members/${user.body.id}`;
      await server.admin('PATCH', `/groups/${group.body.id}`, { description: 'The team' });
      await server.admin('PUT', member);
      await server.admin('PUT', member, { data: { lead: true } });
      await server.admin('DELETE', member);
      await server.admin('PUT', member);
      await server.admin('DELETE', `/groups/${group.body.id}`);
      const base = ['group.create', 'group.update', 'group.member.add', 'group.member.update', 'group.member.remove', 'group.member.add', 'group.delete'];
      const expected = base.flatMap((type) => [type, `${type}.complete`]);
      await receiver.waitForCount(path, expected.length);
      await webhooksSettled(server);
      const got = receiver.on(path);
      for (const request of got) verifyWebhook(SECRET, request);
      assert.deepEqual(got.map((r) => r.payload.type).sort(), [...expected].sort());
      const data = (type: string) => got.find((r) => r.payload.type === type)!.payload.data;
      assert.equal(data('group.create').group.name, `Team ${seq}`);
      assert.deepEqual(data('group.create').group.roles, { [app.client_id]: ['admin'] });
      assert.deepEqual(data('group.create.complete'), data('group.create'), 'the twin carries the same data');
      assert.equal(data('group.update').previous.description, null);
      assert.equal(data('group.update').group.description, 'The team');
      assert.deepEqual(data('group.member.add').group, { id: group.body.id, name: `Team ${seq}` });
      assert.equal(data('group.member.add').members[0].user_id, user.body.id);
      assert.deepEqual(data('group.member.update').members[0].data, { lead: true });
      assert.deepEqual(data('group.member.update').previous, [{ user_id: user.body.id, data: {} }]);
      assert.equal(data('group.delete').member_count, 1);
      await server.admin('DELETE', `/webhooks/${hook.body.id}`);
    });

    test('KICKSTART applies roles, groups with members and registrations; a bad entry stops start-up naming it', async () => {
      const file = join(dir, `kickstart-${kind}.json`);
      const good = {
        applications: [{ name: 'Wiki', client_id: 'wiki', client_secret: 'wiki-secret-0123456789', redirect_uris: [CALLBACK], roles: [{ name: 'writer' }, { name: 'mod' }], registration: 'closed' }],
        users: [{ email: 'ada@example.com', password: 'analytical-engine-1843' }, { email: 'grace@example.com' }],
        groups: [{ name: 'Moderators', roles: { wiki: ['mod'] }, members: ['grace@example.com'] }],
        registrations: [{ user: 'ada@example.com', application: 'wiki', roles: ['writer'] }],
      };
      writeFileSync(file, JSON.stringify(good));
      const database = await createTestDatabase(kind);
      const env = { HOST: '127.0.0.1', PORT: '0', DATABASE_URL: database.url, LOG_LEVEL: 'silent', PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1', KICKSTART: file };
      const started = await startServer(loadConfig(env), { announce: () => {} });
      try {
        const { services } = started;
        const wiki = await services.applications.get('wiki');
        assert.equal(wiki.registration, 'closed');
        assert.deepEqual(
          wiki.roles.map((r) => r.name),
          ['writer', 'mod'],
        );
        const ada = (await services.users.findByEmail('ada@example.com'))!;
        const grace = (await services.users.findByEmail('grace@example.com'))!;
        assert.deepEqual(await services.registrations.rolesFor(ada.id, 'wiki'), ['writer']);
        assert.deepEqual(await services.registrations.rolesFor(grace.id, 'wiki'), ['mod'], 'through the group');
        assert.deepEqual(await services.registrations.groupNames(grace.id), ['Moderators']);
        const told = await services.db('webhook_events').where({ type: 'kickstart.success' });
        assert.equal(told.length, 1);
        const summary = JSON.parse(told[0].data);
        assert.equal(summary.groups, 1);
        assert.equal(summary.registrations, 1);
        assert.deepEqual(summary.applied.registrations, [{ user_id: ada.id, application: 'wiki' }]);
        assert.equal(summary.applied.groups[0].members, 1);
      } finally {
        await started.close();
        await database.drop();
      }

      for (const [change, message] of [
        [{ registrations: [{ user: 'ada@example.com', application: 'wiki', roles: ['owner'] }] }, /registrations\[0\]\.roles\[0\]: "owner" is not a role/],
        [{ registrations: [{ user: 'nobody@example.com', application: 'wiki' }] }, /registrations\[0\]\.user: no user has the email/],
        [{ groups: [{ name: 'Moderators', roles: { wiki: ['mod'] }, members: ['nobody@example.com'] }] }, /groups\[0\]\.members\[0\]: no user/],
        [{ groups: [{ name: 'Moderators', roles: { blog: ['mod'] } }] }, /groups\[0\]\.roles\.blog: no application/],
      ] as const) {
        writeFileSync(file, JSON.stringify({ ...good, ...change }));
        const bad = await createTestDatabase(kind);
        try {
          await assert.rejects(startServer(loadConfig({ ...env, DATABASE_URL: bad.url }), { announce: () => {} }), message);
        } finally {
          await bad.drop();
        }
      }
    });
  });
}
