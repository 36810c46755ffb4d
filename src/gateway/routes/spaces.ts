/**
 * Spaces and invitations.
 *
 *   GET  /api/spaces                       spaces the caller may use
 *   POST /api/spaces                       { name, meta? } → a new private space
 *   GET  /api/spaces/:space                one space (`me` = the caller's personal space)
 *   POST /api/spaces/:space/invites        { to: "p2pid1…" } → invitation sealed to `to`
 *   GET  /api/invitations                  pending invitations for the caller
 *   POST /api/invitations/:id/accept       join the invitation's space
 *   POST /api/invitations/:id/decline
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import type { StoredInvitation } from '../index-db.js';
import { parseObject } from '../record.js';
import { NAME_MAX, spaceView } from '../space.js';
import { parseBody } from './body.js';

const createSchema = z
  .object({
    name: z.string().trim().min(1).max(NAME_MAX),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const inviteSchema = z.object({ to: z.string().min(1).max(200) }).strict();

export function invitationView(invitation: StoredInvitation): Record<string, unknown> {
  const secrets = parseObject(invitation.secrets);
  return {
    id: invitation.id,
    from: invitation.inviter,
    at: invitation.at,
    space: invitation.spaceId,
    name: invitation.name,
    meta: secrets?.meta ?? {},
    state: invitation.state,
  };
}

export function registerSpaceRoutes(app: FastifyInstance, gateway: Gateway): void {
  app.get('/api/spaces', async (request) => ({
    spaces: gateway.spaces(actorOf(gateway, request)).map(spaceView),
  }));

  app.post('/api/spaces', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const body = parseBody(createSchema, request.body);
    const space = await gateway.createSpace(actor, body.name, body.meta ?? {});
    void reply.code(201);
    return spaceView(space);
  });

  app.get('/api/spaces/:space', async (request) => {
    const { space } = request.params as { space: string };
    return spaceView(gateway.space(actorOf(gateway, request), space));
  });

  app.post('/api/spaces/:space/invites', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const { space } = request.params as { space: string };
    const body = parseBody(inviteSchema, request.body);
    const target = gateway.space(actor, space);
    const result = await gateway.invite(actor, target, body.to);
    void reply.code(201);
    return {
      space: target.id,
      invited: body.to.trim(),
      entry: result.entry,
      nodes: result.accepted,
    };
  });

  app.get('/api/invitations', async (request) => ({
    invitations: gateway.invitations(actorOf(gateway, request)).map(invitationView),
  }));

  app.post('/api/invitations/:id/accept', async (request) => {
    const { id } = request.params as { id: string };
    return spaceView(await gateway.accept(actorOf(gateway, request), id));
  });

  app.post('/api/invitations/:id/decline', async (request) => {
    const { id } = request.params as { id: string };
    gateway.decline(actorOf(gateway, request), id);
    return { declined: id };
  });
}
