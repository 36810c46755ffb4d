/**
 * The export file formats as docs/operations.md specifies them: the documented line of a
 * vector, format detection, and the readers' handling of lines and frames split anywhere
 * across chunks, of oversized lines and frames, and of files cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FRAMED_HEADER,
  detectFormat,
  jsonlLine,
  parseJsonlLine,
} from '../../src/node/tools/export-format.js';
import {
  framedRecords,
  jsonlRecords,
  type ImportRecord,
} from '../../src/node/tools/import-reader.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { makeEntry } from '../helpers/entries.js';
import { repoRoot } from '../helpers/paths.js';

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(source: AsyncIterable<ImportRecord[]>): Promise<ImportRecord[]> {
  const out: ImportRecord[] = [];
  for await (const chunk of source) out.push(...chunk);
  return out;
}

const frame = (bytes: Buffer): Buffer => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};

test('the documented JSONL line of the empty vector is what the exporter writes', () => {
  const vectors = JSON.parse(
    readFileSync(join(repoRoot, 'docs', 'vectors', 'entries.json'), 'utf8'),
  ) as { cases: { name: string; entry: { hex: string } }[] };
  const bytes = Buffer.from(vectors.cases.find((c) => c.name === 'empty')!.entry.hex, 'hex');
  const line = jsonlLine(bytes, sha256(bytes).toString('hex'));
  const doc = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
  assert.ok(doc.includes(line.trimEnd()), 'docs/operations.md does not show the exported line');
  const parsed = parseJsonlLine(line.trimEnd());
  assert.ok('bytes' in parsed && parsed.bytes.equals(bytes));
  // Members in another order, whitespace and unknown members are read too.
  const other = `{ "entry": "${bytes.toString('base64url')}", "note": "x", "id": "${sha256(bytes).toString('hex')}", "v": 1 }\r`;
  const again = parseJsonlLine(other);
  assert.ok('bytes' in again && again.bytes.equals(bytes));
  // Padding or the standard alphabet is not base64url.
  const padded = JSON.stringify({
    v: 1,
    id: sha256(bytes).toString('hex'),
    entry: bytes.toString('base64'),
  });
  assert.equal((parseJsonlLine(padded) as { code: string }).code, 'bad_base64');
});

test('formats are told apart by their first bytes', () => {
  const entry = makeEntry().bytes;
  assert.equal(detectFormat(Buffer.from('{"v":1')), 'jsonl');
  assert.equal(detectFormat(Buffer.from('\n\n  {"v":1')), 'jsonl');
  assert.equal(detectFormat(Buffer.alloc(0)), 'jsonl');
  assert.equal(detectFormat(FRAMED_HEADER), 'framed');
  assert.equal(detectFormat(frame(entry).subarray(0, 64)), 'framed');
  assert.equal(detectFormat(Buffer.from('hello')), undefined);
  assert.equal(detectFormat(Buffer.from([0x02, 0, 0, 0])), undefined);
});

test('the JSONL reader finds every line however the file is cut into chunks', async () => {
  const made = [makeEntry(), makeEntry(), makeEntry()].map((m) => m.bytes);
  const long = 'x'.repeat(5000);
  const text = Buffer.from(
    `${jsonlLine(made[0]!, sha256(made[0]!).toString('hex'))}\n${long}\n${jsonlLine(made[1]!, sha256(made[1]!).toString('hex'))}${jsonlLine(made[2]!, sha256(made[2]!).toString('hex')).trimEnd()}`,
  );
  for (const size of [1, 7, 64, 1000, text.length]) {
    // An entry of at most 1,000 bytes: a line of 5,000 is too long, and is dropped unread.
    const records = await collect(jsonlRecords(chunksOf(text, size), 1000));
    assert.deepEqual(
      records.map((r) => [r.position, r.bytes?.toString('hex') ?? r.fault?.code]),
      [
        [1, made[0]!.toString('hex')],
        [3, 'entry_too_large'],
        [4, made[1]!.toString('hex')],
        [5, made[2]!.toString('hex')],
      ],
      `chunks of ${size}`,
    );
  }
});

test('the framed reader skips oversized frames, reports a cut-off end, and reads bare streams', async () => {
  const made = [makeEntry({ text: 'a' }), makeEntry({ text: 'b'.repeat(2000) }), makeEntry()];
  const body = Buffer.concat(made.map((m) => frame(m.bytes)));
  for (const withHeader of [true, false]) {
    const file = Buffer.concat([withHeader ? FRAMED_HEADER : Buffer.alloc(0), body]);
    for (const size of [1, 5, 300, file.length]) {
      const records = await collect(framedRecords(chunksOf(file, size), 1000));
      assert.deepEqual(
        records.map((r) => [r.position, r.bytes?.toString('hex') ?? r.fault?.code]),
        [
          [1, made[0]!.bytes.toString('hex')],
          [2, 'entry_too_large'],
          [3, made[2]!.bytes.toString('hex')],
        ],
        `header ${withHeader}, chunks of ${size}`,
      );
    }
  }
  const cut = Buffer.concat([FRAMED_HEADER, body.subarray(0, body.length - 10)]);
  const records = await collect(framedRecords(chunksOf(cut, 100), 100_000));
  assert.equal(records.length, 3);
  assert.equal(records[2]!.fault?.code, 'bad_request');
  assert.match(records[2]!.fault!.message, /ends inside frame 3/);
  const future = Buffer.from(FRAMED_HEADER);
  future[future.length - 1] = 2;
  const refused = await collect(framedRecords(chunksOf(Buffer.concat([future, body]), 64), 1000));
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.fatal, true);
  assert.equal(refused[0]!.fault?.code, 'unsupported_version');
});
