// The oidc-provider configuration: storage, accounts and claims, keys, features, our pages.
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { Db } from '../db/knex.ts';
import type { User, UserService } from '../identity/users.ts';
import { MEMBERSHIP_CLAIMS, membershipClaims, SUPPORTED_CLAIMS, userClaims, type MembershipSource } from './claims.ts';
import type { Logger } from '../log.ts';
import { renderPage } from '../views.ts';
import { t } from '../flows/texts.ts';
import { LOCALES } from '../i18n/locales.ts';
import { announceRevoked, createAdapterFactory } from './adapter.ts';
import type { ApplicationService } from './applications.ts';
import type { KeySet } from './keys.ts';
import type { Lifecycle } from '../hooks/lifecycle.ts';
import { createTokenHooks } from './token-hooks.ts';
import { createIdTokenClaims } from './id-token-claims.ts';
import { reuseClients } from './client-reuse.ts';
import type { FactorService } from '../identity/factors.ts';
import { ACR_VALUES, interactionPolicyWithMfa, issueAuthenticationClaims } from './acr.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import type { ResourceServerService } from './resource-servers.ts';
import { decideGrant, targetNotAllowed } from './resource-grants.ts';

export interface ProviderDeps {
  config: Config;
  db: Db;
  keys: KeySet;
  users: UserService;
  applications: ApplicationService;
  resourceServers: ResourceServerService;
  lifecycle: Lifecycle;
  log: Logger;
  /** When given, a session weaker than the request or the application's MFA policy needs signs in again. */
  factors?: FactorService;
  /** A user's verified_claims (identity verification, src/providers/verifications.ts), asked for through the claims parameter. */
  verifiedClaims?: (userId: string) => Promise<unknown>;
  /** Whether a webhook endpoint wants jwt.refresh; without it every refresh is recorded. */
  subscribers?: { wants(type: 'jwt.refresh', applicationId: string | null): Promise<boolean> };
  /** The roles and groups of scopes `roles` and `groups` (src/identity/registrations.ts). */
  registrations?: MembershipSource;
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config, db, keys, users, applications, resourceServers, lifecycle, log, factors, subscribers } = deps;
  // findAccount runs on every grant; the token hooks reuse the user it loaded for the same request.
  const usersByRequest = new WeakMap<object, User>();
  const idTokenClaims = createIdTokenClaims(applications);
  const tokenHooks = createTokenHooks({
    lifecycle,
    idTokenScopes: idTokenClaims.scopesFor,
    membershipClaims: (userId, clientId, scopes) => membershipClaims(deps.registrations, userId, clientId, scopes),
    loadUser: async (ctx, id) => {
      const loaded = usersByRequest.get(ctx);
      return loaded?.id === id ? loaded : users.findById(id);
    },
    saveMetadata: async (userId, metadata) => {
      await users.update(userId, { metadata });
    },
  });

  const configuration: Configuration = {
    adapter: createAdapterFactory(db, applications),
    jwks: { keys: keys.signing as never },
    cookies: {
      keys: keys.cookie,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // acr and amr stand alone (no scope): every ID token says how the user authenticated.
    // verified_claims (OpenID Connect for Identity Assurance) only when asked for by name (the claims parameter).
    // roles and groups (CONTRACT §9): the user's roles for the asking application, group names.
    claims: { ...SUPPORTED_CLAIMS, ...MEMBERSHIP_CLAIMS, acr: null, amr: null, verified_claims: null },
    // ID tokens carry the claims of the scopes granted; per application, id_token_claims "strict"
    // restores the strict reading (see id-token-claims.ts).
    conformIdTokenClaims: false,
    // acr: loa:1 a password, loa:2 a password and a second factor (the login result sets it, with amr).
    acrValues: ACR_VALUES,
    scopes: ['openid', 'offline_access', 'email', 'profile', 'phone', 'roles', 'groups'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    async findAccount(ctx, sub) {
      const user = await users.findById(sub);
      if (!user || user.status !== 'active') return undefined;
      usersByRequest.set(ctx, user);
      return {
        accountId: user.id,
        async claims(_use, scope, requested) {
          const claims = userClaims(user) as { sub: string; verified_claims?: unknown };
          // ID token and userinfo alike: the roles of the application asking (never another's).
          Object.assign(claims, await membershipClaims(deps.registrations, user.id, ctx.oidc?.client?.clientId, String(scope ?? '').split(' ')));
          if (deps.verifiedClaims && requested && Object.hasOwn(requested, 'verified_claims')) {
            const verified = await deps.verifiedClaims(user.id);
            if (verified) claims.verified_claims = verified;
          }
          return claims;
        },
      };
    },
    // The account page's sign-in names the application it was reached from, whose branding the
    // hosted pages then wear (flows/kit.ts brandClientOf); no other client's pages read it.
    extraParams: ['tessera_brand'],
    // The languages of the hosted pages and mails (ui_locales picks one, src/i18n).
    discovery: { ui_locales_supported: [...LOCALES] },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      ...(factors ? { policy: interactionPolicyWithMfa({ applications, factors }) } : {}),
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      // A client introspects and revokes only the tokens issued to it: another application (a third
      // party, say) learns nothing about them, not even whether they are active.
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = renderPage('logout', { title: t('ui.sign-out'), form, clientName: ctx.oidc.client?.clientName ?? null });
        },
        postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = renderPage('logged-out', { title: t('account.signed-out.title'), clientName: ctx.oidc.client?.clientName ?? null });
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined!,
        useGrantedResource: () => true,
        // Called at the authorization request, at every token request (code, refresh, client
        // credentials) and for each token issued: a permission withdrawn stops the next refresh.
        async getResourceServerInfo(ctx, indicator, client) {
          const server = await resourceServers.find(indicator);
          if (!server) throw new errors.InvalidTarget(targetNotAllowed(indicator));
          const app = client ? await applications.find(client.clientId) : null;
          const scope = ctx.oidc?.params?.scope;
          const decision = decideGrant(server, app?.resource_servers ?? [], typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
          if ('error' in decision) {
            if (decision.error === 'invalid_scope') throw new errors.InvalidScope(decision.description, decision.scope);
            throw new errors.InvalidTarget(decision.description);
          }
          return {
            scope: decision.allowed.join(' '),
            audience: server.identifier,
            accessTokenFormat: 'jwt',
            accessTokenTTL: server.access_token_ttl ?? config.ttl.accessTokenSeconds,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: (ctx, token) => tokenHooks.accessTokenClaims(ctx, token as never),
    pkce: {
      // Public clients must use PKCE (S256 only); confidential clients may.
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    ttl: {
      AccessToken: config.ttl.accessTokenSeconds,
      AuthorizationCode: 60,
      ClientCredentials: config.ttl.accessTokenSeconds,
      IdToken: 3600,
      Interaction: 3600,
      Session: config.ttl.sessionSeconds,
      Grant: config.ttl.refreshTokenSeconds,
      RefreshToken: config.ttl.refreshTokenSeconds,
    },
    // First-party applications never show a consent page: their grant covers what they ask for.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      const app = await applications.find(client.clientId);
      if (!app || app.third_party) return grant;
      const firstPartyGrant = grant ?? new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grantRequested(ctx, firstPartyGrant);
      await firstPartyGrant.save();
      return firstPartyGrant;
    },
    renderError(ctx, out, error) {
      log.debug({ err: error }, 'oidc error page');
      ctx.type = 'html';
      ctx.body = renderPage('error', { title: t('ui.error.title'), error: out.error, description: out.error_description ?? null });
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  reuseClients(provider, applications);
  tokenHooks.install(provider);
  idTokenClaims.install(provider);
  issueAuthenticationClaims(provider);
  recordRefreshes(provider, db, log, subscribers);
  recordRevocations(provider, db, log);
  applications.useValidator(async (metadata) => {
    await provider.Client.validate(metadata as Parameters<typeof provider.Client.validate>[0]);
  });
  return provider;
}

/**
 * jwt.refresh: the provider announces a successful grant (grant.success) before it answers; the event
 * is written before the answer leaves, so a client never holds refreshed tokens whose event was not
 * recorded. It costs the grant one INSERT (a refresh without rotation makes three reads and one write),
 * so it is written only while a webhook endpoint subscribes to it: no endpoint would ever get it
 * otherwise (an endpoint gets the events created after it, src/webhooks/subscribers.ts).
 */
function recordRefreshes(provider: Provider, db: Db, log: Logger, subscribers: ProviderDeps['subscribers']): void {
  const refreshes = new WeakMap<object, Record<string, unknown>>();
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    if (ctx.oidc.params?.grant_type !== 'refresh_token') return;
    const { entities } = ctx.oidc as unknown as { entities: Record<string, { accountId?: string; grantId?: string; scope?: string } | undefined> };
    refreshes.set(ctx, {
      user_id: entities.Account?.accountId ?? entities.RefreshToken?.accountId ?? null,
      application_id: ctx.oidc.client?.clientId ?? null,
      grant_id: entities.RefreshToken?.grantId ?? null,
      scope: entities.AccessToken?.scope ?? entities.RefreshToken?.scope ?? null,
      rotated: entities.RotatedRefreshToken !== undefined,
    });
  });
  provider.use(async (ctx, next) => {
    await next();
    const data = refreshes.get(ctx);
    if (!data || ctx.status !== 200) return;
    try {
      if (subscribers && !(await subscribers.wants('jwt.refresh', ctx.oidc.client?.clientId ?? null))) return;
      await recordEvent(db, 'jwt.refresh', data);
    } catch (err) {
      // The tokens are issued (and a rotated refresh token consumed): failing the answer now would
      // lock the client out, so the failure is logged loudly instead.
      log.error({ err, ...data }, 'jwt.refresh event could not be recorded');
    }
  });
}

/**
 * jwt.refresh-token.revoke from the revocation endpoint (RFC 7009): a client revoked one of its
 * refresh tokens (its grant goes with it). Written after the token is gone; a failure is logged (the
 * revocation stands).
 */
function recordRevocations(provider: Provider, db: Db, log: Logger): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'revocation' || ctx.status !== 200) return;
    const token = (ctx.oidc.entities as { RefreshToken?: { accountId?: string; clientId?: string } }).RefreshToken;
    if (!token?.accountId || !token.clientId) return;
    await announceRevoked(db, token.accountId, [token.clientId], 'revocation').catch((err) => log.error({ err }, 'jwt.refresh-token.revoke could not be recorded'));
  });
}

/** Adds to the grant every scope, claim and resource scope the pending authorization asks for. */
function grantRequested(ctx: KoaContextWithOIDC, grant: InstanceType<Provider['Grant']>): void {
  const details = ctx.oidc;
  const scopes = details.params?.scope ? String(details.params.scope) : '';
  if (scopes) grant.addOIDCScope(scopes);
  const claims = details.params?.claims ? (JSON.parse(String(details.params.claims)) as { id_token?: object; userinfo?: object }) : null;
  if (claims) grant.addOIDCClaims([...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})]);
  for (const [indicator, resource] of Object.entries(details.resourceServers ?? {})) {
    if (resource.scope) grant.addResourceScope(indicator, resource.scope);
  }
}
