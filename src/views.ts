// Page and mail templates (nunjucks). HTML pages are auto-escaped; mail bodies are plain text, and
// each mail also gets an HTML alternative: the text body wrapped in one HTML layout
// (views/mail/layout.html.njk, auto-escaped) with the application's brand. An operator's templates
// folder (TEMPLATES_DIR) is searched first: a file there of a built-in mail's name, or the layout's,
// replaces it, and a <name>.html.njk there draws that one mail's HTML part instead of the layout.
// Their wording comes from the catalogs (flows/texts.ts), in the language of the request:
// {{ t('id', {param: value}) }} prints a text (escaped in pages like any value); {{ th('id', {...}) }}
// prints one whose catalog text holds markup (<strong>), its parameters HTML-escaped.
import nunjucks from 'nunjucks';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VIEWS_DIR } from './paths.ts';
import { contrastText } from './flows/theme.ts';
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

const BUILT_IN_MAILS = join(VIEWS_DIR, 'mail');

/** The mail environments of a templates folder (null: the built-in ones alone), text and HTML. */
const mailEnvironments = new Map<string, { text: nunjucks.Environment; html: nunjucks.Environment }>();

function mailEnvironment(templatesDir: string | null | undefined): { text: nunjucks.Environment; html: nunjucks.Environment } {
  const key = templatesDir ?? '';
  let found = mailEnvironments.get(key);
  if (!found) {
    const searchPaths = templatesDir ? [templatesDir, BUILT_IN_MAILS] : [BUILT_IN_MAILS];
    found = {
      text: new nunjucks.Environment(new nunjucks.FileSystemLoader(searchPaths, { noCache: false }), { autoescape: false }),
      html: new nunjucks.Environment(new nunjucks.FileSystemLoader(searchPaths, { noCache: false }), { autoescape: true, throwOnUndefined: false }),
    };
    found.text.addGlobal('t', text);
    found.html.addGlobal('t', text);
    mailEnvironments.set(key, found);
  }
  return found;
}

/** Renders views/<name>.njk with the given context; every value is HTML-escaped. */
export function renderPage(name: string, context: Record<string, unknown>): string {
  const lang = currentLocale();
  return pages.render(`${name}.njk`, { lang, dir: dirOf(lang), ...context });
}

/** What a mail's HTML part shows of the application: its name, https logo and colour (src/flows/kit.ts Brand). */
export interface MailBrand {
  name: string;
  logo_uri: string | null;
  primary_color: string | null;
}

export interface MailOptions {
  /** The operator's templates folder (TEMPLATES_DIR), searched before the built-in templates. */
  templatesDir?: string | null;
  /** The application the mail is sent for; null: Tessera's own look. */
  brand?: MailBrand | null;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** A block of the HTML part: a paragraph of lines, the link as a button, or the one-time code. */
type MailBlock = { kind: 'text'; lines: string[] } | { kind: 'button'; href: string } | { kind: 'code'; code: string };

const COLOR = /^#[0-9a-fA-F]{6}$/;

/** The text body as blocks: paragraphs at blank lines; the paragraph that is the link becomes a button. */
function blocksOf(text: string, link: string | null, code: string | null): MailBlock[] {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph.length > 0)
    .map((paragraph): MailBlock => {
      if (link && paragraph === link && /^https?:\/\//i.test(link)) return { kind: 'button', href: link };
      if (code && paragraph === code) return { kind: 'code', code };
      return { kind: 'text', lines: paragraph.split('\n') };
    });
}

/**
 * Renders views/mail/<name>.txt (or the operator's file of that name); returns the subject (first
 * line), the text body (the rest) and the HTML part (the layout around the same body).
 */
export function renderMail(name: string, context: Record<string, unknown>, options: MailOptions = {}): RenderedMail {
  const env = mailEnvironment(options.templatesDir);
  const rendered = env.text.render(`${name}.txt`, { lang: currentLocale(), ...context });
  const [subject = '', ...rest] = rendered.split('\n');
  const mail = { subject: subject.replace(/^Subject:\s*/i, '').trim(), text: rest.join('\n').trim() + '\n' };
  const link = typeof context.link === 'string' ? context.link : typeof context.signInLink === 'string' ? context.signInLink : null;
  const code = typeof context.code === 'string' ? context.code : null;
  const brand = options.brand ?? null;
  const color = brand?.primary_color && COLOR.test(brand.primary_color) ? brand.primary_color : '#2457d6';
  // An operator's <name>.html.njk, when the folder holds one, draws that mail's HTML part itself.
  const own = options.templatesDir && existsSync(join(options.templatesDir, `${name}.html.njk`)) ? `${name}.html.njk` : 'layout.html.njk';
  const html = env.html.render(own, {
    lang: currentLocale(),
    ...context,
    mail: { name, subject: mail.subject, blocks: blocksOf(mail.text, link, code) },
    brand: {
      name: brand?.name ?? (typeof context.appName === 'string' ? context.appName : 'Tessera'),
      logo_uri: brand?.logo_uri && /^https:\/\//i.test(brand.logo_uri) ? brand.logo_uri : null,
      color,
      color_text: contrastText(color),
    },
  });
  return { ...mail, html };
}
