// GET /admin/api/openapi.json: an OpenAPI 3.1 document that the OpenAPI meta-schema validator accepts,
// listing every route of the admin router, and whose answer schemas real answers of the API satisfy
// (users, applications, hooks and their versions, test runs, runs and their recorded events, webhooks
// and their events, resource servers, invitations, consents, the audit log, and a refusal). The body
// schemas are the services' known-field lists: a field the document does not list is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { databaseKinds } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
};
const DOC_ID = 'https://tessera.invalid/admin/api/openapi.json';
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

for (const kind of databaseKinds()) {
  describe(`the admin API's OpenAPI document (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let receiver: WebhookReceiver;
    let doc: Doc;
    let ajv: InstanceType<typeof Ajv2020>;

    before(async () => {
      [smtp, receiver] = await Promise.all([startSmtpReceiver(), WebhookReceiver.start()]);
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, WEBHOOK_ALLOWED_HOSTS: receiver.hostPort } });
      const answer = await server.admin('GET', '/openapi.json');
      assert.equal(answer.status, 200);
      doc = answer.body;
      ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats.default(ajv);
      ajv.addSchema({ ...doc, $id: DOC_ID });
    });
    after(async () => {
      await server?.close();
      await Promise.all([smtp?.close(), receiver?.close()]);
    });

    /** Checks a real answer against the document's schema for this operation and status. */
    function assertAnswerMatches(method: string, path: string, answer: { status: number; body: unknown }): void {
      const operation = doc.paths[path]?.[method.toLowerCase()];
      assert.ok(operation, `${method} ${path} is in the document`);
      const status = answer.status >= 400 ? '4XX' : String(answer.status);
      const response = operation.responses[status];
      assert.ok(response, `${method} ${path} documents ${status}`);
      const at = `${DOC_ID}#/${pointer('paths', path, method.toLowerCase(), 'responses', status, 'content', 'application/json', 'schema')}`;
      assert.ok(response.content, `${method} ${path} ${status} has a schema`);
      const validate = ajv.compile({ $ref: at });
      assert.ok(validate(answer.body), `${method} ${path} ${answer.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.body)}`);
    }

    test('is an OpenAPI 3.1 document the meta-schema validator accepts, behind the admin guard', async () => {
      assert.equal(doc.openapi, '3.1.0');
      const result = await new Validator().validate(structuredClone(doc) as never);
      assert.equal(result.valid, true, JSON.stringify(result.errors));
      const stranger = await fetch(`${server.url}/admin/api/openapi.json`);
      assert.equal(stranger.status, 401);
    });

    test('lists every route of the admin API', async () => {
      const { createAdminRouter } = await import('../src/admin/router.ts');
      const router = createAdminRouter(server.server.services);
      for (const layer of router.stack.filter((l) => l.methods.length > 0)) {
        const path = String(layer.path)
          .replace('/admin/api', '')
          .replace(/:(\w+)/g, '{$1}');
        for (const method of layer.methods.filter((m) => m !== 'HEAD')) assert.ok(doc.paths[path]?.[method.toLowerCase()], `${method} ${path} is documented`);
      }
    });

    test('real answers match the answer schemas (users, applications, hooks, webhooks, resource servers, invitations)', async () => {
      const user = await server.admin('POST', '/users', { email: 'ada@example.com', password: 'correct horse battery', given_name: 'Ada', attributes: { plan: 'pro' } });
      assertAnswerMatches('POST', '/users', user);
      assertAnswerMatches('GET', '/users', await server.admin('GET', '/users?q=ada'));
      assertAnswerMatches('GET', '/users/{id}', await server.admin('GET', `/users/${user.body.id}`));
      assertAnswerMatches('PATCH', '/users/{id}', await server.admin('PATCH', `/users/${user.body.id}`, { family_name: 'Lovelace' }));
      assertAnswerMatches('POST', '/users/{id}/disable', await server.admin('POST', `/users/${user.body.id}/disable`));

      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: ['https://notes.example.com/cb'], branding: { display_name: 'Notes' } });
      assertAnswerMatches('POST', '/applications', app);
      assertAnswerMatches('GET', '/applications', await server.admin('GET', '/applications'));
      assertAnswerMatches('PATCH', '/applications/{client_id}', await server.admin('PATCH', `/applications/${app.body.client_id}`, { mfa: 'required' }));

      const hook = await server.admin('POST', '/hooks', { name: 'Tier', event: 'before_id_token', code: 'export default async function (event, api) { api.idToken.setClaim("tier", "gold"); }' });
      assertAnswerMatches('POST', '/hooks', hook);
      assertAnswerMatches('GET', '/hooks/{id}', await server.admin('GET', `/hooks/${hook.body.id}`));
      assertAnswerMatches('GET', '/hooks', await server.admin('GET', '/hooks'));

      const endpoint = await server.admin('POST', '/webhooks', { url: `${receiver.url}/openapi`, events: ['user.create'] });
      assertAnswerMatches('POST', '/webhooks', endpoint);
      assertAnswerMatches('GET', '/webhooks/{id}', await server.admin('GET', `/webhooks/${endpoint.body.id}`));

      const api = await server.admin('POST', '/resource-servers', { identifier: 'https://api.example.com', name: 'API', scopes: ['read'] });
      assertAnswerMatches('POST', '/resource-servers', api);
      assertAnswerMatches('GET', '/resource-servers', await server.admin('GET', '/resource-servers'));

      const invitation = await server.admin('POST', '/invitations', { email: 'grace@example.com', application: app.body.client_id });
      assertAnswerMatches('POST', '/invitations', invitation);
      assertAnswerMatches('GET', '/invitations', await server.admin('GET', '/invitations'));
      assert.equal((await server.admin('POST', '/keys/rotate')).status, 201);
      const events = await server.admin('GET', '/event-log');
      assert.ok(events.body.length > 0, 'the rotation is in the event log');
      assertAnswerMatches('GET', '/event-log', events);

      // A refusal has the documented error shape, and its message still names the field.
      const refused = await server.admin('POST', '/users', { email: 'x@example.com', nickname: 'x' });
      assert.equal(refused.status, 400);
      assert.match(refused.body.message, /^nickname: is not a known field \(known: email, password, username/);
      assertAnswerMatches('POST', '/users', refused);
    });

    test('real answers match the answer schemas (versions, deploys, test runs, runs and their events, consents, granted applications, identity providers, webhook events, audit log)', async () => {
      const user = await server.admin('POST', '/users', { email: 'runs@example.com', password: 'correct horse battery' });
      const created = await server.admin('POST', '/hooks', {
        name: 'Disabled',
        event: 'after_account_disabled',
        mode: 'sync',
        code: 'export default async function (event) { console.log(event.user.id); }',
      });
      const id = created.body.id;
      const draft = await server.admin('PATCH', `/hooks/${id}`, { code: 'export default async function (event) { console.log("v2", event.user.id); }', draft: true });
      assert.equal(draft.body.latest_version, 2);
      assertAnswerMatches('GET', '/hooks/{id}/versions', await server.admin('GET', `/hooks/${id}/versions`));
      assertAnswerMatches('GET', '/hooks/{id}/versions/{version}', await server.admin('GET', `/hooks/${id}/versions/2`));
      assertAnswerMatches('POST', '/hooks/{id}/test', await server.admin('POST', `/hooks/${id}/test`, { version: 2 }));
      assertAnswerMatches(
        'POST',
        '/hooks/test',
        await server.admin('POST', '/hooks/test', { event_type: 'after_account_disabled', code: 'export default async function () { throw new Error("no"); }' }),
      );
      assertAnswerMatches('POST', '/hooks/{id}/deploy', await server.admin('POST', `/hooks/${id}/deploy`));
      assertAnswerMatches('POST', '/hooks/{id}/versions/{version}/rollback', await server.admin('POST', `/hooks/${id}/versions/1/rollback`));

      assert.equal((await server.admin('POST', `/users/${user.body.id}/disable`)).status, 200);
      const runs = await server.admin('GET', `/hooks/${id}/executions`);
      assertAnswerMatches('GET', '/hooks/{id}/executions', runs);
      assert.equal(runs.body.length, 1);
      assertAnswerMatches('GET', '/hooks/{id}/executions/{execution_id}/event', await server.admin('GET', `/hooks/${id}/executions/${runs.body[0].id}/event`));
      assertAnswerMatches('GET', '/executions', await server.admin('GET', `/executions?user_id=${user.body.id}`));
      assertAnswerMatches('GET', '/users/{id}/consents', await server.admin('GET', `/users/${user.body.id}/consents`));
      const events = await server.admin('GET', `/webhook-events?user_id=${user.body.id}`);
      assert.ok(events.body.length >= 2, JSON.stringify(events.body));
      assertAnswerMatches('GET', '/webhook-events', events);
      assertAnswerMatches('GET', '/users/{id}/applications', await server.admin('GET', `/users/${user.body.id}/applications`));
      const provider = await server.admin('POST', '/identity-providers', { name: 'Google', preset: 'google', client_id: 'g-1', client_secret: 'g-secret' });
      assertAnswerMatches('POST', '/identity-providers', provider);
      assertAnswerMatches('PATCH', '/identity-providers/{id}', await server.admin('PATCH', `/identity-providers/${provider.body.id}`, { enabled: false }));
      assertAnswerMatches('GET', '/identity-providers', await server.admin('GET', '/identity-providers'));
      const audit = await server.admin('GET', '/audit-log?limit=20');
      assert.ok(audit.body.length > 5);
      assertAnswerMatches('GET', '/audit-log', audit);
    });

    test('real answers match the answer schemas (roles, registrations, groups, members, a user’s groups)', async () => {
      const app = await server.admin('POST', '/applications', { name: 'Roles', redirect_uris: ['http://rp.test/cb'], roles: [{ name: 'editor', default: true }, { name: 'billing' }] });
      assertAnswerMatches('POST', '/applications', app);
      const user = await server.admin('POST', '/users', { email: 'roles@example.com' });
      const registration = await server.admin('POST', `/users/${user.body.id}/registrations`, { application: app.body.client_id, roles: ['billing'] });
      assert.equal(registration.status, 201, JSON.stringify(registration.body));
      assertAnswerMatches('POST', '/users/{id}/registrations', registration);
      assertAnswerMatches('GET', '/users/{id}/registrations', await server.admin('GET', `/users/${user.body.id}/registrations`));
      const group = await server.admin('POST', '/groups', { name: 'Editors', roles: { [app.body.client_id]: ['editor'] } });
      assertAnswerMatches('POST', '/groups', group);
      const member = await server.admin('PUT', `/groups/${group.body.id}/members/${user.body.id}`, { data: { team: 'blue' } });
      assert.equal(member.status, 201, JSON.stringify(member.body));
      assertAnswerMatches('PUT', '/groups/{id}/members/{user_id}', member);
      const changed = await server.admin('PUT', `/groups/${group.body.id}/members/${user.body.id}`, { data: { team: 'red' } });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assertAnswerMatches('PUT', '/groups/{id}/members/{user_id}', changed);
      assertAnswerMatches('GET', '/groups', await server.admin('GET', '/groups'));
      assertAnswerMatches('GET', '/groups/{id}/members', await server.admin('GET', `/groups/${group.body.id}/members`));
      const theirs = await server.admin('GET', `/users/${user.body.id}/groups`);
      assert.deepEqual(
        theirs.body.map((g: { name: string; data: unknown }) => [g.name, g.data]),
        [['Editors', { team: 'red' }]],
      );
      assertAnswerMatches('GET', '/users/{id}/groups', theirs);
    });

    test('each body schema lists exactly the fields the route accepts', async () => {
      const bodies: Array<[string, string, Record<string, unknown>]> = [
        ['/users', 'UserBody', { email: 'body@example.com' }],
        ['/applications', 'ApplicationBody', { name: 'Body' }],
        ['/webhooks', 'WebhookBody', { url: `${receiver.url}/b`, events: ['user.create'] }],
        ['/resource-servers', 'ResourceServerBody', { identifier: 'https://body.example.com', name: 'Body' }],
      ];
      for (const [path, name, body] of bodies) {
        assert.equal(doc.paths[path]?.post?.requestBody?.content['application/json']?.schema.$ref, `#/components/schemas/${name}`);
        const fields = Object.keys(doc.components.schemas[name]?.properties ?? {});
        const refused = await server.admin('POST', path, { ...body, not_a_field: 1 });
        assert.equal(refused.status, 400, path);
        assert.equal(refused.body.message, `not_a_field: is not a known field (known: ${fields.join(', ')})`);
      }
    });
  });
}
