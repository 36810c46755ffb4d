/**
 * What the forum adds to a gateway's keyring: the public directory space and the public
 * communities (built in, and those listed in the directory, up to a limit), plus indexes on
 * the fields its feeds join on.
 */
import type { Gateway } from '../../gateway/gateway.js';
import type { Space } from '../../gateway/space.js';
import { directoryCommunities } from './feed.js';
import {
  BUILTIN_COMMUNITIES,
  directorySpace,
  publicCommunitySpace,
  type CommunityInfo,
} from './public.js';

/** Public communities a gateway follows at most (the directory is open to anyone). */
export const MAX_PUBLIC_COMMUNITIES = 200;

const INDEXES = `
CREATE INDEX IF NOT EXISTS forum_by_item
  ON records(space, collection, json_extract(data, '$.item'));
CREATE INDEX IF NOT EXISTS forum_by_post
  ON records(space, collection, json_extract(data, '$.post'));
`;

export class ForumState {
  readonly directory: Space = directorySpace();
  readonly builtin: readonly CommunityInfo[] = BUILTIN_COMMUNITIES;
  private publicCount = 0;
  /** Directory slugs already followed: deriving a community's keys again each round is waste. */
  private readonly followed = new Set<string>();

  install(gateway: Gateway): void {
    gateway.index.db.exec(INDEXES);
    gateway.keyring.addPublic(this.directory);
    for (const info of this.builtin) this.addPublic(gateway, info);
    this.followDirectory(gateway);
    gateway.poller.onRound(() => this.followDirectory(gateway));
  }

  /** Adds a public community's space (derived from the forum seed) to the keyring. */
  addPublic(gateway: Gateway, info: CommunityInfo): Space {
    const space = publicCommunitySpace(info);
    if (!gateway.keyring.anySpace(space.id)) {
      if (this.publicCount >= MAX_PUBLIC_COMMUNITIES) return space;
      this.publicCount += 1;
      gateway.keyring.addPublic(space);
    }
    return gateway.keyring.anySpace(space.id)!;
  }

  /** Follows communities that appeared in the directory. */
  followDirectory(gateway: Gateway): void {
    for (const info of directoryCommunities(
      gateway.index.db,
      this.directory.id,
      MAX_PUBLIC_COMMUNITIES,
    )) {
      if (this.followed.has(info.slug)) continue;
      this.followed.add(info.slug);
      this.addPublic(gateway, info);
    }
  }
}
