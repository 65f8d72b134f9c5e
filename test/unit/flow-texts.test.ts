// The hosted journeys' text catalog (flows/texts.ts), without a server: parameters filled in, a
// missing parameter refused by the compiler, and no text in the catalog that no flow shows.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { t, textOr } from '../../src/flows/texts.ts';

describe('flow texts', () => {
  it('fills in parameters, each where it stands', () => {
    assert.equal(t('page.back-to-app', { app: 'Acme {app}' }), 'Back to Acme {app}');
    assert.equal(t('mfa.sms.body', { code: '123456', app: 'Acme', expiresIn: '10 minutes' }), '123456 is your Acme sign-in code. It expires in 10 minutes. Never share it.');
    assert.equal(t('duration.days', { n: 3 }), '3 days');
    assert.equal(t('login.password.wrong'), 'The email address, username or password is not correct.');
  });

  it('knows a text by an id built from data, and falls back for one it does not know', () => {
    assert.equal(textOr('consent.scope.email', 'email'), 'See your email address');
    assert.equal(textOr('consent.scope.payments', 'payments'), 'payments');
    assert.equal(textOr('consent.scope.__proto__', '__proto__'), '__proto__');
  });

  it('a missing or misspelt parameter or id does not compile', () => {
    // @ts-expect-error: the parameter `app` is missing
    assert.equal(t('page.back-to-app'), 'Back to {app}');
    // @ts-expect-error: no such id
    assert.throws(() => t('login.password.wrng').length);
  });

  it('every text of the catalog is shown by a flow, the account page or a template', () => {
    const catalog = readFileSync(new URL('../../src/i18n/catalogs/en.ts', import.meta.url), 'utf8');
    const ids = [...catalog.matchAll(/^ {2}'([a-z0-9_.-]+)': /gm)].map((m) => m[1]!);
    assert.ok(ids.length > 300);
    // The journeys (src/flows/), the account page (src/account/), the provider's own pages and the templates show them.
    const read = (folder: string, ext: string) => {
      const dir = new URL(folder, import.meta.url);
      return readdirSync(dir)
        .filter((f) => f.endsWith(ext) && f !== 'texts.ts')
        .map((f) => readFileSync(new URL(f, dir), 'utf8'));
    };
    const code = [
      ...read('../../src/flows/', '.ts'),
      ...read('../../src/account/', '.ts'),
      ...read('../../views/', '.njk'),
      ...read('../../views/mail/', '.txt'),
      readFileSync(new URL('../../src/oidc/provider.ts', import.meta.url), 'utf8'),
    ].join('\n');
    const unused = ids.filter((id) => !code.includes(`'${id}'`) && !(id.startsWith('consent.scope.') && code.includes('`consent.scope.${')));
    assert.deepEqual(unused, []);
  });
});
