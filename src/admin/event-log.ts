// Admin API: GET /event-log?type=&limit=&offset= (CONTRACT §9): what the server itself reported, newest
// first (the store and its writers: src/event-log.ts).
import type Router from '@koa/router';
import { ValidationError } from '../errors.ts';
import { EVENT_LOG_TYPES, type EventLogType } from '../event-log.ts';
import type { Services } from '../services.ts';
import { queryInt, queryString } from './body.ts';

export function eventLogRoutes(router: Router, services: Services): void {
  router.get('/event-log', async (ctx) => {
    const type = queryString(ctx, 'type', 60);
    if (type !== undefined && !(EVENT_LOG_TYPES as readonly string[]).includes(type)) throw new ValidationError('type', `must be one of ${EVENT_LOG_TYPES.join(', ')}`);
    ctx.body = await services.eventLog.list({
      type: type as EventLogType | undefined,
      limit: queryInt(ctx, 'limit', 50, 1, 500),
      offset: queryInt(ctx, 'offset', 0, 0, 1_000_000),
    });
  });
}
