// The canonical path rule, without a server: one form for every way of writing a request path,
// and the zones (path prefixes whose guard runs first) matched in any case.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalPath, inZone, rewritePath } from '../../src/http/paths.ts';

describe('canonical paths', () => {
  test('escapes of unreserved characters, dot segments and doubled slashes fold; other escapes stay', () => {
    const table: Array<[string, string]> = [
      ['/admin/%61pi/users', '/admin/api/users'],
      ['/%41dmin/api', '/Admin/api'],
      ['//admin///api/', '/admin/api/'],
      ['/admin/./api/x/../users', '/admin/api/users'],
      ['/admin/%2e%2E/admin/api', '/admin/api'],
      ['/../../admin/api', '/admin/api'],
      ['/a/b/..', '/a/'],
      ['/users/a%2fb', '/users/a%2Fb'],
      ['/users/%e2%82%ac', '/users/%E2%82%AC'],
      ['/users/%zz', '/users/%zz'],
      ['/', '/'],
      ['admin/api', '/admin/api'],
      ['/admin/%7e%2D%5f%2e', '/admin/~-_.'],
      ['/admin/api/.', '/admin/api/'],
      ['/admin/api/%2e%2e', '/admin/'],
      ['/admin/api/...', '/admin/api/...'],
      ['/admin/%2561pi', '/admin/%2561pi'],
    ];
    for (const [raw, canonical] of table) assert.equal(canonicalPath(raw), canonical, raw);
  });

  test('canonical forms are fixed points: folding twice changes nothing', () => {
    for (const raw of ['/admin/%61pi//users/./x/..', '/%2e%2e/%41/b', '/users/a%2fb/', '/x/%7E']) {
      const once = canonicalPath(raw);
      assert.equal(canonicalPath(once), once, raw);
    }
  });

  test('the shortcut for paths already canonical agrees with the full rewrite on every path', () => {
    // Every path of up to 6 characters over the characters the rewrite looks at (7^6 ≈ 118 000).
    const alphabet = ['/', '.', '%', '2', 'e', 'a', 'A'];
    let checked = 0;
    const walk = (path: string) => {
      assert.equal(canonicalPath(path), rewritePath(path), path);
      checked += 1;
      if (path.length < 6) for (const c of alphabet) walk(path + c);
    };
    walk('');
    assert.ok(checked > 100_000);
    for (const hot of ['/token', '/.well-known/openid-configuration', '/admin/api/users']) assert.equal(canonicalPath(hot), hot);
  });

  test('a zone holds its prefix and what is below it, in any case, and nothing that only starts alike', () => {
    const inside = ['/admin/api', '/admin/api/', '/admin/api/users', '/ADMIN/API/users', '/Admin/Api'];
    const outside = ['/admin', '/admin/apis', '/admin/api-docs', '/x/admin/api', '/adminapi'];
    for (const path of inside) assert.equal(inZone(path, '/admin/api'), true, path);
    for (const path of outside) assert.equal(inZone(path, '/admin/api'), false, path);
  });
});
