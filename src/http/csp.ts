// The Content-Security-Policy of our HTML pages. Our own pages work without JavaScript
// (script-src 'none'); the one exception is oidc-provider's form_post page (the authorization
// response with response_mode=form_post, and RP-initiated logout without a live session), whose
// inline script submits the form. The provider appends the sha256 of exactly that script to the
// script-src of the policy the response already carries when it renders the page
// (oidc-provider lib/helpers/script_src_sha.js): the hash is computed per response from the script
// it sends, so a provider upgrade that changes the script stays allowed, and nothing else runs.

export type Policy = Map<string, string[]>;

/**
 * form-action keeps http(s): a form_post page submits to the relying party's redirect_uri (any
 * origin), and Chromium applies form-action to the redirects after a submission too (the logout
 * confirmation answers 303 to the post_logout_redirect_uri; an RP's callback may redirect on).
 */
export const DEFAULT_POLICY = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self' https: http:; base-uri 'none'";

/**
 * The policy of the pages that offer passkeys (the identify, MFA and enrolment pages): the default
 * with one script allowed, our own /assets/passkeys.js (WebAuthn needs navigator.credentials); still
 * no inline script, no eval, no other origin. Everything on those pages works without it but the passkey.
 */
export const PASSKEY_PAGE_POLICY = DEFAULT_POLICY.replace("script-src 'none'", "script-src 'self'");

export function parsePolicy(header: string): Policy {
  const policy: Policy = new Map();
  for (const directive of header.split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name && !policy.has(name.toLowerCase())) policy.set(name.toLowerCase(), values);
  }
  return policy;
}

function serializePolicy(policy: Policy): string {
  return [...policy].map(([name, values]) => [name, ...values].join(' ')).join('; ');
}

const HASH_SOURCE = /^'sha(256|384|512)-[A-Za-z0-9+/=]+'$/;

/**
 * The policy as it leaves: when the provider added the hash of its script, script-src becomes just
 * that hash ('none' next to another source is ignored by browsers, with a console warning).
 */
export function finishPolicy(header: string): string {
  const policy = parsePolicy(header);
  const scripts = policy.get('script-src');
  if (!scripts?.some((source) => HASH_SOURCE.test(source))) return header;
  policy.set(
    'script-src',
    scripts.filter((source) => source !== "'none'"),
  );
  return serializePolicy(policy);
}
