// The pure parts of talking to upstream providers: a provider's claims mapped onto our fields, and
// Apple's client secret (an ES256 JWT made from the .p8 key). No server, no database.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { appleClientSecret, mapProfile, ProviderAnswerError } from '../../src/providers/client.ts';
import { OAUTH2_CLAIMS, OIDC_CLAIMS, PRESETS } from '../../src/providers/presets.ts';
import type { IdentityProvider } from '../../src/providers/store.ts';

test('OpenID claims map onto our fields; Apple\'s "true" is a verified address', () => {
  const profile = mapProfile({ sub: 'abc', email: ' Ann@Example.com ', email_verified: 'true', given_name: 'Ann', preferred_username: 'ann' }, OIDC_CLAIMS);
  assert.equal(profile.subject, 'abc');
  assert.equal(profile.email, 'Ann@Example.com');
  assert.equal(profile.email_verified, true);
  assert.equal(profile.username, 'ann');
  assert.equal(mapProfile({ sub: 'abc', email_verified: 'yes' }, OIDC_CLAIMS).email_verified, false);
});

test('GitHub-style numeric ids, dotted paths, and a provider that says nothing about verification', () => {
  const mapping = { ...OAUTH2_CLAIMS, ...PRESETS.facebook.claims, email: 'contact.mail' };
  const profile = mapProfile({ id: 4242, contact: { mail: 'o@x.test' }, email_verified: true, first_name: 'O' }, mapping);
  assert.equal(profile.subject, '4242');
  assert.equal(profile.email, 'o@x.test');
  assert.equal(profile.given_name, 'O');
  assert.equal(profile.email_verified, false, 'the facebook preset maps no verification claim');
});

test('an answer without the subject claim is refused', () => {
  assert.throws(
    () => mapProfile({ email: 'a@b.test' }, OIDC_CLAIMS),
    (error: unknown) => error instanceof ProviderAnswerError && error.kind === 'refused' && /sub/.test(error.message),
  );
});

test("Apple's client secret is an ES256 JWT from the team to Apple about the client, signed by the .p8 key", async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const provider = { client_id: 'com.example.web', issuer: 'https://appleid.apple.com', apple: { team_id: 'TEAM123456', key_id: 'KEY1234567' } } as IdentityProvider;
  const jwt = await appleClientSecret(provider, pem);
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'ES256', kid: 'KEY1234567' });
  const verified = await jwtVerify(jwt, await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256'), {
    issuer: 'TEAM123456',
    audience: 'https://appleid.apple.com',
    subject: 'com.example.web',
  });
  const claims = decodeJwt(jwt);
  assert.ok(claims.exp! - claims.iat! <= 300);
  assert.equal(verified.payload.sub, 'com.example.web');
});
