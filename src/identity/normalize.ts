// Canonical forms of identifiers, so "Ann@Example.COM " and "ann@example.com" are one account.
// Email addresses follow the rule of email-address.ts; names that of plain-text.ts.
import { checkEmail, legacyEmailForm } from './email-address.ts';

// The shape of an address before the rule of email-address.ts; only lookups still accept it.
const LEGACY_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const PHONE = /^\+[1-9][0-9]{6,14}$/;

// Control characters (NUL above all: PostgreSQL refuses it in text) never belong in an identifier.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** True when the text holds a control character: such an identifier matches no account. */
export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** The canonical form of an address; one the rule refuses keeps the form stored before the rule. */
export function normalizeEmail(raw: string): string {
  const checked = checkEmail(raw);
  return checked.ok ? checked.email : legacyEmailForm(raw);
}

function isValidEmail(email: string): boolean {
  return checkEmail(email).ok;
}

/**
 * Whether an address typed to find an account (not to make one) is worth looking up: one the rule
 * accepts, or one of the looser shape accepted before it, which an older account may still have.
 */
export function isLookupEmail(raw: string): boolean {
  const email = legacyEmailForm(raw);
  return isValidEmail(raw) || (email.length <= 320 && LEGACY_EMAIL.test(email) && !CONTROL.test(email));
}

/** What is wrong with an address (for a ValidationError naming the field), or null. */
export function emailProblem(email: string): string | null {
  const checked = checkEmail(email);
  return checked.ok ? null : checked.problem;
}

export function normalizeUsername(raw: string): string {
  return raw.normalize('NFC').trim().toLowerCase();
}

export function isValidUsername(username: string): boolean {
  return USERNAME.test(username);
}

/** E.164, spaces and dashes removed. */
export function normalizePhone(raw: string): string {
  return raw.replace(/[\s\-().]/g, '');
}

export function isValidPhone(phone: string): boolean {
  return PHONE.test(phone);
}

/** The identifier typed on the login page: an email when it holds an @, a username otherwise. */
export function normalizeIdentifier(raw: string): { kind: 'email' | 'username'; value: string } {
  // A full-width ＠ makes an email too: the email rule folds it.
  return raw.normalize('NFKC').includes('@') ? { kind: 'email', value: normalizeEmail(raw) } : { kind: 'username', value: normalizeUsername(raw) };
}
