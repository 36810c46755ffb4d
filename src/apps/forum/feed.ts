/**
 * The forum's reads: SQL over the gateway's local index of decrypted records (SQLite JSON
 * functions), so scores, comment counts and "top" sorting are computed locally; nodes only
 * ever see sealed entries. Records with the wrong shape (anyone with a space's keys can write
 * anything) are left out, and text is clipped.
 */
import type Database from 'better-sqlite3';
import { BODY_MAX, COMMENT_MAX, NAME_MAX, TITLE_MAX, clip } from './model.js';
import { SLUG_RE, type CommunityInfo } from './public.js';

export interface FeedScope {
  readonly db: Database.Database;
  /** The community's space id. */
  readonly space: string;
  /** The public directory space, where profiles (display names) live. */
  readonly directory: string;
  /** The reader's identity text (for "my vote" and "mine"). */
  readonly me: string;
}

export interface PostView {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  readonly author: string;
  readonly author_name: string | null;
  readonly created_at: number;
  readonly updated_at: number;
  readonly score: number;
  readonly comments: number;
  readonly my_vote: number;
  readonly mine: boolean;
}

export interface CommentView {
  readonly id: string;
  readonly post: string;
  readonly parent: string | null;
  readonly body: string;
  readonly author: string;
  readonly author_name: string | null;
  readonly created_at: number;
  readonly score: number;
  readonly my_vote: number;
  readonly mine: boolean;
}

interface Row {
  id: string;
  author: string;
  data: string;
  created_at: number;
  updated_at: number;
  score: number;
  comments?: number;
  my_vote: number;
  author_name: string | null;
}

/**
 * Score, my vote and display name of the items of one space. `+r.id` drops the column's text
 * affinity so that SQLite can look the expression up in the forum's indexes (state.ts).
 */
const ITEM_COLUMNS = `
  COALESCE((SELECT SUM(CASE json_extract(v.data, '$.value') WHEN 1 THEN 1 WHEN -1 THEN -1 ELSE 0 END)
            FROM records v
            WHERE v.space = r.space AND v.collection = 'votes' AND v.deleted = 0
              AND json_extract(v.data, '$.item') = +r.id), 0) AS score,
  COALESCE((SELECT json_extract(v.data, '$.value') FROM records v
            WHERE v.space = r.space AND v.collection = 'votes' AND v.deleted = 0
              AND v.author = @me AND v.key = 'vote:' || r.id
              AND json_extract(v.data, '$.value') IN (1, -1)), 0) AS my_vote,
  (SELECT json_extract(p.data, '$.name') FROM records p
     WHERE p.space = @directory AND p.collection = 'profiles' AND p.key = 'profile'
       AND p.author = r.author AND p.deleted = 0
       AND json_type(p.data, '$.name') = 'text') AS author_name`;

const COMMENT_COUNT = `
  (SELECT COUNT(*) FROM records c
     WHERE c.space = r.space AND c.collection = 'comments' AND c.deleted = 0
       AND json_extract(c.data, '$.post') = +r.id) AS comments`;

const POST_SHAPE = `json_type(r.data, '$.title') = 'text'`;

function postView(row: Row, me: string): PostView {
  const data = JSON.parse(row.data) as Record<string, unknown>;
  return {
    id: row.id,
    title: clip(data.title, TITLE_MAX) ?? '',
    body: clip(data.body, BODY_MAX) ?? '',
    author: row.author,
    author_name: clip(row.author_name, NAME_MAX) ?? null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    score: row.score,
    comments: row.comments ?? 0,
    my_vote: row.my_vote,
    mine: row.author === me,
  };
}

export function listPosts(
  scope: FeedScope,
  sort: 'new' | 'top',
  limit: number,
  offset: number,
): { posts: PostView[]; total: number } {
  const order = sort === 'top' ? 'score DESC, r.created_at DESC, r.id' : 'r.created_at DESC, r.id';
  const where = `r.space = @space AND r.collection = 'posts' AND r.deleted = 0 AND ${POST_SHAPE}`;
  const rows = scope.db
    .prepare(
      `SELECT r.id, r.author, r.data, r.created_at, r.updated_at, ${ITEM_COLUMNS}, ${COMMENT_COUNT}
         FROM records r WHERE ${where} ORDER BY ${order} LIMIT @limit OFFSET @offset`,
    )
    .all({ ...params(scope), limit, offset }) as Row[];
  const total = (
    scope.db.prepare(`SELECT COUNT(*) AS n FROM records r WHERE ${where}`).get({
      space: scope.space,
    }) as { n: number }
  ).n;
  return { posts: rows.map((row) => postView(row, scope.me)), total };
}

function params(scope: FeedScope): Record<string, string> {
  return { space: scope.space, directory: scope.directory, me: scope.me };
}

export function getPost(scope: FeedScope, id: string): PostView | undefined {
  const row = scope.db
    .prepare(
      `SELECT r.id, r.author, r.data, r.created_at, r.updated_at, ${ITEM_COLUMNS}, ${COMMENT_COUNT}
         FROM records r WHERE r.space = @space AND r.collection = 'posts' AND r.id = @id
           AND r.deleted = 0 AND ${POST_SHAPE}`,
    )
    .get({ ...params(scope), id }) as Row | undefined;
  return row ? postView(row, scope.me) : undefined;
}

/** All comments of a post (flat; `parent` links make the threads), oldest first. */
export function listComments(scope: FeedScope, post: string, max = 2000): CommentView[] {
  const rows = scope.db
    .prepare(
      `SELECT r.id, r.author, r.data, r.created_at, r.updated_at, ${ITEM_COLUMNS}
         FROM records r
         WHERE r.space = @space AND r.collection = 'comments' AND r.deleted = 0
           AND json_extract(r.data, '$.post') = @post AND json_type(r.data, '$.body') = 'text'
         ORDER BY r.created_at ASC, r.id LIMIT @max`,
    )
    .all({ ...params(scope), post, max }) as Row[];
  return rows.map((row) => {
    const data = JSON.parse(row.data) as Record<string, unknown>;
    const parent =
      typeof data.parent === 'string' && /^[0-9a-f]{32}$/.test(data.parent) ? data.parent : null;
    return {
      id: row.id,
      post,
      parent,
      body: clip(data.body, COMMENT_MAX) ?? '',
      author: row.author,
      author_name: clip(row.author_name, NAME_MAX) ?? null,
      created_at: row.created_at,
      score: row.score,
      my_vote: row.my_vote,
      mine: row.author === scope.me,
    };
  });
}

/** Whether an item (post or comment) exists in a space. */
export function itemExists(db: Database.Database, space: string, id: string): boolean {
  return (
    db
      .prepare(
        `SELECT 1 FROM records WHERE space = ? AND id = ? AND deleted = 0
           AND collection IN ('posts', 'comments')`,
      )
      .get(space, id) !== undefined
  );
}

/** Number of live posts per space. */
export function postCounts(db: Database.Database, spaces: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  if (spaces.length === 0) return counts;
  const rows = db
    .prepare(
      `SELECT space, COUNT(*) AS n FROM records WHERE collection = 'posts' AND deleted = 0
         AND space IN (${spaces.map(() => '?').join(', ')}) GROUP BY space`,
    )
    .all(...spaces) as { space: string; n: number }[];
  for (const row of rows) counts.set(row.space, row.n);
  return counts;
}

/** Communities listed in the directory: the first valid record of each slug wins. */
export function directoryCommunities(
  db: Database.Database,
  directory: string,
  max: number,
): CommunityInfo[] {
  const rows = db
    .prepare(
      `SELECT data FROM records WHERE space = ? AND collection = 'communities' AND deleted = 0
         ORDER BY created_at ASC, id LIMIT ?`,
    )
    .all(directory, max * 4) as { data: string }[];
  const out = new Map<string, CommunityInfo>();
  for (const { data } of rows) {
    const value = JSON.parse(data) as Record<string, unknown>;
    const slug = clip(value.slug, 30);
    const name = clip(value.name, 60);
    if (!slug || !SLUG_RE.test(slug) || !name || out.has(slug)) continue;
    out.set(slug, { slug, name, description: clip(value.description, 300) ?? '' });
    if (out.size >= max) break;
  }
  return [...out.values()];
}

export function profileName(
  db: Database.Database,
  directory: string,
  author: string,
): string | null {
  const row = db
    .prepare(
      `SELECT json_extract(data, '$.name') AS name FROM records
         WHERE space = ? AND collection = 'profiles' AND key = 'profile' AND author = ?
           AND deleted = 0 AND json_type(data, '$.name') = 'text'`,
    )
    .get(directory, author) as { name: string } | undefined;
  return row ? (clip(row.name, NAME_MAX) ?? null) : null;
}
