/**
 * A device revoked by its person keeps writing into the key-value store, and a member removed
 * from the group writes with the keys it kept. Real gateway processes on a real node: the
 * person's root (a), its linked device (c) and a second person (b), whose node is reached
 * through a proxy that can hide a's directory from it for a while. Every replica ignores c's
 * batches signed after the revocation and counts them, keeps c's earlier ones, and b, which
 * applied a late batch before it could read the revocation, withdraws it once it can: the
 * earlier winner comes back. The removed member's batch is ignored and counted as `writer`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { directoryKeys } from '../../src/identity/directory.js';
import { formatHlc } from '../../src/kv/hlc.js';
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
import {
  batchBody,
  epochKeysOf,
  kvStatus,
  postStatements,
  signedBatch,
  valueOf,
} from '../helpers/kv.js';
import { startNodeProxy } from '../helpers/node-proxy.js';
import { spawnNode } from '../helpers/nodes.js';

async function waitValue(
  device: Device,
  group: string,
  key: string,
  expected: string | undefined,
  what: string,
): Promise<void> {
  let last: string | undefined;
  await eventually(`${what}: ${key} = ${expected} on ${device.url}`, async () => {
    await refresh(device.url);
    last = await valueOf(device, group, key);
    return last === expected;
  }).catch((error: Error) => {
    throw new Error(`${error.message} (last ${last})`);
  });
}

test('a revoked device and a removed member keep writing: their late batches do not count', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const proxy = await startNodeProxy(node.url);
  const [a, c, b] = await Promise.all([
    startDevice(node.url),
    startDevice(node.url),
    startDevice(proxy.url),
  ]);
  const code = await ok(a.url, 'POST', '/api/devices/link', {}, 201);
  await ok(c.url, 'POST', '/api/devices/accept', { code: code.code, name: 'c', wait_seconds: 30 });
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'revoke' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  for (const device of [c, b]) {
    await eventually(`${device.url} may write`, async () => {
      await refresh(device.url);
      return (await groupView(device.url, group)).writable;
    });
  }

  // c writes in good standing, after seeing a's value.
  await ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'shared', value: 'a first' });
  await waitValue(c, group, 'shared', 'a first', 'c sees a');
  await ok(c.url, 'POST', `/api/spaces/${group}/kv/batch`, {
    ops: [
      { type: 'put', key: 'shared', value: 'c early' },
      { type: 'put', key: 'c/early', value: 'early' },
    ],
  });
  for (const device of [a, b]) await waitValue(device, group, 'shared', 'c early', 'in time');
  const oldEpoch = (await groupView(a.url, group)).epoch!;
  const oldKeys = epochKeysOf(c.dataDir, group, oldEpoch);

  // b stops reading a's directory; a revokes c.
  proxy.hidden.add(toHex(directoryKeys(a.text).table.signing.publicKey));
  const revoked = await ok(a.url, 'POST', `/api/devices/${c.text}/revoke`, {});
  const lastSeq = revoked.last_seq as number;
  assert.ok((revoked.revoked_at as number) <= Date.now());

  // c goes on writing: by hand into the epoch it holds (and through its gateway, which may
  // already refuse).
  const late = signedBatch({
    person: a.text,
    signer: c.identity,
    seq: lastSeq + 100,
    at: Date.now(),
    body: batchBody(group, 500, [
      { key: 'shared', value: 'c late', hlc: formatHlc({ ms: Date.now(), counter: 0 }) },
      { key: 'c/late', value: 'late', hlc: formatHlc({ ms: Date.now(), counter: 1 }) },
    ]),
  });
  await postStatements(node.url, oldKeys, [late]);
  const tried = await request(c.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: 'c/late-gateway',
    value: 'late',
  });
  assert.ok([200, 403].includes(tried.status), JSON.stringify(tried.body));

  // b, not knowing of the revocation, applies the late batch.
  await waitValue(b, group, 'c/late', 'late', 'b before it learns');
  assert.equal(await valueOf(b, group, 'shared'), 'c late');
  // a knows: it ignores and counts the late batch.
  await eventually('a counts the late batch', async () => {
    await refresh(a.url);
    return (await kvStatus(a.url, group)).ignored.signer >= 1;
  });
  assert.equal(await valueOf(a, group, 'c/late'), undefined);
  assert.equal(await valueOf(a, group, 'shared'), 'c early');

  // b reads the revocation: the late batch is withdrawn, c's earlier one stays.
  proxy.hidden.clear();
  await waitValue(b, group, 'c/late', undefined, 'b after it learns');
  for (const device of [a, b]) {
    await waitValue(device, group, 'c/late-gateway', undefined, 'gateway write refused');
    assert.equal(await valueOf(device, group, 'shared'), 'c early');
    assert.equal(await valueOf(device, group, 'c/early'), 'early');
    const status = await kvStatus(device.url, group);
    assert.ok(status.ignored.signer >= 1, `${device.url}: ${JSON.stringify(status.ignored)}`);
    assert.equal(status.versionVector[c.text], 1, 'c counts for its one early batch');
  }

  // a removes b; b writes with the keys of the epoch it was in.
  const bEpoch = (await groupView(b.url, group)).epoch!;
  const bKeys = epochKeysOf(b.dataDir, group, bEpoch);
  await ok(a.url, 'DELETE', `/api/groups/${group}/members/${b.text}`);
  await eventually('a is in a new epoch', async () => {
    await refresh(a.url);
    return (await groupView(a.url, group)).epoch !== bEpoch;
  });
  const before = (await kvStatus(a.url, group)).ignored.writer;
  const outsider = signedBatch({
    person: b.text,
    signer: b.identity,
    seq: 2_000_000,
    at: Date.now(),
    body: batchBody(group, 900, [
      { key: 'shared', value: 'outsider', hlc: formatHlc({ ms: Date.now(), counter: 0 }) },
    ]),
  });
  await postStatements(node.url, bKeys, [outsider]);
  await eventually('a counts the outsider batch', async () => {
    await refresh(a.url);
    return (await kvStatus(a.url, group)).ignored.writer === before + 1;
  });
  assert.equal(await valueOf(a, group, 'shared'), 'c early');

  await Promise.all([a.stop(), b.stop(), c.stop(), node.stop()]);
});
