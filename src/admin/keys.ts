// Admin API: signing keys. Rotation adds a key that signs from the next start on (every instance
// loads keys at start); older keys stay in the JWKS until retired. No private material is answered.
import type Router from '@koa/router';
import { ClientError, NotFoundError } from '../errors.ts';
import { listSigningKeys, retireKey, rotateKeys } from '../oidc/keys.ts';
import type { Services } from '../services.ts';

export function keyRoutes(router: Router, services: Services): void {
  router.get('/keys', async (ctx) => {
    ctx.body = await listSigningKeys(services.db);
  });

  router.post('/keys/rotate', async (ctx) => {
    const kid = await rotateKeys(services.db);
    const key = (await listSigningKeys(services.db)).find((k) => k.kid === kid);
    ctx.status = 201;
    ctx.body = { ...key, kid, note: 'the new key signs from the next start; existing keys stay in the JWKS' };
  });

  router.post('/keys/:kid/retire', async (ctx) => {
    const kid = ctx.params.kid!;
    const keys = await listSigningKeys(services.db);
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new NotFoundError('signing key');
    if (key.retired_at) throw new ClientError(409, 'conflict', 'kid: the key is already retired');
    if (!(await retireKey(services.db, kid))) throw new ClientError(409, 'conflict', 'kid: the newest signing key cannot be retired');
    ctx.body = (await listSigningKeys(services.db)).find((k) => k.kid === kid);
  });
}
