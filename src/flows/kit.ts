// What every flow module shares: reading the interaction, the journey's state, rendering a page
// (with the application's branding and the form token), calling the lifecycle, mailing.
import type { RouterMiddleware } from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import type { ValidationError } from '../errors.ts';
import type { Knex } from 'knex';
import type { UserChanges } from '../hooks/catalog/decisions.ts';
import type { EventName, EventPayloads, MessageType } from '../hooks/catalog/events.ts';
import { changeWithHooks, HookDenied, type ChangeRun } from '../hooks/change.ts';
import type { LifecycleContext, LifecycleOutcome } from '../hooks/lifecycle.ts';
import type { ActionTokenKind, ActionTokens, TokenState } from '../identity/action-tokens.ts';
import type { ConsentService } from '../identity/consents.ts';
import { plainText } from '../identity/plain-text.ts';
import { publicUser, type User } from '../identity/users.ts';
import type { SendResult } from '../messaging/courier.ts';
import { Throttle } from '../identity/throttle.ts';
import type { Application } from '../oidc/applications.ts';
import type { Services } from '../services.ts';
import { renderMail, renderPage } from '../views.ts';
import { EqualTime } from './equal-time.ts';
import type { FlowState, FlowStates, JourneyFacts } from './state.ts';
import type { JourneyEvent } from './steps.ts';
import { t } from './texts.ts';
import { bindLocale, currentLocale, learnLocale } from '../i18n/locales.ts';
import { interactionClientId } from '../oidc/adapter.ts';
import { ACCOUNT_CLIENT_ID, brandableClient } from '../account/client.ts';
import { requestLocation } from '../geo/request.ts';
import { PASSKEY_PAGE_POLICY } from '../http/csp.ts';
import { themeCss, themeVersion } from './theme.ts';

export interface PageLink {
  href: string;
  text: string;
}

/**
 * A page-level problem: rendered as an error page with the message in role="alert". `wayBack`: the
 * page has no sign-in to go on with, so it links back to the application (wayBack) instead.
 */
export class FlowError extends Error {
  readonly status: number;
  readonly title: string;
  readonly links: PageLink[];
  readonly wayBack: boolean;

  constructor(status: number, title: string, message: string, links: PageLink[] = [], options: { wayBack?: boolean } = {}) {
    super(message);
    this.status = status;
    this.title = title;
    this.links = links;
    this.wayBack = options.wayBack ?? false;
  }
}

export interface Brand {
  client_id: string;
  name: string;
  logo_uri: string | null;
  primary_color: string | null;
  /** The theme stylesheet's version (src/flows/theme.ts), null when the application sets no theme. */
  theme: string | null;
  /** Replaces the pages' "Secured by Tessera" footer; null: the default. */
  footer_text: string | null;
  /** Where "Back to <name>" goes from a page with no pending sign-in; null: no such page known. */
  back_uri: string | null;
  /** Whether the hosted pages offer sign-up for this application (`registration: "open"`). */
  sign_up: boolean;
}

const COLOR = /^#[0-9a-fA-F]{6}$/;

export function brandOf(app: Pick<Application, 'client_id' | 'name' | 'branding' | 'initiate_login_uri' | 'post_logout_redirect_uris' | 'registration'>): Brand {
  const logo = app.branding.logo_uri;
  const css = themeCss(app.branding);
  return {
    client_id: app.client_id,
    // The account page's own client is "Your account" in the request's language, unless renamed.
    name: app.branding.display_name || (app.client_id === ACCOUNT_CLIENT_ID ? t('account.title') : app.name),
    // https only (what the CSP's img-src admits; an older http logo is left out rather than blocked).
    logo_uri: logo && /^https:\/\//i.test(logo) ? logo : null,
    primary_color: app.branding.primary_color && COLOR.test(app.branding.primary_color) ? app.branding.primary_color : null,
    theme: css ? themeVersion(css) : null,
    footer_text: app.branding.footer_text ? plainText(app.branding.footer_text) || null : null,
    // Only URIs the application registered, never one from the request: no open redirect. Without
    // initiate_login_uri, the first post-logout URI (a page of the application meant for people,
    // unlike a redirect URI, which expects a code) is the best way back there is.
    back_uri: app.initiate_login_uri ?? app.post_logout_redirect_uris.find((uri) => /^https?:\/\//i.test(uri)) ?? null,
    sign_up: app.registration !== 'closed',
  };
}

/**
 * The issuer label of an authenticator app's entry: the application's name when enrolment happens
 * through one, undefined (the server's MFA_TOTP_ISSUER) otherwise. Colons would split the label.
 */
export function totpIssuerOf(brand: Brand | null | undefined): string | undefined {
  const name = brand ? plainText(brand.name).replaceAll(':', ' ').trim().slice(0, 100) : '';
  return name || undefined;
}

/** The link of a page with no pending sign-in: back to the application, or to this server's home. */
export function wayBack(brand: Brand | null | undefined): PageLink {
  return brand?.back_uri ? { href: brand.back_uri, text: t('page.back-to-app', { app: brand.name }) } : { href: '/', text: t('page.home') };
}

/** The step is over when the interaction has moved on to another prompt (a back button, a second tab). */
export function assertPrompt(details: Interaction, name: 'login' | 'consent'): void {
  if (details.prompt.name !== name) {
    throw new FlowError(400, t('page.step-over.title'), t('page.step-over'), [{ href: `/interaction/${details.uid}`, text: t('page.continue') }]);
  }
}

declare module 'koa' {
  interface DefaultState {
    brand?: Brand | null;
    /** The "Continue with …" buttons of the identify and registration pages (flows/external-login.ts). */
    externalProviders?: Array<{ href: string; label: string; preset: string | null }>;
  }
}

/**
 * A text field of a urlencoded form body. Anything else (missing, nested, repeated) is '', and so is
 * a value holding a NUL byte, which no field needs and PostgreSQL cannot store.
 */
export function field(ctx: Context, name: string, max = 1000): string {
  const body = (ctx.request as { body?: unknown }).body;
  if (!body || typeof body !== 'object' || !Object.hasOwn(body, name)) return '';
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' && !value.includes('\u0000') ? value.slice(0, max) : '';
}

/** The message of a ValidationError without its "field: " prefix, starting with the field's label. */
export function problemText(error: ValidationError, labels: Record<string, string>): string {
  const field = error.field ?? '';
  const problem = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
  const named = labels[field] ?? field.replaceAll('_', ' ');
  const label = `${named.charAt(0).toUpperCase()}${named.slice(1)}`;
  // The identity layer's problems are English phrases; the ones a hosted form can meet are in the catalogs.
  for (const [pattern, text] of PROBLEMS) {
    const match = pattern.exec(problem);
    if (match) return text(label, match);
  }
  return `${label} ${problem}.`;
}

const PROBLEMS: Array<[RegExp, (label: string, match: RegExpExecArray) => string]> = [
  [/^is required$/, (label) => t('page.field-required', { label })],
  [/^must be at least (\d+) characters$/, (label, m) => t('problem.too-short', { label, n: m[1] ?? '' })],
  [/^must be at most (\d+) characters$/, (label, m) => t('problem.too-long', { label, n: m[1] ?? '' })],
  [/^must not be your email address$/, (label) => t('problem.is-email', { label })],
  [/^must not be your username$/, (label) => t('problem.is-username', { label })],
  [/^must not repeat a single character$/, (label) => t('problem.repeated', { label })],
  [/^is in a list of passwords exposed in data breaches/, (label) => t('problem.breached', { label })],
  [/^must be a valid email address/, (label) => t('problem.email', { label })],
  [/^must be 3 to 64 letters/, (label) => t('problem.username', { label })],
  [/^must be in E\.164 form/, (label) => t('problem.phone', { label })],
];

export class FlowKit {
  readonly services: Services;
  readonly states: FlowStates;
  readonly tokens: ActionTokens;
  readonly throttle: Throttle;
  readonly consents: ConsentService;
  /** Equal answer times for steps whose paths differ by whether an account exists. */
  readonly equalTime: EqualTime;

  constructor(services: Services) {
    this.services = services;
    this.states = services.flowStates;
    this.tokens = services.tokens;
    this.throttle = services.throttle;
    this.consents = services.consents;
    this.equalTime = new EqualTime({
      observe: (step, side, waitMs) => services.metrics.equalTimeWait.observe({ step, side }, waitMs / 1000),
    });
  }

  get issuer(): string {
    return this.services.config.issuer;
  }

  /**
   * The interaction this browser is in, which must be the one in the path. Also loads the
   * application's branding for the page. Throws a FlowError when the interaction is gone.
   */
  async interaction(ctx: Context): Promise<Interaction> {
    let details: Interaction;
    try {
      details = await this.services.provider.interactionDetails(ctx.req, ctx.res);
    } catch (error) {
      if ((error as Error).name !== 'SessionNotFound') throw error;
      throw await this.#lost(ctx);
    }
    if (details.uid !== ctx.params.uid) throw await this.#lost(ctx);
    // The language: the authorization request's ui_locales first (then Accept-Language, then the
    // application's default_locale, which brand() adds).
    learnLocale({ uiLocales: typeof details.params.ui_locales === 'string' ? details.params.ui_locales : null });
    ctx.state.brand = await this.brand(this.brandClientOf(details));
    return details;
  }

  /**
   * Whose branding the interaction's pages wear: its application's; for the account page's own
   * sign-in, the application the account page was reached from (its `tessera_brand` parameter).
   */
  brandClientOf(details: Interaction): string | null {
    const clientId = this.clientIdOf(details);
    return (clientId === ACCOUNT_CLIENT_ID && brandableClient(details.params.tessera_brand)) || clientId;
  }

  /**
   * The interaction in the path is not this browser's (another device), expired or unknown: its page
   * keeps the application's branding when the interaction is still on record, expired or not.
   */
  async #lost(ctx: Context): Promise<FlowError> {
    const uid = ctx.params.uid;
    ctx.state.brand = await this.brand(typeof uid === 'string' ? await interactionClientId(this.services.db, uid) : null);
    return this.expired();
  }

  expired(): FlowError {
    return new FlowError(400, t('page.expired.title'), t('page.expired'), [], { wayBack: true });
  }

  clientIdOf(details: Interaction): string | null {
    return typeof details.params.client_id === 'string' ? details.params.client_id : null;
  }

  /**
   * What a mailed link's token is now (ActionTokens.inspect); its page falls back to the language the
   * mail was written in, after the browser's and before the application's.
   */
  async inspectToken(kind: ActionTokenKind, token: string): Promise<TokenState> {
    const found = await this.tokens.inspect(kind, token);
    const locale = found.status === 'valid' ? found.token.locale : found.status === 'unknown' ? null : found.locale;
    if (locale) learnLocale({ linkLocale: locale });
    return found;
  }

  /** An interaction that still exists, by uid (for links back from mailed pages), or null. */
  async findInteraction(uid: string | null): Promise<Interaction | null> {
    if (!uid) return null;
    const found = await this.services.provider.Interaction.find(uid);
    if (!found || found.exp * 1000 <= Date.now()) return null;
    // A mailed link's page speaks the language its sign-in asked for (ui_locales), while it lasts.
    const uiLocales = found.params?.ui_locales;
    if (typeof uiLocales === 'string') learnLocale({ uiLocales });
    return found;
  }

  async brand(clientId: string | null): Promise<Brand | null> {
    if (!clientId) return null;
    const app = await this.services.applications.find(clientId);
    if (!app) return null;
    learnLocale({ fallback: app.default_locale });
    return brandOf(app);
  }

  async state(details: Interaction): Promise<FlowState> {
    return this.states.get(details.uid);
  }

  /** Merges facts into the journey's state and, with `event`, moves it to its next step (flows/steps.ts). */
  async updateState(details: Interaction, facts: Partial<JourneyFacts>, event?: JourneyEvent): Promise<FlowState> {
    return this.states.update(details.uid, details.exp * 1000, facts, event);
  }

  /** Renders a page of the journey: never cached, with the form token and the branding. */
  render(ctx: Context, view: string, vars: Record<string, unknown> = {}, status = 200): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('cache-control', 'no-store');
    ctx.vary('accept-language'); // its language may come from there (i18n/locales.ts)
    // A page that offers a passkey loads its one script (public/passkeys.js); the others run none.
    if (vars.passkeyOptions) ctx.set('content-security-policy', PASSKEY_PAGE_POLICY);
    ctx.body = renderPage(view, { csrf: ctx.state.csrf ?? '', brand: ctx.state.brand ?? null, externalProviders: ctx.state.externalProviders ?? [], ...vars });
  }

  renderError(ctx: Context, error: FlowError): void {
    const links = error.wayBack ? [...error.links, wayBack(ctx.state.brand)] : error.links;
    this.render(ctx, 'message', { title: error.title, alert: error.message, links }, error.status);
  }

  /** Redirects within this server after a POST (see other). */
  seeOther(ctx: Context, path: string): void {
    if (!path.startsWith('/') || path.startsWith('//')) throw new Error('only local paths');
    ctx.status = 303;
    ctx.redirect(path);
  }

  lifecycleContext(ctx: Context, clientId: string | null): LifecycleContext {
    // The language the pages and mails of this request speak (i18n/locales.ts).
    const locale = currentLocale();
    return { applicationId: clientId, ip: ctx.ip || null, userAgent: ctx.get('user-agent') || null, locale, location: requestLocation(ctx, this.services.locator) };
  }

  /**
   * One lifecycle point: the single call into the hook engine. A denial (a hook's api.deny, or the
   * generic message of a sync hook that failed with on_error "fail") stops the journey with its
   * message in role="alert", unless the caller shows it on its own page (`handleDenial`).
   */
  async hook<E extends EventName>(ctx: Context, event: E, payload: EventPayloads[E], clientId: string | null, options: { handleDenial?: boolean } = {}): Promise<LifecycleOutcome<E>> {
    const outcome = await this.services.lifecycle.run(event, payload, this.lifecycleContext(ctx, clientId));
    if (outcome.denied && !options.handleDenial) {
      throw new FlowError(403, t('page.denied.title'), outcome.denied.message);
    }
    return outcome;
  }

  /**
   * A change an after_* event reports (hooks/change.ts): its sync hooks run first, then `commit` in one
   * transaction with their enrich actions. A hook's denial writes nothing and ends here as a page with
   * its message in role="alert" (`links`: where the page leads on).
   */
  async change<T>(ctx: Context, clientId: string | null, runs: ChangeRun[], commit: (trx: Knex.Transaction, changes: UserChanges) => Promise<T>, links: PageLink[] = []): Promise<T> {
    try {
      return await changeWithHooks(this.services, runs, this.lifecycleContext(ctx, clientId), commit);
    } catch (error) {
      if (error instanceof HookDenied) throw new FlowError(403, t('page.denied.title'), error.message, links, { wayBack: links.length === 0 });
      throw error;
    }
  }

  /**
   * Sends a templated mail through the courier (before_message_send, then the durable message
   * queue; the SMTP hand-over is not waited for). Resolves to what the courier did, or null when the
   * mail could not be queued (logged): a page that says "check your email" awaits it and says so
   * only when it is not null. Never rejects, so a caller that must not let its answer's timing tell
   * whether a mail went out (whether an account exists) may leave it running.
   * `vars.user` is the recipient's account; `vars.link` (or `signInLink`) the link the mail carries.
   */
  async mail(ctx: Context, template: string, to: string, vars: Record<string, unknown>, message: { type: MessageType; ttlSeconds?: number }): Promise<SendResult | null> {
    const log = ctx.state.log ?? this.services.log;
    try {
      // Names are checked on the way in; a record older than that rule still never breaks a header.
      const appName = plainText(ctx.state.brand?.name ?? 'Tessera');
      const mail = renderMail(template, { issuer: this.issuer, appName, ...vars }, { templatesDir: this.services.config.templatesDir, brand: ctx.state.brand ?? null });
      const user = (vars.user as User | undefined) ?? null;
      const link = typeof vars.link === 'string' ? vars.link : typeof vars.signInLink === 'string' ? vars.signInLink : null;
      const clientId = ctx.state.brand?.client_id ?? null;
      return await this.services.courier.send(
        {
          type: message.type,
          channel: 'email',
          to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          link,
          expiresAt: message.ttlSeconds ? Date.now() + message.ttlSeconds * 1000 : null,
          user: user ? publicUser(user) : null,
          applicationId: clientId,
        },
        this.lifecycleContext(ctx, clientId),
      );
    } catch (err) {
      log.error({ err, template }, 'mail could not be queued');
      return null;
    }
  }

  /**
   * Runs `work` once the answer has gone out (or the client went away), so that its time is not
   * part of the answer's. It is not durable: a crash before it ends loses it (logged otherwise).
   */
  afterAnswer(ctx: Context, what: string, work: () => Promise<void>): void {
    const log = ctx.state.log ?? this.services.log;
    let started = false;
    // Bound to this request's language: a mail sent then speaks it too.
    const run = bindLocale(() => {
      if (started) return;
      started = true;
      work().catch((err: unknown) => log.error({ err }, `${what} failed after the answer`));
    });
    ctx.res.once('finish', run);
    ctx.res.once('close', run);
  }

  /** The user's consents as hooks see them: {key: granted}. */
  async consentMap(userId: string): Promise<Record<string, boolean>> {
    return Object.fromEntries((await this.consents.list(userId)).map((c) => [c.key, c.granted]));
  }

  /**
   * Counts one account mail (activation, "already registered", reset, username) for a recipient
   * and for the client asking, and answers whether it may go out: both must be inside their limit
   * for the window. `recipient` is the canonical address (or `username:<name>` before the account
   * is known); all kinds of mail share one count, so mixing them sends no more. Callers count before
   * looking the account up and show the same page either way: a throttled request only sends nothing.
   */
  async mayMail(ctx: Context, recipient: string): Promise<boolean> {
    const { mailsPerAddress, mailsPerIp } = this.services.config.throttle;
    const addressAllowed = await this.throttle.hit(Throttle.key('mail', recipient), mailsPerAddress);
    const clientAllowed = await this.throttle.hit(Throttle.key('mail-ip', ctx.ip || 'unknown'), mailsPerIp);
    return addressAllowed && clientAllowed;
  }
}

export function humanDuration(seconds: number): string {
  if (seconds % 86400 === 0) return seconds === 86400 ? t('duration.day') : t('duration.days', { n: seconds / 86400 });
  if (seconds % 3600 === 0) return seconds === 3600 ? t('duration.hour') : t('duration.hours', { n: seconds / 3600 });
  if (seconds >= 60 && seconds % 60 === 0) return seconds === 60 ? t('duration.minute') : t('duration.minutes', { n: seconds / 60 });
  return t('duration.seconds', { n: seconds });
}

/** The middleware every page route runs first: page errors, form parsing, the CSRF check. */
export type Guard = Array<RouterMiddleware>;
