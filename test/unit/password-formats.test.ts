// Imported password hashes (src/identity/password-formats.ts) without a server: each format's stored
// form verifies its password and no other, a damaged stored hash never verifies (and never throws),
// costs past the bounds are refused naming the field, and every foreign hash asks to be rehashed.
// The distance of impossible travel (src/identity/threats.ts) is the great-circle one.
import assert from 'node:assert/strict';
import { pbkdf2Sync, scryptSync } from 'node:crypto';
import { describe, test } from 'node:test';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { HashFormatError, isForeignHash, storedFormOf, verifyAnyHash } from '../../src/identity/password-formats.ts';
import { distanceKm } from '../../src/identity/threats.ts';

const salt = Buffer.from('0123456789abcdef');
const b64 = (bytes: Buffer) => bytes.toString('base64');

describe('imported password hashes', () => {
  test('each format verifies its own password only; the stored form of PBKDF2 and scrypt is self-describing', async () => {
    const password = 'the old password';
    const inputs = [
      { algorithm: 'bcrypt', hash: bcrypt.hashSync(password, 4) },
      { algorithm: 'argon2id', hash: await argon2.hash(password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 }) },
      { algorithm: 'pbkdf2-sha256', hash: b64(pbkdf2Sync(password, salt, 1000, 32, 'sha256')), salt: b64(salt), iterations: 1000 },
      { algorithm: 'pbkdf2-sha512', hash: b64(pbkdf2Sync(password, salt, 1000, 64, 'sha512')), salt: b64(salt), iterations: 1000 },
      { algorithm: 'scrypt', hash: b64(scryptSync(password, salt, 64, { N: 1024, r: 8, p: 1 })), salt: b64(salt), iterations: 1024 },
      // URL-safe base64, as some exports write it.
      { algorithm: 'pbkdf2-sha256', hash: pbkdf2Sync(password, salt, 10, 32, 'sha256').toString('base64url'), salt: salt.toString('base64url'), iterations: 10 },
    ];
    for (const input of inputs) {
      const stored = storedFormOf(input);
      assert.equal(await verifyAnyHash(stored, password), true, `${input.algorithm}: ${stored}`);
      assert.equal(await verifyAnyHash(stored, `${password}!`), false, input.algorithm);
      assert.equal(await verifyAnyHash(stored, ''), false, input.algorithm);
    }
    assert.match(storedFormOf(inputs[2]!), /^\$pbkdf2-sha256\$i=1000\$/);
    assert.match(storedFormOf(inputs[4]!), /^\$scrypt\$ln=10,r=8,p=1\$/);
    assert.equal(isForeignHash(storedFormOf(inputs[0]!)), true);
    assert.equal(isForeignHash(storedFormOf(inputs[1]!)), false, 'argon2id is ours: its cost decides (needsRehash)');
  });

  test('a damaged or unknown stored hash never verifies and never throws', async () => {
    for (const stored of ['', 'plain', '$2a$04$tooshort', '$pbkdf2-sha256$i=1000$AAAA$', '$scrypt$ln=40,r=8,p=1$AAAA$AAAA', '$argon2id$v=19$m=1,t=1,p=1$x$y', '$md5$abc']) {
      assert.equal(await verifyAnyHash(stored, 'anything'), false, stored);
    }
  });

  test('bad input names the field; costs past the bounds are refused', () => {
    const field = (input: unknown) => {
      try {
        storedFormOf(input);
      } catch (error) {
        assert.ok(error instanceof HashFormatError, String(error));
        return error.field;
      }
      assert.fail(`accepted ${JSON.stringify(input)}`);
    };
    const key = b64(Buffer.alloc(32, 1));
    assert.equal(field({ algorithm: 'sha1', hash: 'x' }), 'algorithm');
    assert.equal(field({ hash: 'x' }), 'algorithm');
    assert.equal(field({ algorithm: 'bcrypt' }), 'hash');
    assert.equal(field({ algorithm: 'bcrypt', hash: '$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW' }), 'hash');
    assert.equal(field({ algorithm: 'bcrypt', hash: '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', salt: 'x' }), 'salt');
    assert.equal(field({ algorithm: 'argon2id', hash: '$argon2id$v=19$m=9999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA' }), 'hash');
    assert.equal(field({ algorithm: 'argon2id', hash: '$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA' }), 'hash');
    assert.equal(field({ algorithm: 'pbkdf2-sha256', hash: key, iterations: 1000 }), 'salt');
    assert.equal(field({ algorithm: 'pbkdf2-sha256', hash: key, salt: 'not base64!', iterations: 1000 }), 'salt');
    assert.equal(field({ algorithm: 'pbkdf2-sha256', hash: key, salt: key }), 'iterations');
    assert.equal(field({ algorithm: 'pbkdf2-sha512', hash: key, salt: key, iterations: 50_000_000 }), 'iterations');
    assert.equal(field({ algorithm: 'scrypt', hash: key, salt: key, iterations: 1000 }), 'iterations');
    assert.equal(field({ algorithm: 'scrypt', hash: key, salt: key, iterations: 2 ** 20, block_size: 8 }), 'iterations');
    assert.equal(field({ algorithm: 'scrypt', hash: key, salt: key, parallelism: 0 }), 'parallelism');
    assert.equal(field({ algorithm: 'scrypt', hash: key, salt: key, cost: 1 }), 'cost');
    assert.equal(field('bcrypt'), '');
  });

  test('impossible travel measures the great-circle distance', () => {
    const berlin = { latitude: 52.52, longitude: 13.405 };
    const boston = { latitude: 42.36, longitude: -71.06 };
    const km = distanceKm(berlin, boston);
    assert.ok(km > 6050 && km < 6120, `Berlin–Boston is about 6085 km: ${km}`);
    assert.equal(distanceKm(berlin, berlin), 0);
    assert.equal(Math.round(distanceKm({ latitude: 0, longitude: 179.5 }, { latitude: 0, longitude: -179.5 })), 111, 'across the antimeridian');
  });
});
