// Every catalog by language. A language is added here, in LOCALES (../locales.ts) and with its file.
import type { Locale } from '../locales.ts';
import { DE } from './de.ts';
import { EN, type Catalog } from './en.ts';
import { ES } from './es.ts';
import { FR } from './fr.ts';

export const CATALOGS: Record<Locale, Catalog> = { en: EN, fr: FR, de: DE, es: ES };
