/**
 * The public forum: spaces whose keys every copy of the app derives from one published seed,
 * so that all forum users meet in the same place and any node can carry it. Being public, it is
 * readable by anyone who knows this file, node operators included; private copies of a
 * community (fork.ts) use fresh keys instead.
 *
 * - The directory space lists communities (collection `communities`, key = slug) and user
 *   profiles (collection `profiles`, key `profile`).
 * - Each public community is its own space, derived from the seed and its slug.
 */
import { publicSpace, type Space } from '../../gateway/space.js';

/** Published: changing it starts a different public forum. */
export const FORUM_SEED = 'p2pcloud forum: the public square, version 1';

export const SLUG_RE = /^[a-z0-9][a-z0-9-]{1,29}$/;
/** SLUG_RE in words, for people who typed something else. */
export const SLUG_RULE =
  'the short name must be 2 to 30 characters: lowercase letters a-z, digits and -, not starting with -';

export interface CommunityInfo {
  readonly slug: string;
  readonly name: string;
  readonly description: string;
}

/** Communities every forum has from the start. */
export const BUILTIN_COMMUNITIES: readonly CommunityInfo[] = [
  { slug: 'general', name: 'General', description: 'Anything goes. Say hello!' },
  {
    slug: 'p2pcloud',
    name: 'p2pcloud',
    description: 'The encrypted peer-to-peer database this forum runs on.',
  },
  {
    slug: 'show-and-tell',
    name: 'Show and tell',
    description: 'Things you built, found or fixed.',
  },
];

export function directorySpace(): Space {
  return publicSpace(FORUM_SEED, 'forum/directory', 'Forum directory', {
    forum: { kind: 'directory' },
  });
}

export function publicCommunitySpace(info: CommunityInfo): Space {
  return publicSpace(FORUM_SEED, `forum/community/${info.slug}`, info.name, {
    forum: { kind: 'community', slug: info.slug, name: info.name, description: info.description },
  });
}
