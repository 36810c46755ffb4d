/**
 * A drive when nodes fail or lie, with real node and gateway processes: a node that serves
 * corrupted chunks is passed over for the next, a node killed in the middle of an upload does
 * not stop it, an interrupted upload resumes with the chunks it had not sent, chunks missing
 * from every node and records that list wrong chunks or broken manifests are refused with
 * clear codes, and the gateway serves on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { chunkId } from '../../src/files/chunk-id.js';
import { encodeManifest } from '../../src/files/manifest.js';
import { encodeRecord, treeKey } from '../../src/files/record.js';
import { eventually, request } from '../helpers/gateways.js';
import { ok, refresh, startDevice } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';
import {
  breakUpload,
  getFile,
  putFile,
  startCorruptingProxy,
  testBytes,
} from '../helpers/files.js';

const NODE_ARGS = ['--min-pow', '0', '--sync-interval', '3600'];
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('a node serving corrupted chunks is passed over for one that serves good ones', async () => {
  const [one, two] = await Promise.all([spawnNode(NODE_ARGS), spawnNode(NODE_ARGS)]);
  const writer = await startDevice([one.url, two.url]);
  const group = (await ok(writer.url, 'POST', '/api/groups', { name: 'faults' }, 201)).id as string;
  const data = testBytes(2_000_000);
  assert.equal((await putFile(writer.url, group, 'a.bin', data)).status, 201);
  await writer.stop();
  // The same device again, now reading through a lying proxy first, then the honest node.
  const proxy = await startCorruptingProxy(one.url);
  after(() => proxy.close());
  const reader = await startDevice([proxy.url, two.url], writer.keyFile, writer.dataDir);
  // A gateway started again knows its groups once its first round has read its directory.
  await eventually('the restarted gateway lists the file', async () => {
    await refresh(reader.url);
    const answer = await request(reader.url, 'GET', `/api/spaces/${group}/files/stat?path=a.bin`);
    return answer.status === 200 ? true : undefined;
  });
  const back = await getFile(reader.url, group, 'a.bin');
  assert.equal(back.status, 200, back.bytes.toString().slice(0, 300));
  assert.equal(sha(back.bytes), sha(data), 'the good copy is served');
  assert.ok(proxy.served() > 0, 'the lying node was asked first');
  // With only the liar left, the answer is an error, not wrong bytes.
  await two.kill9();
  const refused = await getFile(reader.url, group, 'a.bin');
  assert.equal(refused.status, 502);
  assert.equal(JSON.parse(refused.bytes.toString()).error.code, 'chunk_unavailable');
  assert.equal((await request(reader.url, 'GET', '/api/health')).status, 200);
});

test('a node killed mid-upload does not stop it; an interrupted upload resumes; missing and wrong chunks are refused', async () => {
  const [one, two] = await Promise.all([spawnNode(NODE_ARGS), spawnNode(NODE_ARGS)]);
  const device = await startDevice([one.url, two.url]);
  const group = (await ok(device.url, 'POST', '/api/groups', { name: 'faults' }, 201)).id as string;

  // Node one dies a moment into a 24 MB upload: node two takes every entry.
  const big = testBytes(24_000_000);
  const upload = putFile(device.url, group, 'big.bin', big);
  setTimeout(() => void one.kill9(), 150);
  const put = await upload;
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const back = await getFile(device.url, group, 'big.bin');
  assert.equal(sha(back.bytes), sha(big));

  // An upload broken off after 6 MB, then sent again: the chunks that arrived are not resent.
  const resumed = testBytes(12_000_000);
  await breakUpload(
    device.url,
    group,
    'resumed.bin',
    resumed.length,
    resumed.subarray(0, 6_000_000),
  );
  const broken = await request(
    device.url,
    'GET',
    `/api/spaces/${group}/files/stat?path=resumed.bin`,
  );
  assert.equal(broken.status, 404, 'a broken upload leaves no file');
  const again = await putFile(device.url, group, 'resumed.bin', resumed);
  assert.equal(again.status, 201);
  const reused = again.body.reused as { chunks: number; bytes: number };
  const sent = again.body.sent as { chunks: number; bytes: number };
  assert.ok(reused.bytes > 2_000_000, `reused ${JSON.stringify(reused)}`);
  assert.ok(sent.bytes < resumed.length - 2_000_000, `sent ${JSON.stringify(sent)}`);
  assert.equal(sha((await getFile(device.url, group, 'resumed.bin')).bytes), sha(resumed));

  // A record whose manifest lists a real chunk entry under a wrong chunk id: refused on read.
  const stat = await ok(device.url, 'GET', `/api/spaces/${group}/files/stat?path=resumed.bin`);
  const file = stat.file as { version: string; modified: number };
  const status = await ok(device.url, 'GET', `/api/groups/${group}`);
  const epoch = status.epoch as string;
  const good = await ok(
    device.url,
    'GET',
    `/api/spaces/${group}/kv/value?key=${encodeURIComponent(treeKey('resumed.bin'))}`,
  );
  const record = JSON.parse(good.value as string) as {
    current: { manifest: string | null; entry: string | null };
  };
  // An entry that exists and holds other bytes than a chunk: a 12 MB file's first page when its
  // manifest lists pages (inline), else the entry of its manifest (about 300 chunks, listed
  // directly, too long to inline): random bytes cut either way.
  const listed = record.current.manifest
    ? (JSON.parse(record.current.manifest) as { pages: { entry: string }[] | null }).pages
    : null;
  const otherEntry = listed?.[0]?.entry ?? record.current.entry!;
  const lie = Buffer.from('not the chunk');
  const wrongManifest = encodeManifest({
    size: lie.length,
    sha256: sha(lie),
    mediaType: null,
    chunks: [
      {
        id: chunkId(Buffer.alloc(32, 9), lie).toString('hex'),
        entry: otherEntry,
        offset: 0,
        size: lie.length,
      },
    ],
    pages: null,
  });
  const wrongRecord = encodeRecord({
    path: 'wrong.txt',
    current: {
      id: sha(Buffer.from(wrongManifest)),
      epoch,
      size: lie.length,
      sha256: sha(lie),
      mediaType: null,
      modified: file.modified,
      manifest: wrongManifest,
      entry: null,
    },
    history: [],
  });
  await ok(device.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: treeKey('wrong.txt'),
    value: wrongRecord,
  });
  const wrong = await getFile(device.url, group, 'wrong.txt');
  assert.equal(wrong.status, 502);
  assert.equal(JSON.parse(wrong.bytes.toString()).error.code, 'chunk_unavailable');

  // A record whose inline manifest is not one: bad_manifest.
  const badRecord = encodeRecord({
    path: 'bad.txt',
    current: {
      id: sha(Buffer.from('{}')),
      epoch,
      size: 2,
      sha256: sha(Buffer.from('hi')),
      mediaType: null,
      modified: file.modified,
      manifest: '{}',
      entry: null,
    },
    history: [],
  });
  await ok(device.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: treeKey('bad.txt'),
    value: badRecord,
  });
  const bad = await getFile(device.url, group, 'bad.txt');
  assert.equal(bad.status, 502);
  assert.equal(JSON.parse(bad.bytes.toString()).error.code, 'bad_manifest');

  // Every node loses the chunks (a fresh node in place of the last one): the tree still lists
  // the file, and reading it names what is missing.
  await two.kill9();
  const fresh = await spawnNode(NODE_ARGS);
  await device.stop();
  const moved = await startDevice([fresh.url], device.keyFile, device.dataDir);
  await eventually('the restarted gateway lists the file', async () => {
    await refresh(moved.url);
    const answer = await request(moved.url, 'GET', `/api/spaces/${group}/files/stat?path=big.bin`);
    return answer.status === 200 ? true : undefined;
  });
  const missing = await getFile(moved.url, group, 'big.bin');
  assert.equal(missing.status, 502);
  assert.equal(JSON.parse(missing.bytes.toString()).error.code, 'chunk_unavailable');
  assert.match(
    JSON.parse(missing.bytes.toString()).error.message,
    /could not be read from any node/,
  );
});
