/**
 * Groups: private spaces with members, roles and a signed membership log (docs/identity.md §5).
 * A group is also a space: its records are read and written through /api/spaces/:space/….
 *
 *   GET    /api/groups                          groups the caller is a member of
 *   POST   /api/groups                          { name, meta? } → a new group owned by the caller
 *   GET    /api/groups/:group                   members, roles, epochs and the log's health
 *   POST   /api/groups/:group/members           { member: "p2pid1…", role } → add
 *   PUT    /api/groups/:group/members/:member   { role } → change a role
 *   DELETE /api/groups/:group/members/:member   remove (and change the keys)
 *   POST   /api/groups/:group/rekey             change the keys without changing members
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import { filesTableKey } from '../../files/table.js';
import { identityText, type Identity } from '../../keys/keys.js';
import { actorOf } from '../actor.js';
import { inviteeKey, type Gateway } from '../gateway.js';
import { NAME_MAX, type Space } from '../space.js';
import { parseBody } from './body.js';

const roleSchema = z.enum(['admin', 'writer', 'reader']);
const createSchema = z
  .object({
    name: z.string().trim().min(1).max(NAME_MAX),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const addSchema = z.object({ member: z.string().min(1).max(200), role: roleSchema }).strict();
const roleBody = z.object({ role: roleSchema }).strict();

export function registerGroupRoutes(app: FastifyInstance, gateway: Gateway): void {
  const layer = gateway.identity;

  function group(actor: Identity, id: string): Space {
    const space = gateway.keyring.space(id, identityText(actor));
    if (!space || space.kind !== 'group') {
      throw new P2PError('no_such_group', `no group ${id.slice(0, 80)} for this identity`);
    }
    return space;
  }

  function filesTableOf(id: string): string | null {
    const keys = layer.groups.currentKeys(id);
    if (!keys?.table) return null;
    return toHex(filesTableKey(Buffer.from(id, 'hex'), keys.table.signing.seed).signing.publicKey);
  }

  function view(space: Space): Record<string, unknown> {
    const state = layer.groups.state(space.id);
    return {
      id: space.id,
      name: space.name,
      meta: space.meta,
      owner: state.owner ?? null,
      role: space.group!.role,
      writable: space.group!.writable,
      members: [...state.members].map(([member, role]) => ({ member, role })),
      epochs: state.applied.length,
      epoch: state.current ?? null,
      // What an operator lists in a node's pow_tables to waive work for this group's files.
      files_table: filesTableOf(space.id),
      complete: state.missing.length === 0,
      missing: state.missing.length,
      clean: layer.groups.clean(space.id) ?? null,
      rejected: state.rejected.map((r) => ({ op: r.hash, reason: r.reason })),
    };
  }

  /** Runs a commit and answers the group as it is after it. */
  async function commit(
    actor: Identity,
    id: string,
    input: Parameters<typeof layer.commit>[2],
  ): Promise<Record<string, unknown>> {
    const space = group(actor, id);
    await layer.commit(actor, space.id, input);
    return view(group(actor, id));
  }

  function member(text: string): string {
    inviteeKey(text);
    return text.trim();
  }

  app.get('/api/groups', async (request) => {
    const actor = actorOf(gateway, request);
    return {
      groups: gateway
        .spaces(actor)
        .filter((s) => s.kind === 'group')
        .map(view),
    };
  });

  app.post('/api/groups', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const body = parseBody(createSchema, request.body);
    const space = await gateway.createSpace(actor, body.name, body.meta ?? {});
    void reply.code(201);
    return view(space);
  });

  app.get('/api/groups/:group', async (request) => {
    const { group: id } = request.params as { group: string };
    return view(group(actorOf(gateway, request), id));
  });

  app.post('/api/groups/:group/members', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const { group: id } = request.params as { group: string };
    const body = parseBody(addSchema, request.body);
    const result = await commit(actor, id, {
      op: 'add',
      member: member(body.member),
      role: body.role,
    });
    void reply.code(201);
    return result;
  });

  app.put('/api/groups/:group/members/:member', async (request) => {
    const actor = actorOf(gateway, request);
    const params = request.params as { group: string; member: string };
    const body = parseBody(roleBody, request.body);
    return commit(actor, params.group, {
      op: 'role',
      member: member(params.member),
      role: body.role,
    });
  });

  app.delete('/api/groups/:group/members/:member', async (request) => {
    const actor = actorOf(gateway, request);
    const params = request.params as { group: string; member: string };
    const target = member(params.member);
    const space = group(actor, params.group);
    await layer.commit(actor, space.id, { op: 'remove', member: target });
    // Removing oneself leaves: the group is no longer one's to show.
    const after = gateway.keyring.space(space.id, identityText(actor));
    return after ? view(after) : { id: space.id, left: true };
  });

  app.post('/api/groups/:group/rekey', async (request) => {
    const actor = actorOf(gateway, request);
    const { group: id } = request.params as { group: string };
    return commit(actor, id, { op: 'rekey' });
  });
}
