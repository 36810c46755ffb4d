/**
 * The operator tools as an operator runs them: `p2pcloud export`, `import`, `delete`, `compact`
 * and `stats` as child processes on the SQLite files of a real node's data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { MAX_ENTRY_BYTES_FORMAT } from '../../src/entry/format.js';
import {
  generateIdentity,
  generateTableKey,
  recipientText,
  tableText,
} from '../../src/keys/keys.js';
import { FRAMED_HEADER } from '../../src/node/tools/export-format.js';
import { makeEntry } from '../helpers/entries.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import {
  tables,
  recipients,
  T0,
  entries,
  PUT,
  sha,
  nodeDataDir,
  cli,
  jsonOf,
  idsOfJsonl,
  jsonlOf,
  type Put,
} from './store-tools-fixture.js';

const source = await nodeDataDir();

test('stats reports what was put', async () => {
  const stats = jsonOf((await cli(['stats', '--data', source, '--json'])).stdout);
  assert.equal(stats.backend, 'sqlite');
  assert.equal(stats.schema_version, 1);
  assert.equal(stats.entries, PUT.length);
  assert.equal(
    stats.bytes,
    PUT.reduce((n, p) => n + p.bytes.length, 0),
  );
  assert.equal(stats.tables, 3);
  assert.equal(stats.oldest_created_at, T0);
  assert.equal(stats.newest_created_at, T0 + (PUT.length - 1) * 60_000);
  assert.ok((stats.disk_bytes as number) > 0);
  const top = stats.top_tables as { table: string; entries: number; bytes: number }[];
  assert.equal(top.length, 3);
  for (const row of top) {
    const i = tables.findIndex((t) => tableText(t.signing.publicKey) === row.table);
    assert.ok(i >= 0, row.table);
    const mine = PUT.filter((p) => p.table === i);
    assert.equal(row.entries, mine.length);
    assert.equal(
      row.bytes,
      mine.reduce((n, p) => n + p.bytes.length, 0),
    );
  }
  assert.ok(top[0]!.bytes >= top[1]!.bytes && top[1]!.bytes >= top[2]!.bytes);
  const text = (await cli(['stats', '--data', source, '--top', '1'])).stdout;
  assert.match(text, new RegExp(`^entries +${PUT.length}$`, 'm'));
  assert.equal(text.split('\n').filter((l) => l.startsWith('p2ptable1')).length, 1);
});

for (const format of ['jsonl', 'framed'] as const) {
  test(`export → import → export round-trips byte for byte (${format})`, async () => {
    const dir = tempDir();
    const first = join(dir, `first.${format}`);
    const summary = jsonOf(
      (await cli(['export', '--data', source, '--format', format, '--out', first, '--json']))
        .stdout,
    );
    assert.equal(summary.entries, PUT.length);
    const target = join(dir, 'data');
    const report = jsonOf(
      (await cli(['import', first, '--data', target, '--min-pow', '0', '--json'])).stdout,
    );
    assert.equal(report.format, format);
    assert.equal(report.stored, PUT.length);
    assert.equal(report.rejected, 0);
    const second = join(dir, `second.${format}`);
    await cli(['export', '--data', target, '--format', format, '--out', second]);
    assert.equal(sha(readFileSync(second)), sha(readFileSync(first)));
    // Every entry put is in the file, once.
    if (format === 'jsonl') {
      assert.deepEqual(idsOfJsonl(first).sort(), PUT.map((p) => p.id).sort());
    }
    // Importing the file again stores nothing new.
    const again = jsonOf(
      (await cli(['import', first, '--data', target, '--min-pow', '0', '--json'])).stdout,
    );
    assert.equal(again.duplicate, PUT.length);
    assert.equal(again.stored, 0);
  });
}

test('export honours the filters of /get, to a file or stdout', async () => {
  const dir = tempDir();
  const cases: { args: string[]; want: (p: Put) => boolean }[] = [
    { args: ['--table', tableText(tables[1]!.signing.publicKey)], want: (p) => p.table === 1 },
    {
      args: [
        '--table',
        tableText(tables[0]!.signing.publicKey),
        '--table',
        tableText(tables[2]!.signing.publicKey),
        '--recipient',
        recipientText(recipients[1]!.box.publicKey),
      ],
      want: (p) => p.table !== 1 && p.recipient === 1,
    },
    {
      args: ['--recipient', recipientText(recipients[0]!.box.publicKey)],
      want: (p) => p.recipient === 0,
    },
    {
      args: ['--since', String(T0 + 10 * 60_000), '--until', String(T0 + 40 * 60_000)],
      want: (p) => p.createdAt >= T0 + 10 * 60_000 && p.createdAt < T0 + 40 * 60_000,
    },
  ];
  for (const [i, c] of cases.entries()) {
    const file = join(dir, `filtered-${i}.jsonl`);
    await cli(['export', '--data', source, ...c.args, '--out', file]);
    const want = PUT.filter(c.want).map((p) => p.id);
    assert.ok(want.length > 0);
    assert.deepEqual(idsOfJsonl(file).sort(), want.sort(), c.args.join(' '));
    const piped = await cli(['export', '--data', source, ...c.args]);
    assert.equal(piped.stdout, readFileSync(file, 'utf8'));
    assert.match(piped.stderr, new RegExp(`^exported ${want.length} entries`));
  }
  const exists = await cli(['export', '--data', source, '--out', join(dir, 'filtered-0.jsonl')], 1);
  assert.match(exists.stderr, /^p2pcloud: --out: .* exists/);
  const bad = await cli(['export', '--data', source, '--format', 'xml'], 1);
  assert.match(bad.stderr, /^p2pcloud: --format: expected jsonl or framed/);
  const none = await cli(['export', '--data', join(dir, 'nothing-here')], 1);
  assert.match(none.stderr, /^p2pcloud: --data: .* holds no store\n$/);
});

test('import counts and reports damaged lines of each kind, and imports the rest', async () => {
  const good = entries(12).slice(0, 10);
  const flipped = Buffer.from(good[9]!.bytes);
  flipped[flipped.length - 10]! ^= 0x01; // the signature no longer verifies
  const expired = makeEntry({ createdAt: Date.now() - 60_000, expiresAt: Date.now() - 30_000 });
  const short = good[8]!.bytes.subarray(0, 150); // too short to be an entry
  const line = (bytes: Buffer): string =>
    JSON.stringify({ v: 1, id: sha(bytes), entry: bytes.toString('base64url') });
  const lines = [
    line(good[0]!.bytes), // 1
    'this is not json', // 2
    line(good[1]!.bytes), // 3
    JSON.stringify({ v: 1, id: good[2]!.id, entry: '***' }), // 4 bad base64
    '', // 5 empty: skipped
    JSON.stringify({ v: 1, id: good[3]!.id, entry: good[4]!.bytes.toString('base64url') }), // 6 wrong id
    JSON.stringify({ v: 2, id: good[5]!.id, entry: good[5]!.bytes.toString('base64url') }), // 7
    line(flipped), // 8 bad signature
    line(expired.bytes), // 9 expired
    line(short), // 10 not an entry
    line(good[6]!.bytes), // 11
    '[1,2,3]', // 12 JSON, not an object
    line(good[7]!.bytes), // 13, no newline after it
  ];
  const dir = tempDir();
  const file = join(dir, 'damaged.jsonl');
  writeFileSync(file, lines.join('\n'));
  const target = join(dir, 'data');
  const result = await cli(['import', file, '--data', target, '--min-pow', '0', '--json']);
  const report = jsonOf(result.stdout);
  assert.equal(report.read, 12);
  assert.equal(report.stored, 4);
  assert.equal(report.rejected, 8);
  assert.deepEqual(report.rejected_by_code, {
    bad_json: 2,
    bad_base64: 1,
    bad_encoding: 2,
    unsupported_version: 1,
    bad_signature: 1,
    expired: 1,
  });
  const rejects = report.first_rejects as { line: number; code: string; message: string }[];
  assert.deepEqual(
    rejects.map((r) => [r.line, r.code]),
    [
      [2, 'bad_json'],
      [4, 'bad_base64'],
      [6, 'bad_encoding'],
      [7, 'unsupported_version'],
      [8, 'bad_signature'],
      [9, 'expired'],
      [10, 'bad_encoding'],
      [12, 'bad_json'],
    ],
  );
  assert.ok(rejects.every((r) => r.message.length > 0));
  const kept = jsonOf((await cli(['stats', '--data', target, '--json'])).stdout);
  assert.equal(kept.entries, 4);
  const exported = join(dir, 'kept.jsonl');
  await cli(['export', '--data', target, '--out', exported]);
  assert.deepEqual(idsOfJsonl(exported).sort(), [0, 1, 6, 7].map((i) => good[i]!.id).sort());

  // The text report names the lines too; --strict makes any rejection a failure.
  const text = await cli(['import', file, '--data', tempDir(), '--min-pow', '0']);
  assert.match(text.stdout, /^read 12 lines: 4 stored, 0 duplicate, 8 rejected$/m);
  const strict = await cli(['import', file, '--data', tempDir(), '--min-pow', '0', '--strict'], 1);
  assert.match(strict.stderr, /^p2pcloud: .*rejected \(--strict\)\n$/);
});

test('import applies the write policy of the node configuration', async () => {
  const dir = tempDir();
  const file = join(dir, 'all.jsonl');
  writeFileSync(file, jsonlOf(PUT));
  const config = join(dir, 'node.json');
  const quota = join(repoRoot, 'dist', 'src', 'node', 'write-policy', 'table-quota.js');
  writeFileSync(
    config,
    JSON.stringify({
      data_dir: join(dir, 'data'),
      min_pow_bits: 0,
      write_policy: { module: quota, options: { max_entries: 10, max_bytes: 10_000_000 } },
    }),
  );
  const report = jsonOf((await cli(['import', file, '--config', config, '--json'])).stdout);
  // 30 entries in each of three tables, 10 let in per table.
  assert.equal(report.stored, 30);
  assert.equal(report.rejected, 60);
  assert.deepEqual(report.rejected_by_code, { quota_exceeded: 60 });
});

test('import of a framed file: a bad entry and a cut-off end are reported, a bad length stops it', async () => {
  const good = entries(6);
  const flipped = Buffer.from(good[2]!.bytes);
  flipped[flipped.length - 1]! ^= 0x80;
  const frame = (bytes: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const header = Buffer.concat([Buffer.from('P2PCLOUD-FRAMED'), Buffer.from([1])]);
  const dir = tempDir();
  const cut = join(dir, 'cut.framed');
  writeFileSync(
    cut,
    Buffer.concat([
      header,
      frame(good[0]!.bytes),
      frame(good[1]!.bytes),
      frame(flipped),
      frame(good[3]!.bytes),
      frame(good[4]!.bytes).subarray(0, 100),
    ]),
  );
  const report = jsonOf(
    (await cli(['import', cut, '--data', join(dir, 'a'), '--min-pow', '0', '--json'])).stdout,
  );
  assert.equal(report.format, 'framed');
  assert.equal(report.stored, 3);
  assert.deepEqual(report.rejected_by_code, { bad_signature: 1, bad_request: 1 });
  const rejects = report.first_rejects as { frame: number; code: string; message: string }[];
  assert.deepEqual(
    rejects.map((r) => [r.frame, r.code]),
    [
      [3, 'bad_signature'],
      [5, 'bad_request'],
    ],
  );
  assert.match(rejects[1]!.message, /ends inside frame 5/);

  // A length no entry can have: nothing after it can be trusted, so the import fails after
  // storing what came before it. A bare stream of frames (no header) reads as well.
  const broken = join(dir, 'broken.framed');
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(MAX_ENTRY_BYTES_FORMAT + 1);
  writeFileSync(broken, Buffer.concat([frame(good[5]!.bytes), huge, frame(good[0]!.bytes)]));
  const failed = await cli(['import', broken, '--data', join(dir, 'b'), '--min-pow', '0'], 1);
  assert.match(failed.stdout, /^read 2 frames: 1 stored, 0 duplicate, 1 rejected$/m);
  const errLines = failed.stderr.trim().split('\n');
  assert.equal(errLines.length, 1, failed.stderr);
  assert.match(errLines[0]!, /^p2pcloud: .*frame 2 announces 16777217 bytes.*1 entries before it/);

  // A file of neither format is refused as a whole.
  const other = join(dir, 'other.bin');
  writeFileSync(other, 'hello, this is not an export\n');
  const refused = await cli(['import', other, '--data', join(dir, 'c')], 1);
  assert.match(refused.stderr, /^p2pcloud: .* is neither a JSONL nor a framed export/);
});

test('on a terminal, export and import show a progress bar on stderr', async () => {
  const dir = tempDir();
  const onTerminal = (args: string[]): Promise<string> => {
    const quoted = [process.execPath, cliPath, ...args].map((a) => `'${a}'`).join(' ');
    return new Promise((resolve, reject) => {
      // `script` gives the command a terminal, and copies what it shows to stdout.
      execFile('script', ['-qec', quoted, '/dev/null'], { timeout: 120_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      );
    });
  };
  const file = join(dir, 'all.jsonl');
  const shown = await onTerminal(['export', '--data', source, '--out', file]);
  assert.match(
    shown,
    new RegExp(`export \\[[=-]+\\] 100% \\| ${PUT.length} of ${PUT.length} entries`),
  );
  assert.match(shown, new RegExp(`exported ${PUT.length} entries`));
  assert.deepEqual(idsOfJsonl(file).sort(), PUT.map((p) => p.id).sort());
  const imported = await onTerminal([
    'import',
    file,
    '--data',
    join(dir, 'data'),
    '--min-pow',
    '0',
  ]);
  assert.match(imported, /import \[[=-]+\] \d+% \|/);
  assert.match(imported, new RegExp(`read ${PUT.length} lines: ${PUT.length} stored`));
});

/** The highest resident set size of process `pid` so far, in bytes (0 once it has ended). */
function peakRss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

test('import of a file of large entries holds a bounded amount of memory, whatever --batch says', async () => {
  // 2,400 entries of about 60 kB: 144 MB, in one batch if batches were bounded by count only.
  const table = generateTableKey();
  const recipient = generateIdentity();
  const file = join(tempDir(), 'large.framed');
  const text = 'x'.repeat(60_000);
  const frames: Buffer[] = [FRAMED_HEADER];
  let bytes = 0;
  for (let i = 0; i < 2400; i++) {
    const made = makeEntry({ table, recipient, text: `${i} ${text}` });
    const length = Buffer.alloc(4);
    length.writeUInt32BE(made.bytes.length);
    frames.push(length, made.bytes);
    bytes += made.bytes.length;
  }
  writeFileSync(file, Buffer.concat(frames));
  frames.length = 0;
  const child = spawn(
    process.execPath,
    [cliPath, 'import', file, '--data', tempDir(), '--min-pow', '0', '--batch', '100000', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let peak = 0;
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const timer = setInterval(() => {
      peak = Math.max(peak, peakRss(child.pid!));
      if (Date.now() - started > 120_000) child.kill('SIGKILL');
    }, 20);
    child.on('exit', (exitCode) => {
      clearInterval(timer);
      resolve(exitCode);
    });
  });
  assert.equal(code, 0, stderr);
  assert.equal(jsonOf(stdout).stored, 2400);
  // Measured: about 330 MB (the node's code, the verification threads, SQLite's cache, and
  // batches of 16 MiB), against 530 MB with the whole file in one batch.
  assert.ok(peak > 0, 'the peak was read');
  assert.ok(
    peak < 420 * 1024 * 1024,
    `peak RSS ${Math.round(peak / 1048576)} MB for ${bytes} bytes`,
  );
});
