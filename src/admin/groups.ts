// Admin API: groups and their members (CONTRACT §9). A group holds roles per application
// ({client_id: [role]}) that its members hold in that application's tokens. PUT of a member adds it
// (201) or changes its `data` (200); each change writes its group.* event and `.complete` twin.
import type Router from '@koa/router';
import { groupInput, groupPatch, memberInput } from '../identity/groups.ts';
import type { Services } from '../services.ts';
import { objectBody, optionalObjectBody, queryInt } from './body.ts';

export function groupRoutes(router: Router, services: Services): void {
  const groups = services.groups;
  const page = (ctx: Parameters<Parameters<Router['get']>[1]>[0]) => ({ limit: queryInt(ctx, 'limit', 100, 1, 500), offset: queryInt(ctx, 'offset', 0, 0, 1_000_000) });

  router.post('/groups', async (ctx) => {
    const group = await groups.create(groupInput(objectBody(ctx)));
    ctx.status = 201;
    ctx.set('location', `/admin/api/groups/${group.id}`);
    ctx.body = group;
  });

  router.get('/groups', async (ctx) => {
    ctx.body = await groups.list(page(ctx));
  });

  router.get('/groups/:id', async (ctx) => {
    ctx.body = await groups.get(ctx.params.id!);
  });

  router.patch('/groups/:id', async (ctx) => {
    ctx.body = await groups.update(ctx.params.id!, groupPatch(objectBody(ctx)));
  });

  router.delete('/groups/:id', async (ctx) => {
    await groups.delete(ctx.params.id!);
    ctx.status = 204;
  });

  router.get('/groups/:id/members', async (ctx) => {
    ctx.body = await groups.members(ctx.params.id!, page(ctx));
  });

  // The other way round: the groups one user is in.
  router.get('/users/:id/groups', async (ctx) => {
    ctx.body = await groups.groupsOf(ctx.params.id!);
  });

  router.put('/groups/:id/members/:user_id', async (ctx) => {
    const { member, created } = await groups.putMember(ctx.params.id!, ctx.params.user_id!, memberInput(optionalObjectBody(ctx)));
    ctx.status = created ? 201 : 200;
    ctx.body = member;
  });

  router.delete('/groups/:id/members/:user_id', async (ctx) => {
    await groups.removeMember(ctx.params.id!, ctx.params.user_id!);
    ctx.status = 204;
  });
}
