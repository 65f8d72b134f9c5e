// Admin API: the dev outbox. When both SMTP_URL and SMS_WEBHOOK_URL are set nothing is kept there,
// so the route answers 404 with a note rather than an empty list that looks like "nothing was sent".
// With only one of them set, the outbox still holds the other channel's messages.
import type Router from '@koa/router';
import { ClientError } from '../errors.ts';
import { listMessages } from '../messaging/outbox.ts';
import type { Services } from '../services.ts';
import { queryInt, queryString } from './body.ts';

export function messageRoutes(router: Router, services: Services): void {
  router.get('/messages', async (ctx) => {
    if (services.config.smtpUrl && services.config.smsWebhookUrl) {
      throw new ClientError(404, 'not_found', 'the dev outbox is off: SMTP_URL and SMS_WEBHOOK_URL are both set, so messages are delivered instead of stored');
    }
    const to = queryString(ctx, 'to');
    const limit = queryInt(ctx, 'limit', 50, 1, 200);
    ctx.body = await listMessages(services.db, to?.trim() ? to : null, limit);
  });
}
