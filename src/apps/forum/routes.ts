/**
 * The forum's JSON API, mounted on the gateway under /forum/api. Writes go through the
 * gateway (signed, sealed, sent to the nodes); reads come from its local index (feed.ts).
 * Every route acts for the signed-in identity (see gateway/actor.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { P2PError } from '../../errors.js';
import { identityText, type Identity } from '../../keys/keys.js';
import { actorOf } from '../../gateway/actor.js';
import { Gateway } from '../../gateway/gateway.js';
import { invitationView } from '../../gateway/routes/spaces.js';
import { parseObject } from '../../gateway/record.js';
import type { Space } from '../../gateway/space.js';
import {
  directoryCommunities,
  getPost,
  itemExists,
  listComments,
  listPosts,
  postCounts,
  profileName,
  type FeedScope,
} from './feed.js';
import { forkCommunity } from './fork.js';
import { registerMemberRoutes, wasRemoved } from './members.js';
import {
  communityMeta,
  parseComment,
  parseCommunity,
  parseFork,
  parseInvite,
  parsePost,
  parseProfile,
  parseVote,
  voteKey,
  type CommunityMeta,
} from './model.js';
import type { ForumState } from './state.js';

interface Community {
  readonly space: Space;
  readonly meta: CommunityMeta;
}

function communityView(community: Community, posts: number): Record<string, unknown> {
  const { space, meta } = community;
  const isPrivate = space.kind === 'private' || space.kind === 'group';
  return {
    space: space.id,
    slug: meta.slug,
    name: meta.name,
    description: meta.description,
    private: isPrivate,
    forked_from: meta.forkedFrom ?? null,
    posts,
    ...(isPrivate ? { invited: [...space.invited], invited_by: space.invitedBy ?? null } : {}),
    ...(space.group ? { role: space.group.role, members: [...(space.members ?? [])] } : {}),
  };
}

function parsePage(raw: Record<string, unknown>): {
  sort: 'new' | 'top';
  limit: number;
  offset: number;
} {
  let sort: 'new' | 'top' = 'new';
  let limit = 25;
  let offset = 0;
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string')
      throw new P2PError('bad_query', `${name} is given more than once`);
    if (name === 'sort' && (value === 'new' || value === 'top')) sort = value;
    else if (name === 'limit' && /^\d{1,3}$/.test(value) && +value >= 1 && +value <= 100)
      limit = +value;
    else if (name === 'offset' && /^\d{1,5}$/.test(value)) offset = +value;
    else throw new P2PError('bad_query', `bad parameter ${name.slice(0, 40)}`);
  }
  return { sort, limit, offset };
}

export function registerForumRoutes(
  app: FastifyInstance,
  gateway: Gateway,
  forum: ForumState,
): void {
  const scope = (actor: Identity, space: Space): FeedScope => ({
    db: gateway.index.db,
    space: space.id,
    directory: forum.directory.id,
    me: identityText(actor),
  });

  const communityOf = (actor: Identity, id: string): Community => {
    const space = gateway.keyring.space(id, identityText(actor));
    if (!space) {
      if (wasRemoved(gateway, id, gateway.personOf(actor))) {
        throw new P2PError(
          'no_such_space',
          'you are no longer a member of this private community, so nothing written in it since reaches you',
          { removed: true },
        );
      }
      throw new P2PError('no_such_space', `no space ${id.slice(0, 80)} for this identity`);
    }
    const meta = communityMeta(space.meta);
    if (!meta) throw new P2PError('no_such_space', 'not a forum community');
    return { space, meta };
  };

  const params = (request: FastifyRequest): Record<string, string> =>
    request.params as Record<string, string>;

  app.get('/forum/api/me', async (request) => {
    const actor = actorOf(gateway, request);
    const me = identityText(actor);
    return {
      identity: me,
      name: profileName(gateway.index.db, forum.directory.id, me),
      gateway_identity: me === gateway.keyring.defaultText,
    };
  });

  app.put('/forum/api/me', async (request) => {
    const actor = actorOf(gateway, request);
    const { name } = parseProfile(request.body);
    await gateway.write(actor, forum.directory, 'profiles', 'profile', JSON.stringify({ name }));
    return { identity: identityText(actor), name };
  });

  app.get('/forum/api/communities', async (request) => {
    const actor = actorOf(gateway, request);
    const communities = gateway.spaces(actor).flatMap((space) => {
      const meta = communityMeta(space.meta);
      return meta ? [{ space, meta }] : [];
    });
    const counts = postCounts(
      gateway.index.db,
      communities.map((c) => c.space.id),
    );
    return {
      communities: communities
        .map((c) => communityView(c, counts.get(c.space.id) ?? 0))
        .sort(
          (a, b) =>
            Number(b.private) - Number(a.private) ||
            (b.posts as number) - (a.posts as number) ||
            String(a.name).localeCompare(String(b.name)),
        ),
    };
  });

  app.post('/forum/api/communities', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const info = parseCommunity(request.body);
    const known = [
      ...forum.builtin,
      ...directoryCommunities(gateway.index.db, forum.directory.id, 1000),
    ];
    const existing = known.find((c) => c.slug === info.slug);
    if (existing) {
      // Its keys derive from the short name: a second community of that name would be the same
      // one, so the new title and description would be lost. Say so, and where it is.
      const space = forum.addPublic(gateway, existing);
      throw new P2PError(
        'community_exists',
        `a community named "${info.slug}" exists already ("${existing.name.slice(0, 60)}"): choose another short name, or open that one`,
        { space: space.id },
      );
    }
    await gateway.write(actor, forum.directory, 'communities', info.slug, JSON.stringify(info));
    const space = forum.addPublic(gateway, info);
    void reply.code(201);
    return communityView(communityOf(actor, space.id), 0);
  });

  app.get('/forum/api/c/:space', async (request) => {
    const actor = actorOf(gateway, request);
    const community = communityOf(actor, params(request).space!);
    const count = postCounts(gateway.index.db, [community.space.id]).get(community.space.id) ?? 0;
    return communityView(community, count);
  });

  app.get('/forum/api/c/:space/posts', { config: { query: true } }, async (request) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const page = parsePage(request.query as Record<string, unknown>);
    return { ...listPosts(scope(actor, space), page.sort, page.limit, page.offset), ...page };
  });

  app.post('/forum/api/c/:space/posts', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const post = parsePost(request.body);
    const { record } = await gateway.write(
      actor,
      space,
      'posts',
      Gateway.newKey(),
      JSON.stringify(post),
    );
    void reply.code(201);
    return getPost(scope(actor, space), record.id);
  });

  app.get('/forum/api/c/:space/posts/:post', async (request) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const post = getPost(scope(actor, space), params(request).post!);
    if (!post) throw new P2PError('no_such_record', 'no such post');
    return { post, comments: listComments(scope(actor, space), post.id) };
  });

  const removeOwn = async (
    request: FastifyRequest,
    collection: 'posts' | 'comments',
    id: string,
  ) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const record = gateway.record(space, collection, id);
    if (record.author !== identityText(actor)) throw new P2PError('not_author');
    await gateway.write(actor, space, collection, record.key, undefined);
    return { id, deleted: true };
  };

  app.delete('/forum/api/c/:space/posts/:post', async (request) =>
    removeOwn(request, 'posts', params(request).post!),
  );
  app.delete('/forum/api/c/:space/comments/:comment', async (request) =>
    removeOwn(request, 'comments', params(request).comment!),
  );

  app.post('/forum/api/c/:space/posts/:post/comments', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const post = params(request).post!;
    const input = parseComment(request.body);
    if (!getPost(scope(actor, space), post)) throw new P2PError('no_such_record', 'no such post');
    const parent = input.parent ?? null;
    if (parent !== null) {
      const comment = gateway.index.get(space.id, 'comments', parent);
      if (!comment || comment.deleted || parseObject(comment.data)?.post !== post) {
        throw new P2PError('no_such_record', 'no such comment to reply to');
      }
    }
    const { record } = await gateway.write(
      actor,
      space,
      'comments',
      Gateway.newKey(),
      JSON.stringify({ post, parent, body: input.body }),
    );
    void reply.code(201);
    return listComments(scope(actor, space), post).find((c) => c.id === record.id);
  });

  app.post('/forum/api/c/:space/votes', async (request) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const vote = parseVote(request.body);
    if (!itemExists(gateway.index.db, space.id, vote.item)) throw new P2PError('no_such_record');
    await gateway.write(actor, space, 'votes', voteKey(vote.item), JSON.stringify(vote));
    return { item: vote.item, value: vote.value };
  });

  app.post('/forum/api/c/:space/fork', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const community = communityOf(actor, params(request).space!);
    const { name } = parseFork(request.body);
    const { space, copied } = await forkCommunity(
      gateway,
      actor,
      community.space,
      community.meta,
      name,
    );
    void reply.code(201);
    const view = communityView(communityOf(actor, space.id), 0);
    return { ...view, copied };
  });

  app.post('/forum/api/c/:space/invites', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const { space } = communityOf(actor, params(request).space!);
    const { to } = parseInvite(request.body);
    const result = await gateway.invite(actor, space, to);
    void reply.code(201);
    return { space: space.id, invited: to.trim(), entry: result.entry };
  });

  registerMemberRoutes(app, gateway, forum, communityOf);

  app.get('/forum/api/invitations', async (request) => ({
    invitations: gateway
      .invitations(actorOf(gateway, request))
      .map(invitationView)
      .filter((i) => communityMeta(i.meta as Record<string, unknown>) !== undefined),
  }));

  app.post('/forum/api/invitations/:id/accept', async (request) => {
    const actor = actorOf(gateway, request);
    const space = await gateway.accept(actor, params(request).id!);
    return communityView(communityOf(actor, space.id), 0);
  });

  app.post('/forum/api/invitations/:id/decline', async (request) => {
    gateway.decline(actorOf(gateway, request), params(request).id!);
    return { declined: params(request).id };
  });
}
