// Account recovery: forgot password (a mailed one-use, expiring reset link) and forgot username.
// Both answer the same whether or not an account matches; mails go out off the request path. A reset
// is all-or-nothing (one transaction), behind after_password_reset's sync hooks.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ValidationError } from '../errors.ts';
import { isLookupEmail, normalizeEmail, normalizeIdentifier } from '../identity/normalize.ts';
import { publicUser, type User } from '../identity/users.ts';
import { faultPoint } from '../faults.ts';
import { hasChanges } from '../hooks/catalog/decisions.ts';
import { run } from '../hooks/change.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import { assertPrompt, field, FlowError, humanDuration, problemText, wayBack, type FlowKit, type Guard } from './kit.ts';
import { t } from './texts.ts';
import { currentLocale } from '../i18n/locales.ts';

export function recoveryRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { services } = kit;
  const { users, config, db } = services;

  // ---- forgot password -------------------------------------------------------------------------

  router.get('/interaction/:uid/forgot-password', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const state = await kit.state(details);
    kit.render(ctx, 'forgot-password', { title: t('reset.request.title'), uid: details.uid, identifier: state.identifier ?? '' });
  });

  router.post('/interaction/:uid/forgot-password', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const clientId = kit.clientIdOf(details);
    const identifier = field(ctx, 'identifier', 400).trim();
    if (!identifier || identifier.length > 320) {
      kit.render(ctx, 'forgot-password', { title: t('reset.request.title'), uid: details.uid, identifier, alert: t('login.identify.missing') }, 400);
      return;
    }
    // The answer is the same page, at once, for every identifier: the work only a known account
    // needs (the lookup, before_password_reset, the link, the mail) runs after it has gone out, so
    // neither its outcome nor its time shows in the answer. A hook's denial cannot be shown here
    // (that would tell the account exists): it only stops the mail (docs/hooks.md).
    const { kind, value } = normalizeIdentifier(identifier);
    if (await kit.mayMail(ctx, kind === 'email' ? value : `username:${value}`)) {
      kit.afterAnswer(ctx, 'password reset request', () => startReset(ctx, details, identifier, clientId));
    } else {
      ctx.state.log?.info('reset mail not sent: too many for this identifier');
    }
    await kit.updateState(details, { identifier });
    kit.seeOther(ctx, `/interaction/${details.uid}/forgot-password/sent`);
  });

  /** The known account's part of a reset request, after the answer: the hook, the link, the mail. */
  const startReset = async (ctx: Context, details: Interaction, identifier: string, clientId: string | null): Promise<void> => {
    const user = await users.findByIdentifier(identifier);
    if (!user || user.status === 'disabled') return;
    const outcome = await kit.hook(ctx, 'before_password_reset', { user: publicUser(user) }, clientId, { handleDenial: true });
    if (outcome.denied) {
      ctx.state.log?.info({ user: user.id }, 'reset mail not sent: a before_password_reset hook denied it');
      return;
    }
    const token = await db.transaction(async (tx) => {
      const issued = await kit.tokens.issue('password_reset', user.id, { interactionUid: details.uid, clientId, locale: currentLocale() }, config.ttl.passwordResetSeconds, tx);
      await recordEvent(tx, 'user.password.reset.start', { user_id: user.id, application_id: clientId });
      return issued;
    });
    const sent = await kit.mail(
      ctx,
      'password-reset',
      user.email,
      { user, link: `${kit.issuer}/reset-password/${token}`, expiresIn: humanDuration(config.ttl.passwordResetSeconds) },
      { type: 'password_reset', ttlSeconds: config.ttl.passwordResetSeconds },
    );
    // Handed to the courier: queued for delivery, or taken over by a before_message_send hook.
    if (sent !== null && sent.status !== 'denied') await recordEvent(db, 'user.password.reset.send', { user_id: user.id, application_id: clientId });
  };

  router.get('/interaction/:uid/forgot-password/sent', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    kit.render(ctx, 'message', {
      title: t('page.check-email'),
      status: t('reset.sent', { expiresIn: humanDuration(config.ttl.passwordResetSeconds) }),
      links: [{ href: `/interaction/${details.uid}`, text: t('page.back-to-sign-in') }],
    });
  });

  // ---- the mailed reset link -------------------------------------------------------------------

  const validReset = async (ctx: Context): Promise<{ token: string; user: User; interactionUid: string | null; interactionExp: number }> => {
    const token = ctx.params.token ?? '';
    const found = await kit.inspectToken('password_reset', token);
    // The link's pages are the application's it was asked from, whatever became of that sign-in.
    ctx.state.brand = await kit.brand(found.status === 'valid' ? found.token.clientId : found.status === 'unknown' ? null : found.clientId);
    if (found.status !== 'valid') {
      const message = found.status === 'used' ? t('reset.used') : found.status === 'expired' ? t('reset.expired') : t('reset.unknown');
      throw new FlowError(found.status === 'unknown' ? 404 : 410, t('reset.unusable.title'), message, [], { wayBack: true });
    }
    const user = await users.findById(found.token.userId);
    if (!user || user.status === 'disabled') throw new FlowError(410, t('reset.unusable.title'), t('reset.no-account'), [], { wayBack: true });
    const interaction = await kit.findInteraction(found.token.interactionUid);
    return { token, user, interactionUid: interaction ? interaction.uid : null, interactionExp: interaction ? interaction.exp * 1000 : 0 };
  };

  const resetPage = (ctx: Context, token: string, user: User, alert: string | null = null, status = 200) =>
    kit.render(
      ctx,
      'reset-password',
      {
        title: t('reset.choose.title'),
        action: `/reset-password/${token}`,
        email: user.email,
        alert,
        minLength: config.password.minLength,
      },
      status,
    );

  router.get('/reset-password/:token', ...guard, async (ctx) => {
    const { token, user } = await validReset(ctx);
    resetPage(ctx, token, user);
  });

  // The reset is one transaction: the link is used up, the password set, every session and token
  // revoked, the address verified and the failed-login budget forgiven together, or none of it (a
  // crash, a hook's denial, a second tab that used the link meanwhile). after_password_reset's sync
  // hooks run before it, while no transaction is open (hooks/change.ts).
  router.post('/reset-password/:token', ...guard, async (ctx) => {
    const { token, user, interactionUid, interactionExp } = await validReset(ctx);
    const password = field(ctx, 'password', 1024);
    let hash: string;
    try {
      hash = await users.hashPassword(password, { email: user.email, username: user.username });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      resetPage(ctx, token, user, problemText(error, { password: t('reset.label.password') }), 400);
      return;
    }
    const clientId = ctx.state.brand?.client_id ?? null;
    const after = publicUser({ ...user, email_verified: true, status: user.status === 'pending' ? 'active' : user.status });
    const updated = await kit.change(ctx, clientId, [run('after_password_reset', { user: after })], async (trx, changes) => {
      if (!(await kit.tokens.consume('password_reset', token, trx))) throw new FlowError(410, t('reset.unusable.title'), t('reset.just-used'), [], { wayBack: true });
      faultPoint('reset.link-consumed');
      await users.enrich(trx, user.id, changes, false);
      let changed = await users.writePassword(trx, user.id, hash, 'user.password.reset.success', clientId);
      faultPoint('reset.password-set');
      await kit.tokens.revokeAll('password_reset', user.id, trx);
      // Whoever knew the old password is signed out: every session, grant and refresh token goes.
      await users.signOutEverywhere(user.id, trx, 'password_reset');
      // The link proved the address is theirs; and the lockout of a forgotten password ends here.
      if (changed.status === 'pending' || !changed.email_verified) changed = await users.verifyEmail(user.id, trx, clientId);
      await services.locks.forgiveFailures(user.id, trx);
      faultPoint('reset.signed-out');
      return changed;
    });
    faultPoint('reset.committed');
    // The journey that asked for the link may finish even if someone spends the budget again
    // meanwhile: only the browser holding that interaction can continue it (flows/login.ts).
    if (interactionUid) await kit.states.update(interactionUid, interactionExp, { resetProof: updated.id, identifier: updated.email });
    kit.render(ctx, 'message', {
      title: t('reset.done.title'),
      status: t('reset.done'),
      links: interactionUid ? [{ href: `/interaction/${interactionUid}`, text: t('reset.continue') }] : [wayBack(ctx.state.brand)],
    });
  });

  // ---- forgot username -------------------------------------------------------------------------

  router.get('/interaction/:uid/forgot-username', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    kit.render(ctx, 'forgot-username', { title: t('username.title'), uid: details.uid, email: '' });
  });

  router.post('/interaction/:uid/forgot-username', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const typed = field(ctx, 'email', 400).trim();
    const email = normalizeEmail(typed);
    if (!isLookupEmail(typed)) {
      kit.render(ctx, 'forgot-username', { title: t('username.title'), uid: details.uid, email: typed, alert: t('username.invalid-email') }, 400);
      return;
    }
    if (await kit.mayMail(ctx, email)) {
      // After the answer, as a reset request: neither the page nor its time tells whether an account
      // matched, whatever a sync after_username_request hook does (docs/hooks.md).
      kit.afterAnswer(ctx, 'username request', () => sendUsername(ctx, details, typed));
    } else {
      ctx.state.log?.info('username mail not sent: too many for this address or client address');
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/forgot-username/sent`);
  });

  /** The known account's part of a username request, after the answer: the mail, then the hooks. */
  const sendUsername = async (ctx: Context, details: Interaction, typed: string): Promise<void> => {
    const user = await users.findByEmail(typed);
    if (!user || user.status === 'disabled') return;
    await kit.mail(ctx, 'username', user.email, { user, signInLink: `${kit.issuer}/interaction/${details.uid}` }, { type: 'username' });
    const outcome = await kit.hook(ctx, 'after_username_request', { user: publicUser(user) }, kit.clientIdOf(details), { handleDenial: true });
    const { changes } = outcome.decision;
    if (!outcome.denied && hasChanges(changes)) await db.transaction((trx) => users.enrich(trx, user.id, changes));
  };

  router.get('/interaction/:uid/forgot-username/sent', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    kit.render(ctx, 'message', {
      title: t('page.check-email'),
      status: t('username.sent'),
      links: [{ href: `/interaction/${details.uid}`, text: t('page.back-to-sign-in') }],
    });
  });
}
