// Languages (CONTRACT §10): every hosted page and mail speaks the language the authorization request
// asked for (ui_locales), else the browser's (Accept-Language), else the application's default_locale,
// else English; <html lang dir> says which. A real relying party (openid-client) starts the journeys;
// the mails arrive at a real SMTP server; hooks see the chosen language as event.request.locale.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertText, Browser, type Page } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { accountSignIn } from './support/account.ts';
import { CALLBACK, authorizationUrl, discoverClient, exchangeCode, type RelyingParty } from './support/rp.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { linkIn, startSmtpReceiver, type SmtpReceiver } from './support/smtp.ts';

const PASSWORD = 'a long enough password 1';

const lang = (page: Page) => page.doc.querySelector('html')?.getAttribute('lang');
const dir = (page: Page) => page.doc.querySelector('html')?.getAttribute('dir');
const h1 = (page: Page) => page.doc.querySelector('h1')?.text.trim() ?? '';
const label = (page: Page, name: string) => page.doc.querySelector(`label[for="f-${name}"]`)?.text.trim() ?? '';

for (const kind of databaseKinds()) {
  describe(`languages of the hosted pages and mails (${kind})`, () => {
    let server: TestServer;
    let smtp: SmtpReceiver;
    let english: RelyingParty;
    let spanishDefault: RelyingParty;

    const application = async (name: string, extra: Record<string, unknown> = {}) => {
      const made = await server.admin('POST', '/applications', {
        name,
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        ...extra,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body;
    };

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      const plain = await application('Notes');
      assert.equal(plain.default_locale, 'en', 'an application speaks English unless told otherwise');
      english = await discoverClient(server.url, plain.client_id, null);
      const spanish = await application('Tienda', { default_locale: 'es' });
      assert.equal(spanish.default_locale, 'es');
      spanishDefault = await discoverClient(server.url, spanish.client_id, null);
      // The language a hook sees: the one the pages speak.
      const hook = await server.admin('POST', '/hooks', {
        name: 'locale probe',
        event: 'before_registration',
        mode: 'sync',
        code: "export default async function (event, api) { api.user.setMetadata('locale', event.request.locale); }",
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    it('the discovery document lists the languages; default_locale is checked and can change', async () => {
      const discovery = (await (await fetch(new URL('/.well-known/openid-configuration', server.url))).json()) as { ui_locales_supported?: string[] };
      assert.deepEqual(discovery.ui_locales_supported, ['en', 'fr', 'de', 'es']);
      const bad = await server.admin('POST', '/applications', { name: 'Bad', redirect_uris: [CALLBACK], default_locale: 'klingon' });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /default_locale/);
      const made = await application('Changing');
      const changed = await server.admin('PATCH', `/applications/${made.client_id}`, { default_locale: 'de' });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(changed.body.default_locale, 'de');
      const refused = await server.admin('PATCH', `/applications/${made.client_id}`, { default_locale: 'fr-FR' });
      assert.equal(refused.status, 400);
      assert.match(JSON.stringify(refused.body), /default_locale/);
      assert.equal((await server.admin('GET', `/applications/${made.client_id}`)).body.default_locale, 'de');
    });

    it('ui_locales=fr: French from identify through registration to the activation mail, then sign-in; it wins over Accept-Language', async () => {
      // The browser prefers German, the application asks for French: French it is.
      const browser = new Browser(server.url, { 'accept-language': 'de-DE,de;q=0.9' });
      const start = await authorizationUrl(english, { ui_locales: 'fr-CA fr' });
      const identify = await browser.get(start.url.toString());
      assert.equal(identify.status, 200);
      assert.equal(lang(identify), 'fr');
      assert.equal(dir(identify), 'ltr');
      assert.equal(h1(identify), 'Connexion');
      assert.match(label(identify, 'identifier'), /Adresse e-mail ou nom d’utilisateur/);
      assert.match(identify.html, /Mot de passe oublié/);
      assert.match(identify.html, /Sécurisé par Tessera/);

      const registerHref = identify.doc.querySelector('a[href$="/register"]')?.getAttribute('href');
      assert.ok(registerHref);
      const register = await browser.get(registerHref);
      assert.equal(lang(register), 'fr');
      assert.equal(h1(register), 'Créez votre compte');
      assert.equal(label(register, 'given_name'), 'Prénom (facultatif)');

      // The identity layer's problem, in French.
      const tooShort = await browser.submit(register, { email: 'lea@example.com', password: 'court', given_name: 'Léa', family_name: 'Martin' });
      assert.equal(tooShort.status, 400);
      assert.equal(alertText(tooShort), 'Le mot de passe doit contenir au moins 8 caractères.');

      const sent = await browser.submit(tooShort, { email: 'lea@example.com', password: PASSWORD, given_name: 'Léa', family_name: 'Martin' });
      assert.equal(sent.status, 200, alertText(sent) ?? '');
      assert.equal(lang(sent), 'fr');
      assert.equal(h1(sent), 'Consultez votre messagerie');
      assert.match(sent.doc.querySelector('main')?.text ?? '', /Nous avons envoyé un e-mail à lea@example\.com/);

      const user = (await server.admin('GET', '/users?email=lea@example.com')).body[0];
      assert.equal(user.metadata.locale, 'fr', 'event.request.locale is the chosen language');

      const mail = await smtp.waitFor('lea@example.com', /\/activate\//);
      assert.equal(mail.subject, 'Activez votre compte Notes');
      assert.match(mail.text, /^Bonjour Léa,/);
      assert.match(mail.text, /Ouvrez ce lien pour confirmer votre adresse e-mail/);
      assert.match(mail.text, /expire dans 24 heures/);
      assert.doesNotMatch(mail.text, /Hello|Thank you/);

      // The link's page: the sign-in it belongs to is still open, so it keeps its French.
      const activated = await browser.get(linkIn(mail, `${server.url}/activate/`));
      assert.equal(activated.status, 200);
      assert.equal(lang(activated), 'fr');
      assert.equal(h1(activated), 'Votre adresse e-mail est confirmée');
      const onward = activated.doc.querySelector('a[href^="/interaction/"]')?.getAttribute('href');
      assert.ok(onward);

      const back = await browser.get(onward);
      assert.equal(lang(back), 'fr');
      const passwordPage = await browser.submit(back, { identifier: 'lea@example.com' });
      assert.equal(h1(passwordPage), 'Saisissez votre mot de passe');
      const wrong = await browser.submit(passwordPage, { password: 'not the password' });
      assert.equal(alertText(wrong), 'L’adresse e-mail, le nom d’utilisateur ou le mot de passe est incorrect.');
      const done = await browser.submit(wrong, { password: PASSWORD });
      assert.ok(done.redirectedTo?.startsWith(CALLBACK), `${done.status} ${done.url}: ${alertText(done)}`);
      const tokens = await exchangeCode(english, start, done.redirectedTo!);
      assert.equal(tokens.claims()?.email, 'lea@example.com');
    });

    it('Accept-Language: de gives German pages and a German reset mail; its link page follows the browser', async () => {
      await server.admin('POST', '/users', { email: 'jonas@example.com', password: PASSWORD, email_verified: true, given_name: 'Jonas' });
      const browser = new Browser(server.url, { 'accept-language': 'de-AT,de;q=0.9,en;q=0.5' });
      const start = await authorizationUrl(english);
      const identify = await browser.get(start.url.toString());
      assert.equal(lang(identify), 'de');
      assert.equal(h1(identify), 'Anmelden');
      const forgotHref = identify.doc.querySelector('a[href$="/forgot-password"]')?.getAttribute('href');
      assert.ok(forgotHref);
      const forgot = await browser.get(forgotHref);
      assert.equal(h1(forgot), 'Passwort zurücksetzen');
      const asked = await browser.submit(forgot, { identifier: 'jonas@example.com' });
      assert.equal(lang(asked), 'de');
      assert.match(asked.doc.querySelector('main')?.text ?? '', /läuft in 1 Stunde ab|läuft in \d+ (Minuten|Stunden) ab/);

      const mail = await smtp.waitFor('jonas@example.com', /\/reset-password\//);
      assert.equal(mail.subject, 'Setzen Sie Ihr Passwort für Notes zurück');
      assert.match(mail.text, /^Hallo Jonas,/);
      const reset = await browser.get(linkIn(mail, `${server.url}/reset-password/`));
      assert.equal(reset.status, 200);
      assert.equal(lang(reset), 'de');
      assert.equal(h1(reset), 'Neues Passwort wählen');
      assert.equal(label(reset, 'password'), 'Neues Passwort');
    });

    it('an unknown language falls back to the application’s default, then to English', async () => {
      const headers = { 'accept-language': 'ja-JP,pt;q=0.8' };
      const spanish = await new Browser(server.url, headers).get((await authorizationUrl(spanishDefault, { ui_locales: 'tlh' })).url.toString());
      assert.equal(lang(spanish), 'es');
      assert.equal(h1(spanish), 'Iniciar sesión');
      assert.match(spanish.html, /¿Olvidaste tu contraseña\?/);
      // A language we speak, asked for, still wins over the default.
      const french = await new Browser(server.url, { 'accept-language': 'pt, fr;q=0.5' }).get((await authorizationUrl(spanishDefault)).url.toString());
      assert.equal(lang(french), 'fr');
      const plain = await new Browser(server.url, headers).get((await authorizationUrl(english, { ui_locales: 'tlh' })).url.toString());
      assert.equal(lang(plain), 'en');
      assert.equal(h1(plain), 'Sign in');
      // No header at all: English, as every other test in the suite expects.
      const bare = await new Browser(server.url).get((await authorizationUrl(english)).url.toString());
      assert.equal(lang(bare), 'en');
    });

    it('hook messages are shown as the hook gave them, inside a page in the chosen language', async () => {
      const hook = await server.admin('POST', '/hooks', {
        name: 'deny one',
        event: 'before_registration',
        mode: 'sync',
        code: "export default async function (event, api) { if (event.user.email === 'no@example.com') api.deny('Registrations closed today / heute geschlossen.'); }",
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const browser = new Browser(server.url, { 'accept-language': 'es' });
      const identify = await browser.get((await authorizationUrl(english)).url.toString());
      const register = await browser.get(identify.doc.querySelector('a[href$="/register"]')!.getAttribute('href')!);
      assert.equal(h1(register), 'Crea tu cuenta');
      const denied = await browser.submit(register, { email: 'no@example.com', password: PASSWORD, given_name: 'No', family_name: 'Body' });
      assert.equal(lang(denied), 'es');
      assert.equal(alertText(denied), 'Registrations closed today / heute geschlossen.');
      await server.admin('DELETE', `/hooks/${hook.body.id}`);
    });

    it('the account page follows Accept-Language', async () => {
      await server.admin('POST', '/users', { email: 'ines@example.com', password: PASSWORD, email_verified: true, given_name: 'Inés' });
      const browser = new Browser(server.url, { 'accept-language': 'es-ES,es;q=0.9' });
      const identify = await browser.get('/account');
      assert.equal(lang(identify), 'es');
      assert.equal(h1(identify), 'Iniciar sesión');
      assert.equal(identify.doc.querySelector('.brand-name')?.text.trim(), 'Tu cuenta', 'the account page’s own name, in the language');
      const passwordPage = await browser.submit(identify, { identifier: 'ines@example.com' });
      const page = await browser.submit(passwordPage, { password: PASSWORD });
      assert.equal(new URL(page.url).pathname, '/account', `${page.status} ${page.url}: ${alertText(page)}`);
      assert.equal(lang(page), 'es');
      assert.equal(h1(page), 'Tu cuenta');
      assert.match(page.doc.querySelector('#h-security')?.text ?? '', /Verificación en dos pasos/);
      assert.match(page.html, /Sesión iniciada como <strong>ines@example\.com<\/strong>/);

      // The same account in English for a browser that asks for nothing.
      const { page: plain } = await accountSignIn(server, 'ines@example.com', PASSWORD);
      assert.equal(lang(plain), 'en');
      assert.equal(h1(plain), 'Your account');

      // An email change: the mail is in Spanish, and so is its link's page in a browser that asks for
      // no language (the mail app's): it falls back to the language the mail was written in.
      const sent = await browser.submit(page, { email: 'ines.nueva@example.com' }, '#email-form');
      assert.equal(sent.status, 200, alertText(sent) ?? '');
      assert.match(sent.doc.querySelector('[role="status"]')?.text ?? '', /Enviamos un enlace a ines\.nueva@example\.com/);
      const mail = await smtp.waitFor('ines.nueva@example.com', /\/account\/email\//);
      assert.equal(mail.subject, 'Confirma tu nueva dirección de correo de Tessera');
      assert.match(mail.text, /^Hola, Inés:/);
      const elsewhere = new Browser(server.url);
      const question = await elsewhere.get(linkIn(mail, `${server.url}/account/email/`));
      assert.equal(question.status, 200);
      assert.equal(lang(question), 'es');
      assert.equal(h1(question), 'Confirma tu nueva dirección de correo');
      const confirmed = await elsewhere.submit(question, {}, '#email-confirm');
      assert.equal(confirmed.status, 200, alertText(confirmed) ?? '');
      assert.equal(h1(confirmed), 'Se cambió tu dirección de correo');
      const notice = await smtp.waitFor('ines@example.com', /ines\.nueva@example\.com/);
      assert.equal(notice.subject, 'Se cambió la dirección de correo de tu cuenta de Tessera');
      // A browser that asks for German still gets German on such a link (Accept-Language comes first).
      const used = await new Browser(server.url, { 'accept-language': 'de' }).get(linkIn(mail, `${server.url}/account/email/`));
      assert.equal(lang(used), 'de');
      assert.equal(alertText(used), 'Dieser Bestätigungslink wurde bereits verwendet.');
    });
  });
}
