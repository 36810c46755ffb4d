/**
 * A group of five persons, each a real gateway process with its own root, on one real node.
 * Two admins change the membership at the same moment; every remaining member converges on
 * the same members, roles and current epoch (after the automatic rekey when the rule makes
 * one), roles are enforced, and the removed member cannot read what is written later
 * (docs/identity.md §5.6).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, request } from '../helpers/gateways.js';
import {
  acceptWelcome,
  entriesSince,
  groupView,
  heldKeys,
  ok,
  openable,
  refresh,
  seenEverywhere,
  startDevice,
  writeRecord,
  type Device,
} from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';

function errorCode(body: Record<string, unknown>): string | undefined {
  return (body.error as { code?: string } | undefined)?.code;
}

/** Members and roles as one sorted text, to compare views. */
function roster(view: { members: { member: string; role: string }[] }): string {
  return view.members
    .map((m) => `${m.member}=${m.role}`)
    .sort()
    .join(' ');
}

test('five persons, two admins acting at once: all converge; roles hold; removal locks out', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const [a, b, x, y, z] = (await Promise.all(
    Array.from({ length: 5 }, () => startDevice(node.url)),
  )) as [Device, Device, Device, Device, Device];

  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'five' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'admin' }, 201);
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: x.text, role: 'writer' }, 201);
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: z.text, role: 'writer' }, 201);
  await Promise.all([b, x, z].map((p) => acceptWelcome(p.url, group)));
  const startEpoch = (await groupView(a.url, group)).epoch;
  for (const p of [b, x, z]) {
    await eventually(`${p.url} holds the current keys`, async () => {
      await refresh(p.url);
      const view = await groupView(p.url, group);
      return view.epoch === startEpoch && view.writable;
    });
  }
  await writeRecord(x.url, group, { mark: 'x-before' });
  await seenEverywhere([a.url, b.url, z.url], group, 'x-before');

  // The same moment: A removes X while B adds Y and makes Z a reader.
  const [removed, added, demoted] = await Promise.all([
    request(a.url, 'DELETE', `/api/groups/${group}/members/${x.text}`),
    request(b.url, 'POST', `/api/groups/${group}/members`, { member: y.text, role: 'writer' }),
    request(b.url, 'PUT', `/api/groups/${group}/members/${z.text}`, { role: 'reader' }),
  ]);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(demoted.status, 200, JSON.stringify(demoted.body));
  await acceptWelcome(y.url, group);

  const expected = [`${a.text}=owner`, `${b.text}=admin`, `${y.text}=writer`, `${z.text}=reader`]
    .sort()
    .join(' ');
  const members = [a, b, y, z];
  const converged = await eventually(
    'the four members agree on members, roles and a clean current epoch',
    async () => {
      await refresh(...members.map((p) => p.url));
      const views = await Promise.all(members.map((p) => groupView(p.url, group)));
      const epochs = new Set(views.map((v) => v.epoch));
      // The members who write next (a, b, y) must hold the current keys, not just know of them:
      // until then a write is refused with group_rekey_pending ("try again shortly").
      const agreed =
        views.every((v) => roster(v) === expected && v.clean === true && v.complete) &&
        views.slice(0, 3).every((v) => v.writable) &&
        epochs.size === 1;
      return agreed ? views : undefined;
    },
    40_000,
    300,
  );
  // Every view holds the same operations, so the same count of applied ones; the three
  // concurrent commits all applied (none was rejected), in one order for everyone.
  assert.equal(new Set(converged.map((v) => v.epochs)).size, 1);
  assert.ok(converged[0]!.epochs >= 7, `epochs: ${converged[0]!.epochs}`);
  for (const view of converged) assert.deepEqual(view.rejected, []);
  assert.deepEqual(
    converged.map((v) => v.role),
    ['owner', 'admin', 'writer', 'reader'],
  );

  // Roles hold.
  const readerWrite = await request(
    z.url,
    'POST',
    `/api/spaces/${group}/collections/notes/records`,
    { data: { mark: 'z-reader' } },
  );
  assert.equal(readerWrite.status, 403, JSON.stringify(readerWrite.body));
  assert.equal(errorCode(readerWrite.body), 'forbidden_role');
  const writerManages = await request(y.url, 'PUT', `/api/groups/${group}/members/${z.text}`, {
    role: 'writer',
  });
  assert.equal(writerManages.status, 403, JSON.stringify(writerManages.body));
  assert.equal(errorCode(writerManages.body), 'forbidden_role');
  const writerRemoves = await request(y.url, 'DELETE', `/api/groups/${group}/members/${b.text}`);
  assert.equal(writerRemoves.status, 403, JSON.stringify(writerRemoves.body));
  assert.equal(errorCode(writerRemoves.body), 'forbidden_role');
  await eventually('X no longer sees the group', async () => {
    await refresh(x.url);
    const answer = await request(x.url, 'GET', `/api/groups/${group}`);
    return answer.status === 404 && errorCode(answer.body) === 'no_such_group';
  });
  const outsider = await request(x.url, 'POST', `/api/groups/${group}/members`, {
    member: x.text,
    role: 'admin',
  });
  assert.equal(outsider.status, 404, JSON.stringify(outsider.body));
  assert.equal(errorCode(outsider.body), 'no_such_group');

  // What is written after the removal: readable by the members, by no key X holds.
  const afterRemoval = Date.now();
  await writeRecord(a.url, group, { mark: 'a-after' });
  await writeRecord(y.url, group, { mark: 'y-after' });
  await seenEverywhere(
    members.map((p) => p.url),
    group,
    'a-after',
  );
  await seenEverywhere(
    members.map((p) => p.url),
    group,
    'y-after',
  );
  for (const p of members) {
    const view = await groupView(p.url, group);
    assert.equal(view.epoch, converged[0]!.epoch, 'no further commit happened');
  }
  await x.stop();
  const keys = await heldKeys(x);
  const all = await entriesSince(node.url, 0);
  assert.ok(
    openable(all, keys).some((o) => o.plaintext.toString('utf8').includes('x-before')),
    "the key inventory opens X's own record of before",
  );
  const late = all.filter((e) => e.createdAt >= afterRemoval);
  assert.ok(late.length >= 2);
  const opened = openable(late, keys).filter(
    // Anyone may read a person's directory.
    (o) => !o.key.from.startsWith('directory '),
  );
  assert.deepEqual(
    opened.map((o) => `${o.entry.id} with ${o.key.from}`),
    [],
    'X opens nothing written after the membership settled',
  );
});
