// Admin API: GET /webhook-event-types, the webhook event types an endpoint may subscribe to (the
// console's event picker reads it; the hook events are GET /events).
import type Router from '@koa/router';
import type { Services } from '../services.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/outbox.ts';

export function catalogRoutes(router: Router, _services: Services): void {
  router.get('/webhook-event-types', async (ctx) => {
    ctx.body = [...WEBHOOK_EVENT_TYPES];
  });
}
