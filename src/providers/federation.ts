// What one process holds for external providers, built once by server.ts: the provider store, the
// links, the sign-ins in flight, the clients that talk to the providers, and verification results.
import type { Config } from '../config.ts';
import type { SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import type { Resolver } from '../net/resolve-target.ts';
import { ProviderClients } from './client.ts';
import { providerFetch } from './http.ts';
import { UserLinks } from './links.ts';
import { PendingLogins } from './pending.ts';
import { IdentityProviderStore } from './store.ts';
import { IdentityVerifications } from './verifications.ts';

export interface Federation {
  providers: IdentityProviderStore;
  links: UserLinks;
  pending: PendingLogins;
  clients: ProviderClients;
  verifications: IdentityVerifications;
}

export function createFederation(options: { db: Db; box: SecretBox; config: Config; resolve?: Resolver; applicationExists: (clientId: string) => Promise<boolean> }): Federation {
  const { db, config } = options;
  const providers = new IdentityProviderStore(db, options.box, options.applicationExists);
  const fetch = providerFetch({ allowedHosts: config.federation.allowedHosts, timeoutMs: config.federation.timeoutMs, resolve: options.resolve });
  return {
    providers,
    links: new UserLinks(db),
    pending: new PendingLogins(db),
    clients: new ProviderClients(providers, fetch, `${config.issuer}/external/callback`),
    verifications: new IdentityVerifications(db),
  };
}
