// The end user's own page, /account (CONTRACT §10): hosted, server-rendered, every form a plain HTML
// form with the hosted pages' anti-CSRF token, working without JavaScript. Sections: profile, email
// change (a link to the new address confirms it), password, two-step verification, consents,
// connected applications, signed-in sessions, deleting the account. The user signs in through the
// hosted pages (src/account/sign-in.ts); email, password, factor and deletion changes need a recent
// sign-in (a step-up otherwise). Every change goes through the services the admin API and the
// journeys use (identity/, hooks/change.ts), so the same validation, hooks and webhooks apply.
//
// Pages: GET /account, GET /account/login, GET /account/callback, POST /account/logout,
// GET /account/signed-out, POST /account/{profile,email,password,consents}, POST /account/mfa/totp,
// POST /account/mfa/totp/confirm, POST /account/mfa/remove, POST /account/mfa/recovery-codes,
// POST /account/applications/revoke, POST /account/sessions/sign-out, POST /account/sessions/sign-out-all,
// GET/POST /account/delete, GET/POST /account/email/:token.
import type Router from '@koa/router';
import type { Context } from 'koa';
import QRCode from 'qrcode';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { HookDenied, run } from '../hooks/change.ts';
import { maskTarget, type Factor } from '../identity/factors.ts';
import { emailProblem, normalizeEmail } from '../identity/normalize.ts';
import { Throttle } from '../identity/throttle.ts';
import { publicUser, type User } from '../identity/users.ts';
import { amrFor } from '../oidc/acr.ts';
import { accountSessions, endAccountSessions } from '../oidc/adapter.ts';
import { updateConsents } from '../flows/consent-update.ts';
import { removeFactorsWithHooks } from '../flows/factor-removal.ts';
import { field, FlowError, humanDuration, problemText, totpIssuerOf, wayBack, type FlowKit, type Guard, type PageLink } from '../flows/kit.ts';
import { passkeyRefusal, postedCredential } from '../flows/passkey.ts';
import { newPasskeyFactorId } from '../identity/passkeys.ts';
import { t, type PlainTextId } from '../flows/texts.ts';
import { currentLocale } from '../i18n/locales.ts';
import { ACCOUNT_CLIENT_ID, brandableClient } from './client.ts';
import { AccountSignIn, type Freshness, type SignedIn } from './sign-in.ts';

/** The provider's session cookie (oidc-provider's default name): which listed session is this browser. */
const PROVIDER_SESSION_COOKIE = '_session';

const DONE: Record<string, PlainTextId> = {
  profile: 'account.done.profile',
  password: 'account.done.password',
  'password-others': 'account.done.password-others',
  'factor-added': 'account.done.factor-added',
  'passkey-added': 'account.done.passkey-added',
  'factor-removed': 'account.done.factor-removed',
  consents: 'account.done.consents',
  'app-revoked': 'account.done.app-revoked',
  'device-signed-out': 'account.done.device-signed-out',
};

/** The fields' labels in messages, in the request's language. */
const profileLabels = (): Record<string, string> => ({
  given_name: t('ui.label.given_name'),
  family_name: t('ui.label.family_name'),
  username: t('ui.label.username'),
  phone_number: t('ui.label.phone'),
  password: t('ui.label.new-password'),
  email: t('ui.label.email'),
});

/** A sign-in time as people of the request's language read it (English: as in Britain, day first). */
function when(date: Date): string {
  const locale = currentLocale();
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : locale, {
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
    timeZoneName: 'short',
  }).format(date);
}

/** The link back to the account page, in the request's language. */
const backLink = (): PageLink => ({ href: '/account', text: t('account.back') });

function factorLabel(factor: Factor): string {
  if (factor.type === 'totp') return t('ui.account.factor.totp');
  if (factor.type === 'email') return t('ui.account.factor.email', { target: maskTarget('email', factor.target) });
  if (factor.type === 'sms') return t('ui.account.factor.sms', { target: maskTarget('sms', factor.target) });
  return t('ui.account.factor.recovery');
}

export function accountRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { services } = kit;
  const { users, factors, config, db } = services;
  const signIn = new AccountSignIn(kit);

  /** The signed-in user of this browser, with the page's branding; null: the browser was sent to sign in. */
  const load = async (ctx: Context): Promise<SignedIn | null> => {
    const signedIn = await signIn.current(ctx);
    if (!signedIn) {
      const query = new URLSearchParams();
      const clientId = brandableClient(ctx.query.client_id);
      if (clientId) query.set('client_id', clientId);
      kit.seeOther(ctx, `/account/login${query.size ? `?${query}` : ''}`);
      return null;
    }
    ctx.state.brand = await kit.brand(signedIn.session.clientId);
    return signedIn;
  };

  /** The session is recent enough for the change; otherwise the browser goes to sign in again and comes back to `section`. */
  const fresh = (ctx: Context, signedIn: SignedIn, section: string, freshness: Freshness = {}): boolean => {
    if (signIn.isFresh(signedIn.session, freshness)) return true;
    kit.seeOther(ctx, signIn.stepUpUrl(section.startsWith('/') ? section : `/account#${section}`, freshness));
    return false;
  };

  const lifecycle = (ctx: Context, signedIn: SignedIn) => kit.lifecycleContext(ctx, signedIn.session.clientId);

  const accountPage = async (ctx: Context, signedIn: SignedIn, vars: Record<string, unknown> = {}, status = 200) => {
    const { user, session } = signedIn;
    const [allFactors, consents, granted, sessions] = await Promise.all([factors.list(user.id), kit.consents.list(user.id), services.access.list(user.id), accountSessions(db, user.id)]);
    const active = allFactors.filter((f) => f.status === 'active');
    const thisDevice = ctx.cookies.get(PROVIDER_SESSION_COOKIE, { signed: true }) ?? null;
    const names = new Map<string, string>();
    for (const clientId of new Set(sessions.flatMap((s) => s.client_ids))) names.set(clientId, (await services.applications.find(clientId))?.name ?? clientId);
    kit.render(
      ctx,
      'account',
      {
        title: t('account.title'),
        user,
        factors: active.filter((f) => f.type !== 'recovery_codes').map((f) => ({ id: f.id, label: factorLabel(f), created_at: f.created_at })),
        hasTotp: active.some((f) => f.type === 'totp'),
        recoveryCodesLeft: active.some((f) => f.type === 'recovery_codes') ? await factors.remainingRecoveryCodes(user.id) : null,
        consents,
        applications: granted.filter((app) => app.client_id !== ACCOUNT_CLIENT_ID && brandableClient(app.client_id)),
        sessions: sessions.map((s) => ({
          ...s,
          when: s.login_at ? when(new Date(s.login_at)) : null,
          current: s.id === thisDevice,
          apps: s.client_ids.map((id) => names.get(id) ?? id).join(', '),
        })),
        signedInAt: new Date(session.authTime).toISOString(),
        reauth: humanDuration(config.account.reauthSeconds),
        wayBack: ctx.state.brand?.back_uri ? wayBack(ctx.state.brand) : null,
        ...vars,
      },
      status,
    );
  };

  /** A page's problem shown on the account page, in role="alert", with the status of a client error. */
  const problem = (ctx: Context, signedIn: SignedIn, section: string, alert: string, status = 400, vars: Record<string, unknown> = {}) =>
    accountPage(ctx, signedIn, { alert, alertSection: section, ...vars }, status);

  const done = (ctx: Context, key: keyof typeof DONE, section: string) => kit.seeOther(ctx, `/account?done=${key}#${section}`);

  // ---- sign-in --------------------------------------------------------------------------------------

  router.get('/account/login', ...guard, (ctx) => signIn.start(ctx));
  router.get('/account/callback', ...guard, (ctx) => signIn.callback(ctx));

  router.post('/account/logout', ...guard, async (ctx) => {
    const signedIn = await signIn.current(ctx);
    const to = await signIn.signOut(ctx, signedIn);
    ctx.status = 303;
    ctx.redirect(to);
  });

  router.get('/account/signed-out', ...guard, async (ctx) => {
    kit.render(ctx, 'message', { title: t('account.signed-out.title'), status: t('account.signed-out'), links: [{ href: '/account/login', text: t('account.sign-in-again') }, wayBack(null)] });
  });

  // ---- the page ---------------------------------------------------------------------------------------

  router.get('/account', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn) return;
    // Reached from an application (?client_id=): the page wears its branding from now on.
    const clientId = brandableClient(ctx.query.client_id);
    if (clientId && clientId !== signedIn.session.clientId && (await services.applications.find(clientId))) {
      await services.account.sessions.setClient(signedIn.session.idHash, clientId);
      signedIn.session.clientId = clientId;
      ctx.state.brand = await kit.brand(clientId);
    }
    const doneKey = typeof ctx.query.done === 'string' && Object.hasOwn(DONE, ctx.query.done) ? ctx.query.done : null;
    await accountPage(ctx, signedIn, doneKey ? { status: t(DONE[doneKey]!) } : {});
  });

  // ---- profile: the admin API's validation (users.update) ------------------------------------------

  router.post('/account/profile', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn) return;
    const patch = {
      given_name: field(ctx, 'given_name', 300),
      family_name: field(ctx, 'family_name', 300),
      username: field(ctx, 'username', 300).trim(),
      phone_number: field(ctx, 'phone_number', 100).trim(),
    };
    try {
      await users.update(signedIn.user.id, patch);
    } catch (error) {
      if (error instanceof ValidationError || error instanceof ConflictError) {
        return problem(ctx, signedIn, 'profile', problemText(error as ValidationError, profileLabels()), error instanceof ConflictError ? 409 : 400, { profile: patch });
      }
      throw error;
    }
    done(ctx, 'profile', 'profile');
  });

  // ---- email: a link to the new address confirms it ---------------------------------------------------

  router.post('/account/email', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'email')) return;
    const { user } = signedIn;
    const typed = field(ctx, 'email', 400).trim();
    if (!typed || emailProblem(typed)) return problem(ctx, signedIn, 'email', t('account.email.invalid'), 400, { newEmail: typed });
    const email = normalizeEmail(typed);
    if (email === user.email) return problem(ctx, signedIn, 'email', t('account.email.same'), 400, { newEmail: typed });
    // Whether another account uses the address is told only to whoever opens the link (it reaches
    // that mailbox): the page says the same either way.
    const ttl = config.ttl.activationSeconds;
    const token = await kit.tokens.issue('email_change', user.id, { interactionUid: null, clientId: signedIn.session.clientId, locale: currentLocale() }, ttl, undefined, email);
    const link = `${kit.issuer}/account/email/${token}`;
    const sent = (await kit.mayMail(ctx, email))
      ? await kit.mail(ctx, 'email-change', email, { user, newEmail: email, link, expiresIn: humanDuration(ttl) }, { type: 'email_change', ttlSeconds: ttl })
      : { status: 'throttled' };
    if (!sent) return problem(ctx, signedIn, 'email', t('mail.not-queued'), 503, { newEmail: typed });
    await accountPage(ctx, signedIn, { status: t('account.done.email-sent', { email }) });
  });

  const emailToken = async (ctx: Context) => {
    const found = await kit.inspectToken('email_change', ctx.params.token ?? '');
    ctx.state.brand = await kit.brand(found.status === 'unknown' ? null : found.status === 'valid' ? found.token.clientId : found.clientId);
    if (found.status !== 'valid' || !found.token.data) {
      const message = found.status === 'used' ? t('account.email.used') : found.status === 'expired' ? t('account.email.expired') : t('account.email.unknown');
      throw new FlowError(400, t('account.email.unusable.title'), message, [backLink()], { wayBack: true });
    }
    return found.token;
  };

  // A GET only shows the question (mail scanners open links); the change is the form's POST.
  router.get('/account/email/:token', ...guard, async (ctx) => {
    const token = await emailToken(ctx);
    kit.render(ctx, 'account-email-confirm', { title: t('account.email.confirm.title'), question: t('account.email.confirm', { email: token.data! }), action: `/account/email/${ctx.params.token}` });
  });

  router.post('/account/email/:token', ...guard, async (ctx) => {
    const token = await emailToken(ctx);
    const before = await users.findById(token.userId);
    try {
      await db.transaction(async (trx) => {
        if (!(await kit.tokens.consume('email_change', ctx.params.token ?? '', trx)))
          throw new FlowError(400, t('account.email.unusable.title'), t('account.email.used'), [backLink()], { wayBack: true });
        await users.changeEmail(trx, token.userId, token.data!, token.clientId);
      });
      // The old address hears of it: someone who took over the session cannot move the account quietly.
      if (before && before.email !== token.data) await kit.mail(ctx, 'email-changed', before.email, { user: before, oldEmail: before.email, newEmail: token.data }, { type: 'email_changed' });
    } catch (error) {
      if (error instanceof ConflictError) throw new FlowError(409, t('account.email.unusable.title'), t('account.email.taken'), [backLink()], { wayBack: true });
      if (error instanceof NotFoundError) throw new FlowError(400, t('account.email.unusable.title'), t('account.email.unknown'), [], { wayBack: true });
      throw error;
    }
    kit.render(ctx, 'message', { title: t('account.email.done.title'), status: t('account.email.done', { email: token.data! }), links: [backLink(), wayBack(ctx.state.brand)] });
  });

  // ---- password -----------------------------------------------------------------------------------

  router.post('/account/password', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'password')) return;
    const { user, session } = signedIn;
    const current = field(ctx, 'current_password', 1000);
    const next = field(ctx, 'new_password', 1000);
    if (user.has_password && !current) return problem(ctx, signedIn, 'password', t('account.password.current-missing'));
    const key = Throttle.key('account-password', user.id);
    if (!(await kit.throttle.hit(key, config.throttle.maxFailuresPerAccount))) return problem(ctx, signedIn, 'password', t('login.throttled'), 429);
    if (user.has_password && !(await users.verifyPassword(user, current))) return problem(ctx, signedIn, 'password', t('account.password.current-wrong'));
    await kit.throttle.reset(key);
    let hash: string;
    try {
      hash = await users.hashPassword(next, { email: user.email, username: user.username });
    } catch (error) {
      if (error instanceof ValidationError) return problem(ctx, signedIn, 'password', problemText(error, profileLabels()));
      throw error;
    }
    const others = field(ctx, 'sign_out_others') !== '';
    const thisDevice = ctx.cookies.get(PROVIDER_SESSION_COOKIE, { signed: true }) ?? null;
    await db.transaction(async (trx) => {
      await users.writePassword(trx, user.id, hash, 'user.password.update', session.clientId);
      if (others) await endAccountSessions(trx, user.id, { except: thisDevice });
    });
    if (others) await services.account.sessions.closeAll(user.id, session.idHash);
    done(ctx, others ? 'password-others' : 'password', 'password');
  });

  // ---- two-step verification -----------------------------------------------------------------------

  const totpPage = async (ctx: Context, user: User, factor: Factor, vars: Record<string, unknown> = {}, status = 200) => {
    const provisioning = await factors.totpProvisioning(factor, user.email, totpIssuerOf(ctx.state.brand));
    const qr = await QRCode.toDataURL(provisioning.uri, { errorCorrectionLevel: 'M', margin: 2, width: 220 });
    kit.render(ctx, 'account-totp', { title: t('account.totp.title'), factorId: factor.id, totp: { ...provisioning, qr }, back: backLink(), ...vars }, status);
  };

  router.post('/account/mfa/totp', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'security')) return;
    const factor = await factors.startTotp(signedIn.user.id);
    await totpPage(ctx, signedIn.user, factor);
  });

  router.post('/account/mfa/totp/confirm', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'security')) return;
    const { user } = signedIn;
    const factor = await factors.find(user.id, field(ctx, 'factor_id', 60));
    if (!factor || factor.type !== 'totp' || factor.status !== 'pending') return problem(ctx, signedIn, 'security', t('account.factor.unknown'));
    const typed = field(ctx, 'code', 20).trim();
    if (!typed) return totpPage(ctx, user, factor, { alert: t('mfa.code.missing') }, 400);
    const key = Throttle.key('mfa', user.id);
    if (!(await kit.throttle.hit(key, factors.config.maxFailures))) return totpPage(ctx, user, factor, { alert: t('mfa.throttled') }, 429);
    const check = await factors.verifyTotp(factor, typed);
    if (check !== 'ok') return totpPage(ctx, user, factor, { alert: t(check === 'replayed' ? 'mfa.code.replayed' : 'mfa.code.invalid') }, 400);
    await kit.throttle.reset(key);
    await factors.ready();
    const clientId = signedIn.session.clientId;
    const codes = await kit.change(
      ctx,
      clientId,
      [run('after_mfa_change', { user: publicUser(user), change: 'enrolled', factor: { id: factor.id, type: factor.type } })],
      async (trx, changes) => {
        await users.enrich(trx, user.id, changes);
        return (await factors.activate(factor, trx, clientId)).recoveryCodes;
      },
      [backLink()],
    );
    // The sign-in now counts as one that proved this factor (it was just proved with its code).
    await services.account.sessions.reauthenticated(signedIn.session.idHash, {
      idToken: signedIn.session.idToken,
      authTime: signedIn.session.authTime,
      amr: [...new Set([...signedIn.session.amr, ...amrFor('totp')])],
    });
    if (!codes) return done(ctx, 'factor-added', 'security');
    kit.render(ctx, 'account-codes', { title: t('account.codes.title'), codes, status: t('account.done.factor-added'), back: backLink() });
  });

  // ---- passkeys: the same ceremony as the MFA enrolment page's (src/identity/passkeys.ts), bound to this account session

  const passkeyBinding = (signedIn: SignedIn) => `account:${signedIn.session.idHash}`;
  const passkeyPage = async (ctx: Context, signedIn: SignedIn, vars: Record<string, unknown> = {}, status = 200) => {
    const passkeyOptions = await services.passkeys.registrationOptions(passkeyBinding(signedIn), { id: signedIn.user.id, email: signedIn.user.email, name: signedIn.user.given_name });
    kit.render(ctx, 'account-passkey', { title: t('account.passkey.title'), passkeyOptions, back: backLink(), ...vars }, status);
  };

  router.post('/account/mfa/passkey', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'security')) return;
    await passkeyPage(ctx, signedIn);
  });

  router.post('/account/mfa/passkey/confirm', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'security')) return;
    const { user } = signedIn;
    const answer = postedCredential(ctx);
    if (!answer) return passkeyPage(ctx, signedIn, { alert: t('passkey.missing') }, 400);
    let verified: Awaited<ReturnType<typeof services.passkeys.verifyRegistration>>;
    try {
      verified = await services.passkeys.verifyRegistration(passkeyBinding(signedIn), user.id, answer);
    } catch (error) {
      return passkeyPage(ctx, signedIn, { alert: passkeyRefusal(ctx, error, 'passkey enrolment (account page)') }, 400);
    }
    await factors.ready();
    const clientId = signedIn.session.clientId;
    const factorId = newPasskeyFactorId();
    const codes = await kit.change(
      ctx,
      clientId,
      [run('after_mfa_change', { user: publicUser(user), change: 'enrolled', factor: { id: factorId, type: 'passkey' } })],
      async (trx, changes) => {
        await users.enrich(trx, user.id, changes);
        return (await services.passkeys.store(verified, trx, { applicationId: clientId, factorId })).recoveryCodes;
      },
      [backLink()],
    );
    if (!codes) return done(ctx, 'passkey-added', 'security');
    kit.render(ctx, 'account-codes', { title: t('account.codes.title'), codes, status: t('account.done.passkey-added'), back: backLink() });
  });

  router.post('/account/mfa/remove', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    // Removing a factor needs a recent sign-in that proved a second factor.
    if (!signedIn || !fresh(ctx, signedIn, 'security', { mfa: true })) return;
    const { user } = signedIn;
    const factor = await factors.find(user.id, field(ctx, 'factor_id', 60));
    if (!factor || factor.status !== 'active' || factor.type === 'recovery_codes') return problem(ctx, signedIn, 'security', t('account.factor.unknown'));
    try {
      await removeFactorsWithHooks(services, lifecycle(ctx, signedIn), user, [factor], (trx) => factors.remove(user.id, factor.id, trx));
    } catch (error) {
      if (error instanceof ConflictError || error instanceof HookDenied) return problem(ctx, signedIn, 'security', (error as Error).message, 409);
      throw error;
    }
    done(ctx, 'factor-removed', 'security');
  });

  router.post('/account/mfa/recovery-codes', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, 'security', { mfa: true })) return;
    if (!(await factors.hasActiveFactor(signedIn.user.id))) return problem(ctx, signedIn, 'security', t('account.factor.unknown'));
    const codes = await factors.regenerateRecoveryCodes(signedIn.user.id);
    kit.render(ctx, 'account-codes', { title: t('account.codes.title'), codes, back: backLink() });
  });

  // ---- consents: after_consent_update, user.consent.update -------------------------------------------

  router.post('/account/consents', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn) return;
    const { user } = signedIn;
    // Every consent the user has answered is on the form: a box left unticked is a refusal.
    const answers = (await kit.consents.list(user.id)).map((consent) => ({ key: consent.key, granted: field(ctx, `consent:${consent.key}`) !== '' }));
    const denied = await updateConsents(ctx, kit, user, answers, signedIn.session.clientId);
    if (denied) return problem(ctx, signedIn, 'consents', denied, 403);
    done(ctx, 'consents', 'consents');
  });

  // ---- connected applications: user.access.revoke with by "user" --------------------------------------

  router.post('/account/applications/revoke', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn) return;
    const clientId = brandableClient(field(ctx, 'client_id', 100));
    const granted = await services.access.list(signedIn.user.id);
    if (!clientId || !granted.some((app) => app.client_id === clientId)) return problem(ctx, signedIn, 'applications', t('account.app.unknown'), 404);
    await services.access.revoke(signedIn.user.id, clientId, 'user');
    done(ctx, 'app-revoked', 'applications');
  });

  // ---- signed-in sessions (the provider's sessions: one per browser) ----------------------------------

  router.post('/account/sessions/sign-out', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn) return;
    const id = field(ctx, 'session_id', 200);
    const ended = id ? await endAccountSessions(db, signedIn.user.id, { only: id }) : 0;
    if (ended === 0) return problem(ctx, signedIn, 'sessions', t('account.device.unknown'), 404);
    if (id === ctx.cookies.get(PROVIDER_SESSION_COOKIE, { signed: true })) {
      // This very browser: the account page signs out with it.
      await signIn.signOut(ctx, signedIn);
      return kit.seeOther(ctx, '/account/signed-out');
    }
    done(ctx, 'device-signed-out', 'sessions');
  });

  router.post('/account/sessions/sign-out-all', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn) return;
    await endAccountSessions(db, signedIn.user.id, { except: null });
    await services.account.sessions.closeAll(signedIn.user.id);
    signIn.forget(ctx);
    kit.seeOther(ctx, '/account/signed-out');
  });

  // ---- deleting the account: after_account_deleted, user.delete -------------------------------------

  router.get('/account/delete', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, '/account/delete')) return;
    kit.render(ctx, 'account-delete', { title: t('account.delete.title'), user: signedIn.user, back: backLink() });
  });

  router.post('/account/delete', ...guard, async (ctx) => {
    const signedIn = await load(ctx);
    if (!signedIn || !fresh(ctx, signedIn, '/account/delete')) return;
    const { user } = signedIn;
    if (field(ctx, 'confirm') !== 'yes') return kit.render(ctx, 'account-delete', { title: t('account.delete.title'), user, back: backLink(), alert: t('account.delete.confirm-missing') }, 400);
    await kit.change(
      ctx,
      signedIn.session.clientId,
      [run('after_account_deleted', { user: publicUser(user) })],
      async (trx, changes) => {
        await users.enrich(trx, user.id, changes, false);
        return users.delete(user.id, trx);
      },
      [backLink()],
    );
    await services.account.sessions.closeAll(user.id);
    signIn.forget(ctx);
    kit.render(ctx, 'message', { title: t('account.deleted.title'), status: t('account.deleted'), links: [wayBack(ctx.state.brand)] });
  });
}
