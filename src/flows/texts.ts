// Every text the hosted pages and mails show, keyed by id, in the language of the request running now
// (i18n/locales.ts: ui_locales, then Accept-Language, then the application's default, then English).
// The catalogs are in src/i18n/catalogs (English the source). `{name}` marks a parameter; t() checks
// at compile time that each is given.
import { CATALOGS } from '../i18n/catalogs/index.ts';
import { EN, type TextId } from '../i18n/catalogs/en.ts';
import { currentLocale } from '../i18n/locales.ts';

type Texts = typeof EN;
export type { TextId };

/** The parameter names of a text: 'Back to {app}' → 'app'. */
type Params<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Params<Rest> : never;
type ParamArgs<I extends TextId> = [Params<Texts[I]>] extends [never] ? [] : [Record<Params<Texts[I]>, string | number>];

/** The ids of the texts without parameters. */
export type PlainTextId = { [I in TextId]: ParamArgs<I> extends [] ? I : never }[TextId];

/** Fills the {parameters} of a text; `encode` is applied to each value (HTML for th() in templates). */
export function fill(text: string, values: Record<string, unknown> | undefined, encode: (value: string) => string = String): string {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) && values[name] != null ? encode(String(values[name])) : whole));
}

/** The raw text of an id in the current language (English when the id is unknown there), or undefined. */
export function lookup(id: string): string | undefined {
  if (!Object.hasOwn(EN, id)) return undefined;
  const catalog = CATALOGS[currentLocale()];
  return catalog[id as TextId] ?? EN[id as TextId];
}

/** The text `id`, its parameters filled in. */
export function t<I extends TextId>(id: I, ...params: ParamArgs<I>): string {
  const text = lookup(id);
  if (text === undefined) throw new Error(`no text with the id ${id}`);
  return fill(text, params[0] as Record<string, string | number> | undefined);
}

/** The text of an id built from data (a scope's, say), without parameters; `fallback` when there is none. */
export function textOr(id: string, fallback: string): string {
  return lookup(id) ?? fallback;
}
