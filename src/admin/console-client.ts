// The console is an OIDC client of this very server: the application `tessera-console`, a
// confidential client (code + PKCE) whose only redirect URI is the console's callback, with the MFA
// policy "required". It is created at first start (and put back if deleted or if ISSUER changed);
// its secret is generated once, sealed in the settings table, and only the server itself holds it.
import { randomToken, type SecretBox } from '../crypto.ts';
import type { Db } from '../db/knex.ts';
import { getOrCreateSetting } from '../db/settings.ts';
import { ConflictError } from '../errors.ts';
import type { ApplicationService } from '../oidc/applications.ts';

export const CONSOLE_CLIENT_ID = 'tessera-console';
const SECRET_SETTING = 'console_client_secret';

export interface ConsoleClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
}

export function consoleUris(issuer: string): { redirectUri: string; postLogoutRedirectUri: string } {
  return { redirectUri: `${issuer}/admin/callback`, postLogoutRedirectUri: `${issuer}/admin/signed-out` };
}

/** Makes sure the console's application exists as it must be; answers its credentials. */
export async function ensureConsoleClient(db: Db, box: SecretBox, applications: ApplicationService, issuer: string): Promise<ConsoleClient> {
  const sealed = (await getOrCreateSetting(db, SECRET_SETTING, () => box.seal(randomToken(32)))).value;
  const clientSecret = box.open(sealed);
  const { redirectUri, postLogoutRedirectUri } = consoleUris(issuer);
  const wanted = {
    name: 'Tessera console',
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutRedirectUri],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    mfa: 'required',
  };
  const existing = await applications.find(CONSOLE_CLIENT_ID);
  if (!existing) {
    try {
      await applications.create({ ...wanted, client_id: CONSOLE_CLIENT_ID, client_secret: clientSecret });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // another instance created it at the same moment
    }
    return { clientId: CONSOLE_CLIENT_ID, clientSecret, redirectUri, postLogoutRedirectUri };
  }
  // Someone changed it through the admin API (a rotated secret, another URI, MFA off): put it back.
  const metadata = await applications.clientMetadata(CONSOLE_CLIENT_ID);
  const drifted = metadata?.client_secret !== clientSecret || existing.redirect_uris.join(' ') !== redirectUri || existing.post_logout_redirect_uris.join(' ') !== postLogoutRedirectUri;
  if (drifted || existing.mfa !== 'required') {
    await applications.update(CONSOLE_CLIENT_ID, { ...wanted, client_secret: clientSecret });
  }
  return { clientId: CONSOLE_CLIENT_ID, clientSecret, redirectUri, postLogoutRedirectUri };
}
