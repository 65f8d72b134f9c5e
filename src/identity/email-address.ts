// The one rule for email addresses: which ones an account may have, and the canonical form stored.
// Only plain addresses the mailer delivers to the same mailbox are accepted (no display names,
// groups, lists, quoted or commented parts), and look-alikes fold or are refused, so that one mailbox
// cannot be registered twice under forms a person cannot tell apart.
//
// Canonical form: NFKC (full-width "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ" is "ann@example.com"), all lower case (the
// local part too, as stored since the first release: RFC 5321 lets a server tell "Ann" from "ann",
// but mail services in practice do not, and keeping case now would split existing accounts), the
// domain in Unicode form after UTS #46 (so "xn--bcher-kva.de" and "bücher.de" are one domain).
import { domainToASCII, domainToUnicode } from 'node:url';

export type EmailCheck = { ok: true; email: string } | { ok: false; problem: string };

// RFC 5321 limits: a path of 256 octets including the angle brackets, a local part of 64.
const MAX_LENGTH = 254;
const MAX_LOCAL = 64;

// Control characters anywhere; invisible characters that UTS #46 would silently drop from a domain
// (soft hyphen, zero-width space/joiners, word joiner, invisible operators, BOM) or that reorder text.
const CONTROL = /\p{Cc}/u;
// biome-ignore lint/suspicious/noMisleadingCharacterClass: each code point here is refused on its own (U+034F is an invisible joiner, listed deliberately)
const INVISIBLE = /[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u;
// What makes an address more than one plain mailbox to a mail parser: lists, groups, display names,
// comments, quoting, domain literals, whitespace.
const SYNTAX = /[\s,<>:;"()[\]\\]/u;
// RFC 5322 dot-atom of ASCII atext: letters, digits and these symbols, dots only between them.
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LDH_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const UNICODE_LABEL = /^[\p{L}\p{M}\p{Nd}-]+$/u;

// The scripts a domain label may be written in. A label uses one of them (digits and hyphens are
// common to all), or one of the CJK combinations that UTS #39 "highly restrictive" allows.
const SCRIPTS = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Hebrew',
  'Arabic',
  'Syriac',
  'Thaana',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Tibetan',
  'Myanmar',
  'Georgian',
  'Hangul',
  'Ethiopic',
  'Khmer',
  'Mongolian',
  'Han',
  'Hiragana',
  'Katakana',
];
const SCRIPT_SETS: string[][] = [...SCRIPTS.map((script) => [script]), ['Latin', 'Han', 'Hiragana', 'Katakana'], ['Latin', 'Han', 'Bopomofo'], ['Latin', 'Han', 'Hangul']];
const SINGLE_SCRIPT = SCRIPT_SETS.map((set) => new RegExp(`^[${set.map((s) => `\\p{Script=${s}}`).join('')}\\p{Script=Common}\\p{Script=Inherited}]+$`, 'u'));
// Cyrillic and Greek lower-case letters that look like Latin ones: a label spelled only with these
// (a whole-script look-alike such as Cyrillic "аре.com" for "ape.com") is refused.
const LATIN_LOOKALIKES = /^[аеорсухѕіјһԁԛԝӏүкοαρνικυχ0-9-]+$/u;

// Every problem keeps the one message callers have always shown, and says which part is wrong.
const fail = (detail: string): EmailCheck => ({ ok: false, problem: `must be a valid email address (${detail})` });

/** Checks an address as typed and answers its canonical form, or what is wrong with it. */
export function checkEmail(raw: string): EmailCheck {
  // Invisible characters are looked for before trimming: trim() would drop a byte order mark.
  if (INVISIBLE.test(raw)) return fail('no invisible characters such as zero-width spaces, joiners or direction marks');
  const trimmed = raw.trim();
  if (!trimmed) return { ok: false, problem: 'is required' };
  if (CONTROL.test(trimmed)) return fail('no control characters or line breaks');
  const text = trimmed.normalize('NFKC').toLowerCase();
  if (SYNTAX.test(text)) {
    return fail('one plain address like name@example.com: no spaces, quotes, commas, angle brackets, colons, semicolons, parentheses, square brackets or backslashes');
  }
  if (text.length > MAX_LENGTH) return fail(`at most ${MAX_LENGTH} characters`);
  const at = text.indexOf('@');
  if (at < 0 || at !== text.lastIndexOf('@')) return fail('exactly one @, like name@example.com');
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!local) return fail('a name before the @');
  if (local.length > MAX_LOCAL) return fail(`at most ${MAX_LOCAL} characters before the @`);
  if (!LOCAL.test(local)) {
    if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
      return fail('no dot at the start or end of the name before the @, nor two dots in a row');
    }
    return fail("only ASCII letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ - before the @");
  }
  const domainCheck = checkDomain(domain);
  if (!domainCheck.ok) return domainCheck;
  return { ok: true, email: `${local}@${domainCheck.email}` };
}

/** The part after the @: a host name of at least two labels, one script per label. */
function checkDomain(domain: string): EmailCheck {
  if (!domain) return fail('a domain after the @, like example.com');
  if (domain.endsWith('.') || domain.endsWith('。')) return fail('no dot at the end');
  if (domain.startsWith('.') || domain.includes('..')) return fail('no dot right after the @, nor two dots in a row');
  const ascii = domainToASCII(domain);
  if (!ascii) return fail('a valid domain after the @, like example.com');
  if (ascii.endsWith('.')) return fail('no dot at the end');
  const labels = ascii.split('.');
  if (ascii.length > 253 || labels.length < 2 || labels.some((label) => !LDH_LABEL.test(label))) {
    return fail('a valid domain after the @, like example.com');
  }
  if (/^[0-9]+$/.test(labels.at(-1)!)) return fail('a domain name after the @, not an IP address');
  const unicode = domainToUnicode(ascii);
  for (const label of unicode.split('.')) {
    if (/^[\x00-\x7f]*$/.test(label)) continue;
    if (!UNICODE_LABEL.test(label)) return fail('only letters, digits and hyphens in the domain');
    if (!SINGLE_SCRIPT.some((script) => script.test(label))) return fail('no mix of scripts, such as Latin and Cyrillic letters, in one part of the domain');
    if (LATIN_LOOKALIKES.test(label)) return fail('no domain spelled with Cyrillic or Greek letters that look like Latin ones');
  }
  return { ok: true, email: unicode };
}

/** The form stored before this rule (NFC, trimmed, lower case): accounts made then keep it. */
export function legacyEmailForm(raw: string): string {
  return raw.normalize('NFC').trim().toLowerCase();
}

/**
 * Every stored form an address as typed may match, most literal first: as stored before this rule,
 * canonical, and canonical with a punycode domain (some imports stored that). Login and lookups use
 * all of them, so no account made before the rule is locked out, and a look-alike of it finds it.
 */
export function emailLookupForms(raw: string): string[] {
  const forms = [legacyEmailForm(raw)];
  const checked = checkEmail(raw);
  if (checked.ok) {
    forms.push(checked.email);
    const at = checked.email.lastIndexOf('@');
    forms.push(`${checked.email.slice(0, at)}@${domainToASCII(checked.email.slice(at + 1))}`);
  }
  return [...new Set(forms)];
}
