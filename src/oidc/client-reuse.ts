// oidc-provider finds a stored client on every token request: it reads the metadata through the
// adapter, serializes and hashes it (SHA-256) to look up the client it built from the same metadata.
// Our applications are cached already (applications.ts, a second), so while an application's cache
// entry holds, the client built from it is handed back at once, without the copy and the hash.
import type Provider from 'oidc-provider';
import type { ApplicationService } from './applications.ts';

type ClientModel = { find(id: string): Promise<unknown> };

export function reuseClients(provider: Provider, applications: Pick<ApplicationService, 'clientVersion'>): void {
  const Client = provider.Client as unknown as ClientModel;
  const find = Client.find.bind(Client);
  const built = new WeakMap<object, unknown>();
  Client.find = async (id: string) => {
    const version = typeof id === 'string' ? await applications.clientVersion(id) : null;
    // Not an application of ours: the provider's own answer (none).
    if (!version) return find(id);
    let client = built.get(version);
    if (client === undefined) {
      // Built from what is stored now: the same version or a newer one, never an older.
      client = await find(id);
      if (client) built.set(version, client);
    }
    return client;
  };
}
