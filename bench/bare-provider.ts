// The baseline for the token benchmarks: bare oidc-provider with a static client and account, and
// its development login pages. Run as its own process: PORT=… node this. Its storage is the
// provider's in-memory adapter, or with DATABASE_URL Tessera's own SQL adapter (src/oidc/adapter.ts)
// on a migrated database, so that Tessera is compared with the provider on the same storage.
// BARE_HOP measures what leaving the main thread once per grant costs, with no work on the way
// (docs/BENCHMARKS.md §13): `threadpool` awaits a 16-byte crypto.randomFill (libuv's pool) in
// extraTokenClaims, `isolate` awaits one call of a trivial async function in an isolated-vm isolate
// (the hook sandbox's transport, without the sandbox).
import { randomFill } from 'node:crypto';
import { createServer } from 'node:http';
import ivm from 'isolated-vm';
import Provider, { type Configuration } from 'oidc-provider';
import { openDatabase } from '../src/db/knex.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createAdapterFactory } from '../src/oidc/adapter.ts';
import { BARE_CLIENT } from './bare-provider-client.ts';

const port = Number(process.env.PORT ?? 3999);
const callback = process.env.CALLBACK ?? 'http://rp.bench/callback';

async function sqlAdapter(url: string): Promise<Configuration['adapter']> {
  const db = openDatabase(url);
  await migrateToLatest(db);
  // The one client is static (configuration.clients): the adapter is never asked for it.
  return createAdapterFactory(db, { clientMetadata: async () => undefined });
}

/** One round trip off the main thread per grant, as BARE_HOP says; none by default. */
async function hopper(kind: string | undefined): Promise<(() => Promise<void>) | null> {
  if (kind === 'threadpool') return () => new Promise((resolve, reject) => randomFill(new Uint8Array(16), (error) => (error ? reject(error) : resolve())));
  if (kind === 'isolate') {
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    const context = await isolate.createContext();
    const run = (await context.eval('(async function run(json) { return json.length; })', { reference: true })) as ivm.Reference<(json: string) => Promise<number>>;
    return async () => {
      await run.apply(undefined, ['{"claims":{}}'], { result: { promise: true } });
    };
  }
  if (kind) throw new Error(`BARE_HOP must be threadpool or isolate, got ${kind}`);
  return null;
}
const hop = await hopper(process.env.BARE_HOP);

const provider = new Provider(`http://127.0.0.1:${port}`, {
  ...(process.env.DATABASE_URL ? { adapter: await sqlAdapter(process.env.DATABASE_URL) } : {}),
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
  ...(hop
    ? {
        async extraTokenClaims() {
          await hop();
          return undefined;
        },
      }
    : {}),
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 3600 },
});
// oidc-provider's console notices about development defaults are not benchmark output.
console.warn = () => {};
createServer(provider.callback()).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
// A clean exit on SIGTERM, so that a CPU profile (BENCH_PROFILE) is written.
process.on('SIGTERM', () => process.exit(0));
