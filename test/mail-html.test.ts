// Mails with an HTML part, through the real server and the real SMTP receiver: every mail is
// multipart/alternative, its text part exactly the plain-text template as before, its HTML part the
// same paragraphs in one layout with the application's brand (name, https logo, colour; the link as
// a button; everything escaped). An operator's templates folder (TEMPLATES_DIR) replaces a mail's
// text template and the HTML layout by files of the same names; a folder that does not exist stops
// the server at start.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'node-html-parser';
import { ConfigError, loadConfig } from '../src/config.ts';
import { humanDuration } from '../src/flows/kit.ts';
import { renderMail } from '../src/views.ts';
import { Browser } from './support/browser.ts';
import { databaseKinds } from './support/databases.ts';
import { createTestUser, REDIRECT_URI, startLogin } from './support/hosted-pages.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSmtpReceiver, type ReceivedMail, type SmtpReceiver } from './support/smtp.ts';

const BRAND = { display_name: 'Acme & <Notes>', logo_uri: 'https://cdn.example.com/acme.png', primary_color: '#0b6e4f' };

function linkIn(mail: ReceivedMail, prefix: string): string {
  const link = mail.text.split('\n').find((line) => line.startsWith(prefix));
  assert.ok(link, `a link starting with ${prefix} in ${mail.text}`);
  return link.trim();
}

for (const kind of databaseKinds()) {
  describe(`HTML mails (${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let clientId: string;

    before(async () => {
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url } });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', branding: BRAND });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      clientId = app.body.client_id;
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    it('an invitation is multipart/alternative: the text part unchanged, the HTML part branded and escaped', async () => {
      const email = 'ivy@example.com';
      const created = await server.admin('POST', '/invitations', { email, application: clientId, given_name: 'Ivy <b>' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const mail = await smtp.waitFor(email, /invited/i);
      assert.match(mail.contentType, /^multipart\/alternative/);
      const link = linkIn(mail, `${server.url}/invitation/`);

      // The text part is the plain-text template exactly, as it was before there was an HTML part.
      const expected = renderMail('invitation', {
        issuer: server.url,
        appName: BRAND.display_name,
        user: { email, given_name: 'Ivy <b>' },
        link,
        expiresIn: humanDuration(server.server.services.config.ttl.invitationSeconds),
      });
      assert.equal(mail.subject, expected.subject);
      assert.equal(mail.text.trim(), expected.text.trim());
      assert.doesNotMatch(mail.text, /<a |<p|&amp;|&lt;/, 'no markup in the text part');

      assert.ok(mail.html, 'an HTML part');
      const doc = parse(mail.html);
      assert.ok(mail.html.includes('Acme &amp; &lt;Notes&gt;'), 'the name is escaped');
      assert.ok(!mail.html.includes('<Notes>') && !mail.html.includes('Ivy <b>'), 'nothing unescaped');
      assert.equal(doc.querySelector('img')?.getAttribute('src'), BRAND.logo_uri);
      const buttons = doc.querySelectorAll('a').filter((a) => a.getAttribute('href') === link);
      assert.ok(buttons.length >= 1, 'the link is in the HTML part');
      assert.match(buttons[0]!.getAttribute('style') ?? '', /background:#0b6e4f/, 'the button wears the brand colour');
      assert.equal(buttons[0]!.text.trim(), expected.subject, 'the button says what the mail is for');
      // Every paragraph of the text is a paragraph of the HTML part.
      const paragraphs = doc.querySelectorAll('p').map((p) => p.text.replace(/\s+/g, ' ').trim());
      for (const paragraph of expected.text.trim().split(/\n\s*\n/)) {
        if (paragraph.trim() === link) continue;
        assert.ok(paragraphs.includes(paragraph.replace(/\s+/g, ' ').trim()), `"${paragraph}" in ${JSON.stringify(paragraphs)}`);
      }
    });

    it("a mail sent from a hosted page wears that page's application brand", async () => {
      const email = 'reset@example.com';
      await createTestUser(server, { email, password: 'reset password 1' });
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const sent = await browser.submit(await browser.get(`/interaction/${uid}/forgot-password`), { identifier: email });
      assert.equal(sent.status, 200);
      const mail = await smtp.waitFor(email, /reset/i);
      assert.match(mail.contentType, /^multipart\/alternative/);
      assert.ok(mail.html?.includes('Acme &amp; &lt;Notes&gt;'));
      assert.ok(mail.html?.includes(`href="${linkIn(mail, server.url)}"`));
      assert.doesNotMatch(mail.text, /<p|<a |<table|&amp;/, 'no markup in the text part');
    });
  });

  describe(`operator templates (TEMPLATES_DIR, ${kind})`, () => {
    let smtp: SmtpReceiver;
    let server: TestServer;
    let dir: string;
    let clientId: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-templates-'));
      await writeFile(join(dir, 'invitation.txt'), 'Subject: Join {{ appName }} today\nWelcome aboard, {{ user.email }}!\n\n{{ link }}\n\nSee you soon.\n');
      await writeFile(
        join(dir, 'layout.html.njk'),
        '<!doctype html><html><body><h1 id="operator">{{ brand.name }}</h1>{% for block in mail.blocks %}{% if block.kind == "button" %}<a id="go" href="{{ block.href }}">Go</a>{% else %}<p>{{ block.lines | join(" ") }}</p>{% endif %}{% endfor %}</body></html>\n',
      );
      await writeFile(join(dir, 'username.html.njk'), '<!doctype html><p id="own">Your {{ appName }} username: {{ user.username }}</p>\n');
      smtp = await startSmtpReceiver();
      server = await startTestServer(kind, { env: { SMTP_URL: smtp.url, TEMPLATES_DIR: dir } });
      const app = await server.admin('POST', '/applications', { name: 'Notes', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', branding: { display_name: 'Acme Notes' } });
      clientId = app.body.client_id;
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("a file of a built-in mail's name replaces it, and the layout file replaces the HTML layout", async () => {
      const email = 'op@example.com';
      const created = await server.admin('POST', '/invitations', { email, application: clientId });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const mail = await smtp.waitFor(email, /Join/);
      assert.equal(mail.subject, 'Join Acme Notes today');
      const link = linkIn(mail, `${server.url}/invitation/`);
      assert.equal(mail.text.trim(), `Welcome aboard, ${email}!\n\n${link}\n\nSee you soon.`);
      const doc = parse(mail.html ?? '');
      assert.equal(doc.querySelector('#operator')?.text, 'Acme Notes');
      assert.equal(doc.querySelector('#go')?.getAttribute('href'), link);
      assert.deepEqual(
        doc.querySelectorAll('p').map((p) => p.text),
        [`Welcome aboard, ${email}!`, 'See you soon.'],
      );
    });

    it('a mail the folder does not hold keeps its built-in text, in the operator layout', async () => {
      const email = 'builtin@example.com';
      await createTestUser(server, { email, password: 'builtin password 1' });
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      await browser.submit(await browser.get(`/interaction/${uid}/forgot-password`), { identifier: email });
      const mail = await smtp.waitFor(email, /reset/i);
      assert.equal(mail.subject, 'Reset your Acme Notes password');
      assert.ok(parse(mail.html ?? '').querySelector('#operator'), 'the operator layout');
    });

    it("a <name>.html.njk draws that mail's HTML part instead of the layout; its text part stays built in", async () => {
      const email = 'named@example.com';
      await createTestUser(server, { email, username: 'named_one', password: 'named password 1' });
      const browser = new Browser(server.url);
      const { uid } = await startLogin(browser, server, clientId);
      const sent = await browser.submit(await browser.get(`/interaction/${uid}/forgot-username`), { email });
      assert.equal(sent.status, 200);
      const mail = await smtp.waitFor(email, /username/i);
      assert.equal(mail.subject, 'Your Acme Notes username');
      assert.match(mail.text, /Your username is: named_one/);
      const doc = parse(mail.html ?? '');
      assert.equal(doc.querySelector('#own')?.text, 'Your Acme Notes username: named_one');
      assert.equal(doc.querySelector('#operator'), null, 'not the layout');
    });

    it('a TEMPLATES_DIR that does not exist stops the server at start', () => {
      assert.throws(
        () => loadConfig({ ...server.env, TEMPLATES_DIR: join(dir, 'missing') }),
        (error: unknown) => error instanceof ConfigError && /TEMPLATES_DIR/.test(error.message),
      );
    });
  });
}
