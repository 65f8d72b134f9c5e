// The account page's pure rules, without a server: where a sign-in may come back to (only the account
// page's own paths, never another URL), and whose branding it may wear (never the server's own clients).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brandableClient } from '../../src/account/client.ts';
import { safeReturn } from '../../src/account/sign-in.ts';

describe('account page rules', () => {
  it('comes back only to the account page and its own pages', () => {
    for (const path of ['/account', '/account#security', '/account/delete', '/account/delete#x']) assert.equal(safeReturn(path), path);
    for (const path of ['https://evil.example/', '//evil.example', '/account/../admin', '/accountx', '/account/delete?x=1', '/account\\evil', '/admin', '', null, 42, ['/account']]) {
      assert.equal(safeReturn(path), '/account', String(path));
    }
  });

  it('wears any application’s branding but the console’s and its own', () => {
    assert.equal(brandableClient('notes'), 'notes');
    for (const id of ['tessera-console', 'tessera-account', '', 'x'.repeat(101), undefined, ['notes']]) assert.equal(brandableClient(id), null, String(id));
  });
});
