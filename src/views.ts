// Page and mail templates (nunjucks). HTML pages are auto-escaped; mail bodies are plain text.
import nunjucks from 'nunjucks';
import { join } from 'node:path';
import { VIEWS_DIR } from './paths.ts';

const pages = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache: false }), {
  autoescape: true,
  throwOnUndefined: false,
});

const mails = new nunjucks.Environment(new nunjucks.FileSystemLoader(join(VIEWS_DIR, 'mail'), { noCache: false }), {
  autoescape: false,
});

/** Renders views/<name>.njk with the given context; every value is HTML-escaped. */
export function renderPage(name: string, context: Record<string, unknown>): string {
  return pages.render(`${name}.njk`, context);
}

/** Renders views/mail/<name>.txt; returns the subject (first line) and the body (the rest). */
export function renderMail(name: string, context: Record<string, unknown>): { subject: string; text: string } {
  const rendered = mails.render(`${name}.txt`, context);
  const [subject = '', ...rest] = rendered.split('\n');
  return { subject: subject.replace(/^Subject:\s*/i, '').trim(), text: rest.join('\n').trim() + '\n' };
}
