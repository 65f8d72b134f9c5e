// The baseline for the token benchmarks: bare oidc-provider with its in-memory adapter, a static
// client and account, and its development login pages. Run as its own process: PORT=… node this.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

import { BARE_CLIENT } from './bare-provider-client.ts';

const port = Number(process.env.PORT ?? 3999);
const callback = process.env.CALLBACK ?? 'http://rp.bench/callback';
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{ ...BARE_CLIENT, redirect_uris: [callback], grant_types: ['authorization_code', 'refresh_token'] }],
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: 'ada@example.com', email_verified: true };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 3600 },
});
// oidc-provider's console notices about development defaults are not benchmark output.
console.warn = () => {};
createServer(provider.callback()).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
