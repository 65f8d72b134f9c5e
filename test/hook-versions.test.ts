// Hook versions (CONTRACT §4): every saved code is a numbered version with who saved it and when; a
// draft is saved without deploying it, so journeys keep running the deployed code (and a dry run
// can try the draft); deploy makes the newest (or a named) version run; rollback brings an older
// one back. The execution log names the version that ran. Seen by a real RP through the ID token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { authorizationUrl, CALLBACK, discoverClient, exchangeCode, signIn, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const tierHook = (tier: string) => `export default async function (event, api) {
  api.idToken.setClaim('tier', '${tier}');
}`;

for (const kind of databaseKinds()) {
  describe(`hook versions, drafts, deploy and rollback (${kind})`, () => {
    let server: TestServer;
    let rp: RelyingParty;
    const password = 'correct horse battery';

    before(async () => {
      server = await startTestServer(kind);
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [CALLBACK] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      rp = await discoverClient(server.url, app.body.client_id, app.body.client_secret);
      const user = await server.admin('POST', '/users', { email: 'ada@example.com', password, email_verified: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
    });
    after(() => server?.close());

    /** The `tier` claim of the ID token a sign-in gets now. */
    const tierNow = async (): Promise<unknown> => {
      const start = await authorizationUrl(rp, { scope: 'openid' });
      const done = await signIn(new Browser(server.url), start, 'ada@example.com', password);
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `expected the callback, got ${done.status}`);
      return (await exchangeCode(rp, start, done.redirectedTo!)).claims()!.tier;
    };

    test('a draft does not run in a journey, deploy makes it run, rollback brings the old behaviour back', async () => {
      const created = await server.admin('POST', '/hooks', { name: 'tier', event: 'before_id_token', mode: 'sync', code: tierHook('v1') });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal(created.body.version, 1);
      assert.equal(created.body.latest_version, 1);
      assert.equal(await tierNow(), 'v1');

      // A draft: saved as version 2, not deployed.
      const drafted = await server.admin('PATCH', `/hooks/${id}`, { code: tierHook('v2'), draft: true });
      assert.equal(drafted.status, 200, JSON.stringify(drafted.body));
      assert.equal(drafted.body.version, 1, 'the deployed version is still 1');
      assert.equal(drafted.body.latest_version, 2);
      assert.equal(drafted.body.code, tierHook('v1'), 'the hook shows the code that runs');
      assert.equal(await tierNow(), 'v1', 'the draft does not run in a journey');

      // A dry run may try the draft; it says that fetch is real.
      const tried = await server.admin('POST', `/hooks/${id}/test`, { version: 2 });
      assert.equal(tried.status, 200, JSON.stringify(tried.body));
      assert.equal(tried.body.version, 2);
      assert.deepEqual(tried.body.actions, [{ type: 'idToken.setClaim', key: 'tier', value: 'v2' }]);
      assert.match(tried.body.notice, /fetch calls are real/);
      assert.equal((await server.admin('POST', `/hooks/${id}/test`, {})).body.version, 1, 'the deployed one by default');

      const versions = await server.admin('GET', `/hooks/${id}/versions`);
      assert.equal(versions.status, 200);
      assert.deepEqual(
        versions.body.map((v: any) => [v.version, v.deployed, v.created_by, v.deployed_by]),
        [
          [2, false, 'admin-key', null],
          [1, true, 'admin-key', 'admin-key'],
        ],
      );
      assert.ok(versions.body.every((v: any) => !Number.isNaN(Date.parse(v.created_at)) && v.code === undefined));
      const two = await server.admin('GET', `/hooks/${id}/versions/2`);
      assert.equal(two.body.code, tierHook('v2'));

      // Deploy (the newest by default) makes it run.
      const deployed = await server.admin('POST', `/hooks/${id}/deploy`);
      assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
      assert.equal(deployed.body.version, 2);
      assert.equal(await tierNow(), 'v2');

      // Rollback to version 1: the old behaviour is back; version 2 stays listed.
      const rolledBack = await server.admin('POST', `/hooks/${id}/versions/1/rollback`);
      assert.equal(rolledBack.status, 200, JSON.stringify(rolledBack.body));
      assert.equal(rolledBack.body.version, 1);
      assert.equal(rolledBack.body.latest_version, 2);
      assert.equal(await tierNow(), 'v1');

      // The execution log names the version that ran, newest first: 1, 2, 1, 1.
      const runs = await server.admin('GET', `/hooks/${id}/executions`);
      assert.deepEqual(
        runs.body.map((run: any) => run.hook_version),
        [1, 2, 1, 1],
      );

      // Deploying a named version; a PATCH with code (no draft) saves and deploys at once.
      assert.equal((await server.admin('POST', `/hooks/${id}/deploy`, { version: 2 })).body.version, 2);
      const saved = await server.admin('PATCH', `/hooks/${id}`, { code: tierHook('v3') });
      assert.deepEqual([saved.body.version, saved.body.latest_version], [3, 3]);
      assert.equal(await tierNow(), 'v3');
      // The same code again is not a new version.
      assert.equal((await server.admin('PATCH', `/hooks/${id}`, { code: tierHook('v3') })).body.latest_version, 3);
    });

    test('saves at the same moment get distinct version numbers or a 409, never a 500', async () => {
      const created = await server.admin('POST', '/hooks', { name: 'race', event: 'before_id_token', mode: 'sync', code: tierHook('r0'), enabled: false });
      const id = created.body.id;
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => server.admin('PATCH', `/hooks/${id}`, { code: tierHook(`r${i + 1}`), draft: i % 2 === 0 })));
      for (const answer of answers) assert.ok(answer.status === 200 || answer.status === 409, `${answer.status} ${JSON.stringify(answer.body)}`);
      const saved = answers.filter((a) => a.status === 200).length;
      assert.ok(saved >= 1);
      const versions = (await server.admin('GET', `/hooks/${id}/versions`)).body.map((v: any) => v.version);
      assert.deepEqual(
        versions,
        Array.from({ length: saved + 1 }, (_, i) => saved + 1 - i),
        'one version per save that answered 200, numbered without gaps',
      );
    });

    test('bad version requests answer 4xx naming the problem', async () => {
      const created = await server.admin('POST', '/hooks', { name: 'x', event: 'before_id_token', mode: 'sync', code: tierHook('x'), enabled: false });
      const id = created.body.id;
      const cases: Array<[string, string, unknown, number, RegExp]> = [
        ['POST', `/hooks/${id}/deploy`, { version: 9 }, 400, /^version: hook .* has no version 9/],
        ['POST', `/hooks/${id}/deploy`, { version: 'latest' }, 400, /^version: /],
        ['POST', `/hooks/${id}/deploy`, { versions: 1 }, 400, /^versions: is not a known field/],
        ['POST', `/hooks/${id}/versions/7/rollback`, undefined, 404, /version 7/],
        ['POST', `/hooks/${id}/versions/x/rollback`, undefined, 404, /version/],
        ['GET', `/hooks/${id}/versions/0`, undefined, 404, /version/],
        ['POST', '/hooks/hook_nope/deploy', undefined, 404, /hook not found/],
        ['GET', '/hooks/hook_nope/versions', undefined, 404, /hook not found/],
        ['PATCH', `/hooks/${id}`, { draft: true }, 400, /^draft: .*give "code"/],
        ['PATCH', `/hooks/${id}`, { draft: true, code: tierHook('y'), enabled: true }, 400, /^draft: a draft holds code only/],
        ['PATCH', `/hooks/${id}`, { draft: 'yes', code: tierHook('y') }, 400, /^draft: must be true or false/],
        ['PATCH', `/hooks/${id}`, { draft: true, code: 'export default async function () {\n  const = 1;\n}' }, 400, /^code: does not compile \(line 2\)/],
        ['POST', '/hooks', { name: 'x', event: 'before_id_token', mode: 'sync', code: tierHook('x'), draft: true }, 400, /^draft: /],
        ['POST', `/hooks/${id}/test`, { version: 5 }, 404, /version 5/],
      ];
      for (const [method, path, body, status, message] of cases) {
        const answer = await server.admin(method, path, body);
        assert.equal(answer.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.message, message, `${method} ${path}`);
      }
      // Nothing was half-written: still one version, deployed.
      const versions = await server.admin('GET', `/hooks/${id}/versions`);
      assert.deepEqual(
        versions.body.map((v: any) => [v.version, v.deployed]),
        [[1, true]],
      );
    });
  });
}
