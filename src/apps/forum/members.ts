/**
 * Members of a private community (a group, docs/identity.md §5): who they are and their roles,
 * and the owner's and admins' changes to them. Each change is a group commit: a new epoch whose
 * keys reach the remaining members only, so a removed member's gateway reads nothing written
 * after it (docs/gateway.md §11).
 *
 *   GET    /forum/api/c/:space/members             members and roles, and what the caller may do
 *   PUT    /forum/api/c/:space/members/:member     { role } → change a role (owner or admin)
 *   DELETE /forum/api/c/:space/members/:member     remove (owner or admin), or leave (oneself)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import { actorOf } from '../../gateway/actor.js';
import { inviteeKey, type Gateway } from '../../gateway/gateway.js';
import { rejectError } from '../../gateway/identity/groups.js';
import type { Space } from '../../gateway/space.js';
import { profileName } from './feed.js';
import { parseRole } from './model.js';
import type { ForumState } from './state.js';

type Role = 'owner' | 'admin' | 'writer' | 'reader';

/** Roles in the order the list shows them. */
const ROLE_ORDER: Record<Role, number> = { owner: 0, admin: 1, writer: 2, reader: 3 };

/**
 * Whether `person` was a member of group `id` once and is not now: the forum says "you are no
 * longer a member" rather than "no such community". Undefined if this gateway does not hold it.
 */
export function wasRemoved(gateway: Gateway, id: string, person: string): boolean {
  const groups = gateway.identity.groups;
  if (!/^[0-9a-f]{32}$/.test(id) || !groups.holds(id)) return false;
  const state = groups.state(id);
  if (state.members.has(person)) return false;
  return state.applied.some((op) => op.person === person || op.member === person);
}

export function registerMemberRoutes(
  app: FastifyInstance,
  gateway: Gateway,
  forum: ForumState,
  communityOf: (actor: Identity, id: string) => { space: Space },
): void {
  const params = (request: FastifyRequest): Record<string, string> =>
    request.params as Record<string, string>;

  /** The community's group, or no_such_group for a public community (it has no members). */
  const groupOf = (actor: Identity, id: string): Space => {
    const { space } = communityOf(actor, id);
    if (space.kind !== 'group') {
      throw new P2PError(
        'no_such_group',
        'this community has no members to manage: only private copies do',
      );
    }
    return space;
  };

  const view = (actor: Identity, space: Space): Record<string, unknown> => {
    const me = gateway.personOf(actor);
    const state = gateway.identity.groups.state(space.id);
    const role = state.members.get(me);
    const manages = role === 'owner' || role === 'admin';
    return {
      space: space.id,
      role: role ?? null,
      can_manage: manages,
      members: [...state.members]
        .map(([member, memberRole]) => ({
          member,
          role: memberRole,
          name: profileName(gateway.index.db, forum.directory.id, member),
          me: member === me,
        }))
        .sort(
          (a, b) =>
            ROLE_ORDER[a.role] - ROLE_ORDER[b.role] ||
            Number(b.me) - Number(a.me) ||
            a.member.localeCompare(b.member),
        ),
    };
  };

  /**
   * Commits a membership change after checking it against the state held here: a refused
   * change costs the node no directory reads and no proof of work.
   */
  const change = async (
    actor: Identity,
    space: Space,
    input: { op: 'remove' | 'role'; member: string; role?: Exclude<Role, 'owner'> },
  ): Promise<void> => {
    const { role } = input;
    const check = gateway.identity.groups.state(space.id).check(gateway.personOf(actor), {
      op: input.op,
      member: input.member,
      ...(role ? { role } : {}),
    });
    if (!check.ok) throw rejectError(check.reason);
    await gateway.identity.commit(actor, space.id, {
      op: input.op,
      member: input.member,
      ...(role ? { role } : {}),
    });
  };

  /** The member named in the path: an identity text (bad_key with a reason if not). */
  const memberOf = (request: FastifyRequest): string => {
    const text = params(request).member!;
    inviteeKey(text);
    return text.trim();
  };

  app.get('/forum/api/c/:space/members', async (request) => {
    const actor = actorOf(gateway, request);
    return view(actor, groupOf(actor, params(request).space!));
  });

  app.put('/forum/api/c/:space/members/:member', async (request) => {
    const actor = actorOf(gateway, request);
    const space = groupOf(actor, params(request).space!);
    const member = memberOf(request);
    const { role } = parseRole(request.body);
    await change(actor, space, { op: 'role', member, role });
    return view(actor, groupOf(actor, space.id));
  });

  app.delete('/forum/api/c/:space/members/:member', async (request) => {
    const actor = actorOf(gateway, request);
    const space = groupOf(actor, params(request).space!);
    const member = memberOf(request);
    await change(actor, space, { op: 'remove', member });
    // Removing oneself is leaving: the community is no longer one's to show.
    if (member === gateway.personOf(actor)) return { space: space.id, left: true };
    return { ...view(actor, groupOf(actor, space.id)), removed: member };
  });
}
