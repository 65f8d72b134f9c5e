// The languages the hosted pages and mails speak, and which one a request gets: the authorization
// request's ui_locales (kept with its interaction), then the browser's Accept-Language (parsed by
// negotiator, through koa's ctx.acceptsLanguages()), then the application's default_locale, then
// English. A tag matches by its language ("fr-CA" → fr). The choice lives in an AsyncLocalStorage for
// the request, so that every text (flows/texts.ts t()), page and mail rendered while it runs uses it.
import { AsyncLocalStorage } from 'node:async_hooks';

export const LOCALES = ['en', 'fr', 'de', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** The language we speak that a BCP 47 tag asks for, or null ("de-AT" → de; "*", "xx" → null). */
export function localeOf(tag: string): Locale | null {
  let language: string;
  try {
    language = new Intl.Locale(tag.trim()).language.toLowerCase();
  } catch {
    return null;
  }
  return isLocale(language) ? language : null;
}

/** The first tag of `tags` (most wanted first) that we speak, or null. */
export function firstSpoken(tags: readonly string[]): Locale | null {
  for (const tag of tags) {
    const locale = localeOf(tag);
    if (locale) return locale;
  }
  return null;
}

/** What a request's language is chosen from: the first that names a language we speak wins. */
export interface LocaleChoice {
  /** The authorization request's ui_locales (space-separated tags), when the page belongs to one. */
  uiLocales?: string | null;
  /** The browser's Accept-Language, most wanted first. */
  accepted?: readonly string[];
  /** The language of the mail whose link opened the page (a token's). */
  linkLocale?: string | null;
  /** The application's default_locale. */
  fallback?: string | null;
}

export function negotiate(choice: LocaleChoice): Locale {
  const ui = typeof choice.uiLocales === 'string' ? choice.uiLocales.split(/\s+/).filter(Boolean) : [];
  return firstSpoken(ui) ?? firstSpoken(choice.accepted ?? []) ?? (isLocale(choice.linkLocale) ? choice.linkLocale : null) ?? (isLocale(choice.fallback) ? choice.fallback : DEFAULT_LOCALE);
}

/** Languages written right to left (none of ours yet; a catalog added for one gets dir="rtl"). */
const RTL = new Set(['ar', 'fa', 'he', 'ur', 'ps', 'yi', 'dv', 'ku']);

export function dirOf(locale: string): 'ltr' | 'rtl' {
  return RTL.has(locale) ? 'rtl' : 'ltr';
}

const store = new AsyncLocalStorage<LocaleChoice>();

/** Runs `work` with a request's language choice (http/middleware.ts, for every request). */
export function withLocaleChoice<T>(choice: LocaleChoice, work: () => T): T {
  return store.run(choice, work);
}

/**
 * Adds what the request learns on its way (its interaction's ui_locales, its application's default)
 * to its language choice. Outside a request (a background job), it does nothing.
 */
export function learnLocale(facts: Pick<LocaleChoice, 'uiLocales' | 'linkLocale' | 'fallback'>): void {
  const choice = store.getStore();
  if (!choice) return;
  if (facts.uiLocales !== undefined) choice.uiLocales = facts.uiLocales;
  if (facts.linkLocale !== undefined) choice.linkLocale = facts.linkLocale;
  if (facts.fallback !== undefined) choice.fallback = facts.fallback;
}

/** The language of the request running now; English outside one. */
export function currentLocale(): Locale {
  const choice = store.getStore();
  return choice ? negotiate(choice) : DEFAULT_LOCALE;
}

/** Runs `work` in a fixed language (a mail for someone whose language is known, say). */
export function inLocale<T>(locale: Locale, work: () => T): T {
  return store.run({ fallback: locale }, work);
}

/** `work` bound to the language choice of the request running now (for work done after its answer). */
export function bindLocale<A extends unknown[], R>(work: (...args: A) => R): (...args: A) => R {
  return AsyncLocalStorage.bind(work);
}
