/**
 * The forum's API on a real gateway and node (in-process, real HTTP and SQLite): communities,
 * posts, threaded comments, votes (one per user per item, changeable), new/top sorting, deleting
 * one's own posts only, and private copies shared by invitation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { forumOptions, forumWebDir } from '../../src/apps/forum/plugin.js';
import { identityText } from '../../src/keys/keys.js';
import { eventually, request, startTestGateway } from '../helpers/gateways.js';
import { startTestNode } from '../helpers/nodes.js';

const node = await startTestNode({ min_pow_bits: 8 });
const alice = await startTestGateway([node.url], {}, forumOptions());
const bob = await startTestGateway([node.url], {}, forumOptions());

interface Community {
  space: string;
  slug: string;
  name: string;
  private: boolean;
  posts: number;
}
interface Post {
  id: string;
  title: string;
  score: number;
  my_vote: number;
  comments: number;
  mine: boolean;
  author: string;
  author_name: string | null;
}
interface Comment {
  id: string;
  parent: string | null;
  body: string;
  score: number;
}

async function communities(base: string): Promise<Community[]> {
  return (await request(base, 'GET', '/forum/api/communities')).body.communities as Community[];
}

async function general(base: string): Promise<Community> {
  return (await communities(base)).find((c) => c.slug === 'general' && !c.private)!;
}

async function posts(base: string, space: string, sort = 'new'): Promise<Post[]> {
  const answer = await request(base, 'GET', `/forum/api/c/${space}/posts?sort=${sort}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.posts as Post[];
}

async function refresh(...bases: string[]): Promise<void> {
  for (const base of bases) await request(base, 'POST', '/api/refresh', {});
}

test('every forum starts with the same public communities', async () => {
  const [a, b] = [await communities(alice.url), await communities(bob.url)];
  assert.deepEqual(a.map((c) => [c.slug, c.space]).sort(), b.map((c) => [c.slug, c.space]).sort());
  assert.ok(a.some((c) => c.slug === 'general'));
  assert.ok(a.every((c) => !c.private));
});

test('posts, threaded comments, votes and sorting', async () => {
  const space = (await general(alice.url)).space;
  const base = `/forum/api/c/${space}`;
  const first = await request(alice.url, 'POST', `${base}/posts`, { title: 'First', body: 'one' });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const second = await request(alice.url, 'POST', `${base}/posts`, { title: 'Second', body: '' });
  const firstId = (first.body as unknown as Post).id;
  const secondId = (second.body as unknown as Post).id;

  // Bob reads them through his own gateway, then comments and votes.
  await eventually('Bob to see both posts', async () => {
    await refresh(bob.url);
    return (await posts(bob.url, space)).length >= 2;
  });
  const comment = await request(bob.url, 'POST', `${base}/posts/${firstId}/comments`, {
    body: 'Nice',
  });
  assert.equal(comment.status, 201);
  const commentId = (comment.body as unknown as Comment).id;
  // A reply needs its parent: Alice answers once her gateway has read Bob's comment.
  await eventually('Alice to see the comment', async () => {
    await refresh(alice.url);
    const answer = await request(alice.url, 'POST', `${base}/posts/${firstId}/comments`, {
      body: 'Thanks',
      parent: commentId,
    });
    return answer.status === 201;
  });

  // One vote per user per item, changeable: three votes by Bob on Second end as +1.
  for (const value of [1, -1, 1]) {
    const vote = await request(bob.url, 'POST', `${base}/votes`, { item: secondId, value });
    assert.equal(vote.status, 200, JSON.stringify(vote.body));
  }
  await request(alice.url, 'POST', `${base}/votes`, { item: secondId, value: 1 });
  await request(alice.url, 'POST', `${base}/votes`, { item: firstId, value: -1 });
  await request(bob.url, 'POST', `${base}/votes`, { item: commentId, value: 1 });

  await eventually('the votes to add up at Alice', async () => {
    await refresh(alice.url);
    const top = await posts(alice.url, space, 'top');
    const [a, b] = [top.find((p) => p.id === secondId), top.find((p) => p.id === firstId)];
    return a?.score === 2 && b?.score === -1 && top.indexOf(a) < top.indexOf(b);
  });
  const fresh = await posts(alice.url, space, 'new');
  assert.ok(fresh.findIndex((p) => p.id === secondId) < fresh.findIndex((p) => p.id === firstId));
  const mine = fresh.find((p) => p.id === firstId)!;
  assert.equal(mine.my_vote, -1);
  assert.equal(mine.mine, true);
  assert.equal(mine.comments, 2);

  // Bob takes his vote on Second back.
  await request(bob.url, 'POST', `${base}/votes`, { item: secondId, value: 0 });
  await eventually('the withdrawn vote to count', async () => {
    await refresh(alice.url);
    return (await posts(alice.url, space)).find((p) => p.id === secondId)?.score === 1;
  });

  const thread = await request(alice.url, 'GET', `${base}/posts/${firstId}`);
  const comments = thread.body.comments as Comment[];
  assert.deepEqual(
    comments.map((c) => [c.body, c.parent]),
    [
      ['Nice', null],
      ['Thanks', commentId],
    ],
  );
  assert.equal(comments[0]!.score, 1);

  // Names: set once, shown next to posts.
  await request(alice.url, 'PUT', '/forum/api/me', { name: 'Alice' });
  assert.equal((await posts(alice.url, space)).find((p) => p.id === firstId)!.author_name, 'Alice');

  // Only the author deletes.
  const notMine = await request(bob.url, 'DELETE', `${base}/posts/${firstId}`);
  assert.equal((notMine.body.error as { code: string }).code, 'not_author');
  const gone = await request(alice.url, 'DELETE', `${base}/posts/${secondId}`);
  assert.equal(gone.status, 200);
  assert.ok(!(await posts(alice.url, space)).some((p) => p.id === secondId));
});

test('bad forum input is refused with stable codes', async () => {
  const space = (await general(alice.url)).space;
  const base = `/forum/api/c/${space}`;
  const code = async (method: string, path: string, body?: unknown) =>
    ((await request(alice.url, method, path, body)).body.error as { code: string }).code;
  const message = async (method: string, path: string, body?: unknown) =>
    ((await request(alice.url, method, path, body)).body.error as { message: string }).message;
  assert.equal(await code('POST', `${base}/posts`, { title: '', body: '' }), 'bad_record');
  // Messages say what was wrong in words a person uses.
  for (const blank of [{ title: '' }, { title: '   ', body: 'text' }, { body: 'no title' }]) {
    assert.equal(await message('POST', `${base}/posts`, blank), 'title is required');
  }
  assert.match(
    await message('POST', '/forum/api/communities', { slug: 'Bad Name!', name: 'x' }),
    /2 to 30 characters: lowercase letters a-z, digits and -/,
  );
  const fork = await request(alice.url, 'POST', `${base}/fork`, {});
  const bobText = identityText(bob.identity);
  const typo = bobText.slice(0, 30) + (bobText[30] === 'q' ? 'p' : 'q') + bobText.slice(31);
  const invite = await request(
    alice.url,
    'POST',
    `/forum/api/c/${fork.body.space as string}/invites`,
    {
      to: typo,
    },
  );
  assert.equal((invite.body.error as { code: string }).code, 'bad_key');
  assert.match(
    (invite.body.error as { message: string }).message,
    /typo: its checksum does not match/,
  );
  assert.match(
    await message('POST', `/forum/api/c/${fork.body.space as string}/invites`, { to: 'alice' }),
    /identity text: it starts with p2pid1/,
  );
  assert.equal(
    await code('POST', `${base}/posts`, { title: 'x'.repeat(301), body: '' }),
    'bad_record',
  );
  assert.equal(
    await code('POST', `${base}/posts`, { title: 'x', body: '', extra: 1 }),
    'bad_record',
  );
  assert.equal(
    await code('POST', `${base}/votes`, { item: 'f'.repeat(32), value: 1 }),
    'no_such_record',
  );
  assert.equal(
    await code('POST', `${base}/votes`, { item: 'f'.repeat(32), value: 2 }),
    'bad_record',
  );
  assert.equal(await code('GET', `${base}/posts?sort=hot`), 'bad_query');
  assert.equal(await code('GET', `/forum/api/c/${'0'.repeat(32)}/posts`), 'no_such_space');
  assert.equal(await code('GET', '/forum/api/c/me/posts'), 'no_such_space');
  assert.equal(
    await code('POST', '/forum/api/communities', { slug: 'A B', name: 'x' }),
    'bad_record',
  );
});

test('new public communities reach other forums through the directory', async () => {
  const created = await request(alice.url, 'POST', '/forum/api/communities', {
    slug: 'gardening',
    name: 'Gardening',
    description: 'Plants',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const again = await request(alice.url, 'POST', '/forum/api/communities', {
    slug: 'gardening',
    name: 'Other',
  });
  // The name is taken: refused, naming the community that has it (whose title is unchanged).
  assert.equal(again.status, 409);
  const error = again.body.error as { code: string; message: string; space: string };
  assert.equal(error.code, 'community_exists');
  assert.match(error.message, /"gardening" exists already/);
  assert.equal(error.space, created.body.space);
  const kept = await request(alice.url, 'GET', `/forum/api/c/${created.body.space as string}`);
  assert.equal(kept.body.name, 'Gardening');
  await eventually('Bob to follow the new community', async () => {
    await refresh(bob.url);
    return (await communities(bob.url)).some((c) => c.space === created.body.space);
  });
});

test('a private copy: new keys, history copied, readable only by invited members', async () => {
  const source = (await general(alice.url)).space;
  await request(alice.url, 'POST', `/forum/api/c/${source}/posts`, {
    title: 'Before the fork',
    body: '',
  });
  const before = (await posts(alice.url, source)).length;
  const fork = await request(alice.url, 'POST', `/forum/api/c/${source}/fork`, {});
  assert.equal(fork.status, 201, JSON.stringify(fork.body));
  const copy = fork.body as unknown as Community & { copied: number; forked_from: string };
  assert.equal(copy.private, true);
  assert.equal(copy.forked_from, source);
  assert.ok(copy.copied >= before);
  assert.notEqual(copy.space, source);
  const copied = await posts(alice.url, copy.space);
  assert.equal(copied.length, before);
  // Authorship survives the copy.
  assert.deepEqual(
    copied.map((p) => p.author).sort(),
    (await posts(alice.url, source)).map((p) => p.author).sort(),
  );
  await request(alice.url, 'POST', `/forum/api/c/${copy.space}/posts`, {
    title: 'Members only',
    body: '',
  });
  assert.ok(!(await posts(alice.url, source)).some((p) => p.title === 'Members only'));

  // Bob cannot read it until invited.
  await refresh(bob.url);
  assert.equal((await request(bob.url, 'GET', `/forum/api/c/${copy.space}`)).status, 404);
  const invite = await request(alice.url, 'POST', `/forum/api/c/${copy.space}/invites`, {
    to: identityText(bob.identity),
  });
  assert.equal(invite.status, 201, JSON.stringify(invite.body));
  const invitation = await eventually('the invitation', async () => {
    await refresh(bob.url);
    const list = await request(bob.url, 'GET', '/forum/api/invitations');
    return (list.body.invitations as { id: string; name: string }[])[0];
  });
  assert.equal(invitation.name, copy.name);
  const joined = await request(
    bob.url,
    'POST',
    `/forum/api/invitations/${invitation.id}/accept`,
    {},
  );
  assert.equal(joined.body.space, copy.space);
  const seen = await eventually('Bob to read the private copy', async () => {
    await refresh(bob.url);
    const list = await posts(bob.url, copy.space);
    return list.some((p) => p.title === 'Members only') ? list : undefined;
  });
  assert.equal(seen.length, before + 1);
  assert.ok((await communities(bob.url)).some((c) => c.space === copy.space && c.private));
});

test('the forum pages are served from the package, with a strict policy', async () => {
  assert.ok(existsSync(join(forumWebDir(), 'index.html')));
  const page = await fetch(`${alice.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(await page.text(), /<script type="module" src="\/app.js">/);
  for (const asset of ['/app.js', '/style.css', '/lib/identity.js', '/views/post.js']) {
    const response = await fetch(`${alice.url}${asset}`);
    assert.equal(response.status, 200, asset);
    await response.body?.cancel();
  }
});
