/**
 * "Make a private copy" of a community: a fork by key change. The copy is a new space with a
 * fresh table key pair (who may post) and a fresh reader key (whom entries are sealed to), held
 * only by its creator until they invite members. The community's posts, comments and votes are
 * copied in verbatim (their authors' signatures and times still hold), sealed to the new reader
 * key: outsiders, node operators included, cannot read the copy, and nothing posted in it
 * reaches the original.
 */
import type { Identity } from '../../keys/keys.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { Space } from '../../gateway/space.js';
import type { CommunityMeta } from './model.js';

/** Copies at most this many records, oldest first. */
export const MAX_COPIED = 1000;

export async function forkCommunity(
  gateway: Gateway,
  actor: Identity,
  source: Space,
  community: CommunityMeta,
  name?: string,
): Promise<{ space: Space; copied: number }> {
  const title = name ?? `${community.name} (private)`;
  const space = await gateway.createSpace(actor, title, {
    forum: {
      kind: 'community',
      slug: community.slug,
      name: title,
      description: community.description,
      private: true,
      forked_from: source.id,
      forked_at: Date.now(),
    },
  });
  const records = gateway.index.all(source.id, ['posts', 'comments', 'votes'], MAX_COPIED);
  const copied = await gateway.copyRecords(space, records);
  return { space, copied };
}
