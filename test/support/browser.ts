// A minimal browser for tests: keeps cookies, follows redirects on the server's origin, reads HTML
// forms and submits them with all their hidden inputs, as a person's browser would without
// JavaScript. A redirect to another origin (the relying party's callback) stops and is returned.
import { parse, type HTMLElement } from 'node-html-parser';
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  html: string;
  doc: HTMLElement;
  /** Set when a redirect left the server's origin: the URL it pointed to. */
  redirectedTo: string | null;
}

export interface FormData {
  action: string;
  method: string;
  fields: Record<string, string>;
}

export class Browser {
  readonly jar = new CookieJar();
  readonly origin: string;
  readonly headers: Record<string, string>;

  constructor(origin: string, headers: Record<string, string> = {}) {
    this.origin = new URL(origin).origin;
    this.headers = headers;
  }

  async get(url: string): Promise<Page> {
    return this.#request(new URL(url, this.origin).toString(), { method: 'GET' });
  }

  async post(url: string, fields: Record<string, string>): Promise<Page> {
    return this.#request(new URL(url, this.origin).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Reads a form of the page: the first one, or the one matching `selector`. */
  form(page: Page, selector = 'form'): FormData {
    const form = page.doc.querySelector(selector);
    if (!form) throw new Error(`no form "${selector}" on ${page.url} (status ${page.status}):\n${page.html.slice(0, 2000)}`);
    const fields: Record<string, string> = {};
    for (const input of form.querySelectorAll('input')) {
      const name = input.getAttribute('name');
      if (!name) continue;
      const type = (input.getAttribute('type') ?? 'text').toLowerCase();
      if ((type === 'checkbox' || type === 'radio') && !input.hasAttribute('checked')) continue;
      if (type === 'submit') continue;
      fields[name] = input.getAttribute('value') ?? (type === 'checkbox' ? 'on' : '');
    }
    for (const select of form.querySelectorAll('select')) {
      const name = select.getAttribute('name');
      const option = select.querySelector('option[selected]') ?? select.querySelector('option');
      if (name && option) fields[name] = option.getAttribute('value') ?? option.text;
    }
    const id = form.getAttribute('id');
    const action = new URL(form.getAttribute('action') ?? page.url, page.url).toString();
    return { action, method: (form.getAttribute('method') ?? 'GET').toUpperCase(), fields: { ...fields, ...(id ? {} : {}) } };
  }

  /** Fills and submits a form of the page, keeping its hidden inputs. */
  async submit(page: Page, values: Record<string, string> = {}, selector = 'form'): Promise<Page> {
    const form = this.form(page, selector);
    const fields = { ...form.fields, ...values };
    if (form.method === 'GET') {
      const url = new URL(form.action);
      for (const [k, v] of Object.entries(fields)) url.searchParams.set(k, v);
      return this.get(url.toString());
    }
    return this.post(form.action, fields);
  }

  async #request(url: string, init: { method: string; headers?: Record<string, string>; body?: string }, hops = 0): Promise<Page> {
    if (hops > 20) throw new Error('too many redirects');
    const cookie = await this.jar.getCookieString(url);
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...this.headers, ...init.headers, ...(cookie ? { cookie } : {}), accept: 'text/html' },
    });
    for (const setCookie of response.headers.getSetCookie()) await this.jar.setCookie(setCookie, url, { ignoreError: true });
    if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
      await response.arrayBuffer();
      const next = new URL(response.headers.get('location')!, url).toString();
      if (new URL(next).origin !== this.origin) {
        return { url, status: response.status, html: '', doc: parse(''), redirectedTo: next };
      }
      return this.#request(next, { method: 'GET' }, hops + 1);
    }
    const html = await response.text();
    return { url, status: response.status, html, doc: parse(html), redirectedTo: null };
  }
}

/** The text of the page's role="alert" element, or null. */
export function alertText(page: Page): string | null {
  return page.doc.querySelector('[role="alert"]')?.text.trim() ?? null;
}
