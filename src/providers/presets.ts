// The well-known providers: what a preset fills in (the issuer or the endpoints, the scopes, how
// the provider's claims map onto a user, the button's look). Anything given in the provider's own
// body wins over its preset's, so a preset can point at a test server or another tenant.

export const PRESET_NAMES = ['google', 'microsoft', 'apple', 'github', 'gitlab', 'facebook'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Our field → the provider's claim (a dotted path into the ID token claims or the userinfo answer). */
export interface ClaimMapping {
  subject: string;
  email: string;
  /** Empty: the provider says nothing about it, so its addresses count as unverified. */
  email_verified: string;
  given_name: string;
  family_name: string;
  name: string;
  username: string;
}

export interface Preset {
  type: 'oidc' | 'oauth2';
  label: string;
  /** The button's colours (a dark and a light brand get readable text either way). */
  color: string;
  text_color: string;
  issuer?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  userinfo_endpoint?: string;
  /** GitHub-style: a list of the user's addresses with their verified flags. */
  emails_endpoint?: string;
  scopes: string[];
  claims: Partial<ClaimMapping>;
  /** Apple answers with response_mode=form_post and takes a signed JWT as its client secret. */
  response_mode?: 'form_post';
  client_secret_jwt?: boolean;
}

export const OIDC_CLAIMS: ClaimMapping = {
  subject: 'sub',
  email: 'email',
  email_verified: 'email_verified',
  given_name: 'given_name',
  family_name: 'family_name',
  name: 'name',
  username: 'preferred_username',
};

export const OAUTH2_CLAIMS: ClaimMapping = {
  subject: 'id',
  email: 'email',
  email_verified: 'email_verified',
  given_name: 'given_name',
  family_name: 'family_name',
  name: 'name',
  username: 'login',
};

export const PRESETS: Record<PresetName, Preset> = {
  google: {
    type: 'oidc',
    label: 'Google',
    color: '#ffffff',
    text_color: '#1f1f1f',
    issuer: 'https://accounts.google.com',
    scopes: ['openid', 'email', 'profile'],
    claims: {},
  },
  microsoft: {
    type: 'oidc',
    label: 'Microsoft',
    color: '#2f2f2f',
    text_color: '#ffffff',
    // A tenant's issuer (https://login.microsoftonline.com/<tenant id>/v2.0) must be given: the
    // "common" endpoint's metadata names no single issuer, so its ID tokens cannot be checked.
    scopes: ['openid', 'email', 'profile'],
    // Microsoft's email claim is not verified by Microsoft.
    claims: { email_verified: '' },
  },
  apple: {
    type: 'oidc',
    label: 'Apple',
    color: '#000000',
    text_color: '#ffffff',
    issuer: 'https://appleid.apple.com',
    scopes: ['openid', 'email', 'name'],
    claims: {},
    response_mode: 'form_post',
    client_secret_jwt: true,
  },
  github: {
    type: 'oauth2',
    label: 'GitHub',
    color: '#24292f',
    text_color: '#ffffff',
    authorization_endpoint: 'https://github.com/login/oauth/authorize',
    token_endpoint: 'https://github.com/login/oauth/access_token',
    userinfo_endpoint: 'https://api.github.com/user',
    emails_endpoint: 'https://api.github.com/user/emails',
    scopes: ['read:user', 'user:email'],
    // email_verified is set only from the emails endpoint's primary verified address.
    claims: { subject: 'id', username: 'login' },
  },
  gitlab: {
    type: 'oidc',
    label: 'GitLab',
    color: '#fc6d26',
    text_color: '#000000',
    issuer: 'https://gitlab.com',
    scopes: ['openid', 'email', 'profile'],
    claims: { username: 'nickname' },
  },
  facebook: {
    type: 'oauth2',
    label: 'Facebook',
    color: '#1877f2',
    text_color: '#ffffff',
    authorization_endpoint: 'https://www.facebook.com/v19.0/dialog/oauth',
    token_endpoint: 'https://graph.facebook.com/v19.0/oauth/access_token',
    userinfo_endpoint: 'https://graph.facebook.com/me?fields=id,name,email,first_name,last_name',
    scopes: ['email', 'public_profile'],
    claims: { subject: 'id', given_name: 'first_name', family_name: 'last_name', email_verified: '', username: '' },
  },
};
