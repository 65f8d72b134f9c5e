// The catalog is the single source: every CONTRACT §5 event is in it, each sample event carries
// its documented fields, and the committed hooks/types.d.ts and docs/hooks.md are generated from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ACTIONS, PROTECTED_CLAIMS } from '../src/hooks/catalog/actions.ts';
import { renderDocs, renderTypes } from '../src/hooks/catalog/docs.ts';
import { EVENTS, sampleEvent } from '../src/hooks/catalog/events.ts';
import { PROJECT_ROOT } from '../src/paths.ts';
import { withWebhookTypes } from '../src/webhooks/catalog.ts';

const CONTRACT_EVENTS = [
  'before_registration',
  'before_progressive_profiling',
  'after_registration',
  'after_account_activation',
  'after_identification',
  'at_failed_identification',
  'before_password_validation',
  'at_failed_authentication',
  'before_mfa_send',
  'after_mfa_send',
  'after_mfa_change',
  'before_password_reset',
  'after_password_reset',
  'after_username_request',
  'after_login',
  'after_external_login',
  'before_id_token',
  'after_consent_update',
  'after_account_disabled',
  'after_account_deleted',
  'before_identity_verification',
  'after_identity_verification',
  'before_message_send',
];

test('the catalog holds exactly the contract events', () => {
  assert.deepEqual(EVENTS.map((e) => e.name).sort(), [...CONTRACT_EVENTS].sort());
});

test('each sample event has the common fields and the event fields, and actions exist', () => {
  for (const spec of EVENTS) {
    const sample = sampleEvent(spec);
    for (const field of ['id', 'type', 'hook', 'application', 'user', 'request', 'secrets']) {
      assert.ok(field in sample, `${spec.name} sample has ${field}`);
    }
    for (const field of Object.keys(spec.fields)) assert.ok(field in sample, `${spec.name} sample has ${field}`);
    assert.equal(sample.type, spec.name);
    for (const action of spec.actions) assert.ok(action in ACTIONS, `${spec.name}: ${action} is a known action`);
    if (!spec.sync) assert.deepEqual(spec.actions, [], `${spec.name} is async-only and allows no actions`);
  }
});

test('the contract actions are allowed where the contract says', () => {
  const allowed = (name: string) => [...EVENTS.find((e) => e.name === name)!.actions];
  assert.deepEqual(allowed('before_id_token').sort(), ['accessToken.setClaim', 'deny', 'idToken.setClaim', 'user.setMetadata']);
  assert.deepEqual(allowed('at_failed_identification').sort(), ['deny', 'migration.createUser']);
  assert.deepEqual(allowed('before_password_validation').sort(), ['password.accept', 'password.reject']);
  assert.deepEqual(allowed('after_identification').sort(), ['deny', 'identityVerification.require', 'mfa.require', 'mfa.skip']);
  assert.deepEqual(allowed('before_identity_verification').sort(), ['deny', 'identityVerification.skip', 'identityVerification.useProvider']);
  assert.deepEqual(allowed('after_identity_verification').sort(), ['deny', 'user.setAttribute', 'user.setMetadata']);
  assert.ok(allowed('after_login').includes('identityVerification.require') && allowed('before_registration').includes('identityVerification.require'));
  assert.deepEqual(allowed('before_message_send').sort(), ['deny', 'message.suppress']);
  for (const claim of ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce']) assert.ok(PROTECTED_CLAIMS.has(claim));
});

test('hooks/types.d.ts and docs/hooks.md are generated from the catalog (run npm run gen:hooks)', () => {
  assert.ok(readFileSync(join(PROJECT_ROOT, 'hooks', 'types.d.ts'), 'utf8') === renderTypes(), 'hooks/types.d.ts is stale: run npm run gen:hooks');
  assert.ok(readFileSync(join(PROJECT_ROOT, 'docs', 'hooks.md'), 'utf8') === renderDocs(), 'docs/hooks.md is stale: run npm run gen:hooks');
  const webhooksDoc = readFileSync(join(PROJECT_ROOT, 'docs', 'webhooks.md'), 'utf8');
  assert.ok(withWebhookTypes(webhooksDoc) === webhooksDoc, "docs/webhooks.md's event table is stale: run npm run gen:hooks");
});
