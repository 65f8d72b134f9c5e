// The pure rules, without a server: which email addresses an account may have and their canonical
// form, the forms a lookup tries, and the characters no name may hold.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkEmail, emailLookupForms } from '../../src/identity/email-address.ts';
import { isLookupEmail, normalizeEmail } from '../../src/identity/normalize.ts';
import { assertPlainText, hasUnsafeCharacters, plainText } from '../../src/identity/plain-text.ts';

const canonical = (raw: string) => {
  const checked = checkEmail(raw);
  assert.ok(checked.ok, `${JSON.stringify(raw)} accepted: ${checked.ok ? '' : checked.problem}`);
  return checked.email;
};
const problem = (raw: string) => {
  const checked = checkEmail(raw);
  assert.ok(!checked.ok, `${JSON.stringify(raw)} refused, not folded to ${checked.ok ? checked.email : ''}`);
  return checked.problem;
};

describe('email rule', () => {
  it('folds case, surrounding space and full-width forms to one canonical address', () => {
    assert.equal(canonical(' Ann@Example.COM '), 'ann@example.com');
    assert.equal(canonical('ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ'), 'ann@example.com');
    assert.equal(canonical('ＡＮＮ@example.com'), 'ann@example.com');
    assert.equal(canonical("o'brien+news@example.co.uk"), "o'brien+news@example.co.uk");
  });

  it('refuses what a mail parser reads as more than one plain mailbox', () => {
    for (const raw of [
      'a,b@example.com',
      'ann@example.com,eve@example.com',
      'Ann <ann@example.com>',
      '<ann@example.com>',
      'group:ann@example.com;',
      '"ann"@example.com',
      '"a b"@example.com',
      'ann(comment)@example.com',
      'ann@[127.0.0.1]',
      'a\\b@example.com',
      'an n@example.com',
      'ann@exa mple.com',
      'ann\t@example.com',
    ]) {
      assert.ok(problem(raw), raw);
    }
    assert.match(problem('a,b@example.com'), /^must be a valid email address \(one plain address .*commas/);
    assert.match(problem('ann@@example.com'), /exactly one @/);
    assert.match(problem('ann.example.com'), /exactly one @/);
  });

  it('refuses invisible and control characters instead of dropping them', () => {
    for (const invisible of ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u202e']) {
      assert.match(problem(`ann${invisible}@example.com`), /invisible/, `U+${invisible.codePointAt(0)!.toString(16)} in the local part`);
      assert.match(problem(`ann@exam${invisible}ple.com`), /invisible/, `U+${invisible.codePointAt(0)!.toString(16)} in the domain`);
    }
    assert.match(problem('ann@example.com\r\nBcc: eve@example.com'), /control characters/);
    assert.match(problem('ann\u0085@example.com'), /control characters/);
  });

  it('refuses dots out of place', () => {
    assert.match(problem('ann@example.com.'), /no dot at the end/);
    assert.match(problem('ann@example.com。'), /no dot at the end/);
    assert.match(problem('ann@example..com'), /two dots/);
    assert.match(problem('ann@.example.com'), /dot right after the @/);
    assert.match(problem('ann..lee@example.com'), /two dots/);
    assert.match(problem('.ann@example.com'), /dot at the start/);
    assert.match(problem('ann.@example.com'), /dot at the start or end/);
  });

  it('refuses domains that are not host names', () => {
    assert.match(problem('ann@localhost'), /valid domain/);
    assert.match(problem('ann@1.2.3.4'), /IP address/);
    assert.match(problem('ann@exa_mple.com'), /valid domain/);
    assert.match(problem('ann@-example.com'), /valid domain/);
    assert.match(problem('ann@☃.com'), /letters, digits and hyphens/);
    assert.match(problem(`${'a'.repeat(65)}@example.com`), /at most 64/);
  });

  it('accepts single-script internationalized domains, one form for punycode and Unicode', () => {
    assert.equal(canonical('ann@bücher.de'), 'ann@bücher.de');
    assert.equal(canonical('ann@XN--BCHER-KVA.de'), 'ann@bücher.de');
    assert.equal(canonical('ann@пример.рф'), 'ann@пример.рф');
    assert.equal(canonical('ann@例え.テスト.jp'), 'ann@例え.テスト.jp');
  });

  it('refuses mixed-script labels and Cyrillic or Greek spellings of Latin-looking names', () => {
    assert.match(problem('ann@\u0435xample.com'), /mix of scripts/); // Cyrillic е + Latin xample
    assert.match(problem('ann@p\u0430ypal.com'), /mix of scripts/);
    assert.match(problem('ann@xn--pypal-4ve.com'), /mix of scripts/); // the same, as punycode
    assert.match(problem('ann@\u0430\u0440\u0435.com'), /look like Latin/); // Cyrillic "аре"
    assert.match(problem('ann@\u03bf\u03bf.com'), /look like Latin/); // Greek "οο"
  });

  it('takes only ASCII before the @, where look-alikes cannot be told apart', () => {
    assert.match(problem('\u0430nn@example.com'), /only ASCII/); // Cyrillic а
    assert.match(problem('jörg@example.de'), /only ASCII/);
  });
});

describe('email lookups', () => {
  it('try the form stored before the rule first, then the canonical forms', () => {
    assert.deepEqual(emailLookupForms('ann@bücher.de'), ['ann@bücher.de', 'ann@xn--bcher-kva.de']);
    assert.deepEqual(emailLookupForms('ａnn@example.com'), ['ａnn@example.com', 'ann@example.com']);
    // An address the rule refuses still finds an account stored with it.
    assert.deepEqual(emailLookupForms('Jörg@Example.de'), ['jörg@example.de']);
  });

  it('a refused address keeps its older normal form, and a lookup of it is still allowed', () => {
    assert.equal(normalizeEmail(' Jörg@Example.de '), 'jörg@example.de');
    assert.equal(isLookupEmail('jörg@example.de'), true);
    assert.equal(isLookupEmail('ann@example.com'), true);
    assert.equal(isLookupEmail('not an address'), false);
    assert.equal(isLookupEmail('ann@example\r\n.com'), false);
  });
});

describe('plain-text rule for names', () => {
  it('refuses control characters, line and paragraph separators, and bidi controls', () => {
    for (const bad of ['\r', '\n', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069', '\u200e', '\u200f', '\u061c']) {
      const text = `Ann${bad}Lee`;
      assert.equal(hasUnsafeCharacters(text), true, `U+${bad.codePointAt(0)!.toString(16)}`);
      assert.throws(
        () => assertPlainText('given_name', text),
        (err: Error) => /^given_name: must not contain control characters/.test(err.message),
      );
    }
  });

  it('keeps letters of every script and the joiners some scripts need', () => {
    for (const good of ['Ann Lee', 'Zoë Ñúñez', 'Øyvind', 'Иван', 'محمد', 'می\u200cخواهم', '李小龙', "O'Brien-Smith"]) {
      assert.equal(hasUnsafeCharacters(good), false, good);
      assert.doesNotThrow(() => assertPlainText('given_name', good));
    }
  });

  it('makes an older stored name safe for a mail subject', () => {
    assert.equal(plainText('Acme\r\nBcc: eve@example.com'), 'Acme Bcc: eve@example.com');
    assert.equal(plainText('Acme\u202eShop'), 'Acme Shop');
  });
});
