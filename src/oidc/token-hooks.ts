// before_id_token: hooks add claims to the ID token and the access token of the authorization code
// and refresh grants, or deny the grant. The provider saves the access token before it issues the
// ID token, so the hooks run once per token request (at whichever comes first) and both use it.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { EventPayloads } from '../hooks/catalog/events.ts';
import type { Lifecycle, LifecycleOutcome } from '../hooks/lifecycle.ts';
import { publicUser, type User } from '../identity/users.ts';
import { SUPPORTED_CLAIMS, userClaims } from './claims.ts';

type HookedGrant = EventPayloads['before_id_token']['grant_type'];
const HOOKED_GRANTS: ReadonlySet<string> = new Set<HookedGrant>(['authorization_code', 'refresh_token']);
const isHooked = (grantType: string): grantType is HookedGrant => HOOKED_GRANTS.has(grantType);
type Outcome = LifecycleOutcome<'before_id_token'>;

export interface TokenHookDeps {
  lifecycle: Lifecycle;
  /** The user for this request (findAccount usually loaded it already). */
  loadUser: (ctx: object, id: string) => Promise<User | null>;
  /** The scopes whose claims the ID token carries (an application may leave them to userinfo). */
  idTokenScopes?: (ctx: KoaContextWithOIDC, scopes: string[]) => Promise<string[]>;
  /** Saves what a hook's api.user.setMetadata set (merged key by key), before the tokens are answered. */
  saveMetadata: (userId: string, metadata: Record<string, unknown>) => Promise<void>;
  /** The `roles` and `groups` claims of these scopes, which the access token carries too. */
  membershipClaims?: (userId: string, clientId: string | null, scopes: string[]) => Promise<Record<string, unknown>>;
}

/** The claims each scope list allows, built once per list (a token path asks for the same few lists). */
const allowedByScopes = new Map<string, ReadonlySet<string>>();
const MAX_SCOPE_LISTS = 1000;

function allowedClaims(scopes: string[]): ReadonlySet<string> {
  const key = scopes.join(' ');
  let allowed = allowedByScopes.get(key);
  if (allowed === undefined) {
    allowed = new Set(scopes.flatMap((scope) => SUPPORTED_CLAIMS[scope as keyof typeof SUPPORTED_CLAIMS] ?? []));
    if (allowedByScopes.size < MAX_SCOPE_LISTS) allowedByScopes.set(key, allowed);
  }
  return allowed;
}

function claimsForScopes(claims: Record<string, unknown>, scopes: string[]): Record<string, unknown> {
  const allowed = allowedClaims(scopes);
  const kept: Record<string, unknown> = {};
  for (const key of Object.keys(claims)) if (allowed.has(key) && claims[key] !== undefined) kept[key] = claims[key];
  return kept;
}

/**
 * The scopes of this token request: those of the code or refresh token it redeems (or the narrower
 * `scope` a refresh asked for). Not the access token's own scope, which for a resource server holds
 * only that server's scopes and would hide the OpenID scopes (and claims) of the ID token.
 */
function requestedScope(ctx: KoaContextWithOIDC): string | undefined {
  const oidc = ctx.oidc as unknown as { params?: { scope?: unknown; grant_type?: unknown }; entities?: Record<string, { scope?: unknown } | undefined> };
  const grantType = String(oidc.params?.grant_type ?? '');
  const param = oidc.params?.scope;
  if (grantType === 'refresh_token' && typeof param === 'string' && param) return param;
  const source = grantType === 'refresh_token' ? oidc.entities?.RefreshToken : oidc.entities?.AuthorizationCode;
  return typeof source?.scope === 'string' ? source.scope : undefined;
}

const NO_OUTCOME: Promise<Outcome | null> = Promise.resolve(null);

/** Whether these scopes ask for membership claims (roles, groups), which the access token carries too. */
const asksForMemberships = (scopes: string[]) => scopes.includes('roles') || scopes.includes('groups');

export function createTokenHooks(deps: TokenHookDeps) {
  const outcomes = new WeakMap<object, Promise<Outcome | null>>();

  /** Runs before_id_token once for this token request; null when it does not apply. */
  function outcomeFor(ctx: KoaContextWithOIDC, accountId: string | undefined, scope: string | undefined): Promise<Outcome | null> {
    const existing = outcomes.get(ctx);
    if (existing) return existing;
    const grantType = String(ctx.oidc?.params?.grant_type ?? '');
    if (ctx.oidc?.route !== 'token' || !isHooked(grantType) || !accountId) return Promise.resolve(null);
    const applicationId = ctx.oidc.client?.clientId ?? null;
    // Most grants have no before_id_token hook, and the hook store usually knows at once.
    // (Remembered for the request all the same: the access token and the ID token see one answer.)
    if (deps.lifecycle.hasHooksNow('before_id_token', applicationId) === false) {
      outcomes.set(ctx, NO_OUTCOME);
      return NO_OUTCOME;
    }
    const run = (async () => {
      // The store had to read first: ask it before building the event.
      if (!(await deps.lifecycle.hasHooks('before_id_token', applicationId))) return null;
      const user = await deps.loadUser(ctx, accountId);
      if (!user) return null;
      const scopes = (requestedScope(ctx) ?? scope ?? '').split(' ').filter(Boolean);
      const idTokenScopes = deps.idTokenScopes ? await deps.idTokenScopes(ctx, scopes) : scopes;
      // The ID token's roles and groups too (scopes roles, groups): the hook sees what will be issued.
      const memberships = deps.membershipClaims ? await deps.membershipClaims(user.id, applicationId, idTokenScopes) : {};
      const outcome = await deps.lifecycle.run(
        'before_id_token',
        {
          user: publicUser(user),
          scopes,
          grant_type: grantType,
          // The claims about to be issued in the ID token, as the application's id_token_claims has them.
          claims: { ...claimsForScopes(userClaims(user), idTokenScopes), ...memberships },
        },
        {
          applicationId,
          ip: ctx.ip ?? null,
          userAgent: ctx.get('user-agent') || null,
          locale: null,
        },
      );
      if (!outcome.denied && Object.keys(outcome.decision.metadata).length > 0) await deps.saveMetadata(user.id, outcome.decision.metadata);
      return outcome;
    })();
    outcomes.set(ctx, run);
    return run;
  }

  function denyIfDenied(outcome: Outcome | null): void {
    if (outcome?.denied) throw new errors.AccessDenied(outcome.denied.message);
  }

  return {
    /** For the provider's extraTokenClaims: the access token's extra claims. */
    async accessTokenClaims(ctx: KoaContextWithOIDC, token: { kind?: string; accountId?: string; scope?: string }): Promise<Record<string, unknown> | undefined> {
      if (token.kind !== 'AccessToken') return undefined;
      const outcome = await outcomeFor(ctx, token.accountId, token.scope);
      denyIfDenied(outcome);
      // Scope roles / groups: the access token (a resource server's JWT, or introspection of an
      // opaque one) carries them as the ID token does; a hook's claim of the same name wins.
      const scopes = (requestedScope(ctx) ?? token.scope ?? '').split(' ').filter(Boolean);
      const memberships = token.accountId && deps.membershipClaims && asksForMemberships(scopes) ? await deps.membershipClaims(token.accountId, ctx.oidc?.client?.clientId ?? null, scopes) : {};
      const claims = { ...memberships, ...(outcome?.decision.accessTokenClaims ?? {}) };
      return Object.keys(claims).length ? claims : undefined;
    },

    /** Wraps IdToken#issue so ID tokens of the hooked grants carry the hooks' claims. */
    install(provider: Provider): void {
      const IdToken = provider.IdToken as unknown as { prototype: { issue(this: IdTokenLike, options?: { use?: string }): Promise<string> } };
      const issue = IdToken.prototype.issue;
      IdToken.prototype.issue = async function issueWithHooks(this: IdTokenLike, options?: { use?: string }) {
        if (options?.use === 'idtoken' && this.ctx) {
          const accountId = this.available?.sub as string | undefined;
          const outcome = await outcomeFor(this.ctx, accountId, this.ctx.oidc?.entities?.AccessToken?.scope);
          denyIfDenied(outcome);
          for (const [key, value] of Object.entries(outcome?.decision.idTokenClaims ?? {})) this.set(key, value);
        }
        return issue.call(this, options);
      };
    },
  };
}

interface IdTokenLike {
  ctx?: KoaContextWithOIDC & { oidc: KoaContextWithOIDC['oidc'] & { entities?: { AccessToken?: { scope?: string } } } };
  available?: Record<string, unknown>;
  set(key: string, value: unknown): void;
}
