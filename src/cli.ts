// The command line. For hook authors: runs a hook file locally in the same sandbox, with the same
// limits and action checks as the server, and prints the outcome, actions and logs. For operators:
// replaces the admin API key (revokes the one in force) on the configured database.
//
//   tessera hook test <file.js> --event <event_name | event.json> [--secret NAME=value]...
//                     [--allowed-host host[:port]]... [--timeout-ms 2000] [--json]
//   tessera admin rotate-key          (reads DATABASE_URL / TESSERA_CONFIG like the server)
//   tessera admin grant <email> [--role admin|viewer]   (console access)
//   tessera admin revoke <email>
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { rotateAdminKey } from './admin/key.ts';
import { ConsoleAccess, consoleRole } from './identity/console-access.ts';
import { ConsoleSessions } from './admin/console-sessions.ts';
import { emailLookupForms } from './identity/email-address.ts';
import { ConfigError, loadConfig } from './config.ts';
import { openDatabase } from './db/knex.ts';
import { migrateToLatest } from './db/migrate.ts';
import { EVENTS, eventSpec, sampleEvent } from './hooks/catalog/events.ts';
import { executeChecked } from './hooks/runner.ts';
import { checkHookCode } from './hooks/sandbox/check.ts';
import { HookSandbox } from './hooks/sandbox/sandbox.ts';
import type { RunnableHook } from './hooks/store.ts';

const USAGE = `usage: tessera hook test <file.js> --event <event_name | event.json> [options]
       tessera admin rotate-key
       tessera admin grant <email> [--role admin|viewer]
       tessera admin revoke <email>

admin rotate-key         generates a new admin API key on the database of DATABASE_URL (or
                         TESSERA_CONFIG), prints it once; the old key stops working on every
                         running instance within seconds
admin grant EMAIL        lets the user sign in to the administration console (/admin) with a
                         second factor; --role viewer reads only (default: admin)
admin revoke EMAIL       takes console access away (and ends the user's console sessions)

options:
  --event NAME|FILE      an event name (its sample event is used) or a JSON file holding an event
                         with "type" (fields you give are laid over the sample)
  --secret NAME=VALUE    a secret for event.secrets (repeatable)
  --allowed-host HOST    a host the hook may fetch (repeatable; none = any public address)
  --timeout-ms N         wall-time limit (default 2000, at most 10000)
  --json                 print the result as JSON

events: ${EVENTS.map((e) => e.name).join(', ')}`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function loadEvent(arg: string): Record<string, unknown> {
  if (eventSpec(arg)) return sampleEvent(eventSpec(arg)!);
  let given: Record<string, unknown>;
  try {
    given = JSON.parse(readFileSync(arg, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    fail(`--event: "${arg}" is neither an event name nor a readable JSON file (${(error as Error).message})`);
  }
  if (given === null || typeof given !== 'object' || Array.isArray(given)) fail(`--event: ${arg} must hold a JSON object (an event with "type")`);
  const spec = typeof given.type === 'string' ? eventSpec(given.type) : undefined;
  if (!spec) fail(`--event: the JSON file needs "type", one of: ${EVENTS.map((e) => e.name).join(', ')}`);
  return { ...sampleEvent(spec), ...given };
}

const OPTIONS = {
  event: { type: 'string' },
  secret: { type: 'string', multiple: true },
  'allowed-host': { type: 'string', multiple: true },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function hookTest(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    // An unknown option or a missing value is a usage error, not a crash.
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [file] = positionals;
  if (!file || !values.event) fail(USAGE);
  let code: string;
  try {
    code = readFileSync(file, 'utf8');
  } catch (error) {
    fail(`cannot read ${file}: ${(error as Error).message}`);
  }
  const check = checkHookCode(code);
  if (!check.ok) fail(`${file}:${check.line}: ${check.message}`);

  const event = loadEvent(values.event);
  const spec = eventSpec(String(event.type))!;
  const secrets = Object.fromEntries(
    (values.secret ?? []).map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) fail(`--secret: expected NAME=value, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const timeout = values['timeout-ms'] === undefined ? 2000 : Number(values['timeout-ms']);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 10000) fail('--timeout-ms: a whole number from 1 to 10000');

  const hook: RunnableHook = {
    id: 'cli',
    name: file,
    event: spec.name,
    mode: 'sync',
    code,
    version: 1,
    applications: null,
    enabled: true,
    order: 0,
    secrets,
    allowed_hosts: values['allowed-host'] ?? [],
    timeout_ms: timeout,
    on_error: 'fail',
    created_at: '',
    updated_at: '',
  };
  const sandbox = new HookSandbox({ warmIsolates: 0 });
  try {
    const { secrets: _ignored, hook: _hook, ...rest } = event;
    const result = await executeChecked(sandbox, spec, hook, rest);
    if (values.json) {
      // The same fields as POST /admin/api/hooks/:id/test answers (the sandbox's CPU figure is for fair sharing).
      const { cpu_ms: _cpu, ...shown } = result;
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    } else {
      process.stdout.write(`${spec.name}: ${result.outcome} in ${result.duration_ms.toFixed(1)} ms\n`);
      if (result.error) process.stdout.write(`error: ${result.error}\n`);
      process.stdout.write(`actions:${result.actions.length ? '' : ' none'}\n`);
      for (const action of result.actions) process.stdout.write(`  ${JSON.stringify(action)}\n`);
      process.stdout.write(`logs:${result.logs.length ? '' : ' none'}\n`);
      for (const line of result.logs) process.stdout.write(`  ${line}\n`);
    }
    return result.outcome === 'success' ? 0 : 1;
  } finally {
    sandbox.dispose();
  }
}

async function adminRotateKey(argv: string[]): Promise<number> {
  if (argv.length > 0) fail(`admin rotate-key takes no arguments\n\n${USAGE}`);
  return withDatabase(async (db, config) => {
    const { key } = await rotateAdminKey(db);
    process.stdout.write(`New admin API key (shown once, store it now): ${key}\n`);
    process.stderr.write('The previous key stops working on every running instance within a few seconds.\n');
    if (config.adminApiKey) {
      process.stderr.write("ADMIN_API_KEY is set here: a server started with it puts that key back in force. Remove or change it in the servers' environment too.\n");
    }
    return 0;
  });
}

/** Runs `work` on the configured database (migrated), as the server would open it. */
async function withDatabase<T>(work: (db: ReturnType<typeof openDatabase>, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`);
    throw error;
  }
  const db = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(db);
    return await work(db, config);
  } finally {
    await db.destroy();
  }
}

async function adminAccess(command: 'grant' | 'revoke', argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { role: { type: 'string' } } });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const [email, ...extra] = parsed.positionals;
  if (!email || extra.length > 0) fail(`admin ${command} takes one email\n\n${USAGE}`);
  if (command === 'revoke' && parsed.values.role !== undefined) fail('admin revoke takes no --role');
  let role: ReturnType<typeof consoleRole> = 'admin';
  if (parsed.values.role !== undefined) {
    try {
      role = consoleRole(parsed.values.role);
    } catch {
      fail('--role: must be admin or viewer');
    }
  }
  return withDatabase(async (db, config) => {
    const user = await db('users').whereIn('email', emailLookupForms(email)).first('id', 'email');
    if (!user) fail(`no user has the email ${email}: create the user first (POST /admin/api/users), then grant`);
    const access = new ConsoleAccess(db);
    if (command === 'grant') {
      await access.grant(user.id, role);
      process.stdout.write(`${user.email} may now sign in to the console (${config.issuer}/admin) as ${role}, with a second factor.\n`);
    } else {
      const had = await access.revoke(user.id);
      await new ConsoleSessions(db, 60).closeAll(user.id);
      process.stdout.write(had ? `${user.email} no longer has console access.\n` : `${user.email} had no console access.\n`);
    }
    return 0;
  });
}

async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group === 'hook' && command === 'test') return hookTest(rest);
  if (group === 'admin' && command === 'rotate-key') return adminRotateKey(rest);
  if (group === 'admin' && (command === 'grant' || command === 'revoke')) return adminAccess(command, rest);
  fail(USAGE);
}

// The exit code is set, not forced: process.exit() while isolated-vm still tears its isolates
// down crashes the process now and then (SIGSEGV), which turned a result into a failure.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`tessera: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
