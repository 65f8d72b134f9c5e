// The input checks the services own (the admin API and KICKSTART both go through them), and the
// ownership rules of the tree: KICKSTART does not borrow from the admin routers, src/identity does
// not reach into src/oidc. No server, no database.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../../src/errors.ts';
import { hookInput, publishInput } from '../../src/hooks/store.ts';
import { userInput, userPatch } from '../../src/identity/users.ts';
import { asObject, onlyFields } from '../../src/input.ts';
import { applicationInput } from '../../src/oidc/applications.ts';
import { resourceServerInput } from '../../src/oidc/resource-servers.ts';
import { webhookInput } from '../../src/webhooks/endpoints.ts';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

const refusal = (field: string, message: RegExp) => (error: unknown) => error instanceof ValidationError && error.field === field && message.test(error.message);

describe('service input checks', () => {
  test('a JSON object without NUL characters', () => {
    assert.deepEqual(asObject({ a: ['b'] }, 'body'), { a: ['b'] });
    assert.throws(() => asObject([], 'body'), refusal('body', /must be a JSON object, not an array/));
    assert.throws(() => asObject(null, 'body'), refusal('body', /not null/));
    assert.throws(() => asObject({ a: { b: ['x\u0000'] } }, 'body'), refusal('a.b[0]', /NUL/));
  });

  test('only known fields; read-only ones get their own message', () => {
    assert.throws(() => onlyFields({ nmae: 'x' }, ['name'], ['id']), refusal('nmae', /is not a known field \(known: name\)/));
    assert.throws(() => onlyFields({ id: 'x' }, ['name'], ['id']), refusal('id', /is read-only/));
  });

  test('each resource names its fields', () => {
    assert.deepEqual(applicationInput({ name: 'App', redirect_uris: [] }), { name: 'App', redirect_uris: [] });
    assert.throws(() => applicationInput({ name: 'App', created_at: 1 }), refusal('created_at', /read-only/));
    assert.throws(() => resourceServerInput({ identifier: 'https://api', scope: [] }), refusal('scope', /not a known field/));
    assert.throws(() => webhookInput({ url: 'https://example.com', disabled_reason: 'x' }), refusal('disabled_reason', /read-only/));
    assert.throws(() => hookInput({ name: 'h', version: 2 }), refusal('version', /read-only/));
    assert.throws(() => publishInput({ code: 'x' }), refusal('code', /not a known field/));
    assert.deepEqual(publishInput({ name: 'n', secrets: {} }), { name: 'n', secrets: {} });
  });

  test('a user body cannot set its status', () => {
    assert.deepEqual(userInput({ email: 'a@example.com' }), { email: 'a@example.com' });
    assert.throws(() => userInput({ email: 'a@example.com', status: 'active' }), refusal('status', /POST \/users\/:id\/disable/));
    assert.throws(() => userPatch({ status: 'disabled' }), refusal('status', /cannot be set here/));
    assert.throws(() => userPatch({ login_count: 3 }), refusal('login_count', /read-only/));
  });
});

/** The src/ modules a file imports (static imports and re-exports, type-only ones included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => resolve(dirname(file), m[1]!));
}

describe('who may import whom', () => {
  test('KICKSTART does not import the admin routers', () => {
    const admin = join(SRC, 'admin');
    assert.deepEqual(
      importsOf(join(SRC, 'kickstart.ts')).filter((p) => p.startsWith(admin)),
      [],
    );
  });

  test('nothing in src/identity reaches src/oidc, directly or through other modules', () => {
    const oidc = join(SRC, 'oidc');
    const seen = new Set<string>();
    const offending: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const dep of importsOf(file)) {
        if (dep.startsWith(oidc)) offending.push([...path, dep].map((p) => p.slice(SRC.length + 1)).join(' -> '));
        else if (dep.startsWith(SRC)) visit(dep, [...path, dep]);
      }
    };
    for (const name of readdirSync(join(SRC, 'identity')).filter((n) => n.endsWith('.ts'))) {
      const file = join(SRC, 'identity', name);
      visit(file, [file]);
    }
    assert.deepEqual(offending, []);
  });
});
