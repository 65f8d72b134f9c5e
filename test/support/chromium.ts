// A real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for the journeys
// that need JavaScript: one browser per suite, a fresh context (profile, cookies) per journey.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Nothing leaves loopback: no QUIC, no update, sync or background fetches of the browser's own.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches Chromium; throws (the suite FAILS, it does not skip) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`the browser tests need Chromium at ${CHROMIUM_PATH} (Debian: apt-get install -y chromium; or set CHROMIUM_PATH)`);
  }
  // playwright gives every launch a fresh temporary --user-data-dir and removes it on close.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, chromiumSandbox: false, args: ARGS });
}

/** A CSP violation the page reported, from the DOM event or from the console. */
export interface CspViolation {
  url: string;
  text: string;
}

/** A document (page or frame) the browser received, with the headers that govern it. */
export interface DocumentResponse {
  url: string;
  status: number;
  contentType: string;
  csp: string | null;
}

export interface JourneyPage {
  context: BrowserContext;
  page: Page;
  /** Every CSP violation reported by any page of this context so far. */
  violations: CspViolation[];
  /** Every document the page received so far (redirects included), in order. */
  documents: DocumentResponse[];
  close(): Promise<void>;
}

/**
 * A page in a fresh context that records CSP violations two ways: the console line Chromium writes
 * ("Refused to ... because it violates the following Content Security Policy directive") and the
 * securitypolicyviolation event, reported through a binding installed before any page script runs.
 */
export async function openJourney(browser: Browser): Promise<JourneyPage> {
  const context = await browser.newContext();
  const violations: CspViolation[] = [];
  await context.exposeBinding('__reportCspViolation', ({ frame }, text: string) => {
    violations.push({ url: frame.url(), text });
  });
  // Runs in the page (a string: this project compiles without the DOM types).
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (event) => {
    window.__reportCspViolation(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline'));
  });`);
  const page = await context.newPage();
  page.on('console', (message: ConsoleMessage) => {
    if (/Content Security Policy/i.test(message.text())) violations.push({ url: page.url(), text: message.text() });
  });
  const documents: DocumentResponse[] = [];
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'document') return;
    const headers = response.headers();
    documents.push({ url: response.url(), status: response.status(), contentType: headers['content-type'] ?? '', csp: headers['content-security-policy'] ?? null });
  });
  return { context, page, violations, documents, close: () => context.close() };
}
