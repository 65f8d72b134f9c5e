// Every text the hosted journeys show (titles, alerts, statuses, link texts), keyed by id: one
// catalog, the seed of the translations to come. `{name}` marks a parameter; t() checks at compile
// time that each is given. The templates in views/ keep their own wording for now.

const TEXTS = {
  // ---- any page
  'page.back-to-app': 'Back to {app}',
  'page.home': 'Go to the home page',
  'page.continue': 'Continue',
  'page.back-to-sign-in': 'Back to sign in',
  'page.check-email': 'Check your email',
  'page.expired.title': 'This sign-in has expired',
  'page.expired': 'Your sign-in session has expired or was opened in another browser. Go back to the application and start again.',
  'page.step-over.title': 'This step is over',
  'page.step-over': 'This step of signing in is already done. Go back to the application and start again.',
  'page.unknown-prompt.title': 'This request cannot be completed',
  'page.unknown-prompt': 'The application asked for a step this server does not offer.',
  'page.denied.title': 'This cannot continue',
  'page.form-expired.title': 'This form has expired',
  'page.form-expired': 'This form could not be accepted: it has expired or was not sent from this site. Go back, reload the page and try again.',
  'page.field-required': '{label} is required.',
  'page.refused.title': 'This change could not be made',
  'signup.refused': 'Your account could not be created right now: a service it depends on did not accept it. Nothing was saved. Please try again later.',
  'mail.not-queued.title': 'We could not send the email',
  'mail.not-queued': 'The email could not be sent right now. Please try again in a moment.',

  // ---- durations (in sentences such as "expires in 24 hours")
  'duration.day': '24 hours',
  'duration.days': '{n} days',
  'duration.hour': '1 hour',
  'duration.hours': '{n} hours',
  'duration.minute': '1 minute',
  'duration.minutes': '{n} minutes',
  'duration.seconds': '{n} seconds',

  // ---- login
  'login.identify.title': 'Sign in',
  'login.identify.missing': 'Enter your email address or username.',
  'login.password.title': 'Enter your password',
  'login.password.wrong': 'The email address, username or password is not correct.',
  'login.throttled': 'Too many failed sign-in attempts. Please wait a while before trying again, or reset your password.',
  'login.pending.title': 'Verify your email address',
  'login.disabled.title': 'Account disabled',
  'login.disabled': 'This account has been disabled. Contact the application’s support if you think this is a mistake.',
  'login.locked.title': 'Account locked',
  'login.locked': 'This account is locked. Contact the application’s support if you think this is a mistake.',
  'login.refused.title': 'Sign-in refused',
  'login.cannot-sign-in': 'This account cannot sign in right now.',

  // ---- consent
  'consent.title': 'Allow {app}?',
  'consent.scope.openid': 'Know who you are (your account identifier)',
  'consent.scope.profile': 'See your name and username',
  'consent.scope.email': 'See your email address',
  'consent.scope.phone': 'See your phone number',
  'consent.scope.offline_access': 'Stay connected when you are not using it',

  // ---- second factor
  'mfa.title': 'Two-step verification',
  'mfa.enrol.title': 'Set up two-step verification',
  'mfa.codes.title': 'Save your recovery codes',
  'mfa.code.missing': 'Enter the code.',
  'mfa.code.invalid': 'That code is not correct. Check it and try again.',
  'mfa.code.expired': 'That code has expired. Ask for a new code.',
  'mfa.code.exhausted': 'Too many wrong attempts for this code. Ask for a new code.',
  'mfa.code.none': 'There is no code waiting. Ask for a new code.',
  'mfa.code.replayed': 'That code was already used. Wait for the next code in your authenticator app.',
  'mfa.throttled': 'Too many wrong codes. Please wait a while before trying again.',
  'mfa.no-sms': 'Text messages cannot be sent right now. Choose another way to sign in.',
  'mfa.send.wait': 'A code was sent a moment ago. Please wait {wait} before asking for another one.',
  'mfa.send.too-many': 'Too many codes were sent. Please wait a while, or choose another way to sign in.',
  'mfa.send.failed': 'The code could not be sent. Try again in a moment, or choose another way to sign in.',
  'mfa.send.resent': 'A new code was sent to {target}.',
  'mfa.sms.body': '{code} is your {app} sign-in code. It expires in {expiresIn}. Never share it.',
  'mfa.method.totp': 'Use your authenticator app',
  'mfa.method.email': 'Email a code to {target}',
  'mfa.method.sms': 'Text a code to {target}',
  'mfa.method.passkey': 'Use a passkey',
  'passkey.missing': 'Your browser sent no passkey. Try again, or sign in another way.',
  'passkey.refused.challenge': 'This passkey answer was already used or has expired, so it was refused. Try again with your passkey.',
  'passkey.refused.unknown_credential': 'This passkey is not registered here. Sign in another way.',
  'passkey.refused.invalid': 'Your passkey could not be verified. Try again, or sign in another way.',
  'passkey.refused.counter': 'This passkey was refused because it may have been copied. Sign in another way, and remove it from your account.',
  'passkey.refused.duplicate': 'This passkey is registered already.',
  'mfa.choose.invalid': 'Choose one of the ways offered.',
  'mfa.enrol.phone-missing': 'Enter the phone number to text the codes to.',
  'mfa.enrol.phone-invalid': 'Enter the phone number in international format, such as +15551234567.',
  'mfa.enrol.method-missing': 'Choose how you want to receive your codes.',

  // ---- progressive profiling
  'profile.registration.title': 'A few more details',
  'profile.login.title': 'Before you continue',
  'profile.consent-required': 'Please accept: {label}',
  'profile.check-fields': 'Please check the marked fields.',
  'profile.refused': 'Your details could not be saved right now: a service they depend on did not accept them. Nothing was changed. Please try again later.',
  'profile.back.registration': 'Start the registration again',
  'profile.back.login': 'Sign in with another account',

  // ---- registration and activation
  'register.title': 'Create your account',
  'register.label.email': 'email address',
  'register.label.password': 'password',
  'register.label.given_name': 'first name',
  'register.label.family_name': 'last name',
  'register.closed.title': 'Sign-up is closed',
  'register.closed': 'New accounts cannot be created for {app} here. If you have an account, sign in; if you were invited, use the link in your invitation.',
  'activation.unusable.title': 'Activation link not usable',
  'activation.used': 'This activation link has already been used. If your account is active, you can sign in from the application.',
  'activation.expired': 'This activation link has expired. Sign in from the application to get a new one.',
  'activation.unknown': 'This activation link is not valid. Check that you copied the whole link from the email.',
  'activation.no-account': 'This account no longer exists.',
  'activation.done.title': 'Your email address is verified',

  // ---- external providers (flows/external-login.ts)
  'external.continue-with': 'Continue with {provider}',
  'external.unknown.title': 'This sign-in option is not available',
  'external.unknown': 'This way of signing in is not offered here. Go back and choose another one.',
  'external.unavailable.title': 'The sign-in service is not answering',
  'external.unavailable': '{provider} could not be reached. Try again in a moment, or sign in another way.',
  'external.provider-error.title': 'Sign-in was not completed',
  'external.provider-error': '{provider} did not sign you in. Try again, or sign in another way.',
  'external.refused.title': 'Sign-in could not be verified',
  'external.refused': 'The answer from {provider} did not pass our checks, so you were not signed in. Try again, or sign in another way.',
  'external.bad-answer.title': 'This sign-in answer is not valid',
  'external.bad-answer': 'This sign-in answer does not belong to a sign-in we started, or it was changed on the way. Go back to the application and start again.',
  'external.used.title': 'This sign-in answer was already used',
  'external.used': 'This sign-in answer has already been used or has expired. Start again from the sign-in page.',
  'external.no-email': '{provider} did not share an email address, which an account needs. Sign in another way, or allow {provider} to share your email address.',
  'external.taken': 'This {provider} account cannot sign in here. Sign in another way.',
  'external.closed': 'New accounts cannot be created for this application. Sign in with an existing account.',
  'external.link.title': 'Link your account',
  'external.link.sent': 'We sent a link to {email}. Open it in this browser to link your account and continue.',
  'external.link.wrong-password': 'That password is not correct.',
  'external.link.unusable': 'This link cannot be used: it has expired, was already used, or belongs to another sign-in. Start again from the sign-in page.',
  'external.try-again': 'Try again',
  'external.other-way': 'Sign in another way',
  'verification.title': 'Verify your identity',
  'verification.none': 'This application needs your identity to be verified, but no verification service is available. Contact the application’s support.',
  'verification.failed': 'Your identity could not be verified, so you were not signed in.',

  // ---- recovery
  'invitation.title': 'Join {app}',
  'invitation.unusable.title': 'Invitation link not usable',
  'invitation.used': 'This invitation has already been accepted (or withdrawn). If you set your password, sign in from the application.',
  'invitation.expired': 'This invitation has expired. Ask whoever invited you to send it again.',
  'invitation.revoked': 'This invitation has been withdrawn. Ask whoever invited you if you think this is a mistake.',
  'invitation.unknown': 'This invitation link is not valid. Check that you copied the whole link from the email.',
  'invitation.done.title': 'Your account is ready',
  'invitation.done': 'You can now sign in to {app} with your email address and the password you chose.',
  'reset.request.title': 'Reset your password',
  'reset.sent': 'If an account matches what you entered, we have sent it an email with a link to choose a new password. The link works once and expires in {expiresIn}.',
  'reset.unusable.title': 'Reset link not usable',
  'reset.used': 'This password reset link has already been used. Ask for a new one from the sign-in page if you need to.',
  'reset.expired': 'This password reset link has expired. Ask for a new one from the sign-in page.',
  'reset.unknown': 'This password reset link is not valid. Check that you copied the whole link from the email.',
  'reset.just-used': 'This password reset link has just been used.',
  'reset.no-account': 'This account cannot be recovered here. Contact support.',
  'reset.choose.title': 'Choose a new password',
  'reset.label.password': 'password',
  'reset.done.title': 'Your password has been changed',
  'reset.done': 'You can now sign in with your new password.',
  'reset.continue': 'Continue signing in',
  'username.title': 'Find your username',
  'username.invalid-email': 'Enter a valid email address, like name@example.com.',
  'username.sent': 'If an account uses this email address, we have sent it an email with its username.',

  // ---- the account page (/account)
  'account.title': 'Your account',
  'account.signed-out.title': 'You are signed out',
  'account.signed-out': 'You have signed out of your account page.',
  'account.sign-in-again': 'Sign in again',
  'account.sign-in.failed.title': 'Sign-in to your account failed',
  'account.sign-in.expired': 'This sign-in has expired or was started in another browser. Start again.',
  'account.sign-in.not-finished': 'The sign-in did not finish. Start again.',
  'account.sign-in.other-user': 'You signed in as someone else than the account this page belongs to. Sign in again as yourself.',
  'account.back': 'Back to your account',
  'account.done.profile': 'Your profile was saved.',
  'account.done.password': 'Your password was changed.',
  'account.done.password-others': 'Your password was changed, and your other sessions were signed out.',
  'account.done.email-sent': 'We sent a link to {email}. Open it to confirm your new address; until then your address stays as it is.',
  'account.done.factor-added': 'Two-step verification with an authenticator app is set up.',
  'account.done.passkey-added': 'Your passkey is added: it signs you in without a password, and works as a second step.',
  'account.done.factor-removed': 'The second step was removed.',
  'account.done.consents': 'Your choices were saved.',
  'account.done.app-revoked': 'The application no longer has access to your account.',
  'account.done.device-signed-out': 'That session was signed out.',
  'account.email.invalid': 'Enter a valid email address, like name@example.com.',
  'account.email.same': 'That is already your email address.',
  'account.email.confirm.title': 'Confirm your new email address',
  'account.email.confirm': 'Use {email} as the email address of your account?',
  'account.email.done.title': 'Your email address was changed',
  'account.email.done': 'Your account now uses {email}. Use it the next time you sign in.',
  'account.email.taken': 'This email address is already used by another account. Your address was not changed.',
  'account.email.unusable.title': 'Confirmation link not usable',
  'account.email.used': 'This confirmation link has already been used.',
  'account.email.expired': 'This confirmation link has expired. Ask for a new one from your account page.',
  'account.email.unknown': 'This confirmation link is not valid. Check that you copied the whole link from the email.',
  'account.password.current-wrong': 'Your current password is not correct.',
  'account.password.current-missing': 'Enter your current password.',
  'account.totp.title': 'Add an authenticator app',
  'account.passkey.title': 'Add a passkey',
  'account.codes.title': 'Your new recovery codes',
  'account.factor.unknown': 'That second step is no longer set up. Reload the page.',
  'account.app.unknown': 'That application is not connected to your account.',
  'account.device.unknown': 'That session has already ended.',
  'account.delete.title': 'Delete your account',
  'account.deleted.title': 'Your account was deleted',
  'account.deleted': 'Your account and everything it held are gone. You have been signed out everywhere.',
  'account.delete.confirm-missing': 'Tick the box to confirm that you want to delete your account.',
} as const;

type Texts = typeof TEXTS;
type TextId = keyof Texts;

/** The parameter names of a text: 'Back to {app}' → 'app'. */
type Params<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Params<Rest> : never;
type ParamArgs<I extends TextId> = [Params<Texts[I]>] extends [never] ? [] : [Record<Params<Texts[I]>, string | number>];

/** The ids of the texts without parameters. */
export type PlainTextId = { [I in TextId]: ParamArgs<I> extends [] ? I : never }[TextId];

/** The text `id`, its parameters filled in. */
export function t<I extends TextId>(id: I, ...params: ParamArgs<I>): string {
  const text: string = TEXTS[id];
  const values = params[0] as Record<string, string | number> | undefined;
  return values ? text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : whole)) : text;
}

/** The text of an id built from data (a scope's, say), without parameters; `fallback` when there is none. */
export function textOr(id: string, fallback: string): string {
  return Object.hasOwn(TEXTS, id) ? TEXTS[id as TextId] : fallback;
}
