// The typed lifecycle contract (src/hooks/catalog/): each action defined once (signature, validator,
// recorder), each event's decision read from its validated actions. No server, no database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACTIONS, actionProblem, recorderTable, type ActionOf, type ActionType } from '../../src/hooks/catalog/actions.ts';
import { decide, EVENTS, eventSpec, type EventPayloads } from '../../src/hooks/catalog/events.ts';
import type { Lifecycle } from '../../src/hooks/lifecycle.ts';
import { makeApi, type Recorded } from '../../src/hooks/sandbox/prelude/api-recorders.ts';
import { PRELUDE_SOURCE } from '../../src/hooks/sandbox/prelude/assemble.ts';
import { MAX_ACTION_VALUE_CHARS, MAX_ACTIONS } from '../../src/hooks/sandbox/run.ts';

/** Every method of a (nested) api object, as "group.name" paths. */
function methods(api: object, prefix = ''): string[] {
  return Object.entries(api).flatMap(([key, value]) => (typeof value === 'function' ? [prefix + key] : methods(value as object, `${prefix}${key}.`)));
}

test('the prelude records exactly the catalog actions, each with a validator and a signature', () => {
  const actions: Recorded[] = [];
  const api = makeApi(actions, recorderTable());
  const types = Object.keys(ACTIONS).sort();
  assert.deepEqual(methods(api).sort(), types, 'one api method per catalog action');
  for (const type of types) {
    const definition = ACTIONS[type as ActionType];
    assert.equal(typeof definition.problem, 'function', `${type} has a validator`);
    assert.ok(definition.signature.startsWith(`api.${type}(`), `${type}: its signature names the call`);
    const args = definition.params.map((param) => `${param}-value`);
    const path = type.split('.');
    const method = path.reduce<any>((node, key) => node[key], api);
    method(...args);
    assert.deepEqual(
      actions.at(-1),
      { type, ...Object.fromEntries(definition.params.map((param) => [param, `${param}-value`])) },
      `api.${type}(…) records its arguments under the catalog's parameter names`,
    );
  }
  // The isolate's copy is generated from the same table.
  assert.ok(PRELUDE_SOURCE.includes(`const RECORDERS = ${JSON.stringify(recorderTable())};`));
});

test('the api copies values as JSON, leaves undefined out, and stops at 200 calls', () => {
  const actions: Recorded[] = [];
  const api = makeApi(actions, recorderTable()) as any;
  const value = { nested: [1, 'two'] };
  api.user.setMetadata('k', value);
  value.nested.push(3);
  api.password.reject(undefined);
  assert.deepEqual(actions, [{ type: 'user.setMetadata', key: 'k', value: { nested: [1, 'two'] } }, { type: 'password.reject' }]);
  assert.throws(() => api.user.setMetadata('k', { big: 'x'.repeat(70000) }), /too large/);
  // The host checks results against the same limits (sandbox/run.ts): a value just within passes here.
  api.user.setMetadata('k', 'x'.repeat(MAX_ACTION_VALUE_CHARS - 2));
  assert.throws(() => api.user.setMetadata('k', 'x'.repeat(MAX_ACTION_VALUE_CHARS - 1)), /too large/);
  for (let i = actions.length; i < MAX_ACTIONS; i++) api.mfa.skip();
  assert.throws(() => api.mfa.skip(), /too many api calls/);
  assert.equal(actions.length, MAX_ACTIONS);
  assert.ok(Object.isFrozen(api) && Object.isFrozen(api.user));
});

test('actionProblem: unknown, disallowed and malformed actions are named; inherited names are unknown too', () => {
  const spec = eventSpec('after_identification')!;
  assert.equal(actionProblem(spec, [{ type: 'mfa.require' }, { type: 'deny', message: 'no' }]), null);
  assert.equal(actionProblem(spec, [{ type: 'user.setMetadata', key: 'a', value: 1 }]), 'api.user.setMetadata is not allowed in after_identification');
  assert.equal(actionProblem(spec, [{ type: 'deny', message: '' }]), 'api.deny: message must be a non-empty string of at most 500 characters');
  assert.equal(actionProblem(spec, [{ type: 'nope' }]), 'unknown action "nope"');
  // Names an object has from its prototype are no actions (they used to reach the validator and throw).
  for (const type of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) assert.equal(actionProblem(spec, [{ type }]), `unknown action ${JSON.stringify(type)}`);
  const token = eventSpec('before_id_token')!;
  assert.equal(actionProblem(token, [{ type: 'idToken.setClaim', key: 'sub', value: 'x' }]), 'api.idToken.setClaim: "sub" is a protected claim and cannot be set by a hook');
  assert.equal(actionProblem(token, [{ type: 'idToken.setClaim', key: 'bad key', value: 'x' }]), 'api.idToken.setClaim: key must be a name of letters, digits, _ . : -');
});

const act = <T extends ActionType>(action: ActionOf<T>) => action;

test('decisions: the last MFA, password and migration call wins', () => {
  assert.deepEqual(decide('after_identification', []), { mfa: undefined, verificationRequired: false });
  assert.deepEqual(decide('after_identification', [act({ type: 'mfa.require' }), act({ type: 'deny', message: 'x' }), act({ type: 'mfa.skip' })]), { mfa: 'skip', verificationRequired: false });
  assert.deepEqual(decide('after_identification', [act({ type: 'mfa.skip' }), act({ type: 'mfa.require' }), act({ type: 'identityVerification.require' })]), {
    mfa: 'require',
    verificationRequired: true,
  });
  assert.deepEqual(decide('before_identity_verification', [act({ type: 'identityVerification.useProvider', id: 'a' }), act({ type: 'identityVerification.useProvider', id: 'b' })]), {
    verification: { skip: false, providerId: 'b' },
  });
  assert.deepEqual(decide('before_identity_verification', [act({ type: 'identityVerification.skip' })]), { verification: { skip: true, providerId: null } });
  assert.deepEqual(decide('before_password_validation', []), { password: null });
  assert.deepEqual(decide('before_password_validation', [act({ type: 'password.accept' }), act({ type: 'password.reject', message: '  not here  ' })]), {
    password: { accepted: false, message: 'not here' },
  });
  assert.deepEqual(decide('before_password_validation', [act({ type: 'password.reject' }), act({ type: 'password.accept' })]), { password: { accepted: true, message: null } });
  assert.deepEqual(
    decide('at_failed_identification', [
      act({ type: 'migration.createUser', user: { email: 'a@example.com' } }),
      act({ type: 'migration.createUser', user: { email: 'b@example.com', given_name: 'B', status: 'disabled', id: 'forged' } }),
    ]),
    { migrationUser: { email: 'b@example.com', given_name: 'B' } },
  );
});

test('decisions: failure message and redirect, trimmed and normalised', () => {
  assert.deepEqual(decide('at_failed_authentication', []), { message: null, redirect: null });
  assert.deepEqual(
    decide('at_failed_authentication', [
      act({ type: 'redirect', url: 'https://a.example/first' }),
      act({ type: 'error.setMessage', message: 'first' }),
      act({ type: 'error.setMessage', message: '  Call support.  ' }),
      act({ type: 'redirect', url: 'HTTPS://Help.Example/x y' }),
    ]),
    { message: 'Call support.', redirect: 'https://help.example/x%20y' },
  );
  assert.deepEqual(decide('at_failed_authentication', [act({ type: 'error.setMessage', message: '   ' })]), { message: null, redirect: null });
});

test('decisions: user changes merge per key; profiling asks each field once; claims per token', () => {
  assert.deepEqual(
    decide('before_registration', [
      act({ type: 'user.setAttribute', key: 'plan', value: 'free' }),
      act({ type: 'user.setMetadata', key: 'crm', value: null }),
      act({ type: 'user.setAttribute', key: 'plan', value: 'pro' }),
    ]),
    { changes: { attributes: { plan: 'pro' }, metadata: { crm: null } }, verificationRequired: false },
  );
  assert.deepEqual(
    decide('before_progressive_profiling', [
      act({
        type: 'form.requireFields',
        fields: [
          { name: 'phone', label: ' Phone ', type: 'tel' },
          { name: 'company', label: 'Company', required: false },
        ],
      }),
      act({
        type: 'form.requireConsents',
        consents: [
          { key: 'marketing', label: 'News', required: true },
          { key: 'terms', label: '  ' },
        ],
      }),
      act({ type: 'form.requireFields', fields: [{ name: 'phone', label: 'Mobile' }] }),
      act({ type: 'form.reject', field: 'company', message: 'Unknown company' }),
      act({ type: 'form.reject', field: 'company', message: ' Not in our records ' }),
    ]),
    {
      profiling: {
        fields: [
          { name: 'phone', label: 'Mobile', type: 'text', required: true },
          { name: 'company', label: 'Company', type: 'text', required: false },
        ],
        consents: [
          { key: 'marketing', label: 'News', required: true },
          { key: 'terms', label: 'terms', required: false },
        ],
        rejections: [{ field: 'company', message: 'Not in our records' }],
      },
    },
  );
  assert.deepEqual(
    decide('before_id_token', [
      act({ type: 'idToken.setClaim', key: 'tier', value: 'gold' }),
      act({ type: 'accessToken.setClaim', key: 'roles', value: ['a'] }),
      act({ type: 'idToken.setClaim', key: 'tier', value: 'platinum' }),
    ]),
    { idTokenClaims: { tier: 'platinum' }, accessTokenClaims: { roles: ['a'] }, metadata: {} },
  );
  for (const spec of EVENTS) if (!spec.sync) assert.deepEqual(decide(spec.name, []), {}, `${spec.name} (async only) decides nothing`);
});

test('a misspelt event, payload key, decision or action does not compile', () => {
  // Each line below is a type error, checked by `tsc --noEmit` (part of npm test): @ts-expect-error
  // fails the type check as soon as a line compiles. The calls are never made.
  const lifecycle = null as unknown as Lifecycle;
  const ctx = { applicationId: null, ip: null, userAgent: null, locale: null };
  const user = null as unknown as EventPayloads['after_login']['user'];
  const typos = [
    // @ts-expect-error an event the catalog does not have
    () => lifecycle.run('after_logn', { user }, ctx),
    // @ts-expect-error a misspelt payload key
    () => lifecycle.run('after_identification', { user, identifer: 'ada' }, ctx),
    // @ts-expect-error a payload value of the wrong type
    () => lifecycle.run('at_failed_authentication', { user, identifier: null, reason: 'wrong_password', flow: 'login' }, ctx),
    // @ts-expect-error a decision the event does not have
    async () => (await lifecycle.run('after_identification', { user, identifier: 'ada' }, ctx)).decision.password,
    // @ts-expect-error an action the catalog does not have
    () => act({ type: 'user.setAtribute', key: 'a', value: 1 }),
    // @ts-expect-error an action's data with a misspelt field
    () => act({ type: 'deny', mesage: 'no' }),
  ];
  assert.equal(typos.length, 6);
});
