// The console is an OIDC client of this very server: the application `tessera-console`, a
// confidential client (code + PKCE) whose only redirect URI is the console's callback, with the MFA
// policy "required" (src/oidc/first-party-clients.ts keeps it as it must be).
import type { SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import type { ApplicationService } from '../oidc/applications.ts';
import { ensureFirstPartyClient, type FirstPartyClient } from '../oidc/first-party-clients.ts';

export const CONSOLE_CLIENT_ID = 'tessera-console';

export type ConsoleClient = FirstPartyClient;

export function consoleUris(issuer: string): { redirectUri: string; postLogoutRedirectUri: string } {
  return { redirectUri: `${issuer}/admin/callback`, postLogoutRedirectUri: `${issuer}/admin/signed-out` };
}

/** Makes sure the console's application exists as it must be; answers its credentials. */
export async function ensureConsoleClient(db: Db, box: SecretBox, applications: ApplicationService, issuer: string): Promise<ConsoleClient> {
  return ensureFirstPartyClient(db, box, applications, {
    clientId: CONSOLE_CLIENT_ID,
    secretSetting: 'console_client_secret',
    name: 'Tessera console',
    ...consoleUris(issuer),
    mfa: 'required',
  });
}
