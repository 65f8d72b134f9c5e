// The account page is an OIDC client of this very server, like the console: the application
// `tessera-account`, a confidential client (code + PKCE) whose only redirect URI is the account
// page's callback. Its MFA policy is "optional": a user with a factor proves it at sign-in; the
// step-up of a factor change asks for it whatever the policy (acr loa:2).
import { CONSOLE_CLIENT_ID } from '../admin/console-client.ts';
import type { SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import type { ApplicationService } from '../oidc/applications.ts';
import { ensureFirstPartyClient, type FirstPartyClient } from '../oidc/first-party-clients.ts';

export const ACCOUNT_CLIENT_ID = 'tessera-account';

export function accountUris(issuer: string): { redirectUri: string; postLogoutRedirectUri: string } {
  return { redirectUri: `${issuer}/account/callback`, postLogoutRedirectUri: `${issuer}/account/signed-out` };
}

/** Makes sure the account page's application exists as it must be; answers its credentials. */
export async function ensureAccountClient(db: Db, box: SecretBox, applications: ApplicationService, issuer: string): Promise<FirstPartyClient> {
  return ensureFirstPartyClient(db, box, applications, {
    clientId: ACCOUNT_CLIENT_ID,
    secretSetting: 'account_client_secret',
    name: 'Your account',
    ...accountUris(issuer),
    mfa: 'optional',
  });
}

/** The applications whose branding the account page (and its sign-in) may wear: any but the server's own clients. */
export function brandableClient(clientId: unknown): string | null {
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 100) return null;
  return clientId === ACCOUNT_CLIENT_ID || clientId === CONSOLE_CLIENT_ID ? null : clientId;
}
