// The administration console from a test's side: console access granted the way an operator grants
// it (the real command line, as a child process, on the server's database), a sign-in through the
// hosted pages with the form browser (password, then TOTP), and admin API calls with the session.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertText, Browser, type Page } from './browser.ts';
import { enrolTotp, isEnrolPage, recoveryCodesOf, totp } from './mfa.ts';
import type { TestServer } from './server.ts';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `tessera admin <args>` on the test server's database. */
export function tesseraAdmin(server: TestServer, args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', join(ROOT, 'src', 'cli.ts'), 'admin', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...server.env, DATABASE_URL: server.env.DATABASE_URL!, LOG_LEVEL: 'silent' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function grantConsole(server: TestServer, email: string, role: 'admin' | 'viewer' = 'admin'): Promise<void> {
  const run = await tesseraAdmin(server, ['grant', email, '--role', role]);
  assert.equal(run.code, 0, `tessera admin grant: ${run.stdout}${run.stderr}`);
}

export interface ConsoleSignIn {
  browser: Browser;
  /** The TOTP secret enrolled on the way (or given). */
  secret: string;
  /** Where the journey ended. */
  page: Page;
}

/**
 * Starts at /admin/login and walks identify, password and the second factor (enrolling TOTP when the
 * user has none, else answering a code), ending where the console's callback sends the browser.
 */
export async function consoleSignIn(server: TestServer, email: string, password: string, secret?: string): Promise<ConsoleSignIn> {
  const browser = new Browser(server.url);
  const identify = await browser.get('/admin/login');
  const passwordPage = await browser.submit(identify, { identifier: email });
  const afterPassword = await browser.submit(passwordPage, { password });
  let page: Page;
  let enrolled = secret;
  if (isEnrolPage(afterPassword)) {
    const enrol = await enrolTotp(browser, afterPassword);
    enrolled = enrol.secret;
    const codes = await browser.submit(enrol.page, { code: totp(enrol.secret) });
    assert.equal(recoveryCodesOf(codes).length, 10, `recovery codes shown: ${alertText(codes) ?? codes.html.slice(0, 300)}`);
    page = await browser.submit(codes);
  } else {
    assert.ok(enrolled, `a code is asked but no secret was given: ${alertText(afterPassword) ?? afterPassword.html.slice(0, 300)}`);
    page = await browser.submit(afterPassword, { code: totp(enrolled, 1) });
  }
  return { browser, secret: enrolled!, page };
}

/** Calls a path of the server with the browser's cookies (the console's session), as the SPA does. */
export async function withSession(browser: Browser, method: string, url: string, options: { body?: unknown; csrf?: string } = {}): Promise<{ status: number; body: any }> {
  const target = new URL(url, browser.origin).toString();
  const cookie = await browser.jar.getCookieString(target);
  const response = await fetch(target, {
    method,
    headers: {
      ...(cookie ? { cookie } : {}),
      ...(options.csrf ? { 'x-csrf-token': options.csrf } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body };
}
