// Behind a TLS terminator: with TRUST_PROXY the forwarded scheme and host are honoured, so the
// endpoints advertised and the cookies set are the https ones; without it they are ignored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.ts';

describe('proxy support', () => {
  let trusted: TestServer;
  let untrusted: TestServer;
  before(async () => {
    trusted = await startTestServer('sqlite', { env: { TRUST_PROXY: 'true', ISSUER: 'https://id.example.com' } });
    untrusted = await startTestServer('sqlite', { env: { ISSUER: 'https://id.example.com' } });
  });
  after(async () => {
    await trusted.close();
    await untrusted.close();
  });

  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.com' };

  test('forwarded https is honoured when trusted', async () => {
    const discovery = (await (await fetch(`${trusted.url}/.well-known/openid-configuration`, { headers: forwarded })).json()) as Record<string, string>;
    assert.equal(discovery.issuer, 'https://id.example.com');
    assert.equal(discovery.token_endpoint, 'https://id.example.com/token');
    const app = await trusted.admin('POST', '/applications', { name: 'Web', redirect_uris: ['https://app.example.com/cb'] });
    const auth = await fetch(`${trusted.url}/auth?client_id=${app.body.client_id}&response_type=code&scope=openid&redirect_uri=https://app.example.com/cb`, { headers: forwarded, redirect: 'manual' });
    assert.equal(auth.status, 303);
    const cookies = auth.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) assert.match(cookie, /;\s*secure/i, `cookie is Secure: ${cookie}`);
  });

  test('forwarded headers are ignored when not trusted', async () => {
    const discovery = (await (await fetch(`${untrusted.url}/.well-known/openid-configuration`, { headers: forwarded })).json()) as Record<string, string>;
    assert.equal(discovery.issuer, 'https://id.example.com');
    assert.ok(discovery.token_endpoint!.startsWith('http://127.0.0.1:'), `not taken from the forwarded headers: ${discovery.token_endpoint}`);
  });
});
