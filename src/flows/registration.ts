// Self-service registration and account activation. Registering an address that already has an
// account looks exactly like a new registration to whoever submits the form: the same pages in the
// same time, while the address's owner is mailed a notice (or a fresh activation link when that
// account was never activated). When a hook asks for profiling pages, they come before the account
// exists (flows/profiling.ts); flows/sign-up.ts ends the sign-up either way.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import { ValidationError } from '../errors.ts';
import { emailProblem, normalizeEmail } from '../identity/normalize.ts';
import { assertPlainText } from '../identity/plain-text.ts';
import { publicUser } from '../identity/users.ts';
import { run } from '../hooks/change.ts';
import { faultPoint } from '../faults.ts';
import { deny } from './denial.ts';
import { askProfiling } from './profiling-stages.ts';
import { assertSignUpOpen, completeSignUp, sendActivation, sendAlreadyRegistered, signUpUser } from './sign-up.ts';
import type { PendingSignUp } from './steps.ts';
import { assertPrompt, field, FlowError, humanDuration, problemText, wayBack, type FlowKit, type Guard } from './kit.ts';
import { t } from './texts.ts';

/** The fields' labels in messages, in the request's language. */
const labels = (): Record<string, string> => ({
  email: t('register.label.email'),
  password: t('register.label.password'),
  given_name: t('register.label.given_name'),
  family_name: t('register.label.family_name'),
});

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

  router.get('/interaction/:uid/register', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    assertSignUpOpen(ctx, details.uid);
    registerPage(ctx, details, {}, null, 200);
  });

  router.post('/interaction/:uid/register', ...guard, async (ctx) => {
    const details = await kit.interaction(ctx);
    assertPrompt(details, 'login');
    // Refused before anything is checked or sent: no account, no mail, the same answer for any address.
    assertSignUpOpen(ctx, details.uid);
    const clientId = kit.clientIdOf(details);
    const values = {
      email: field(ctx, 'email', 400).trim(),
      given_name: field(ctx, 'given_name', 400).trim(),
      family_name: field(ctx, 'family_name', 400).trim(),
    };
    const password = field(ctx, 'password', 1024);

    const fail = async (error: ValidationError | string, status = 400) => {
      const failure = { flow: 'registration', user: null, identifier: values.email, reason: typeof error === 'string' ? 'denied' : 'registration_failed' } as const;
      await deny(ctx, kit, clientId, failure, typeof error === 'string' ? error : problemText(error, labels()), (alert) =>
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
      await users.checkPassword(password, { email });
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

    // Hashed now for a new and a taken address alike; the account (if any) is created after the
    // profiling pages, and the password is not kept in any other form meanwhile.
    const signUp: PendingSignUp = {
      email,
      passwordHash: await users.passwords.hash(password),
      given_name: submitted.given_name,
      family_name: submitted.family_name,
      profile: {},
      attributes: changes.attributes,
      metadata: changes.metadata,
      consents: {},
    };
    const { next } = await askProfiling(ctx, kit, clientId, { flow: 'registration', user: signUpUser(signUp), consents: {} }, null);
    if (next) {
      await kit.updateState(details, { identifier: email }, { type: 'profiling', step: { name: 'profiling', flow: 'registration', signUp, ...next } });
      kit.seeOther(ctx, `/interaction/${details.uid}/profile`);
      return;
    }
    const refused = await completeSignUp(ctx, kit, details, signUp);
    if (refused) await fail(refused);
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
      if (user && user.status === 'pending') await sendActivation(ctx, kit, user, details.uid, true);
      else if (user) await sendAlreadyRegistered(ctx, kit, user, details.uid);
    } else {
      ctx.state.log?.info('activation mail not sent again: too many for this address');
    }
    kit.seeOther(ctx, `/interaction/${details.uid}/registered?resent=1`);
  });

  // The mailed link. Opening it verifies the address and activates the account, in one transaction
  // with the link used up; after_account_activation's sync hooks run before it and may refuse it.
  router.get('/activate/:token', ...guard, async (ctx) => {
    const token = ctx.params.token ?? '';
    const found = await kit.inspectToken('activation', token);
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
      // The sign-up's registration with this application is verified by the same link.
      await services.registrations.verify(trx, verified, clientId);
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
