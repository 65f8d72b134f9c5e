// Admin API: webhook endpoints (CONTRACT §4, §6) and their delivery log. The secret is answered twice
// only: when the endpoint is created and when it is rotated.
import type Router from '@koa/router';
import { ValidationError } from '../errors.ts';
import type { Services } from '../services.ts';
import { DELIVERY_STATUSES, webhookInput, type DeliveryStatus } from '../webhooks/endpoints.ts';
import { isWebhookEventType, listWebhookEvents } from '../webhooks/outbox.ts';
import { onlyFields } from '../input.ts';
import { objectBody, optionalObjectBody, queryInt, queryString } from './body.ts';

export function webhookRoutes(router: Router, services: Services): void {
  const store = services.webhooks;

  router.post('/webhooks', async (ctx) => {
    const created = await store.create(webhookInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/webhooks/${created.id}`);
    ctx.set('cache-control', 'no-store');
    ctx.body = created;
  });

  // The outbox: the events themselves (whoever subscribes), newest first; a user's with ?user_id=.
  router.get('/webhook-events', async (ctx) => {
    const type = queryString(ctx, 'type', 60);
    if (type !== undefined && !isWebhookEventType(type)) throw new ValidationError('type', 'is not a webhook event type (GET /admin/api/webhook-event-types lists them)');
    ctx.body = await listWebhookEvents(services.db, {
      userId: queryString(ctx, 'user_id', 60),
      type,
      limit: queryInt(ctx, 'limit', 50, 1, 500),
      offset: queryInt(ctx, 'offset', 0, 0, 10_000_000),
    });
  });

  router.get('/webhooks', async (ctx) => {
    ctx.body = await store.list();
  });

  router.get('/webhooks/:id', async (ctx) => {
    ctx.body = await store.get(ctx.params.id!);
  });

  router.patch('/webhooks/:id', async (ctx) => {
    ctx.body = await store.update(ctx.params.id!, webhookInput(objectBody(ctx)));
  });

  router.delete('/webhooks/:id', async (ctx) => {
    await store.delete(ctx.params.id!);
    ctx.status = 204;
  });

  // A new secret (given, or generated); the old one keeps signing too during the rotation window.
  router.post('/webhooks/:id/rotate-secret', async (ctx) => {
    const body = onlyFields(optionalObjectBody(ctx), ['secret']);
    ctx.set('cache-control', 'no-store');
    ctx.body = await store.rotateSecret(ctx.params.id!, { secret: body.secret });
  });

  router.get('/webhooks/:id/deliveries', async (ctx) => {
    const status = queryString(ctx, 'status', 20);
    if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
      throw new ValidationError('status', `must be one of ${DELIVERY_STATUSES.join(', ')}`);
    }
    const eventType = queryString(ctx, 'event_type', 60);
    if (eventType !== undefined && !isWebhookEventType(eventType)) throw new ValidationError('event_type', 'is not a known event type');
    ctx.body = await store.deliveries(ctx.params.id!, {
      status: status as DeliveryStatus | undefined,
      eventType,
      limit: queryInt(ctx, 'limit', 50, 1, 500),
      offset: queryInt(ctx, 'offset', 0, 0, 10_000_000),
    });
  });

  router.get('/webhooks/:id/deliveries/:delivery_id', async (ctx) => {
    ctx.body = await store.delivery(ctx.params.id!, ctx.params.delivery_id!);
  });

  // Manual retry of a failed delivery (or a resend of a delivered one): one more attempt, now.
  router.post('/webhooks/:id/deliveries/:delivery_id/retry', async (ctx) => {
    ctx.status = 202;
    ctx.body = await store.retry(ctx.params.id!, ctx.params.delivery_id!);
  });
}
