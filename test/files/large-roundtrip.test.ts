/**
 * A large file end to end, as two people's devices see it: streamed into the writer's drive
 * (the SDK in a process of its own, whose gateway knows node 1 only), copied node 1 → node 2 by sync, and read back through gateway
 * B (another person, a reader of the group, knowing node 2 only), byte for byte, while B's
 * memory stays bounded: the download is fetched, checked and written out chunk by chunk
 * (docs/gateway.md §15), never held whole. The bench's full run does the same with 1 GiB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { DriveCluster } from '../../bench/lib/drive-cluster.js';
import { getFileSha256 } from '../../bench/lib/file-http.js';
import { PhasePeak } from '../../bench/lib/phase-peak.js';
import { rss } from '../../bench/lib/proc.js';
import { seededSha256 } from '../../bench/lib/seeded-bytes.js';
import { tempDir } from '../helpers/tmp.js';

const MIB = 1024 * 1024;
const SIZE = 256 * MIB;
/**
 * The reading gateway's peak RSS during the download, in all (measured: 150–190 MiB; the
 * margin is for a shared machine's lazier garbage collection), under the 300 MiB goal.
 */
const READER_PEAK = 256 * MIB;
/**
 * …and above what it held when the download began (measured: 55–90 MiB, with reads fetching
 * three windows of chunks ahead): a file held whole would take SIZE more.
 */
const READER_GROWTH = 160 * MIB;

test('a 256 MiB file goes gateway A → node 1 → sync → node 2 → gateway B byte for byte, with B in bounded memory', async (t) => {
  const root = tempDir();
  const cluster = await DriveCluster.start({
    scratch: (prefix) => mkdtempSync(join(root, prefix)),
    waiveFilesTable: true,
    log: () => undefined,
  });
  try {
    const bytes = { seed: 'large round trip', length: SIZE };
    const want = seededSha256(bytes);
    const path = 'videos/large.bin';
    const put = await cluster.writer.put(path, bytes, 600_000);
    assert.equal(put.file.size, SIZE);
    assert.equal(put.file.sha256, want);
    // Content-defined chunks of 16–60 KiB: thousands of them, every one new to the node.
    assert.ok(put.sent.chunks > SIZE / (61_440 + 1), `chunks ${put.sent.chunks}`);
    assert.ok(put.sent.bytes >= SIZE, `sent ${put.sent.bytes}`);

    await cluster.settle(60_000);
    const copy = await cluster.copyToSecond(600_000);
    assert.ok(copy.entries >= put.sent.chunks, `node 2 holds ${copy.entries}`);
    // Gateway B's only node is node 2: what it reads came there by sync.
    const reader = await cluster.startReader(path, 120_000);

    const pid = reader.child.pid!;
    const before = rss(pid);
    const peak = new PhasePeak(pid);
    const got = await getFileSha256(cluster.readerDrive, path);
    const peakBytes = peak.stop();
    t.diagnostic(
      `reader RSS ${(before / MIB).toFixed(0)} MiB before, peak ${(peakBytes / MIB).toFixed(0)} MiB while reading`,
    );
    assert.equal(got.contentLength, SIZE);
    assert.equal(got.bytes, SIZE);
    assert.equal(got.sha256, want);
    assert.ok(
      peakBytes <= READER_PEAK,
      `reader peak RSS ${(peakBytes / MIB).toFixed(0)} MiB > ${READER_PEAK / MIB} MiB`,
    );
    assert.ok(
      peakBytes - before <= READER_GROWTH,
      `reader grew ${((peakBytes - before) / MIB).toFixed(0)} MiB while reading`,
    );
  } finally {
    await cluster.stop();
  }
});
