// atob and btoa for the isolate (forgiving-base64 of the HTML standard): pure, tested on the host
// against Node's own.
import { ErrorCtor, fromCharCode, StringCtor, TypeErrorCtor } from './intrinsics.ts';

/** The isolate's atob and btoa. */
export function makeBase64() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function invalidCharacter(message: string): Error {
    const error = new ErrorCtor(message);
    error.name = 'InvalidCharacterError';
    return error;
  }

  function btoa(data: unknown): string {
    if (arguments.length === 0) throw new TypeErrorCtor('btoa requires 1 argument');
    const s = StringCtor(data);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i);
      const b = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      const c = i + 2 < s.length ? s.charCodeAt(i + 2) : 0;
      if (a > 0xff || b > 0xff || c > 0xff) throw invalidCharacter('Invalid character: btoa takes Latin-1 text only');
      const n = (a << 16) | (b << 8) | c;
      out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (i + 1 < s.length ? alphabet[(n >> 6) & 63] : '=') + (i + 2 < s.length ? alphabet[n & 63] : '=');
    }
    return out;
  }

  function atob(data: unknown): string {
    if (arguments.length === 0) throw new TypeErrorCtor('atob requires 1 argument');
    let s = StringCtor(data).replace(/[\t\n\f\r ]/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^+/0-9A-Za-z]/.test(s)) throw invalidCharacter('The string to be decoded is not correctly encoded.');
    let out = '';
    let buffer = 0;
    let bits = 0;
    for (let i = 0; i < s.length; i++) {
      buffer = (buffer << 6) | alphabet.indexOf(s[i]!);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += fromCharCode((buffer >> bits) & 0xff);
      }
    }
    return out;
  }

  return { atob, btoa };
}
