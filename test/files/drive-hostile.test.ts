/**
 * A drive against hostile members and clients, with a real node and gateway process: a record
 * whose manifest names one entry under two chunk ids is refused before a byte leaves, ranges at
 * the edges (an empty file, one byte, the last byte, a suffix longer than the file) answer as
 * RFC 9110 says, a range of an earlier version reads that version's bytes, and a chunk entry
 * a member sealed to expire is not taken as the store of another member's upload, a HEAD
 * request answers from the tree without reading the file from the nodes, and a write that
 * resolves a conflict keeps the version that lost among the file's versions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { toHex } from '../../src/encoding/bytes.js';
import { draftEntry, finishEntry } from '../../src/entry/create.js';
import { chunkId } from '../../src/files/chunk-id.js';
import { fileKeys } from '../../src/files/keys.js';
import { encodeManifest, type ChunkRef } from '../../src/files/manifest.js';
import { encodeRecord, treeKey } from '../../src/files/record.js';
import { filesTableKey } from '../../src/files/table.js';
import { openFiles } from '../../src/gateway/files/sdk.js';
import { sendSealed } from '../../src/gateway/publish.js';
import { apiKeyOf, eventually, request, startTestGateway } from '../helpers/gateways.js';
import { acceptWelcome, groupView, ok, refresh, startDevice } from '../helpers/identity.js';
import { startNodeProxy } from '../helpers/node-proxy.js';
import { spawnNode, startTestNode } from '../helpers/nodes.js';
import { getFile, putFile, testBytes } from '../helpers/files.js';

const NODE_ARGS = ['--min-pow', '0', '--sync-interval', '3600'];
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('a manifest naming one entry under two chunk ids is refused before a byte is sent', async () => {
  const node = await spawnNode(NODE_ARGS);
  const device = await startDevice(node.url);
  const group = (await ok(device.url, 'POST', '/api/groups', { name: 'hostile' }, 201))
    .id as string;
  // 120 kB: two to seven chunks, a manifest short enough to travel in the record.
  const data = testBytes(120_000);
  assert.equal((await putFile(device.url, group, 'a.bin', data)).status, 201);
  const held = await ok(
    device.url,
    'GET',
    `/api/spaces/${group}/kv/value?key=${encodeURIComponent(treeKey('a.bin'))}`,
  );
  const record = JSON.parse(held.value as string) as {
    current: { manifest: string; epoch: string; modified: number };
  };
  const chunks = (JSON.parse(record.current.manifest) as { chunks: ChunkRef[] }).chunks;
  assert.ok(chunks.length >= 2, `chunks: ${chunks.length}`);
  // The first chunk keeps its id, size and offset but names the second chunk's entry: the
  // entry's bytes pass the second chunk's check, never the first's.
  const [first, second] = chunks as [ChunkRef, ChunkRef];
  const lying = encodeManifest({
    size: data.length,
    sha256: sha(data),
    mediaType: null,
    chunks: [{ ...first, entry: second.entry }, ...chunks.slice(1)],
    pages: null,
  });
  await ok(device.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: treeKey('lying.bin'),
    value: encodeRecord({
      path: 'lying.bin',
      current: {
        id: sha(Buffer.from(lying)),
        epoch: record.current.epoch,
        size: data.length,
        sha256: sha(data),
        mediaType: null,
        modified: record.current.modified,
        manifest: lying,
        entry: null,
      },
      history: [],
    }),
  });
  const range = await getFile(device.url, group, 'lying.bin', {
    range: `bytes=0-${first.size - 1}`,
  });
  assert.equal(range.status, 502, `a range of the first chunk answers ${range.status}`);
  assert.equal(JSON.parse(range.bytes.toString()).error.code, 'chunk_unavailable');
  const whole = await getFile(device.url, group, 'lying.bin');
  assert.equal(whole.status, 502, `the whole file answers ${whole.status}`);
  assert.equal(JSON.parse(whole.bytes.toString()).error.code, 'chunk_unavailable');
  // The honest file still reads back, and the gateway serves on.
  assert.ok((await getFile(device.url, group, 'a.bin')).bytes.equals(data));
  assert.equal((await request(device.url, 'GET', '/api/health')).status, 200);
});

test('ranges at the edges of a file, and ranges of an earlier version', async () => {
  const node = await spawnNode(NODE_ARGS);
  const device = await startDevice(node.url);
  const group = (await ok(device.url, 'POST', '/api/groups', { name: 'edges' }, 201)).id as string;

  // An empty file: no range is satisfiable but a suffix, which is the whole (empty) file.
  assert.equal((await putFile(device.url, group, 'empty.txt', Buffer.alloc(0))).status, 201);
  const suffixOfEmpty = await getFile(device.url, group, 'empty.txt', { range: 'bytes=-5' });
  assert.equal(suffixOfEmpty.status, 200);
  assert.equal(suffixOfEmpty.headers.get('content-range'), null);
  assert.equal(suffixOfEmpty.headers.get('content-length'), '0');
  assert.equal(suffixOfEmpty.bytes.length, 0);
  const firstOfEmpty = await getFile(device.url, group, 'empty.txt', { range: 'bytes=0-0' });
  assert.equal(firstOfEmpty.status, 416);
  assert.equal(JSON.parse(firstOfEmpty.bytes.toString()).error.code, 'bad_range');

  // One byte, the last byte, a suffix longer than the file.
  const data = testBytes(100_000);
  assert.equal((await putFile(device.url, group, 'b.bin', data)).status, 201);
  const cases: [string, number, number][] = [
    ['bytes=0-0', 0, 1],
    [`bytes=${data.length - 1}-${data.length - 1}`, data.length - 1, data.length],
    [`bytes=${data.length - 1}-`, data.length - 1, data.length],
    ['bytes=-1', data.length - 1, data.length],
    [`bytes=-${data.length + 1000}`, 0, data.length],
    [`bytes=10-${data.length + 1000}`, 10, data.length],
  ];
  for (const [header, from, to] of cases) {
    const answer = await getFile(device.url, group, 'b.bin', { range: header });
    assert.equal(answer.status, 206, header);
    assert.equal(answer.headers.get('content-range'), `bytes ${from}-${to - 1}/${data.length}`);
    assert.equal(answer.headers.get('content-length'), String(to - from), header);
    assert.ok(answer.bytes.equals(data.subarray(from, to)), header);
  }

  // A range of an earlier version: that version's bytes, under that version's size.
  const first = Buffer.from('the first version, longer than the second one');
  const second = Buffer.from('second');
  const put = await putFile(device.url, group, 'v.txt', first);
  const firstVersion = (put.body.file as { version: string }).version;
  assert.equal((await putFile(device.url, group, 'v.txt', second)).status, 201);
  const old = await getFile(
    device.url,
    group,
    'v.txt',
    { range: 'bytes=4-8' },
    `&version=${firstVersion}`,
  );
  assert.equal(old.status, 206);
  assert.equal(old.headers.get('content-range'), `bytes 4-8/${first.length}`);
  assert.equal(old.bytes.toString(), 'first');
  const oldTail = await getFile(
    device.url,
    group,
    'v.txt',
    { range: 'bytes=-3' },
    `&version=${firstVersion}`,
  );
  assert.equal(oldTail.bytes.toString(), 'one');

  // A media type the manifest cannot hold is refused before the upload, and the tree keeps
  // what it had.
  const badType = await putFile(device.url, group, 'v.txt', first, '&media_type=Text%2FPlain');
  assert.equal(badType.status, 400, JSON.stringify(badType.body));
  assert.equal((badType.body.error as { code: string }).code, 'bad_query');
  assert.equal((await getFile(device.url, group, 'v.txt')).bytes.toString(), 'second');

  // Removed, the file and its earlier versions are gone from the tree: the tree kept them.
  await ok(device.url, 'DELETE', `/api/spaces/${group}/files/content?path=v.txt`);
  const removed = await getFile(device.url, group, 'v.txt', {}, `&version=${firstVersion}`);
  assert.equal(removed.status, 404);
  assert.equal(JSON.parse(removed.bytes.toString()).error.code, 'no_such_file');

  // A query parameter given twice is refused, not read as either.
  const twice = await request(
    device.url,
    'GET',
    `/api/spaces/${group}/files/content?path=b.bin&path=v.txt`,
  );
  assert.equal(twice.status, 400);
});

test('a chunk entry sealed to expire is not reused by a later upload of the same bytes', async () => {
  const node = await startTestNode();
  const gateway = await startTestGateway([node.url]);
  const group = (await ok(gateway.url, 'POST', '/api/groups', { name: 'expiry' }, 201))
    .id as string;
  const drive = await openFiles(gateway, group);
  const keys = gateway.gateway.identity.groups.currentKeys(group)!;
  const g = Buffer.from(group, 'hex');
  const table = filesTableKey(g, keys.table!.signing.seed);
  const dedup = fileKeys(keys.reader.secretKey, g).dedup;

  // A writer of the group stores a one-chunk file whose chunk entry expires in a few seconds.
  const bytes = testBytes(10_000);
  const createdAt = Date.now();
  const expiresAt = createdAt + 4_000;
  const draft = draftEntry({
    table,
    recipient: keys.reader.publicKey,
    plaintext: bytes,
    createdAt,
    expiresAt,
  });
  const sealed = finishEntry(draft, 0n);
  const entry = toHex(sealed.id);
  await sendSealed(gateway.gateway.client, [
    { id: entry, bytes: sealed.bytes, createdAt, table: table.signing.publicKey },
  ]);
  const manifest = encodeManifest({
    size: bytes.length,
    sha256: sha(bytes),
    mediaType: null,
    chunks: [{ id: chunkId(dedup, bytes).toString('hex'), entry, offset: 0, size: bytes.length }],
    pages: null,
  });
  await ok(gateway.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: treeKey('fleeting.bin'),
    value: encodeRecord({
      path: 'fleeting.bin',
      current: {
        id: sha(Buffer.from(manifest)),
        epoch: keys.epoch,
        size: bytes.length,
        sha256: sha(bytes),
        mediaType: null,
        modified: createdAt,
        manifest,
        entry: null,
      },
      history: [],
    }),
  });
  // This device reads it (and so learns which entry holds that chunk)...
  const read = await drive.read('fleeting.bin');
  const parts: Buffer[] = [];
  for await (const part of read.stream) parts.push(part as Buffer);
  assert.ok(Buffer.concat(parts).equals(bytes));
  // ...then uploads the same bytes: they must go to an entry of their own.
  const put = await drive.put('lasting.bin', bytes);
  assert.equal(put.reused.chunks, 0, `reused ${JSON.stringify(put.reused)}`);
  assert.equal(put.sent.chunks, 1);
  // Once the other entry expired, the upload still reads back.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt + 500 - Date.now())));
  const again = await drive.read('lasting.bin');
  const back: Buffer[] = [];
  for await (const part of again.stream) back.push(part as Buffer);
  assert.ok(Buffer.concat(back).equals(bytes));

  // A time the record cannot hold is refused: written, it would hide the file from the tree.
  for (const modified of [1.5, -1, Number.MAX_SAFE_INTEGER + 2]) {
    await assert.rejects(drive.put('lasting.bin', 'other bytes', { modified }), {
      code: 'bad_query',
    });
  }
  assert.equal((await drive.stat('lasting.bin')).file.size, bytes.length);
});

test('a HEAD request of a file reads nothing from the nodes', async () => {
  const node = await spawnNode(NODE_ARGS);
  const proxy = await startNodeProxy(node.url);
  const device = await startDevice(proxy.url);
  const group = (await ok(device.url, 'POST', '/api/groups', { name: 'head' }, 201)).id as string;
  const data = testBytes(8_000_000);
  const put = await putFile(device.url, group, 'big.bin', data);
  assert.equal(put.status, 201);
  const chunkBytes = (): number =>
    proxy.reads.filter((r) => r.query.has('id')).reduce((n, r) => n + r.bytes, 0);
  const before = chunkBytes();
  const response = await fetch(`${device.url}/api/spaces/${group}/files/content?path=big.bin`, {
    method: 'HEAD',
    headers: { authorization: `Bearer ${apiKeyOf(device.url)}` },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-length'), String(data.length));
  assert.equal(response.headers.get('etag'), `"${sha(data)}"`);
  assert.equal(
    response.headers.get('x-p2pcloud-version'),
    (put.body.file as { version: string }).version,
  );
  // Whatever a HEAD started reading would arrive within this time on this machine.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const read = chunkBytes() - before;
  assert.ok(read < 1_000_000, `a HEAD read ${read} bytes of chunks from the node`);
  // A GET reads the file, through the same proxy.
  assert.ok((await getFile(device.url, group, 'big.bin')).bytes.equals(data));
  assert.ok(chunkBytes() - before > data.length, 'the proxy sees the reads');
});

test('a write over a conflict keeps the version that lost among the versions', async () => {
  const node = await spawnNode(NODE_ARGS);
  const [a, b] = await Promise.all([startDevice(node.url), startDevice(node.url)]);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'both' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  await eventually('b holds the keys', async () => {
    await refresh(b.url);
    return (await groupView(b.url, group)).writable;
  });
  // Both write one name without having seen the other's write.
  const [fromA, fromB] = await Promise.all([
    putFile(a.url, group, 'doc.txt', Buffer.from('written on a')),
    putFile(b.url, group, 'doc.txt', Buffer.from('written on b')),
  ]);
  const versions = [fromA, fromB].map((p) => (p.body.file as { version: string }).version);
  const stat = await eventually('a sees the conflict', async () => {
    await refresh(a.url, b.url);
    const answer = await request(a.url, 'GET', `/api/spaces/${group}/files/stat?path=doc.txt`);
    return answer.status === 200 && (answer.body.conflicts as unknown[]).length === 1
      ? answer.body
      : undefined;
  });
  const lost = (stat.conflicts as { version: string }[])[0]!.version;
  assert.ok(versions.includes(lost));
  // a writes the name again: the conflict is resolved, and both earlier versions stay readable.
  const third = await putFile(a.url, group, 'doc.txt', Buffer.from('third'));
  assert.equal(third.status, 201);
  const after = await ok(a.url, 'GET', `/api/spaces/${group}/files/stat?path=doc.txt`);
  assert.deepEqual(after.conflicts, []);
  const kept = (after.versions as { version: string }[]).map((v) => v.version);
  assert.deepEqual([...kept].sort(), [...versions].sort());
  const old = await getFile(a.url, group, 'doc.txt', {}, `&version=${lost}`);
  assert.equal(old.status, 200);
  assert.match(old.bytes.toString(), /^written on [ab]$/);

  // A move resolves the old name's conflicts too: the version that lost moves with the file.
  const [otherA, otherB] = await Promise.all([
    putFile(a.url, group, 'other.txt', Buffer.from('other on a')),
    putFile(b.url, group, 'other.txt', Buffer.from('other on b')),
  ]);
  const others = [otherA, otherB].map((p) => (p.body.file as { version: string }).version);
  await eventually('a sees the second conflict', async () => {
    await refresh(a.url, b.url);
    const answer = await request(a.url, 'GET', `/api/spaces/${group}/files/stat?path=other.txt`);
    return answer.status === 200 && (answer.body.conflicts as unknown[]).length === 1
      ? true
      : undefined;
  });
  await ok(a.url, 'POST', `/api/spaces/${group}/files/move`, {
    from: 'other.txt',
    to: 'moved.txt',
  });
  const moved = await ok(a.url, 'GET', `/api/spaces/${group}/files/stat?path=moved.txt`);
  const movedVersions = [
    (moved.file as { version: string }).version,
    ...(moved.versions as { version: string }[]).map((v) => v.version),
  ];
  assert.deepEqual(movedVersions.sort(), [...others].sort());
});
