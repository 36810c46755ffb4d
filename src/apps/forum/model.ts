/**
 * The forum's records and their rules, as pure functions. Every forum space (a public
 * community or a private copy) has the same collections:
 *
 *   posts     { title, body }                    key: random
 *   comments  { post, parent, body }             parent: a comment id or null (threads)
 *   votes     { item, value }                    key: "vote:" + item, value 1, -1 or 0:
 *                                                one vote per user per item, changeable
 *
 * What others write is untrusted: reads check shapes again (see feed.ts) and clip text.
 */
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { describeIssues } from '../../zod-issues.js';
import { SLUG_RE, SLUG_RULE } from './public.js';

export const TITLE_MAX = 300;
export const BODY_MAX = 20_000;
export const COMMENT_MAX = 10_000;
export const NAME_MAX = 40;

const ID_RE = /^[0-9a-f]{32}$/;

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    // Messages that name their field ("title is required") read best alone.
    const described = parsed.error.issues.map((issue) => {
      const field = issue.path.join('.');
      return field && !issue.message.includes(field) ? `${field}: ${issue.message}` : issue.message;
    });
    throw new P2PError(
      'bad_record',
      described.length > 0 ? described.join('; ') : describeIssues(parsed.error, '(body)'),
    );
  }
  return parsed.data;
}

const text = (max: number) => z.string().trim().max(max);

const required = (what: string) => ({
  error: (issue: { input: unknown }) =>
    issue.input === undefined ? `${what} is required` : `${what} must be text`,
});

export const postInput = z
  .object({
    title: z.string(required('title')).trim().min(1, 'title is required').max(TITLE_MAX),
    body: text(BODY_MAX).default(''),
  })
  .strict();

export const commentInput = z
  .object({
    body: text(COMMENT_MAX).min(1, 'a comment needs some text'),
    parent: z.string().regex(ID_RE).nullable().optional(),
  })
  .strict();

export const voteInput = z
  .object({
    item: z.string().regex(ID_RE),
    value: z.union([z.literal(1), z.literal(-1), z.literal(0)]),
  })
  .strict();

export const communityInput = z
  .object({
    slug: z.string(required('the short name')).regex(SLUG_RE, SLUG_RULE),
    name: z.string(required('the title')).trim().min(1, 'the title is required').max(60),
    description: text(300).default(''),
  })
  .strict();

export const profileInput = z.object({ name: text(NAME_MAX).min(1) }).strict();

export const forkInput = z.object({ name: text(60).min(1).optional() }).strict();

export const inviteInput = z.object({ to: z.string().min(1).max(200) }).strict();

/** Roles a member of a private community can be given (the owner's is fixed). */
export const MEMBER_ROLES = ['admin', 'writer', 'reader'] as const;

export const roleInput = z
  .object({
    role: z.enum(MEMBER_ROLES, {
      error: (issue) =>
        issue.input === undefined
          ? 'role is required'
          : `role must be one of ${MEMBER_ROLES.join(', ')}`,
    }),
  })
  .strict();

export function parsePost(body: unknown): z.output<typeof postInput> {
  return parse(postInput, body);
}
export function parseComment(body: unknown): z.output<typeof commentInput> {
  return parse(commentInput, body);
}
export function parseVote(body: unknown): z.output<typeof voteInput> {
  return parse(voteInput, body);
}
export function parseCommunity(body: unknown): z.output<typeof communityInput> {
  return parse(communityInput, body);
}
export function parseProfile(body: unknown): z.output<typeof profileInput> {
  return parse(profileInput, body);
}
export function parseFork(body: unknown): z.output<typeof forkInput> {
  return parse(forkInput, body ?? {});
}
export function parseInvite(body: unknown): z.output<typeof inviteInput> {
  return parse(inviteInput, body);
}

export function parseRole(body: unknown): z.output<typeof roleInput> {
  return parse(roleInput, body);
}

export function voteKey(item: string): string {
  return `vote:${item}`;
}

/** A string from untrusted data, clipped; undefined if it is not a string. */
export function clip(value: unknown, max: number): string | undefined {
  return typeof value === 'string' ? value.slice(0, max) : undefined;
}

/** The forum description of a space, from its meta (undefined if it is not a forum community). */
export interface CommunityMeta {
  readonly slug: string;
  readonly name: string;
  readonly description: string;
  readonly forkedFrom: string | undefined;
}

export function communityMeta(meta: Record<string, unknown>): CommunityMeta | undefined {
  const forum = meta.forum as Record<string, unknown> | undefined;
  if (!forum || typeof forum !== 'object' || forum.kind !== 'community') return undefined;
  const slug = clip(forum.slug, 30);
  const name = clip(forum.name, 60);
  if (!slug || !name) return undefined;
  return {
    slug,
    name,
    description: clip(forum.description, 300) ?? '',
    forkedFrom: clip(forum.forked_from, 64),
  };
}
