// Self-service registration and account activation. Registering an address that already has an
// account looks exactly like a new registration to whoever submits the form: the same pages in the
// same time, while the address's owner is mailed a notice (or a fresh activation link when that
// account was never activated).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ConflictError, ValidationError } from '../errors.ts';
import { emailProblem, normalizeEmail } from '../identity/normalize.ts';
import { assertPlainText } from '../identity/plain-text.ts';
import { publicUser, type User } from '../identity/users.ts';
import { faultPoint } from '../faults.ts';
import { hasChanges } from '../hooks/catalog/decisions.ts';
import { run } from '../hooks/change.ts';
import { deny } from './denial.ts';
import { assertPrompt, field, FlowError, humanDuration, problemText, wayBack, type FlowKit, type Guard } from './kit.ts';
import { t } from './texts.ts';

const LABELS: Record<string, string> = {
  email: t('register.label.email'),
  password: t('register.label.password'),
  given_name: t('register.label.given_name'),
  family_name: t('register.label.family_name'),
};

export function registrationRoutes(router: Router, kit: FlowKit, guard: Guard): void {
  const { services } = kit;
  const { users, config } = services;

  const registerPage = (ctx: Context, details: Interaction, values: Record<string, string>, alert: string | null, status: number, invalid: string | null = null) =>
    kit.render(
      ctx,
      'register',
      {
        title: t('register.title'),
        uid: details.uid,
        values,
        alert,
        invalid,
        minLength: config.password.minLength,
      },
      status,
    );

  /** Mails an activation link to a pending user. */
  const sendActivation = async (ctx: Context, user: User, uid: string) => {
    // Every caller is on a page of the interaction, whose application kit.interaction has loaded.
    const token = await kit.tokens.issue('activation', user.id, { interactionUid: uid, clientId: ctx.state.brand?.client_id ?? null }, config.ttl.activationSeconds);
    kit.mail(ctx, 'activation', user.email, {
      user,
      link: `${kit.issuer}/activate/${token}`,
      expiresIn: humanDuration(config.ttl.activationSeconds),
    });
  };

  /** Tells the owner of an address that someone tried to register it again. */
  const sendAlreadyRegistered = async (ctx: Context, user: User, uid: string) => {
    if (user.status === 'pending') {
      await sendActivation(ctx, user, uid);
      return;
    }
    if (user.status === 'disabled') return;
    kit.mail(ctx, 'registration-exists', user.email, { user, signInLink: `${kit.issuer}/interaction/${uid}` });
  };

  router.get('/interaction/:uid/register', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    registerPage(ctx, details, {}, null, 200);
  });

  router.post('/interaction/:uid/register', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    const clientId = kit.clientIdOf(details);
    const values = {
      email: field(ctx, 'email', 400).trim(),
      given_name: field(ctx, 'given_name', 400).trim(),
      family_name: field(ctx, 'family_name', 400).trim(),
    };
    const password = field(ctx, 'password', 1024);

    const fail = async (error: ValidationError | string, status = 400) => {
      const failure = { flow: 'registration', user: null, identifier: values.email, reason: typeof error === 'string' ? 'denied' : 'registration_failed' } as const;
      await deny(ctx, kit, clientId, failure, typeof error === 'string' ? error : problemText(error, LABELS), (alert) =>
        registerPage(ctx, details, values, alert, status, typeof error === 'string' ? null : (error.field ?? null)),
      );
    };

    const email = normalizeEmail(values.email);
    try {
      if (!email) throw new ValidationError('email', 'is required');
      const problem = emailProblem(field(ctx, 'email', 400)); // as sent: trim() would drop a byte order mark
      if (problem) throw new ValidationError('email', problem);
      for (const name of ['given_name', 'family_name'] as const) {
        assertPlainText(name, field(ctx, name, 400)); // as sent: trimming would hide a line break at an end
        if (values[name].length > 200) throw new ValidationError(name, 'must be at most 200 characters');
      }
      users.checkPassword(password, { email });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      await fail(error);
      return;
    }

    const submitted = { email, given_name: values.given_name || null, family_name: values.family_name || null, attributes: {}, metadata: {} };
    const before = await kit.hook(ctx, 'before_registration', { user: submitted, invited: false }, clientId, { handleDenial: true });
    if (before.denied) {
      await fail(before.denied.message, 403);
      return;
    }
    const changes = before.decision.changes;

    let user: User | null = null;
    // Counted before the lookup, for a new and a taken address alike; when throttled the page is the
    // same and only the mail stays unsent (the address's owner is not told: that would be a mail).
    const mayMail = await kit.mayMail(ctx, email);
    if (!mayMail) ctx.state.log?.info('registration mail not sent: too many for this address or client address');
    const existing = await users.findByEmail(values.email);
    if (!existing) {
      try {
        user = await users.create(
          {
            email,
            password,
            given_name: submitted.given_name,
            family_name: submitted.family_name,
            status: 'pending',
            attributes: changes.attributes,
            metadata: changes.metadata,
          },
          'registration',
          undefined,
          { applicationId: clientId },
        );
      } catch (error) {
        if (error instanceof ValidationError) {
          await fail(error);
          return;
        }
        if (!(error instanceof ConflictError)) throw error;
      }
    }

    if (user) {
      faultPoint('registration.user-created');
      const after = await kit.hook(ctx, 'after_registration', { user: publicUser(user), invited: false }, clientId);
      const more = after.decision.changes;
      if (hasChanges(more)) user = await users.update(user.id, { metadata: more.metadata, attributes: more.attributes });
      if (mayMail) await sendActivation(ctx, user, details.uid);
    } else {
      // Taken (found above, or by a concurrent registration). Spend the time a new account costs.
      await users.passwords.hash(password);
      const owner = existing ?? (await users.findByEmail(email));
      if (owner && mayMail) await sendAlreadyRegistered(ctx, owner, details.uid);
    }

    const profiling = (
      await kit.hook(
        ctx,
        'before_progressive_profiling',
        {
          flow: 'registration',
          user: user ? publicUser(user) : submitted,
          consents: {},
        },
        clientId,
      )
    ).decision.profiling;
    const wantsProfile = profiling.fields.length > 0 || profiling.consents.length > 0;
    await kit.updateState(
      details,
      { identifier: email, activationEmail: email },
      wantsProfile ? { type: 'profiling', step: { name: 'profiling', flow: 'registration', userId: user?.id ?? null, ...profiling } } : { type: 'restart' },
    );
    kit.seeOther(ctx, wantsProfile ? `/interaction/${details.uid}/profile` : `/interaction/${details.uid}/registered`);
  });

  // "Check your email", with a button that sends the link again.
  router.get('/interaction/:uid/registered', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    const state = await kit.state(details);
    if (!state.activationEmail) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    kit.render(ctx, 'registered', {
      title: t('page.check-email'),
      uid: details.uid,
      email: state.activationEmail,
      resent: ctx.query.resent === '1',
      expiresIn: humanDuration(config.ttl.activationSeconds),
    });
  });

  router.post('/interaction/:uid/resend-activation', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    const state = await kit.state(details);
    const email = state.activationEmail;
    if (!email) {
      kit.seeOther(ctx, `/interaction/${details.uid}`);
      return;
    }
    if (await kit.mayMail(ctx, email)) {
      const user = await users.findByEmail(email);
      if (user && user.status === 'pending') await sendActivation(ctx, user, details.uid);
      else if (user) await sendAlreadyRegistered(ctx, user, details.uid);
    } else {
      ctx.state.log?.info('activation mail not sent again: too many for this address');
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/registered?resent=1`);
  });

  // The mailed link. Opening it verifies the address and activates the account, in one transaction
  // with the link used up; after_account_activation's sync hooks run before it and may refuse it.
  router.get('/activate/:token', ...guard, async (ctx) => {
    const token = ctx.params.token ?? '';
    const found = await kit.tokens.inspect('activation', token);
    const unusable = (status: 'used' | 'expired' | 'unknown') => {
      const message = status === 'used' ? t('activation.used') : status === 'expired' ? t('activation.expired') : t('activation.unknown');
      return new FlowError(status === 'unknown' ? 404 : 410, t('activation.unusable.title'), message, [], { wayBack: true });
    };
    if (found.status !== 'valid') {
      // The page is the application's the link was asked from, whatever became of that sign-in.
      ctx.state.brand = await kit.brand('clientId' in found ? found.clientId : null);
      throw unusable(found.status);
    }
    const interaction = await kit.findInteraction(found.token.interactionUid);
    const clientId = found.token.clientId ?? (interaction && typeof interaction.params.client_id === 'string' ? interaction.params.client_id : null);
    ctx.state.brand = await kit.brand(clientId);
    const pending = await users.findById(found.token.userId);
    if (!pending) throw new FlowError(404, t('activation.unusable.title'), t('activation.no-account'));
    const activated = publicUser({ ...pending, email_verified: true, status: pending.status === 'pending' ? 'active' : pending.status });
    const user = await kit.change(ctx, clientId, [run('after_account_activation', { user: activated })], async (trx, changes) => {
      if (!(await kit.tokens.consume('activation', token, trx))) throw unusable('used');
      faultPoint('activation.link-consumed');
      await users.enrich(trx, pending.id, changes, false);
      const verified = await users.verifyEmail(pending.id, trx, clientId);
      await kit.tokens.revokeAll('activation', pending.id, trx);
      return verified;
    });
    kit.render(ctx, 'activated', {
      title: t('activation.done.title'),
      email: user.email,
      disabled: user.status === 'disabled',
      continueUrl: interaction && interaction.prompt.name === 'login' ? `/interaction/${interaction.uid}` : null,
      back: wayBack(ctx.state.brand),
    });
  });
}
