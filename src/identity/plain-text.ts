// The rule for name-like text (a person's or an application's name, a username, a phone number):
// anything that can reach a mail, a page or a header. Control characters (C0 with CR, LF and TAB,
// DEL, C1), the Unicode line and paragraph separators, and the bidirectional marks, embeddings,
// overrides and isolates are refused: they split headers and log lines, or make a name read
// differently from what it holds ("Trent\u202Enimda" shows as "Trentadmin").
import { ValidationError } from '../errors.ts';

const UNSAFE = /[\p{Cc}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

const UNSAFE_TEXT_PROBLEM = 'must not contain control characters, line breaks or bidirectional overrides';

/** True when the text holds a character that no name may hold. */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE.test(text);
}

/** Refuses, with a ValidationError naming `field`, a name holding a character no name may hold. */
export function assertPlainText(field: string, text: string): void {
  if (UNSAFE.test(text)) throw new ValidationError(field, UNSAFE_TEXT_PROBLEM);
}

/** A stored name made safe for a mail subject: each such character becomes a space (older records). */
export function plainText(text: string): string {
  return text.replace(UNSAFE_ALL, ' ').replace(/\s+/g, ' ').trim();
}
