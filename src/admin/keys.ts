// Admin API: signing keys. A rotation adds a key that every instance publishes within
// KEY_REFRESH_INTERVAL and that signs from its activates_at (KEY_PROPAGATION_DELAY later); older keys
// stay in the JWKS until retired. No private material is answered.
import type Router from '@koa/router';
import { ClientError, NotFoundError } from '../errors.ts';
import { listSigningKeys, retireKey, rotateKeys } from '../oidc/keys.ts';
import type { Services } from '../services.ts';

export function keyRoutes(router: Router, services: Services): void {
  router.get('/keys', async (ctx) => {
    ctx.body = await listSigningKeys(services.db);
  });

  router.post('/keys/rotate', async (ctx) => {
    const kid = await rotateKeys(services.db, services.config.cluster.keyPropagationMs);
    // Published here at once; the other instances publish it when told, or at their next refresh.
    await services.keys.refresh();
    await services.keys.announce();
    const key = (await listSigningKeys(services.db)).find((k) => k.kid === kid);
    ctx.status = 201;
    ctx.body = { ...key, kid, note: 'the new key is published by every instance now and signs from activates_at; existing keys stay in the JWKS until retired' };
  });

  router.post('/keys/:kid/retire', async (ctx) => {
    const kid = ctx.params.kid!;
    const keys = await listSigningKeys(services.db);
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new NotFoundError('signing key');
    if (key.retired_at) throw new ClientError(409, 'conflict', 'kid: the key is already retired');
    if (!(await retireKey(services.db, kid))) throw new ClientError(409, 'conflict', 'kid: the newest signing key cannot be retired');
    await services.keys.refresh();
    await services.keys.announce();
    ctx.body = (await listSigningKeys(services.db)).find((k) => k.kid === kid);
  });
}
