// The language catalogs (src/i18n/catalogs), without a server: each has exactly the ids English has,
// with the same {parameters} and the same markup; every id a template names exists; and the choice of
// a language (ui_locales, then Accept-Language, then the application's default, then English).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CATALOGS } from '../../src/i18n/catalogs/index.ts';
import { EN } from '../../src/i18n/catalogs/en.ts';
import { currentLocale, dirOf, inLocale, learnLocale, LOCALES, localeOf, negotiate, withLocaleChoice } from '../../src/i18n/locales.ts';
import { t } from '../../src/flows/texts.ts';
import { renderMail, renderPage } from '../../src/views.ts';

const params = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const tags = (text: string) => [...text.matchAll(/<\/?[a-z]+>/g)].map((m) => m[0]).sort();

/** What is wrong with a catalog against English. */
function problemsOf(catalog: Record<string, string>) {
  const english = Object.keys(EN) as Array<keyof typeof EN>;
  const present = english.filter((id) => Object.hasOwn(catalog, id));
  return {
    missing: english.filter((id) => !Object.hasOwn(catalog, id)),
    extra: Object.keys(catalog).filter((id) => !Object.hasOwn(EN, id)),
    parameters: present.filter((id) => params(catalog[id]!).join() !== params(EN[id]).join()),
    markup: present.filter((id) => tags(catalog[id]!).join() !== tags(EN[id]).join()),
    empty: present.filter((id) => !catalog[id]!.trim()),
  };
}

describe('language catalogs', () => {
  it('are English, French, German and Spanish', () => {
    assert.deepEqual([...LOCALES].sort(), ['de', 'en', 'es', 'fr']);
    assert.deepEqual(Object.keys(CATALOGS).sort(), ['de', 'en', 'es', 'fr']);
  });

  for (const locale of LOCALES.filter((l) => l !== 'en')) {
    it(`${locale}: the ids of English, no more, no fewer; the same parameters and markup; none empty`, () => {
      assert.deepEqual(problemsOf(CATALOGS[locale]), { missing: [], extra: [], parameters: [], markup: [], empty: [] });
    });

    it(`${locale}: is a translation, not a copy of English`, () => {
      const catalog = CATALOGS[locale] as Record<string, string>;
      // A few texts are the same words in both (Code, Tessera's name, "1 minute"); most are not.
      const same = Object.keys(EN).filter((id) => catalog[id] === EN[id as keyof typeof EN]);
      assert.ok(same.length < Object.keys(EN).length / 20, `${same.length} texts are the English ones: ${same.slice(0, 10).join(', ')}`);
    });
  }

  it('the check finds a missing key, an extra key, a renamed parameter, changed markup, an empty text', () => {
    const broken: Record<string, string> = { ...CATALOGS.fr, 'page.back-to-app': 'Retour à {application}', 'extra.id': 'x', 'ui.reset.for': 'Pour {email}.', 'ui.or': ' ' };
    delete broken['page.home'];
    assert.deepEqual(problemsOf(broken), { missing: ['page.home'], extra: ['extra.id'], parameters: ['page.back-to-app'], markup: ['ui.reset.for'], empty: ['ui.or'] });
  });

  it('every id the templates name exists in English', () => {
    const dirs = [new URL('../../views/', import.meta.url), new URL('../../views/mail/', import.meta.url)];
    const texts = dirs.flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.njk') || f.endsWith('.txt'))
        .map((f) => readFileSync(new URL(f, dir), 'utf8')),
    );
    const named = texts.flatMap((text) => [...text.matchAll(/\bth?\('([a-z0-9_.-]+)'/g)].map((m) => m[1]!));
    assert.ok(named.length > 150);
    assert.deepEqual(
      named.filter((id) => !Object.hasOwn(EN, id)),
      [],
    );
    // Texts with markup are printed with th() (which escapes their parameters), never with t().
    const markupById = named.filter((id) => /<[a-z]/.test(EN[id as keyof typeof EN]));
    for (const text of texts) for (const id of markupById) assert.ok(!text.includes(`{{ t('${id}'`), `${id} holds markup: print it with th()`);
  });
});

describe('choosing the language', () => {
  it('ui_locales first, then Accept-Language, then the application default, then English', () => {
    assert.equal(negotiate({ uiLocales: 'fr-CA de', accepted: ['es'], fallback: 'de' }), 'fr');
    assert.equal(negotiate({ uiLocales: 'xx ja', accepted: ['de-AT', 'fr'], fallback: 'es' }), 'de');
    assert.equal(negotiate({ uiLocales: null, accepted: ['*'], fallback: 'es' }), 'es');
    // A mailed link's page: the browser's language, then the mail's, then the application's.
    assert.equal(negotiate({ accepted: ['*'], linkLocale: 'de', fallback: 'es' }), 'de');
    assert.equal(negotiate({ accepted: ['fr'], linkLocale: 'de', fallback: 'es' }), 'fr');
    assert.equal(negotiate({ accepted: [], linkLocale: 'xx', fallback: 'es' }), 'es');
    assert.equal(negotiate({ accepted: ['pt-BR', 'it'], fallback: 'nope' }), 'en');
    assert.equal(negotiate({}), 'en');
    assert.equal(localeOf('not a tag!'), null);
    assert.equal(localeOf('ES-mx'), 'es');
    assert.equal(dirOf('fr'), 'ltr');
    assert.equal(dirOf('ar'), 'rtl');
  });

  it('a request learns its interaction’s ui_locales and its application’s default on the way', () => {
    assert.equal(currentLocale(), 'en');
    withLocaleChoice({ accepted: ['ja', 'de'] }, () => {
      assert.equal(currentLocale(), 'de');
      learnLocale({ uiLocales: 'es' });
      assert.equal(currentLocale(), 'es');
      assert.equal(t('page.continue'), 'Continuar');
    });
    withLocaleChoice({ accepted: ['ja'] }, () => {
      learnLocale({ fallback: 'fr' });
      assert.equal(t('page.back-to-app', { app: 'Acme' }), 'Retour à Acme');
    });
    assert.equal(t('page.continue'), 'Continue');
  });

  it('pages carry lang and dir; th() escapes its parameters; mails are in the language', () => {
    const page = inLocale('de', () => renderPage('registered', { email: '<b>x</b>@example.com', expiresIn: '24 Stunden', uid: 'u', csrf: 'c' }));
    assert.match(page, /<html lang="de" dir="ltr">/);
    assert.match(page, /<strong>&lt;b&gt;x&lt;\/b&gt;@example.com<\/strong>/);
    assert.match(page, /E-Mail erneut senden/);
    const mail = inLocale('es', () => renderMail('activation', { appName: 'Acme', user: { given_name: 'Ana' }, link: 'https://x/activate/1', expiresIn: '24 horas' }));
    assert.equal(mail.subject, 'Activa tu cuenta de Acme');
    assert.match(mail.text, /^Hola, Ana:/);
    assert.match(mail.text, /https:\/\/x\/activate\/1/);
  });
});
