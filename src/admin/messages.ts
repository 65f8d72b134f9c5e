// Admin API: the message queue (GET /message-queue: every mail and text, what became of it, never its
// content) and the dev outbox (GET /messages). Mail goes there without SMTP_URL; texts only with SMS_DEV_OUTBOX=true
// (and no SMS_WEBHOOK_URL). When neither channel can land there nothing is kept, so the route answers
// 404 with a note rather than an empty list that looks like "nothing was sent".
import type Router from '@koa/router';
import { ClientError, ValidationError } from '../errors.ts';
import { MessageQueue } from '../messaging/message-queue.ts';
import { listMessages } from '../messaging/outbox.ts';
import type { Services } from '../services.ts';
import { queryInt, queryString } from './body.ts';

export function messageRoutes(router: Router, services: Services): void {
  router.get('/message-queue', async (ctx) => {
    const to = queryString(ctx, 'to');
    const status = queryString(ctx, 'status', 20);
    if (status !== undefined && !MessageQueue.isStatus(status)) {
      throw new ValidationError('status', 'must be one of pending, sent, failed, expired, suppressed, brand, denied');
    }
    const limit = queryInt(ctx, 'limit', 50, 1, 500);
    ctx.body = await services.messageQueue.list({ to: to?.trim() ? to : null, status: status ?? null, limit });
  });

  router.get('/messages', async (ctx) => {
    const { smtpUrl, smsWebhookUrl, smsDevOutbox } = services.config;
    if (smtpUrl && smsWebhookUrl) {
      throw new ClientError(404, 'not_found', 'the dev outbox is off: SMTP_URL and SMS_WEBHOOK_URL are both set, so messages are delivered instead of stored');
    }
    if (smtpUrl && !smsDevOutbox) {
      throw new ClientError(404, 'not_found', 'the dev outbox is off: SMTP_URL is set, so mail is delivered, and texts are not stored without SMS_DEV_OUTBOX=true');
    }
    const to = queryString(ctx, 'to');
    const limit = queryInt(ctx, 'limit', 50, 1, 200);
    ctx.body = await listMessages(services.db, to?.trim() ? to : null, limit);
  });
}
