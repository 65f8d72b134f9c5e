// The hook authors' command line, run as a child process the way an author runs it:
// `tessera hook test <file> --event <name | event.json> [--secret N=v] [--allowed-host h:p] [--json]`.
// Exit 0 for a successful run, 1 for a failed one, 2 for a usage error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(ROOT, 'bin', 'tessera.js');
const template = (name: string) => join(ROOT, 'hooks', `${name}.js`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tessera <args>` through bin/tessera.js (or the TypeScript entry directly, `direct`). */
function tessera(args: string[], options: { direct?: boolean } = {}): Promise<Run> {
  const argv = options.direct ? ['--no-node-snapshot', join(ROOT, 'src', 'cli.ts'), ...args] : [BIN, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (run: Run) => `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

describe('tessera hook test', () => {
  let dir: string;
  let crm: Server;
  let crmHost: string;
  const crmRequests: Array<{ path: string; query: URLSearchParams; headers: IncomingHttpHeaders }> = [];

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
    crm = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://crm.invalid');
      crmRequests.push({ path: url.pathname, query: url.searchParams, headers: req.headers });
      const known = url.pathname === '/customers' && req.headers.authorization === 'Bearer cli-token';
      res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' });
      res.end(known ? JSON.stringify({ tier: 'platinum', segment: 'b2b' }) : '{}');
    });
    await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', () => resolve()));
    crmHost = `127.0.0.1:${(crm.address() as { port: number }).port}`;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    crm.closeAllConnections();
    await new Promise((resolve) => crm.close(resolve));
  });

  test('a template on a sample event, by name: actions printed, exit 0', async () => {
    const run = await tessera(['hook', 'test', template('progressive-phone'), '--event', 'before_progressive_profiling']);
    assert.equal(run.code, 0, show(run));
    assert.match(run.stdout, /^before_progressive_profiling: success in \d+(\.\d+)? ms$/m);
    assert.match(run.stdout, /^actions:$/m);
    const action = run.stdout.split('\n').find((line) => line.includes('form.requireFields'));
    assert.ok(action, show(run));
    assert.deepEqual(JSON.parse(action.trim()), {
      type: 'form.requireFields',
      fields: [{ name: 'phone_number', label: 'Mobile phone number', type: 'tel', required: false }],
    });
    assert.match(run.stdout, /^logs: none$/m);
    assert.equal(run.stderr, '');

    // The same through the TypeScript entry point directly.
    const direct = await tessera(['hook', 'test', template('progressive-phone'), '--event', 'before_progressive_profiling', '--json'], { direct: true });
    assert.equal(direct.code, 0, show(direct));
    assert.equal(JSON.parse(direct.stdout).actions[0].type, 'form.requireFields');
  });

  test('an event JSON file is laid over the sample event', async () => {
    const denied = file('disposable.json', JSON.stringify({ type: 'before_registration', user: { email: 'someone@mailinator.com' } }));
    const run = await tessera(['hook', 'test', template('deny-email-domains'), '--event', denied, '--json']);
    assert.equal(run.code, 0, show(run));
    const result = JSON.parse(run.stdout);
    assert.equal(result.outcome, 'success');
    assert.deepEqual(result.actions, [{ type: 'deny', message: 'Please sign up with a permanent email address.' }]);

    // The sample's own fields stay where the file says nothing (flow "login", login_count 3).
    const fewLogins = file(
      'second-login.json',
      JSON.stringify({
        type: 'before_progressive_profiling',
        user: { email: 'ada@example.com', login_count: 1, phone_number: null },
      }),
    );
    const early = await tessera(['hook', 'test', template('progressive-phone'), '--event', fewLogins, '--json']);
    assert.equal(early.code, 0, show(early));
    assert.deepEqual(JSON.parse(early.stdout).actions, [], 'the second login asks nothing');

    // --secret reaches event.secrets.
    const listed = file('listed.json', JSON.stringify({ type: 'before_registration', user: { email: 'x@competitor.test' } }));
    const blocked = await tessera(['hook', 'test', template('deny-email-domains'), '--event', listed, '--secret', 'BLOCKED_DOMAINS=competitor.test', '--json']);
    assert.equal(blocked.code, 0, show(blocked));
    assert.deepEqual(JSON.parse(blocked.stdout).actions, [{ type: 'deny', message: 'Sign-ups from this email domain are not allowed.' }]);
  });

  test('fetch goes to a listed loopback host with the secrets; unlisted it is refused (exit 1)', async () => {
    const args = ['hook', 'test', template('crm-claims'), '--event', 'before_id_token', '--secret', `CRM_URL=http://${crmHost}`, '--secret', 'CRM_TOKEN=cli-token'];
    const run = await tessera([...args, '--allowed-host', crmHost, '--json']);
    assert.equal(run.code, 0, show(run));
    assert.deepEqual(JSON.parse(run.stdout).actions, [
      { type: 'idToken.setClaim', key: 'tier', value: 'platinum' },
      { type: 'accessToken.setClaim', key: 'tier', value: 'platinum' },
      { type: 'idToken.setClaim', key: 'segment', value: 'b2b' },
    ]);
    const request = crmRequests.at(-1)!;
    assert.equal(request.query.get('email'), 'ada@example.com', 'the sample user');
    assert.equal(request.headers.authorization, 'Bearer cli-token');
    assert.ok(!run.stdout.includes('cli-token'), 'secrets are not printed');

    const seen = crmRequests.length;
    const refused = await tessera([...args, '--json']);
    assert.equal(refused.code, 1, show(refused));
    const result = JSON.parse(refused.stdout);
    assert.equal(result.outcome, 'error');
    assert.match(result.error, /fetch refused/);
    assert.equal(crmRequests.length, seen, 'no request was made');
  });

  test('a syntax error: exit 2 with the file and the line', async () => {
    const broken = file('broken.js', 'export default async function (event, api) {\n  const x = ;\n  api.deny("no");\n}\n');
    const run = await tessera(['hook', 'test', broken, '--event', 'after_login']);
    assert.equal(run.code, 2, show(run));
    assert.equal(run.stdout, '');
    assert.ok(run.stderr.startsWith(`${broken}:2: `), show(run));
    assert.match(run.stderr, /SyntaxError/);
  });

  test('a hook setting a protected claim fails with invalid_action (exit 1), nothing applied', async () => {
    const sub = file(
      'set-sub.js',
      `export default async function (event, api) {
  console.log('taking over', event.user.email);
  api.idToken.setClaim('tier', 'gold');
  api.idToken.setClaim('sub', 'admin');
}
`,
    );
    const run = await tessera(['hook', 'test', sub, '--event', 'before_id_token']);
    assert.equal(run.code, 1, show(run));
    assert.match(run.stdout, /^before_id_token: invalid_action in /m);
    assert.match(run.stdout, /^error: .*"sub" is a protected claim/m);

    const json = await tessera(['hook', 'test', sub, '--event', 'before_id_token', '--json']);
    assert.equal(json.code, 1, show(json));
    const result = JSON.parse(json.stdout);
    assert.equal(result.outcome, 'invalid_action');
    assert.match(result.error, /protected claim/);
    assert.equal(typeof result.duration_ms, 'number');
  });

  test('--json: the whole result, console lines included, parses as JSON', async () => {
    const chatty = file(
      'chatty.js',
      `export default async function (event, api) {
  console.log('user', event.user.email, { count: event.user.login_count });
  console.warn('careful');
  api.user.setMetadata('seen', true);
  const until = Date.now() + 50;
  while (Date.now() < until) {} // 50 ms of work, for duration_ms to measure
}
`,
    );
    const started = performance.now();
    const run = await tessera(['hook', 'test', chatty, '--event', 'after_login', '--json']);
    const wall = performance.now() - started;
    assert.equal(run.code, 0, show(run));
    const result = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(result).sort(), ['actions', 'duration_ms', 'logs', 'outcome']);
    assert.equal(result.outcome, 'success');
    assert.deepEqual(result.actions, [{ type: 'user.setMetadata', key: 'seen', value: true }]);
    assert.equal(result.logs.length, 2, show(run));
    assert.match(result.logs[0], /user ada@example\.com .*count: 3/);
    assert.match(result.logs[1], /warn.*careful/);
    // The hook's own run, in milliseconds: at least its 50 ms of work, within the command's wall time.
    assert.ok(result.duration_ms >= 50 && result.duration_ms < wall, `duration_ms ${result.duration_ms} (the command took ${Math.round(wall)} ms)`);

    // An action the event does not allow is refused, as the server would.
    const wrongEvent = await tessera(['hook', 'test', chatty, '--event', 'before_mfa_send', '--json']);
    assert.equal(wrongEvent.code, 1, show(wrongEvent));
    assert.equal(JSON.parse(wrongEvent.stdout).outcome, 'invalid_action');
  });

  test('a runaway hook is stopped at --timeout-ms (exit 1)', async () => {
    const loop = file('loop.js', 'export default async function () {\n  while (true) {}\n}\n');
    const started = Date.now();
    const run = await tessera(['hook', 'test', loop, '--event', 'after_login', '--timeout-ms', '300', '--json']);
    assert.equal(run.code, 1, show(run));
    assert.equal(JSON.parse(run.stdout).outcome, 'timeout');
    assert.ok(Date.now() - started < 15_000);
  });

  test('usage errors exit 2 with a message', async () => {
    const missingEvent = await tessera(['hook', 'test', template('crm-claims')]);
    assert.equal(missingEvent.code, 2, show(missingEvent));
    assert.match(missingEvent.stderr, /usage: tessera hook test/);

    const unknownEvent = await tessera(['hook', 'test', template('crm-claims'), '--event', 'no_such_event']);
    assert.equal(unknownEvent.code, 2, show(unknownEvent));
    assert.match(unknownEvent.stderr, /--event: "no_such_event" is neither an event name nor a readable JSON file/);

    const untyped = file('untyped.json', JSON.stringify({ user: { email: 'a@b.test' } }));
    const noType = await tessera(['hook', 'test', template('crm-claims'), '--event', untyped]);
    assert.equal(noType.code, 2, show(noType));
    assert.match(noType.stderr, /needs "type"/);

    for (const text of ['null', '[1, 2]', '"before_id_token"', '{ not json']) {
      const odd = await tessera(['hook', 'test', template('crm-claims'), '--event', file('odd.json', text)]);
      assert.equal(odd.code, 2, `${text}: ${show(odd)}`);
      assert.match(odd.stderr, /^--event: /, `${text}: ${show(odd)}`);
    }

    const missingFile = await tessera(['hook', 'test', join(dir, 'nope.js'), '--event', 'after_login']);
    assert.equal(missingFile.code, 2, show(missingFile));
    assert.match(missingFile.stderr, /cannot read/);

    const badSecret = await tessera(['hook', 'test', template('crm-claims'), '--event', 'before_id_token', '--secret', 'novalue']);
    assert.equal(badSecret.code, 2, show(badSecret));
    assert.match(badSecret.stderr, /--secret: expected NAME=value/);

    const badTimeout = await tessera(['hook', 'test', template('crm-claims'), '--event', 'before_id_token', '--timeout-ms', '60000']);
    assert.equal(badTimeout.code, 2, show(badTimeout));
    assert.match(badTimeout.stderr, /--timeout-ms/);

    const unknownOption = await tessera(['hook', 'test', template('crm-claims'), '--event', 'before_id_token', '--frobnicate']);
    assert.equal(unknownOption.code, 2, show(unknownOption));

    const help = await tessera(['hook', 'test', '--help']);
    assert.equal(help.code, 0, show(help));
    assert.match(help.stdout, /events: .*before_id_token/);
  });
});
