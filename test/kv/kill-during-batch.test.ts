/**
 * A gateway killed with SIGKILL while it turns large requests into batches (several batches a
 * request, two requests at a time): after a restart every acknowledged request is there whole,
 * each request in flight is there whole or not at all, the outbox still reaches the other
 * person, and the restarted gateway picks up where it was: it reads no data space from the
 * beginning again (its node is reached through a proxy that records every read) while another
 * device keeps writing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../../src/encoding/bytes.js';
import { eventually, request } from '../helpers/gateways.js';
import {
  acceptWelcome,
  groupView,
  ok,
  refresh,
  startDevice,
  type Device,
} from '../helpers/identity.js';
import { epochKeysOf, kvAll, kvStatus } from '../helpers/kv.js';
import { startNodeProxy } from '../helpers/node-proxy.js';
import { spawnNode } from '../helpers/nodes.js';

/** Operations in one request: several batches of the 45 KiB body limit. */
const OPS = 2_500;
/** Requests sent at most before the kill (the kill comes first, at a random moment). */
const MAX_REQUESTS = 40;

function ops(n: number): { type: 'put'; key: string; value: string }[] {
  return Array.from({ length: OPS }, (_, i) => ({
    type: 'put' as const,
    key: `r${String(n).padStart(3, '0')}/${String(i).padStart(4, '0')}`,
    value: `v${n}`,
  }));
}

/** Keys per request number in a store, checking each value says its request. */
function perRequest(store: [string, string][]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [key, value] of store) {
    const match = /^r(\d{3})\//.exec(key);
    if (!match) continue;
    const n = Number(match[1]);
    assert.equal(value, `v${n}`, key);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  return counts;
}

async function killGateway(device: Device): Promise<void> {
  const child = device.gateway.child;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test('kill -9 during large batch requests: all or nothing per request, then resume', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const proxy = await startNodeProxy(node.url);
  const [a, b] = await Promise.all([startDevice(proxy.url), startDevice(node.url)]);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'crash' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  await eventually('b may write', async () => {
    await refresh(b.url);
    return (await groupView(b.url, group)).writable;
  });
  const dataTable = toHex(
    epochKeysOf(a.dataDir, group, (await groupView(a.url, group)).epoch!).table!.signing.publicKey,
  );

  // Two requests at a time until the kill, which comes at a random moment after the third
  // acknowledgement.
  const acknowledged = new Set<number>();
  const sent = new Set<number>();
  const delay = 100 + Math.floor(Math.random() * 1500);
  let killed = false;
  let next = 0;
  const sender = async (): Promise<void> => {
    while (!killed && next < MAX_REQUESTS) {
      const n = next++;
      sent.add(n);
      const answer = await request(a.url, 'POST', `/api/spaces/${group}/kv/batch`, {
        ops: ops(n),
      }).catch(() => undefined);
      if (answer === undefined) return;
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.ok((answer.body.batches as string[]).length >= 3, 'several batches a request');
      acknowledged.add(n);
    }
  };
  const senders = [sender(), sender()];
  await eventually('three requests acknowledged', async () => acknowledged.size >= 3, 60_000, 20);
  await new Promise((resolve) => setTimeout(resolve, delay));
  killed = true;
  await killGateway(a);
  await Promise.all(senders);
  const inFlight = [...sent].filter((n) => !acknowledged.has(n));
  const what = `killed ${delay} ms after the third acknowledgement; acknowledged ${[
    ...acknowledged,
  ].join(',')}; in flight ${inFlight.join(',')}`;
  assert.ok(inFlight.length >= 1 || next === MAX_REQUESTS, what);

  const readsBefore = proxy.reads.length;
  await a.restart();
  const counts = perRequest(await kvAll(a.url, group));
  for (const n of acknowledged) assert.equal(counts.get(n), OPS, `request ${n} whole: ${what}`);
  for (const n of inFlight) {
    assert.ok([undefined, OPS].includes(counts.get(n)), `request ${n} all or nothing: ${what}`);
  }
  const kept = [...counts.keys()].sort((x, y) => x - y);

  // b writes meanwhile; a reads it, and b gets everything a kept (the outbox survived).
  await ok(b.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'from-b', value: 'after' });
  await eventually('a reads b’s new write', async () => {
    await refresh(a.url);
    const answer = await request(a.url, 'GET', `/api/spaces/${group}/kv/value?key=from-b`);
    return answer.status === 200;
  });
  await eventually(
    'a’s outbox is empty and b holds every kept request',
    async () => {
      await refresh(a.url);
      if ((await kvStatus(a.url, group)).outbox !== 0) return false;
      await refresh(b.url);
      const onB = perRequest(await kvAll(b.url, group));
      return kept.every((n) => onB.get(n) === OPS) && onB.size === kept.length;
    },
    45_000,
  );
  assert.deepEqual(await kvAll(a.url, group), await kvAll(b.url, group));

  // Since the restart, no read of the data space started from the beginning (the gateway reads
  // on from where its poll state says, less its look-back window).
  const readsAfter = proxy.reads.slice(readsBefore);
  const full = readsAfter.filter(
    (r) => r.query.getAll('table').includes(dataTable) && (r.query.get('since') ?? '0') === '0',
  );
  assert.deepEqual(
    full.map((r) => r.query.toString()),
    [],
    'no full read of the data space after the restart',
  );
  await Promise.all([a.stop(), b.stop(), node.stop()]);
});
