// Admin API: invitations (CONTRACT §9). POST creates a pending user and sends the link; resend makes a
// new link (the old one stops working); DELETE withdraws a pending invitation.
import type Router from '@koa/router';
import { ValidationError } from '../errors.ts';
import { invitationInput, type InvitationStatus } from '../identity/invitations.ts';
import type { Services } from '../services.ts';
import { objectBody, queryInt, queryString } from './body.ts';

const STATUSES: InvitationStatus[] = ['pending', 'accepted', 'revoked', 'expired'];

export function invitationRoutes(router: Router, services: Services): void {
  const invitations = services.invitations;

  router.post('/invitations', async (ctx) => {
    const invitation = await invitations.create(invitationInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/invitations/${invitation.id}`);
    ctx.body = invitation;
  });

  router.get('/invitations', async (ctx) => {
    const status = queryString(ctx, 'status', 20);
    if (status !== undefined && !(STATUSES as string[]).includes(status)) throw new ValidationError('status', `must be one of ${STATUSES.join(', ')}`);
    ctx.body = await invitations.list({ status: status as InvitationStatus | undefined, limit: queryInt(ctx, 'limit', 50, 1, 200), offset: queryInt(ctx, 'offset', 0, 0, 1_000_000) });
  });

  router.get('/invitations/:id', async (ctx) => {
    ctx.body = await invitations.get(ctx.params.id!);
  });

  router.post('/invitations/:id/resend', async (ctx) => {
    ctx.body = await invitations.resend(ctx.params.id!);
  });

  router.delete('/invitations/:id', async (ctx) => {
    await invitations.revoke(ctx.params.id!);
    ctx.status = 204;
  });
}
