/**
 * Three devices of a group write while no node answers — two linked devices of one person and
 * a second person — each write acknowledged at once. The node comes back (same port, same
 * data) and the devices reconnect one at a time; then every replica holds the same store, each
 * contested key's winner is the greatest version by docs/kv.md §4.2, computed here from the
 * batches the devices signed, and the concurrent losers are listed as its conflicts everywhere.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, request } from '../helpers/gateways.js';
import {
  acceptWelcome,
  groupView,
  ok,
  refresh,
  startDevice,
  type Device,
} from '../helpers/identity.js';
import {
  compareVersions,
  heldVersions,
  kvAll,
  kvStatus,
  replicaFile,
  spawnNodeAt,
  type HeldVersion,
} from '../helpers/kv.js';
import { freePort } from '../helpers/http.js';
import { shuffled } from '../helpers/shuffle.js';
import { tempDir } from '../helpers/tmp.js';

const enc = encodeURIComponent;

async function put(device: Device, group: string, key: string, value: string): Promise<void> {
  await ok(device.url, 'PUT', `/api/spaces/${group}/kv/value`, { key, value });
}

async function del(device: Device, group: string, key: string): Promise<void> {
  await ok(device.url, 'DELETE', `/api/spaces/${group}/kv/value?key=${enc(key)}`);
}

interface ValueView {
  value: string | null;
  hlc: string;
  signer: string;
  batch: number;
  conflicts: { value: string | null; hlc: string; signer: string; batch: number }[];
}

test('three devices write offline, reconnect one at a time in a chosen order, and converge', async () => {
  const port = await freePort();
  const nodeDir = tempDir();
  let node = await spawnNodeAt(port, nodeDir);
  const nodeUrl = `http://127.0.0.1:${port}`;
  const [a, a2, b] = await Promise.all([
    startDevice(nodeUrl),
    startDevice(nodeUrl),
    startDevice(nodeUrl),
  ]);
  // a2 becomes a second device of a's person.
  const code = await ok(a.url, 'POST', '/api/devices/link', {}, 201);
  const linked = await ok(a2.url, 'POST', '/api/devices/accept', {
    code: code.code,
    name: 'laptop',
    wait_seconds: 30,
  });
  assert.equal(linked.person, a.text);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'offline' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  for (const device of [a2, b]) {
    await eventually(`${device.url} may write`, async () => {
      await refresh(device.url);
      return (await groupView(device.url, group)).writable;
    });
  }
  // Something every device has seen before going offline.
  await put(a, group, 'shared-before', 'x');
  for (const device of [a2, b]) {
    await eventually(`${device.url} reads shared-before`, async () => {
      await refresh(device.url);
      return (
        (await request(device.url, 'GET', `/api/spaces/${group}/kv/value?key=shared-before`))
          .status === 200
      );
    });
  }

  // The node goes away: every write below is acknowledged while nothing can be sent.
  await node.kill9();
  const names = new Map([
    [a, 'A'],
    [a2, 'A2'],
    [b, 'B'],
  ]);
  for (const device of [a, a2, b]) {
    const name = names.get(device)!;
    await put(device, group, `only/${name}`, `${name} alone`);
    await put(device, group, 'all', `all from ${name}`);
  }
  // One device sets a key another deletes, in both orders of time.
  await put(a, group, 'set-then-del', 'set by A');
  await del(a2, group, 'set-then-del');
  await del(b, group, 'del-then-set');
  await put(a2, group, 'del-then-set', 'set by A2');
  // Every device removes the key all saw, or overwrites it, concurrently.
  await del(a, group, 'shared-before');
  await put(b, group, 'shared-before', 'y from B');
  for (const device of [a, a2, b]) {
    const status = await kvStatus(device.url, group);
    assert.ok(status.outbox >= 2, `${names.get(device)} keeps its batches: ${status.outbox}`);
  }

  // All gateways stop; what each signed is read from its replica file.
  await Promise.all([a.stop(), a2.stop(), b.stop()]);
  const versions: HeldVersion[] = [];
  const seenHashes = new Set<string>();
  for (const device of [a, a2, b]) {
    for (const v of heldVersions(replicaFile(device.dataDir, device.text, group))) {
      const id = `${v.signer}/${v.batch}/${v.index}`;
      if (seenHashes.has(id)) continue;
      seenHashes.add(id);
      versions.push(v);
    }
  }
  const contested = ['all', 'set-then-del', 'del-then-set', 'shared-before'];
  const expected = new Map<string, { winner: HeldVersion; losers: HeldVersion[] }>();
  for (const key of contested) {
    const of = versions.filter((v) => v.key === key).sort((x, y) => compareVersions(y, x));
    assert.ok(of.length >= 2, `${key} has concurrent versions`);
    // Only shared-before has a version everyone had seen (a's first put): not a conflict.
    const losers = of.slice(1).filter((v) => !(key === 'shared-before' && v.value === 'x'));
    expected.set(key, { winner: of[0]!, losers });
  }

  // The node returns on its port with its data; devices reconnect one at a time, in an order
  // drawn from a seed (KV_ORDER_SEED replays one).
  node = await spawnNodeAt(port, nodeDir);
  const seed = Number(process.env.KV_ORDER_SEED ?? 1 + Math.floor(Math.random() * 2 ** 30));
  const order = shuffled([a, a2, b], seed);
  const run = `seed ${seed}, order ${order.map((d) => names.get(d)).join(' ')}`;
  for (const device of order) {
    await device.restart();
    await eventually(`${names.get(device)} sends its outbox (${run})`, async () => {
      await refresh(device.url);
      return (await kvStatus(device.url, group)).outbox === 0;
    });
  }
  let last = '';
  const stores = await eventually(
    `every replica holds every batch (${run})`,
    async () => {
      await refresh(...order.map((d) => d.url));
      const all = await Promise.all(order.map((d) => kvAll(d.url, group)));
      const statuses = await Promise.all(order.map((d) => kvStatus(d.url, group)));
      const vectors = statuses.map((s) => JSON.stringify(s.versionVector));
      last = JSON.stringify({ statuses, all });
      if (new Set(vectors).size !== 1) return undefined;
      const first = JSON.stringify(all[0]);
      return all.every((x) => JSON.stringify(x) === first) ? all : undefined;
    },
    40_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen ${last}`);
  });
  const store = new Map(stores[0]!);
  for (const name of ['A', 'A2', 'B']) assert.equal(store.get(`only/${name}`), `${name} alone`);

  for (const key of contested) {
    const { winner, losers } = expected.get(key)!;
    for (const device of order) {
      const where = `${key} on ${names.get(device)} (${run})`;
      const answer = await request(
        device.url,
        'GET',
        `/api/spaces/${group}/kv/value?key=${enc(key)}`,
      );
      if (winner.value === null) {
        // A winning delete: the key is gone from every replica, and the puts it beat are
        // still there to see as its conflicts.
        assert.equal(answer.status, 404, where);
        assert.equal(store.has(key), false, where);
        const versions = (
          await request(device.url, 'GET', `/api/spaces/${group}/kv/versions?key=${enc(key)}`)
        ).body as unknown as { winner: Omit<ValueView, 'conflicts'>; conflicts: ValueView[] };
        assert.deepEqual(
          [versions.winner.value, versions.winner.hlc, versions.winner.signer],
          [null, winner.hlc, winner.signer],
          where,
        );
        assert.deepEqual(
          versions.conflicts.map((c) => [c.value, c.hlc, c.signer, c.batch]),
          losers.map((l) => [l.value, l.hlc, l.signer, l.batch]),
          `${where}: the puts the delete beat`,
        );
        continue;
      }
      assert.equal(answer.status, 200, `${where}: ${JSON.stringify(answer.body)}`);
      const view = answer.body as unknown as ValueView;
      assert.deepEqual(
        [view.value, view.hlc, view.signer, view.batch],
        [winner.value, winner.hlc, winner.signer, winner.batch],
        where,
      );
      assert.deepEqual(
        view.conflicts.map((c) => [c.value, c.hlc, c.signer, c.batch]),
        losers.map((l) => [l.value, l.hlc, l.signer, l.batch]),
        `${where}: the concurrent losers, greatest first`,
      );
    }
  }
  // The three-way key has a put winner with the other two devices' puts as conflicts.
  assert.equal(expected.get('all')!.losers.length, 2);

  await Promise.all([a.stop(), a2.stop(), b.stop(), node.stop()]);
});
