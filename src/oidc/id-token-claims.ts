// Which claims an ID token carries, per application (`id_token_claims`). The provider runs with
// conformIdTokenClaims off, so ID tokens carry the claims of every scope granted (email, profile,
// phone), as Auth0, Okta and Keycloak issue them. An application set to "strict" gets OpenID
// Connect's strict reading back, exactly as oidc-provider's conformIdTokenClaims does it: when the
// access token issued alongside can read the claims from userinfo (it has no resource server's
// audience), the ID token holds only those of `openid` (sub) and the claims asked for by name.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ApplicationService } from './applications.ts';

interface IdTokenLike {
  ctx?: KoaContextWithOIDC;
  client?: { clientId: string };
  scope?: string;
}

function accessTokenOf(ctx: KoaContextWithOIDC | undefined): { aud?: unknown } | undefined {
  return (ctx?.oidc as unknown as { entities?: { AccessToken?: { aud?: unknown } } } | undefined)?.entities?.AccessToken;
}

export function createIdTokenClaims(applications: Pick<ApplicationService, 'find'>) {
  /** Whether this request's ID token leaves the scope claims to userinfo. */
  async function strict(ctx: KoaContextWithOIDC | undefined, clientId: string | undefined): Promise<boolean> {
    if (!clientId) return false;
    const app = await applications.find(clientId);
    if (app?.id_token_claims !== 'strict') return false;
    return !accessTokenOf(ctx)?.aud;
  }

  return {
    /** The scopes whose claims this request's ID token carries (what before_id_token is shown). */
    async scopesFor(ctx: KoaContextWithOIDC, scopes: string[]): Promise<string[]> {
      return (await strict(ctx, ctx.oidc?.client?.clientId)) ? scopes.filter((scope) => scope === 'openid') : scopes;
    },

    /** Wraps IdToken#issue: a strict application's ID token is masked to the openid scope. */
    install(provider: Provider): void {
      const IdToken = provider.IdToken as unknown as { prototype: { issue(this: IdTokenLike, options?: { use?: string }): Promise<string> } };
      const issue = IdToken.prototype.issue;
      IdToken.prototype.issue = async function issueWithClaimsSetting(this: IdTokenLike, options?: { use?: string }) {
        if (options?.use === 'idtoken' && (await strict(this.ctx, this.client?.clientId))) this.scope = 'openid';
        return issue.call(this, options);
      };
    },
  };
}
