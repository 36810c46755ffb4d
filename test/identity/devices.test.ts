/**
 * Three devices of one person, as real gateway processes on one real node: device 1 holds the
 * root key, devices 2 and 3 are linked with link codes. Groups reach the linked devices (by the
 * link's grants, and by welcome), records travel between them, and after device 1 revokes
 * device 3 nothing written later is readable with any key device 3 holds, and nothing device 3
 * writes later counts (docs/identity.md §3.3, §5.4).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { directoryKeys } from '../../src/identity/directory.js';
import { decodeGroupKeys, epochKeysFromSecret, openPackage } from '../../src/identity/epoch.js';
import { decodeStatement } from '../../src/identity/statement.js';
import { encodeVersion, signVersion } from '../../src/gateway/record.js';
import { publish } from '../../src/gateway/publish.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { eventually, request } from '../helpers/gateways.js';
import {
  entriesSince,
  groupView,
  heldKeys,
  ok,
  openable,
  recordData,
  refresh,
  seenEverywhere,
  startDevice,
  writeRecord,
  type Device,
} from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';

async function link(root: Device, device: Device, name: string): Promise<number> {
  const code = await ok(root.url, 'POST', '/api/devices/link', {}, 201);
  const accepted = await ok(device.url, 'POST', '/api/devices/accept', {
    code: code.code,
    name,
    wait_seconds: 30,
  });
  assert.equal(accepted.person, root.text);
  assert.equal(accepted.device, device.text);
  return accepted.groups as number;
}

/**
 * Writes once the device has read a commit that changed the keys after `oldEpoch`; until then it would still write in the epoch it knows, which the revoked
 * device can read: a device learns of a commit at its next poll.
 */
async function writeWhenKeyed(
  device: Device,
  group: string,
  mark: string,
  oldEpoch: string,
): Promise<void> {
  await eventually(`${device.url} in a new epoch`, async () => {
    await refresh(device.url);
    const view = await groupView(device.url, group);
    return view.epoch !== oldEpoch && view.clean === true && view.writable;
  });
  await eventually(`${mark} written`, async () => {
    const answer = await request(
      device.url,
      'POST',
      `/api/spaces/${group}/collections/notes/records`,
      { data: { mark } },
    );
    if (answer.status === 201) return true;
    assert.equal(answer.status, 409, JSON.stringify(answer.body));
    assert.equal((answer.body.error as { code: string }).code, 'group_rekey_pending');
    await refresh(device.url);
    return false;
  });
}

test('three devices of one person: link, share, revoke', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const [d1, d2, d3] = await Promise.all([
    startDevice(node.url),
    startDevice(node.url),
    startDevice(node.url),
  ]);
  const person = d1.text;

  // A group created before linking reaches the devices by the link's grants…
  const before = (await ok(d1.url, 'POST', '/api/groups', { name: 'before' }, 201)).id as string;
  assert.ok((await link(d1, d2, 'laptop')) >= 1);
  assert.ok((await link(d1, d3, 'phone')) >= 1);
  const devices = await ok(d1.url, 'GET', '/api/devices');
  assert.deepEqual(
    (devices.devices as { device: string; revoked_at: number | null }[]).map((d) => [
      d.device,
      d.revoked_at,
    ]),
    [
      [d1.text, null],
      [d2.text, null],
      [d3.text, null],
    ],
  );
  const linkedView = await ok(d2.url, 'GET', '/api/devices');
  assert.equal(linkedView.person, person);
  assert.equal(linkedView.root, false);

  // …and one created after, by a welcome.
  const after = (await ok(d1.url, 'POST', '/api/groups', { name: 'after' }, 201)).id as string;
  for (const device of [d2, d3]) {
    await eventually(`both groups on ${device.url}`, async () => {
      await refresh(device.url);
      const list = await ok(device.url, 'GET', '/api/groups');
      const ids = (list.groups as { id: string; writable: boolean }[])
        .filter((g) => g.writable)
        .map((g) => g.id);
      return ids.includes(before) && ids.includes(after);
    });
  }

  // Records written by device 2 reach 1 and 3, in both groups.
  await writeRecord(d2.url, before, { mark: 'd2-before' });
  await writeRecord(d2.url, after, { mark: 'd2-after-group' });
  await seenEverywhere([d1.url, d3.url], before, 'd2-before');
  await seenEverywhere([d1.url, d3.url], after, 'd2-after-group');
  // Device 3 writes once while it is in good standing: that record must survive.
  await writeRecord(d3.url, before, { mark: 'd3-in-time' });
  await seenEverywhere([d1.url, d2.url], before, 'd3-in-time');
  const inTime = await ok(d1.url, 'GET', `/api/spaces/${before}/collections/notes/records`);
  const inTimeRecord = (inTime.records as { key: string; data: { mark: string } }[]).find(
    (r) => r.data.mark === 'd3-in-time',
  )!;
  const oldEpoch = (await groupView(d1.url, before)).epoch!;
  const oldAfterEpoch = (await groupView(d1.url, after)).epoch!;

  // Device 1 (the root) revokes device 3: both groups are rekeyed.
  const revoked = await ok(d1.url, 'POST', `/api/devices/${d3.text}/revoke`, {});
  const revokedAt = revoked.revoked_at as number;
  const lastSeq = revoked.last_seq as number;
  assert.deepEqual([...(revoked.rekeyed as string[])].sort(), [before, after].sort());
  assert.ok(lastSeq >= 1, 'device 3 signed things the root saw');

  // (a) Devices 1 and 2 keep working together.
  await writeWhenKeyed(d1, before, 'd1-late', oldEpoch);
  await writeWhenKeyed(d2, before, 'd2-late', oldEpoch);
  await writeWhenKeyed(d2, after, 'd2-late-after', oldAfterEpoch);
  await seenEverywhere([d1.url, d2.url], before, 'd1-late');
  await seenEverywhere([d1.url, d2.url], before, 'd2-late');
  await seenEverywhere([d1.url], after, 'd2-late-after');
  for (const device of [d1, d2]) {
    const view = await groupView(device.url, before);
    assert.equal(view.clean, true, `${device.url} sees clean keys`);
  }

  // (b) Device 3, stopped, with every key it holds, opens nothing written after the
  // revocation but the commits that removed it (sealed to the epoch it was in) and their
  // key packages, which it cannot open.
  await d3.stop();
  const keys = await heldKeys(d3);
  const everything = await entriesSince(node.url, 0);
  const readableBefore = openable(everything, keys).filter((o) => o.entry.createdAt < revokedAt);
  assert.ok(
    readableBefore.some((o) => o.plaintext.toString().includes('d2-before')),
    'the key inventory opens what device 3 could read before',
  );
  const late = everything.filter((e) => e.createdAt >= revokedAt);
  assert.ok(late.length >= 6, `entries after the revocation: ${late.length}`);
  const directoryTable = directoryKeys(person).table.signing.publicKey;
  let commits = 0;
  for (const { entry, key, plaintext } of openable(late, keys)) {
    const what = `entry ${entry.id} at ${entry.createdAt} opened with ${key.from}`;
    if (entry.table.equals(directoryTable)) {
      // Anyone who knows the person can read its directory: certificates and revocations.
      const statement = decodeStatement(plaintext.toString('utf8'));
      assert.ok(statement && ['device-cert', 'device-revoke'].includes(statement.kind), what);
      continue;
    }
    const statement = decodeStatement(plaintext.toString('utf8'));
    if (statement?.kind === 'group-keys') {
      const packages = decodeGroupKeys(Buffer.from(statement.body));
      assert.ok(packages, what);
      for (const p of packages.packages) {
        for (const k of keys) {
          assert.equal(
            openPackage(packages.group, packages.epoch, k.box, p.ct),
            undefined,
            `${what}: a package opens with ${k.from}`,
          );
        }
      }
      continue;
    }
    assert.ok(
      statement?.kind === 'group-op' && statement.bodyObject.op === 'rekey',
      `${what}: ${plaintext.toString('utf8').slice(0, 300)}`,
    );
    commits += 1;
  }
  assert.ok(commits <= 4, `rekey commits readable by device 3: ${commits}`);

  // (c) Device 3 runs again and writes: through its gateway, and by hand into the old
  // epoch's table it still holds (now, and back-dated with a counter past last_seq).
  await d3.restart();
  await refresh(d3.url);
  const tried = await request(d3.url, 'POST', `/api/spaces/${before}/collections/notes/records`, {
    data: { mark: 'd3-late-gateway' },
  });
  assert.ok([201, 404, 409].includes(tried.status), JSON.stringify(tried.body));
  const db = new Database(join(d3.dataDir, 'index.sqlite'), { readonly: true });
  const row = db
    .prepare('SELECT epoch_secret FROM group_epochs WHERE grp = ? AND epoch = ?')
    .get(before, oldEpoch) as { epoch_secret: string } | undefined;
  db.close();
  assert.ok(row?.epoch_secret, 'device 3 still holds the old epoch secret');
  const old = epochKeysFromSecret(before, Buffer.from(row.epoch_secret, 'hex'));
  const version = (author: Device, seq: number, at: number, key: string, mark: string) =>
    signVersion({
      collection: 'notes',
      key,
      author: author.identity,
      device: { person, seq },
      at,
      deleted: false,
      data: JSON.stringify({ mark }),
    });
  const now = Date.now();
  const backAt = revokedAt - 2_000;
  const forged = [
    version(d3, lastSeq + 50, now, inTimeRecord.key, 'd3-late-raw'),
    version(d3, lastSeq + 1, backAt, 'backdated', 'd3-backdated'),
    // Controls: the same writes by device 2, which still speaks for the person, must count.
    version(d2, 1_000_000, now, 'control-now', 'd2-control-now'),
    version(d2, 1_000_001, backAt, 'control-back', 'd2-control-back'),
  ];
  const client = new Client({ nodes: [node.url] });
  await publish(
    client,
    forged.map((v) => ({
      table: old.table,
      to: old.reader.publicKey,
      plaintext: encodeVersion(v),
      createdAt: v.at,
    })),
  );
  await seenEverywhere([d1.url, d2.url], before, 'd2-control-now');
  await seenEverywhere([d1.url, d2.url], before, 'd2-control-back');
  for (const device of [d1, d2]) {
    await refresh(device.url);
    const marks = (await recordData(device.url, before)).map((d) => d.mark);
    for (const mark of ['d3-late-raw', 'd3-backdated', 'd3-late-gateway']) {
      assert.ok(!marks.includes(mark), `${mark} is ignored by ${device.url}: ${marks.join(',')}`);
    }
    assert.ok(marks.includes('d3-in-time'), `device 3's record of before stays on ${device.url}`);
    assert.ok(marks.includes('d2-before') && marks.includes('d1-late'));
  }
  const devicesAfter = await ok(d1.url, 'GET', '/api/devices');
  const three = (devicesAfter.devices as { device: string; revoked_at: number | null }[]).find(
    (d) => d.device === d3.text,
  );
  assert.equal(three?.revoked_at, revokedAt);
});
