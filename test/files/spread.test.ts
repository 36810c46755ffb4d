/**
 * Files spread over providers (docs/spread.md) against real node processes on 127.0.0.1:
 * spread 3-of-5 and restore byte for byte; restore with two providers killed; a provider that
 * serves damaged bytes is caught and the others used; a provider that lost its shards is
 * replaced by repair, after which the file comes back with the old providers gone; fewer than
 * k providers is a clear error naming how many shards were found.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { runCli } from '../helpers/spawn.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { startCorruptingProxy } from '../helpers/corrupting-proxy.js';
import { tempDir } from '../helpers/tmp.js';
import { generateIdentity, generateTableKey, serializeTableKey } from '../../src/keys/keys.js';
import { spreadFile } from '../../src/client/spread/spread.js';
import { restoreFile } from '../../src/client/spread/restore.js';
import { repairFile } from '../../src/client/spread/repair.js';
import { MAX_SHARD_BYTES } from '../../src/files/spread/layout.js';
import { encodeSpreadManifest, type SpreadManifest } from '../../src/files/spread/manifest.js';
import { Provider } from '../../src/client/spread/provider.js';
import { openPiece, Sealer } from '../../src/client/spread/sealer.js';
import { P2PError } from '../../src/errors.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const owner = generateIdentity();
const table = generateTableKey();
/** Three stripes at 3-of-5, the last one short. */
const FILE = randomBytes(MAX_SHARD_BYTES * 3 * 2 + 12_345);

async function* chunks(bytes: Buffer, size = 100_000): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function nodes(count: number): Promise<NodeProcess[]> {
  // 8 bits keeps the shards' proof of work real but cheap on a shared machine.
  return Promise.all(Array.from({ length: count }, () => spawnNode(['--min-pow', '8'])));
}

async function spread(urls: readonly string[], k = 3, file = FILE) {
  return spreadFile({
    source: chunks(file),
    size: file.length,
    k,
    providers: urls,
    identity: owner,
    table,
    powThreads: 1,
  });
}

async function restore(ref: string, urls: readonly string[]) {
  const parts: Buffer[] = [];
  const result = await restoreFile({
    ref,
    nodes: urls,
    identity: owner,
    write: (bytes) => {
      parts.push(Buffer.from(bytes));
    },
  });
  return { ...result, bytes: Buffer.concat(parts) };
}

test('spread 3-of-5, restore byte for byte; two providers killed, still restored', async () => {
  const five = await nodes(5);
  const { ref, manifest } = await spread(five.map((n) => n.url));
  assert.equal(manifest.k, 3);
  assert.equal(manifest.n, 5);
  assert.equal(manifest.stripes, 3);
  assert.equal(manifest.revision, 1);
  assert.equal(manifest.sha256, sha(FILE));
  const whole = await restore(ref, [five[4]!.url]);
  assert.equal(whole.bytes.length, FILE.length);
  assert.ok(whole.bytes.equals(FILE), 'restored bytes differ');
  assert.deepEqual(whole.lost, []);

  // Two data shards gone: the third stripe's data must be decoded from parity.
  await five[0]!.kill9();
  await five[2]!.kill9();
  const decoded = await restore(ref, [five[0]!.url, five[3]!.url]);
  assert.ok(decoded.bytes.equals(FILE), 'bytes decoded from parity differ');
  assert.deepEqual(
    decoded.lost.map((l) => l.index),
    [0, 2],
  );

  // A third one gone: fewer than k.
  await five[1]!.kill9();
  await assert.rejects(restore(ref, [five[3]!.url]), (error: unknown) => {
    assert.ok(error instanceof P2PError);
    assert.equal(error.code, 'shards_unavailable');
    assert.match(error.message, /found 2 good shard\(s\) of the 3 needed/);
    assert.match(error.message, /2 of 5 providers usable/);
    return true;
  });
});

test('a provider serving damaged bytes is caught and the others are used', async () => {
  const five = await nodes(5);
  const proxy = await startCorruptingProxy(five[1]!.url);
  const urls = five.map((n, i) => (i === 1 ? proxy.url : n.url));
  const { ref } = await spread(urls);
  proxy.corrupt = true;
  const result = await restore(ref, [five[0]!.url]);
  assert.ok(result.bytes.equals(FILE));
  assert.ok(proxy.damaged() >= 1, 'the proxy was asked and damaged its answer');
  assert.equal(result.lost.length, 1);
  assert.equal(result.lost[0]!.url, proxy.url);
});

test('a provider that lost its shards is replaced by repair; restored with the old ones gone', async () => {
  const five = await nodes(5);
  const spare = (await nodes(1))[0]!;
  const { ref } = await spread(five.map((n) => n.url));

  // Provider 1 loses everything of this table: stopped, its store emptied by the operator
  // tool, started again on the same port.
  const lostOne = five[1]!;
  const port = new URL(lostOne.url).port;
  await lostOne.stop();
  const keyFile = join(tempDir(), 'table.key');
  writeFileSync(keyFile, serializeTableKey(table), { mode: 0o600 });
  const deleted = await runCli(['delete', '--data', lostOne.dataDir, '--table', keyFile, '--yes']);
  assert.equal(deleted.code, 0, deleted.stderr);
  const back = await spawnNode(['--min-pow', '8', '--port', port], lostOne.dataDir);
  assert.equal(back.url, lostOne.url);

  // Without a spare, repair says what it needs.
  await assert.rejects(
    repairFile({ ref, nodes: [five[0]!.url], spares: [], identity: owner, table }),
    (error: unknown) =>
      error instanceof P2PError &&
      error.code === 'bad_argument' &&
      /1 provider\(s\) need replacing/.test(error.message),
  );

  const repaired = await repairFile({
    ref,
    nodes: [five[0]!.url],
    spares: [spare.url],
    identity: owner,
    table,
  });
  assert.notEqual(repaired.ref, ref);
  assert.equal(repaired.manifest.revision, 2);
  assert.equal(repaired.manifest.previous, ref);
  assert.deepEqual(
    repaired.replaced.map((r) => [r.index, r.from, r.to]),
    [[1, lostOne.url, spare.url]],
  );
  assert.match(repaired.replaced[0]!.reason, /does not hold/);
  assert.equal(repaired.manifest.providers[1]!.url, spare.url);

  // The old provider 1 and two more originals gone: only the new shards make k.
  await back.kill9();
  await five[0]!.kill9();
  await five[2]!.kill9();
  const result = await restore(repaired.ref, [five[3]!.url]);
  assert.ok(result.bytes.equals(FILE), 'bytes restored after repair differ');
  assert.deepEqual(
    result.lost.map((l) => l.index),
    [0, 2],
  );

  // Repair again, with two providers now gone and no new node: refused before writing.
  await assert.rejects(
    repairFile({ ref: repaired.ref, nodes: [five[3]!.url], spares: [], identity: owner, table }),
    (error: unknown) => error instanceof P2PError && error.code === 'bad_argument',
  );
});

test('an empty file and a file of one short stripe spread and come back', async () => {
  const four = await nodes(4);
  const urls = four.map((n) => n.url);
  for (const file of [Buffer.alloc(0), randomBytes(1000)]) {
    const { ref, manifest } = await spread(urls, 2, file);
    assert.equal(manifest.stripes, file.length === 0 ? 0 : 1);
    const result = await restore(ref, [urls[3]!]);
    assert.ok(result.bytes.equals(file));
  }
});

test('malformed or misleading manifests: refused, or the provider they mislead about is not used', async () => {
  const three = await nodes(3);
  const urls = three.map((n) => n.url);
  const file = randomBytes(5000);
  const { ref, manifest } = await spread(urls, 2, file);
  const sealer = new Sealer(table, owner, 1);
  const first = new Provider(0, urls[0]!);
  const store = async (plaintext: Buffer, to = owner): Promise<string> => {
    const other = new Sealer(table, to, 1);
    try {
      const piece = await (to === owner ? sealer : other).seal(plaintext, await first.powRules());
      await first.put([piece.bytes]);
      return piece.id;
    } finally {
      await other.close();
    }
  };
  const refusedWith = async (id: string, code: string, why: RegExp): Promise<void> => {
    await assert.rejects(restore(id, [urls[0]!]), (error: unknown) => {
      assert.ok(error instanceof P2PError, String(error));
      assert.equal(error.code, code);
      assert.match(error.message, why);
      return true;
    });
  };
  try {
    await refusedWith(await store(Buffer.from('{}')), 'bad_spread_manifest', /type is not/);
    await refusedWith(await store(Buffer.from('[1,2')), 'bad_spread_manifest', /not JSON/);
    const text = Buffer.from(
      encodeSpreadManifest(manifest).toString('utf8').replace('"stripes":1', '"stripes":2'),
    );
    await refusedWith(await store(text), 'bad_spread_manifest', /stripes does not match/);
    await refusedWith(
      await store(encodeSpreadManifest(manifest), generateIdentity()),
      'bad_spread_manifest',
      /not sealed to this identity/,
    );
    await refusedWith('f'.repeat(64), 'manifest_unavailable', /does not hold it/);

    // A page pinned by the manifest but listing a wrong SHA-256 for provider 0's shard: the
    // shard's bytes are the right entry, yet provider 0 is not used; the others restore it.
    const shards = await first.fetch([manifest.providers[0]!.pages[0]!.entry]);
    const page = openPiece(shards.get(manifest.providers[0]!.pages[0]!.entry)!, owner)!;
    const lying = Buffer.from(page);
    lying[lying.length - 1]! ^= 1;
    const pageId = await store(lying);
    const misled: SpreadManifest = {
      ...manifest,
      providers: manifest.providers.map((p, i) =>
        i === 0 ? { url: p.url, pages: [{ entry: pageId, sha256: sha(lying) }] } : p,
      ),
    };
    const misledRef = await store(encodeSpreadManifest(misled));
    const result = await restore(misledRef, [urls[0]!]);
    assert.ok(result.bytes.equals(file));
    assert.deepEqual(
      result.lost.map((l) => [l.index, l.reason]),
      [[0, 'the shard of stripe 0 fails its SHA-256']],
    );
    // A page whose own SHA-256 is not the one the manifest gives.
    const badPageRef = await store(
      encodeSpreadManifest({
        ...manifest,
        providers: manifest.providers.map((p, i) =>
          i === 1
            ? { url: p.url, pages: [{ entry: p.pages[0]!.entry, sha256: 'e'.repeat(64) }] }
            : p,
        ),
      }),
    );
    const second = await restore(badPageRef, [urls[0]!]);
    assert.ok(second.bytes.equals(file));
    assert.deepEqual(
      second.lost.map((l) => [l.index, l.reason]),
      [[1, 'page 0 of its shard list fails its SHA-256']],
    );
    assert.equal(ref.length, 64);
  } finally {
    await sealer.close();
  }
});
