/**
 * Hostile statements in a group's data space, crafted with a member device's own keys and
 * sealed into the space as its gateway would: two batches under one number (a fork), two log
 * entries at one seq, batches whose body is malformed, too large or of another space. Every
 * replica (two persons' real gateway processes on a real node) ignores and counts the same
 * things, keeps the same copy of a fork whatever order it arrived in, and ends with the same
 * store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signStatement, type Statement } from '../../src/identity/statement.js';
import { formatHlc } from '../../src/kv/hlc.js';
import { logEntryBody } from '../../src/log/entry.js';
import { eventually } from '../helpers/gateways.js';
import { acceptWelcome, groupView, ok, refresh, startDevice } from '../helpers/identity.js';
import {
  batchBody,
  epochKeysOf,
  kvAll,
  kvStatus,
  postStatements,
  signedBatch,
  valueOf,
} from '../helpers/kv.js';
import { spawnNode } from '../helpers/nodes.js';

test('forks, log forks and malformed batches from a member are ignored alike everywhere', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const [a, b] = await Promise.all([startDevice(node.url), startDevice(node.url)]);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'faults' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  await eventually('b may write', async () => {
    await refresh(b.url);
    return (await groupView(b.url, group)).writable;
  });
  await ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'plain', value: 'a' });
  await ok(b.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'plain-b', value: 'b' });
  await eventually('both hold both plain keys', async () => {
    await refresh(a.url, b.url);
    const stores = await Promise.all([kvAll(a.url, group), kvAll(b.url, group)]);
    return stores.every((s) => s.length === 2);
  });
  const epoch = (await groupView(a.url, group)).epoch!;
  const keys = epochKeysOf(a.dataDir, group, epoch);
  let seq = 1_000_000;
  const sign = (body: Record<string, unknown>, at = Date.now()): Statement =>
    signedBatch({ person: a.text, signer: a.identity, seq: seq++, at, body });
  const hlc = (): string => formatHlc({ ms: Date.now(), counter: 0 });

  // A fork: two batches numbered 1000 by a's device. a reads the copy with the greater hash
  // first, then the other; b reads both in one round.
  const copies = [
    sign(
      batchBody(group, 1000, [
        { key: 'fork/x', value: 'x', hlc: hlc() },
        { key: 'fork/both', value: 'from x', hlc: hlc() },
      ]),
    ),
    sign(
      batchBody(group, 1000, [
        { key: 'fork/y', value: 'y', hlc: hlc() },
        { key: 'fork/both', value: 'from y', hlc: hlc() },
      ]),
    ),
  ].sort((p, q) => (p.hash < q.hash ? -1 : 1));
  const [kept, dropped] = copies as [Statement, Statement];
  const keptName = kept.body.includes(Buffer.from('fork/x').toString('base64')) ? 'x' : 'y';
  const droppedName = keptName === 'x' ? 'y' : 'x';
  await postStatements(node.url, keys, [dropped]);
  await eventually('a applies the first copy', async () => {
    await refresh(a.url);
    return (await valueOf(a, group, `fork/${droppedName}`)) === droppedName;
  });
  await postStatements(node.url, keys, [kept]);
  for (const device of [a, b]) {
    await eventually(`${device.url} keeps the copy with the smaller hash`, async () => {
      await refresh(device.url);
      const status = await kvStatus(device.url, group);
      return status.forks.length === 1;
    });
    const status = await kvStatus(device.url, group);
    assert.deepEqual(status.forks, [{ signer: a.text, batch: 1000 }]);
    assert.equal(status.ignored.fork, 1, `${device.url}: one copy lost`);
    assert.equal(await valueOf(device, group, `fork/${keptName}`), keptName);
    assert.equal(await valueOf(device, group, `fork/${droppedName}`), undefined);
    assert.equal(await valueOf(device, group, 'fork/both'), `from ${keptName}`);
  }

  // A log fork: two entries at seq 1 of one writer; b's entry still reads.
  const logAt = Date.now();
  const entry = (data: string): Statement =>
    signStatement({
      kind: 'log-entry',
      person: a.text,
      signer: a.identity,
      seq: seq++,
      at: logAt,
      body: logEntryBody({
        space: group,
        log: 'audit',
        seq: 1,
        prev: null,
        data: Buffer.from(data),
      }),
    });
  const forked = [entry('one'), entry('uno')].sort((p, q) => (p.hash < q.hash ? -1 : 1));
  await postStatements(node.url, keys, forked);
  await ok(b.url, 'POST', `/api/spaces/${group}/logs/audit`, { data: 'b0' });
  for (const device of [a, b]) {
    const log = await eventually(`${device.url} reports the log fork`, async () => {
      await refresh(device.url);
      const read = await ok(device.url, 'GET', `/api/spaces/${group}/logs/audit`);
      const entries = read.entries as unknown[];
      return (read.problems as unknown[]).length === 1 && entries.length === 1 ? read : undefined;
    });
    assert.deepEqual(
      (log.entries as { data: string; writer: string }[]).map((e) => [e.writer, e.data]),
      [[b.text, 'b0']],
    );
    const [problem] = log.problems as {
      writer: string;
      verified: number;
      forks: { seq: number; reason: string; first: { hash: string }; second: { hash: string } }[];
    }[];
    assert.equal(problem!.writer, a.text);
    assert.equal(problem!.verified, 0);
    assert.deepEqual(
      problem!.forks.map((f) => [f.seq, f.reason, f.first.hash, f.second.hash]),
      [[1, 'same-seq', forked[0]!.hash, forked[1]!.hash]],
    );
  }

  // Malformed bodies (bad base64; over 45 KiB), a batch of another space, and one good batch,
  // all signed by a member and sealed properly.
  const before = await Promise.all([kvStatus(a.url, group), kvStatus(b.url, group)]);
  const big = 'v'.repeat(17_300);
  const hostile = [
    sign({
      space: group,
      batch: 2000,
      seen: {},
      ops: [{ type: 'put', key: '!!!!', value: '', hlc: hlc() }],
    }),
    sign(
      batchBody(group, 2001, [
        { key: 'big/1', value: big, hlc: hlc() },
        { key: 'big/2', value: big, hlc: hlc() },
      ]),
    ),
    sign(batchBody('0'.repeat(32), 2002, [{ key: 'elsewhere', value: 'e', hlc: hlc() }])),
    sign(batchBody(group, 2003, [{ key: 'after-hostile', value: 'fine', hlc: hlc() }])),
  ];
  assert.ok(Buffer.byteLength(hostile[1]!.body) > 45 * 1024, 'the large body is over 45 KiB');
  await postStatements(node.url, keys, hostile);
  for (const device of [a, b]) {
    await eventually(`${device.url} applies the good batch`, async () => {
      await refresh(device.url);
      return (await valueOf(device, group, 'after-hostile')) === 'fine';
    });
  }
  const after = await Promise.all([kvStatus(a.url, group), kvStatus(b.url, group)]);
  for (const [i, status] of after.entries()) {
    assert.equal(status.ignored.malformed - before[i]!.ignored.malformed, 2, 'two malformed');
    assert.equal(status.ignored.space - before[i]!.ignored.space, 1, 'one of another space');
    assert.equal(status.batches - before[i]!.batches, 1, 'only the good batch counts');
  }
  const stores = await Promise.all([kvAll(a.url, group), kvAll(b.url, group)]);
  assert.deepEqual(stores[0], stores[1]);
  assert.deepEqual(
    stores[0]!.map(([k]) => k),
    ['after-hostile', 'fork/both', `fork/${keptName}`, 'plain', 'plain-b'],
  );

  // b restarts: its replica is rebuilt from the batches it kept and says the same (malformed
  // batches are not kept: they are counted from the opening on).
  await b.stop();
  await b.restart();
  await refresh(b.url);
  const again = await kvStatus(b.url, group);
  assert.deepEqual(
    [{ ...again.ignored, malformed: 0 }, again.forks, again.batches],
    [{ ...after[1]!.ignored, malformed: 0 }, after[1]!.forks, after[1]!.batches],
  );
  assert.deepEqual(await kvAll(b.url, group), stores[1]);

  await Promise.all([a.stop(), b.stop(), node.stop()]);
});
