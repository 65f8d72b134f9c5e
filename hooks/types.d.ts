// Generated from src/hooks/catalog/ by `npm run gen:hooks`. Do not edit by hand.

/* Types for hook authors: `/// <reference path="types.d.ts" />` or copy next to your hook. */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export type EventName =
  | 'before_registration'
  | 'before_progressive_profiling'
  | 'after_registration'
  | 'after_account_activation'
  | 'after_identification'
  | 'at_failed_identification'
  | 'before_password_validation'
  | 'at_failed_authentication'
  | 'before_mfa_send'
  | 'after_mfa_send'
  | 'after_mfa_change'
  | 'before_password_reset'
  | 'after_password_reset'
  | 'after_username_request'
  | 'after_login'
  | 'after_external_login'
  | 'before_identity_verification'
  | 'after_identity_verification'
  | 'before_id_token'
  | 'after_consent_update'
  | 'after_account_disabled'
  | 'after_account_deleted'
  | 'before_message_send';

export interface User {
  id: string;
  email: string;
  username: string | null;
  given_name: string | null;
  family_name: string | null;
  phone_number: string | null;
  email_verified: boolean;
  phone_number_verified: boolean;
  status: 'active' | 'pending' | 'disabled';
  attributes: Record<string, Json>;
  metadata: Record<string, Json>;
  login_count: number;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface NewUser {
  email: string;
  username?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  phone_number?: string | null;
  attributes: Record<string, Json>;
  metadata: Record<string, Json>;
}

/** An upstream identity provider. */
export interface Provider {
  id: string;
  name: string;
  preset: string | null;
}

/** An identity at an upstream provider, its claims mapped onto our fields. */
export interface ExternalIdentity {
  provider: Provider;
  subject: string;
  email: string | null;
  email_verified: boolean;
  profile: Record<string, Json>;
}

interface EventBase {
  id: string; // stable across retries: use it to make side effects idempotent
  type: EventName;
  hook: { id: string, name: string };
  application: { client_id: string, name: string } | null;
  request: { ip: string | null, user_agent: string | null, locale: string | null, location: { country: string, region?: string, city?: string, latitude?: number, longitude?: number } | null }; // locale: the language the pages and mails of the request speak (en, fr, de or es: ui_locales, then Accept-Language, then the application's default_locale); location: from the offline database (GEOIP_DB); null when the address is not in it, and on before_id_token and admin API events
  secrets: Record<string, string>;
  created_at: string;
}

/** When: the registration form was submitted, before the user exists (or an invited user accepts the invitation: invited is true). Sync or async. */
export interface BeforeRegistrationEvent extends EventBase {
  type: 'before_registration';
  user: NewUser;
  invited: boolean;
}
export type BeforeRegistrationApi = {
  deny(message: string): void;
  user: {
    setAttribute(key: string, value: Json): void;
    setMetadata(key: string, value: Json): void;
  };
  identityVerification: {
    require(): void;
  };
};

/** When: after the first registration step (flow "registration"), before the account exists, and after authentication before login completes (flow "login"); then again after each profiling step the user submits. Sync or async. */
export interface BeforeProgressiveProfilingEvent extends EventBase {
  type: 'before_progressive_profiling';
  user: User | NewUser;
  flow: "registration" | "login";
  consents: Record<string, boolean>;
  step: number;
  answers: Record<string, string | number | boolean>;
}
export type BeforeProgressiveProfilingApi = {
  form: {
    requireFields(fields: Array<{name: string, label: string, type?: "text"|"email"|"tel"|"number"|"date"|"checkbox", required?: boolean}>): void;
    requireConsents(consents: Array<{key: string, label: string, required?: boolean}>): void;
    reject(field: string, message: string): void;
  };
};

/** When: the user was created (or an invited user accepted the invitation: invited is true). Sync or async. */
export interface AfterRegistrationEvent extends EventBase {
  type: 'after_registration';
  user: User;
  invited: boolean;
}
export type AfterRegistrationApi = {
  user: {
    setMetadata(key: string, value: Json): void;
  };
};

/** When: the activation link was opened and the email verified. Sync or async. */
export interface AfterAccountActivationEvent extends EventBase {
  type: 'after_account_activation';
  user: User;
}
export type AfterAccountActivationApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: an identifier matched a user, before any factor. Sync or async. */
export interface AfterIdentificationEvent extends EventBase {
  type: 'after_identification';
  user: User;
  identifier: string;
}
export type AfterIdentificationApi = {
  deny(message: string): void;
  mfa: {
    require(): void;
    skip(): void;
  };
  identityVerification: {
    require(): void;
  };
};

/** When: the identifier matches no user (lazy migration starts here), or an upstream identity provider signed in an identity that no user has (event.external). Sync or async. */
export interface AtFailedIdentificationEvent extends EventBase {
  type: 'at_failed_identification';
  user: null;
  identifier: string;
  external: ExternalIdentity | null;
}
export type AtFailedIdentificationApi = {
  migration: {
    createUser(user: {email: string, username?: string, given_name?: string, family_name?: string, attributes?: object}): void;
  };
  deny(message: string): void;
};

/** When: a password was given for a user created by migration, which has no local password yet. Sync or async. */
export interface BeforePasswordValidationEvent extends EventBase {
  type: 'before_password_validation';
  user: User;
  password: string;
}
export type BeforePasswordValidationApi = {
  password: {
    accept(): void;
    reject(message?: string): void;
  };
};

/** When: any failed login or registration. Sync or async. */
export interface AtFailedAuthenticationEvent extends EventBase {
  type: 'at_failed_authentication';
  user: User | null;
  identifier: string | null;
  reason: "invalid_credentials" | "throttled" | "denied" | "not_activated" | "disabled" | "locked" | "registration_failed";
  flow: "login" | "registration";
}
export type AtFailedAuthenticationApi = {
  error: {
    setMessage(message: string): void;
  };
  redirect(url: string): void;
};

/** When: before a one-time code goes out by email or SMS. Sync or async. */
export interface BeforeMfaSendEvent extends EventBase {
  type: 'before_mfa_send';
  user: User;
  channel: "email" | "sms";
  to: string;
}
export type BeforeMfaSendApi = {
  deny(message: string): void;
};

/** When: the second factor was verified (a one-time code, or a passkey). Sync or async. */
export interface AfterMfaSendEvent extends EventBase {
  type: 'after_mfa_send';
  user: User;
  channel: "email" | "sms" | "totp" | "passkey" | "recovery_code";
}
export type AfterMfaSendApi = {
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: a factor was enrolled or removed. Sync or async. */
export interface AfterMfaChangeEvent extends EventBase {
  type: 'after_mfa_change';
  user: User;
  change: "enrolled" | "removed";
  factor: { id: string, type: string };
}
export type AfterMfaChangeApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: a reset was requested, before the mail goes out. Sync or async. */
export interface BeforePasswordResetEvent extends EventBase {
  type: 'before_password_reset';
  user: User;
}
export type BeforePasswordResetApi = {
  deny(message: string): void;
};

/** When: the new password was set. Sync or async. */
export interface AfterPasswordResetEvent extends EventBase {
  type: 'after_password_reset';
  user: User;
}
export type AfterPasswordResetApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: the forgot-username mail went out. Sync or async. */
export interface AfterUsernameRequestEvent extends EventBase {
  type: 'after_username_request';
  user: User;
}
export type AfterUsernameRequestApi = {
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: login completed, before the user returns to the application. Sync or async. */
export interface AfterLoginEvent extends EventBase {
  type: 'after_login';
  user: User;
  device: { id: string, new: boolean };
  risk: { new_device: boolean, impossible_travel: boolean, breached_password: boolean, travel: { from: { country: string, city: string | null, at: string }, to: { country: string, city: string | null }, distance_km: number, hours: number, speed_kmh: number } | null };
}
export type AfterLoginApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
  };
  identityVerification: {
    require(): void;
  };
};

/** When: an upstream identity provider signed the user in (also for the first sign-in that created or linked the user), before MFA, profiling and after_login. Sync or async. */
export interface AfterExternalLoginEvent extends EventBase {
  type: 'after_external_login';
  user: User;
  provider: Provider;
  profile: Record<string, Json>;
  is_new: boolean;
}
export type AfterExternalLoginApi = {
  user: {
    setAttribute(key: string, value: Json): void;
    setMetadata(key: string, value: Json): void;
  };
  deny(message: string): void;
};

/** When: the sign-in needs an identity verification (the application requires it, or a hook asked), before the user is sent to a verification provider. Sync or async. */
export interface BeforeIdentityVerificationEvent extends EventBase {
  type: 'before_identity_verification';
  user: User;
  providers: Provider[];
  reason: "application" | "hook";
}
export type BeforeIdentityVerificationApi = {
  identityVerification: {
    skip(): void;
    useProvider(id: string): void;
  };
  deny(message: string): void;
};

/** When: the verification provider answered (OpenID Connect for Identity Assurance: verified_claims), before the result is stored. Sync or async. */
export interface AfterIdentityVerificationEvent extends EventBase {
  type: 'after_identity_verification';
  user: User;
  verification: { provider: Provider, status: "verified" | "failed", verified_claims: Json | null };
}
export type AfterIdentityVerificationApi = {
  user: {
    setAttribute(key: string, value: Json): void;
    setMetadata(key: string, value: Json): void;
  };
  deny(message: string): void;
};

/** When: before every ID token is issued (authorization code and refresh grants). Sync or async. */
export interface BeforeIdTokenEvent extends EventBase {
  type: 'before_id_token';
  user: User;
  scopes: string[];
  grant_type: "authorization_code" | "refresh_token";
  claims: Record<string, Json>;
}
export type BeforeIdTokenApi = {
  idToken: {
    setClaim(key: string, value: Json): void;
  };
  accessToken: {
    setClaim(key: string, value: Json): void;
  };
  user: {
    setMetadata(key: string, value: Json): void;
  };
  deny(message: string): void;
};

/** When: the user's consents changed. Sync or async. */
export interface AfterConsentUpdateEvent extends EventBase {
  type: 'after_consent_update';
  user: User;
  consents: Record<string, boolean>;
  changed: string[];
}
export type AfterConsentUpdateApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: an operator disabled the account. Sync or async. */
export interface AfterAccountDisabledEvent extends EventBase {
  type: 'after_account_disabled';
  user: User;
}
export type AfterAccountDisabledApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: an operator deleted the account. Sync or async. */
export interface AfterAccountDeletedEvent extends EventBase {
  type: 'after_account_deleted';
  user: User;
}
export type AfterAccountDeletedApi = {
  deny(message: string): void;
  user: {
    setMetadata(key: string, value: Json): void;
    setAttribute(key: string, value: Json): void;
  };
};

/** When: before any mail or text goes out (activation, resend, "already registered", password reset, username, MFA code). Sync or async. */
export interface BeforeMessageSendEvent extends EventBase {
  type: 'before_message_send';
  user: User | null;
  message: { type: "activation" | "activation.resend" | "registration_exists" | "password_reset" | "username" | "mfa_code" | "invitation" | "email_change" | "email_changed" | "external_link", channel: "email" | "sms", to: string, link: string | null, code: string | null, expires_at: string | null, locale: string | null };
}
export type BeforeMessageSendApi = {
  message: {
    suppress(): void;
  };
  deny(message: string): void;
};

export interface EventMap {
  before_registration: [BeforeRegistrationEvent, BeforeRegistrationApi];
  before_progressive_profiling: [BeforeProgressiveProfilingEvent, BeforeProgressiveProfilingApi];
  after_registration: [AfterRegistrationEvent, AfterRegistrationApi];
  after_account_activation: [AfterAccountActivationEvent, AfterAccountActivationApi];
  after_identification: [AfterIdentificationEvent, AfterIdentificationApi];
  at_failed_identification: [AtFailedIdentificationEvent, AtFailedIdentificationApi];
  before_password_validation: [BeforePasswordValidationEvent, BeforePasswordValidationApi];
  at_failed_authentication: [AtFailedAuthenticationEvent, AtFailedAuthenticationApi];
  before_mfa_send: [BeforeMfaSendEvent, BeforeMfaSendApi];
  after_mfa_send: [AfterMfaSendEvent, AfterMfaSendApi];
  after_mfa_change: [AfterMfaChangeEvent, AfterMfaChangeApi];
  before_password_reset: [BeforePasswordResetEvent, BeforePasswordResetApi];
  after_password_reset: [AfterPasswordResetEvent, AfterPasswordResetApi];
  after_username_request: [AfterUsernameRequestEvent, AfterUsernameRequestApi];
  after_login: [AfterLoginEvent, AfterLoginApi];
  after_external_login: [AfterExternalLoginEvent, AfterExternalLoginApi];
  before_identity_verification: [BeforeIdentityVerificationEvent, BeforeIdentityVerificationApi];
  after_identity_verification: [AfterIdentityVerificationEvent, AfterIdentityVerificationApi];
  before_id_token: [BeforeIdTokenEvent, BeforeIdTokenApi];
  after_consent_update: [AfterConsentUpdateEvent, AfterConsentUpdateApi];
  after_account_disabled: [AfterAccountDisabledEvent, AfterAccountDisabledApi];
  after_account_deleted: [AfterAccountDeletedEvent, AfterAccountDeletedApi];
  before_message_send: [BeforeMessageSendEvent, BeforeMessageSendApi];
}

/** A hook module: `export default async function (event, api) { ... }` */
export type Hook<E extends EventName> = (event: EventMap[E][0], api: EventMap[E][1]) => Promise<void> | void;
