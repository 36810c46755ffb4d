/**
 * The forum's API on a real gateway and node (in-process, real HTTP and SQLite): communities,
 * posts, threaded comments, votes (one per user per item, changeable), new/top sorting, deleting
 * one's own posts only, private copies shared by invitation, and their members: roles changed
 * and members removed by the owner, after which the removed member's gateway shows nothing new.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { forumOptions, forumWebDir } from '../../src/apps/forum/plugin.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';
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

interface MembersView {
  space: string;
  role: string | null;
  can_manage: boolean;
  members: { member: string; role: string; name: string | null; me: boolean }[];
  removed?: string;
}

test('members of a private copy: roles, removal, and nothing new for the removed', async () => {
  const carol = await startTestGateway([node.url], {}, forumOptions());
  const [aliceText, bobText, carolText] = [alice, bob, carol].map((g) => identityText(g.identity));
  const source = (await general(alice.url)).space;
  const fork = await request(alice.url, 'POST', `/forum/api/c/${source}/fork`, {
    name: 'Members club',
  });
  assert.equal(fork.status, 201, JSON.stringify(fork.body));
  const space = fork.body.space as string;
  const base = `/forum/api/c/${space}`;
  for (const [gateway, text] of [
    [bob, bobText],
    [carol, carolText],
  ] as const) {
    const invite = await request(alice.url, 'POST', `${base}/invites`, { to: text });
    assert.equal(invite.status, 201, JSON.stringify(invite.body));
    const invitation = await eventually('the invitation', async () => {
      await refresh(gateway.url);
      const list = await request(gateway.url, 'GET', '/forum/api/invitations');
      return (list.body.invitations as { id: string; space: string }[]).find(
        (i) => i.space === space,
      );
    });
    const joined = await request(
      gateway.url,
      'POST',
      `/forum/api/invitations/${invitation.id}/accept`,
      {},
    );
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
  }

  // Everyone sees the same members; the owner first, then writers (invites add writers).
  const members = async (base_: string) => {
    const answer = await request(base_, 'GET', `${base}/members`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as unknown as MembersView;
  };
  const atAlice = await members(alice.url);
  assert.equal(atAlice.role, 'owner');
  assert.equal(atAlice.can_manage, true);
  assert.deepEqual(
    atAlice.members.map((m) => [m.role, m.me]),
    [
      ['owner', true],
      ['writer', false],
      ['writer', false],
    ],
  );
  assert.equal(atAlice.members[0]!.member, aliceText);
  assert.deepEqual(
    atAlice.members
      .slice(1)
      .map((m) => m.member)
      .sort(),
    [bobText, carolText].sort(),
  );
  const atBob = await members(bob.url);
  assert.equal(atBob.role, 'writer');
  assert.equal(atBob.can_manage, false);
  assert.equal(atBob.members.find((m) => m.me)!.member, bobText);

  // Refusals, each with its stable code.
  const error = async (gateway: string, method: string, path: string, body?: unknown) => {
    const answer = await request(gateway, method, path, body);
    const e = answer.body.error as { code: string; message: string };
    return `${answer.status} ${e?.code}`;
  };
  assert.equal(
    await error(bob.url, 'DELETE', `${base}/members/${carolText}`),
    '403 forbidden_role',
  );
  assert.equal(
    await error(bob.url, 'PUT', `${base}/members/${carolText}`, { role: 'admin' }),
    '403 forbidden_role',
  );
  assert.equal(
    await error(alice.url, 'DELETE', `${base}/members/${aliceText}`),
    '403 forbidden_role',
  );
  assert.equal(
    await error(alice.url, 'PUT', `${base}/members/${carolText}`, { role: 'owner' }),
    '400 bad_record',
  );
  assert.equal(
    await error(alice.url, 'PUT', `${base}/members/${carolText}`, { role: 'writer' }),
    '400 bad_request',
  );
  assert.equal(await error(alice.url, 'DELETE', `${base}/members/alice`), '400 bad_key');
  assert.equal(
    await error(alice.url, 'DELETE', `${base}/members/${identityText(generateIdentity())}`),
    '404 not_member',
  );
  assert.equal(
    await error(alice.url, 'GET', `/forum/api/c/${source}/members`),
    '404 no_such_group',
  );
  assert.equal((await members(alice.url)).members.length, 3, 'nothing changed by refusals');

  // The owner makes Carol an admin; Carol's gateway learns it from the group's log.
  const promoted = await request(alice.url, 'PUT', `${base}/members/${carolText}`, {
    role: 'admin',
  });
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  assert.equal(
    (promoted.body as unknown as MembersView).members.find((m) => m.member === carolText)!.role,
    'admin',
  );
  await eventually('Carol to see her new role', async () => {
    await refresh(carol.url);
    const view = await members(carol.url);
    return view.role === 'admin' && view.can_manage;
  });

  // Bob writes while a member; everyone reads it.
  const early = await request(bob.url, 'POST', `${base}/posts`, { title: 'Bob was here' });
  assert.equal(early.status, 201, JSON.stringify(early.body));
  await eventually('Alice to read Bob’s post', async () => {
    await refresh(alice.url);
    return (await posts(alice.url, space)).some((p) => p.title === 'Bob was here');
  });

  // The owner removes Bob, then writes.
  const removed = await request(alice.url, 'DELETE', `${base}/members/${bobText}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  const after = removed.body as unknown as MembersView;
  assert.equal(after.removed, bobText);
  assert.ok(!after.members.some((m) => m.member === bobText));
  const secret = `After Bob left ${Date.now().toString(36)}`;
  const late = await request(alice.url, 'POST', `${base}/posts`, { title: secret });
  assert.equal(late.status, 201, JSON.stringify(late.body));

  // Carol, still a member, reads the new post; Bob's post from before stays.
  await eventually('Carol to read the post written after the removal', async () => {
    await refresh(carol.url);
    const list = await posts(carol.url, space);
    return list.some((p) => p.title === secret) && list.some((p) => p.title === 'Bob was here');
  });

  // Bob's gateway learns he was removed: the community leaves his list and is refused, saying why.
  await eventually('Bob’s forum to drop the community', async () => {
    await refresh(bob.url);
    return !(await communities(bob.url)).some((c) => c.space === space);
  });
  for (const path of [base, `${base}/posts`, `${base}/members`]) {
    const answer = await request(bob.url, 'GET', path);
    assert.equal(answer.status, 404, path);
    const e = answer.body.error as { code: string; message: string; removed: boolean };
    assert.equal(e.code, 'no_such_space');
    assert.equal(e.removed, true);
    assert.match(e.message, /no longer a member/);
  }
  const write = await request(bob.url, 'POST', `${base}/posts`, { title: 'Still here?' });
  assert.equal(write.status, 404);
  // Nor through the gateway's own record routes, and the new post is nowhere in his index.
  const raw = await request(bob.url, 'GET', `/api/spaces/${space}/collections/posts/records`);
  assert.equal((raw.body.error as { code: string }).code, 'no_such_space');
  await refresh(bob.url);
  const found = bob.gateway.index.db
    .prepare(`SELECT count(*) AS n FROM records WHERE data LIKE ?`)
    .get(`%${secret}%`) as { n: number };
  assert.equal(found.n, 0);
  // The reason: no key of the removal's epoch or any later one ever reached Bob's gateway.
  const applied = alice.gateway.identity.groups.state(space).applied;
  const removal = applied.findIndex((op) => op.op === 'remove' && op.member === bobText);
  assert.ok(removal > 0);
  const held = new Set(bob.gateway.identity.store.epochs(space).map((e) => e.epoch));
  assert.ok(held.has(applied[removal - 1]!.hash), 'Bob held the keys before');
  for (const op of applied.slice(removal)) assert.ok(!held.has(op.hash), op.op);
  // Carol leaves on her own; the owner cannot (403 above).
  const left = await request(carol.url, 'DELETE', `${base}/members/${carolText}`);
  assert.deepEqual(left.body, { space, left: true });
  assert.ok(!(await communities(carol.url)).some((c) => c.space === space));
  await eventually('the owner to see Carol gone', async () => {
    await refresh(alice.url);
    return (await members(alice.url)).members.length === 1;
  });
  // An outsider who never belonged gets the plain answer.
  const stranger = await request(bob.url, 'GET', `/forum/api/c/${'ab'.repeat(16)}`);
  assert.equal((stranger.body.error as { removed?: boolean }).removed, undefined);
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
