// Canonical forms of identifiers, so "Ann@Example.COM " and "ann@example.com" are one account.

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const PHONE = /^\+[1-9][0-9]{6,14}$/;

// Control characters (NUL above all: PostgreSQL refuses it in text) never belong in an identifier.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** True when the text holds a control character: such an identifier matches no account. */
export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

export function normalizeEmail(raw: string): string {
  return raw.normalize('NFC').trim().toLowerCase();
}

export function isValidEmail(email: string): boolean {
  return email.length <= 320 && EMAIL.test(email) && !CONTROL.test(email);
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
  return raw.includes('@') ? { kind: 'email', value: normalizeEmail(raw) } : { kind: 'username', value: normalizeUsername(raw) };
}
