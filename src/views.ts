// Page and mail templates (nunjucks). HTML pages are auto-escaped; mail bodies are plain text.
// Their wording comes from the catalogs (flows/texts.ts), in the language of the request:
// {{ t('id', {param: value}) }} prints a text (escaped in pages like any value); {{ th('id', {...}) }}
// prints one whose catalog text holds markup (<strong>), its parameters HTML-escaped.
import nunjucks from 'nunjucks';
import { join } from 'node:path';
import { VIEWS_DIR } from './paths.ts';
import { fill, lookup } from './flows/texts.ts';
import { currentLocale, dirOf } from './i18n/locales.ts';

function text(id: string, params?: Record<string, unknown>): string {
  const found = lookup(id);
  if (found === undefined) throw new Error(`no text with the id ${id}`);
  return fill(found, params);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function markup(id: string, params?: Record<string, unknown>): nunjucks.runtime.SafeString {
  const found = lookup(id);
  if (found === undefined) throw new Error(`no text with the id ${id}`);
  return new nunjucks.runtime.SafeString(fill(found, params, escapeHtml));
}

const pages = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache: false }), {
  autoescape: true,
  throwOnUndefined: false,
});
pages.addGlobal('t', text);
pages.addGlobal('th', markup);

const mails = new nunjucks.Environment(new nunjucks.FileSystemLoader(join(VIEWS_DIR, 'mail'), { noCache: false }), {
  autoescape: false,
});
mails.addGlobal('t', text);

/** Renders views/<name>.njk with the given context; every value is HTML-escaped. */
export function renderPage(name: string, context: Record<string, unknown>): string {
  const lang = currentLocale();
  return pages.render(`${name}.njk`, { lang, dir: dirOf(lang), ...context });
}

/** Renders views/mail/<name>.txt; returns the subject (first line) and the body (the rest). */
export function renderMail(name: string, context: Record<string, unknown>): { subject: string; text: string } {
  const rendered = mails.render(`${name}.txt`, { lang: currentLocale(), ...context });
  const [subject = '', ...rest] = rendered.split('\n');
  return { subject: subject.replace(/^Subject:\s*/i, '').trim(), text: rest.join('\n').trim() + '\n' };
}
