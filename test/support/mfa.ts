// Helpers for the MFA suites: TOTP codes computed here with node:crypto (RFC 6238 / RFC 4226, an
// implementation independent of the server's otpauth), an HTTP receiver standing in for the SMS
// messenger, and the steps of the MFA pages.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alertText, type Browser, type Page } from './browser.ts';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').replace(/\s/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP with SHA-1 and 6 digits. */
export function hotp(secret: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', secret).update(message).digest();
  const offset = digest[digest.length - 1]! & 0x0f;
  const binary = ((digest[offset]! & 0x7f) << 24) | (digest[offset + 1]! << 16) | (digest[offset + 2]! << 8) | digest[offset + 3]!;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** RFC 6238 TOTP (30-second steps) for a base32 secret; `stepOffset` moves to a neighbouring step. */
export function totp(secretBase32: string, stepOffset = 0, now = Date.now()): string {
  return hotp(base32Decode(secretBase32), Math.floor(now / 30_000) + stepOffset);
}

export interface SmsReceiver {
  url: string;
  texts: Array<{ to: string; body: string }>;
  waitFor(to: string, count?: number, timeoutMs?: number): Promise<{ to: string; body: string }>;
  close(): Promise<void>;
}

/** An HTTP endpoint playing the generic SMS messenger (SMS_WEBHOOK_URL): records each {to, body}. */
export async function startSmsReceiver(): Promise<SmsReceiver> {
  const texts: Array<{ to: string; body: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { to: string; body: string };
        texts.push({ to: parsed.to, body: parsed.body });
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sms`,
    texts,
    async waitFor(to, count = 1, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mine = texts.filter((t) => t.to === to);
        if (mine.length >= count) return mine[count - 1]!;
        if (Date.now() > deadline) throw new Error(`expected ${count} texts to ${to}, got ${mine.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The 6-digit code in a mail or text body. */
export function codeIn(text: string): string {
  const match = /\b(\d{6})\b/.exec(text);
  assert.ok(match, `no 6-digit code in: ${text}`);
  return match[1]!;
}

export function isEnrolPage(page: Page): boolean {
  return page.doc.querySelector('form#mfa-enrol') !== null;
}

export function isCodePage(page: Page): boolean {
  return page.doc.querySelector('form#mfa-code input[name="code"]') !== null;
}

export function assertEnrolPage(page: Page): void {
  assert.ok(isEnrolPage(page), `expected the MFA enrolment page, got ${page.status} ${page.url} ${page.redirectedTo ?? ''}: ${alertText(page) ?? page.html.slice(0, 400)}`);
}

export function assertCodePage(page: Page): void {
  assert.ok(isCodePage(page), `expected the MFA code page, got ${page.status} ${page.url} ${page.redirectedTo ?? ''}: ${alertText(page) ?? page.html.slice(0, 400)}`);
}

/** On the enrolment page, chooses TOTP; answers the code page and the secret it shows. */
export async function enrolTotp(browser: Browser, enrolPage: Page): Promise<{ page: Page; secret: string; uri: string }> {
  assertEnrolPage(enrolPage);
  const page = await browser.submit(enrolPage, { method: 'totp' });
  assertCodePage(page);
  const secret = page.doc.querySelector('#totp-secret')?.text.trim() ?? '';
  const uri = page.doc.querySelector('#totp-uri')?.getAttribute('href') ?? '';
  assert.match(secret, /^[A-Z2-7]{16,}$/, 'the secret is shown in base32');
  return { page, secret, uri };
}

/** The recovery codes shown once after an enrolment. */
export function recoveryCodesOf(page: Page): string[] {
  return page.doc.querySelectorAll('#recovery-codes code').map((c) => c.text.trim());
}

/** The JSON a hook logged with console.log(JSON.stringify(...)) in one execution (its first line). */
export function logged(execution: { logs: string[] }): any {
  const line = execution.logs[0];
  assert.ok(line, `the execution logged something: ${JSON.stringify(execution)}`);
  return JSON.parse(line.replace(/^\[log\] /, ''));
}
