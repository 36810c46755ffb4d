/**
 * POST /put over real HTTP against an in-process node with a real SQLite store: every reason an
 * entry or a request is refused (status, stable code, nothing stored), and mixed batches.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { draftEntry, finishEntry } from '../../src/entry/create.js';
import { decodeEntry, entryId, OFFSET } from '../../src/entry/format.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { toBase64, toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey, tableText } from '../../src/keys/keys.js';
import type { RunningNode } from '../../src/node/server.js';
import { makeEntry } from '../helpers/entries.js';
import { startTestNode } from '../helpers/nodes.js';
import {
  errorOf,
  getEntries,
  health,
  postJson,
  putFrames,
  putJson,
  putResults,
  request,
  storedIds,
  type TestResponse,
} from '../helpers/http.js';

const HOUR = 3_600_000;

/** Asserts an error answer: the code's status from src/errors.ts, the code, a message. */
function assertError(response: TestResponse, code: ErrorCode): void {
  const error = errorOf(response);
  assert.equal(error.code, code, `expected ${code}, got ${response.status} ${response.body}`);
  assert.equal(response.status, ERROR_CODES[code].status);
  assert.equal(typeof error.message, 'string');
  assert.ok((error.message as string).length > 0);
  assert.match(String(response.headers['content-type']), /^application\/json/);
}

/** Asserts a single-entry put was refused for `code`, both as request error and as result. */
function assertEntryRejected(response: TestResponse, code: ErrorCode): void {
  assertError(response, code);
  const results = putResults(response);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.status, 'rejected');
  assert.equal(results[0]!.code, code);
  const body = response.json as { stored: number; duplicates: number; rejected: number };
  assert.deepEqual([body.stored, body.duplicates, body.rejected], [0, 0, 1]);
}

/** The node's entry count from /health and /index, which must agree. */
async function countOf(node: RunningNode): Promise<number> {
  const [h, index] = await Promise.all([health(node.url), request(node.url, '/index?summary=1')]);
  const indexCount = (index.json as { count: number }).count;
  assert.equal(h.entries, indexCount, '/health and /index disagree on the entry count');
  return h.entries;
}

/** Runs `action` and asserts the store holds exactly what it held before, and none of `ids`. */
async function assertNothingStored(
  node: RunningNode,
  ids: readonly Uint8Array[],
  action: () => Promise<void>,
): Promise<void> {
  const before = await countOf(node);
  const bytesBefore = (await health(node.url)).bytes;
  await action();
  assert.equal(await countOf(node), before, 'entry count changed');
  assert.equal((await health(node.url)).bytes, bytesBefore, 'stored bytes changed');
  if (ids.length > 0) {
    const found = await storedIds(
      node.url,
      ids.map((id) => toHex(id)),
    );
    assert.equal(found.size, 0, 'a refused entry is served');
  }
}

function flip(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset] = copy[offset]! ^ 0x01;
  return copy;
}

function rawPut(node: RunningNode, body: string | Buffer, contentType?: string) {
  return request(node.url, '/put', {
    method: 'POST',
    body,
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
  });
}

// Nodes start at module level: the helpers register their clean-up with after(), which
// inside a before() hook would run as soon as that hook ends.
const node: RunningNode = await startTestNode({
  max_entry_bytes: 1024,
  max_body_bytes: 64 * 1024,
  max_batch_entries: 50,
});
/** Entries stored before any bad input; they must come through every test untouched. */
const baseline: ReturnType<typeof makeEntry>[] = [];

describe('POST /put', () => {
  before(async () => {
    const table = generateTableKey();
    for (let i = 0; i < 5; i++) baseline.push(makeEntry({ table, text: `baseline ${i}` }));
    const response = await putJson(
      node.url,
      baseline.map((e) => e.bytes),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(
      putResults(response).map((r) => [r.status, r.id]),
      baseline.map((e) => ['stored', toHex(e.id)]),
    );
  });

  test('a valid entry is stored (JSON "entry") and served back byte for byte', async () => {
    const entry = makeEntry({ text: 'single' });
    const response = await postJson(node.url, '/put', { entry: toBase64(entry.bytes) });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json, {
      stored: 1,
      duplicates: 0,
      rejected: 0,
      results: [{ status: 'stored', id: toHex(entry.id) }],
    });
    const got = await getEntries(node.url, `id=${toHex(entry.id)}`);
    assert.equal(got.entries.length, 1);
    assert.equal(got.entries[0]!.entry, toBase64(entry.bytes));
  });

  test('bad signature (one flipped signature byte) → 422 bad_signature, nothing stored', async () => {
    const entry = makeEntry();
    const bad = flip(entry.bytes, entry.bytes.length - 10);
    await assertNothingStored(node, [entryId(bad), entry.id], async () => {
      const response = await putJson(node.url, [bad]);
      assertEntryRejected(response, 'bad_signature');
      assert.equal(putResults(response)[0]!.id, toHex(entryId(bad)));
    });
  });

  test('a flipped header byte also breaks the signature → bad_signature', async () => {
    const entry = makeEntry();
    const bad = flip(entry.bytes, OFFSET.recipient + 3);
    await assertNothingStored(node, [entryId(bad)], async () => {
      assertEntryRejected(await putFrames(node.url, [bad]), 'bad_signature');
    });
  });

  test('table field says key A but key B signed → 422 bad_signature, nothing stored', async () => {
    const a = generateTableKey();
    const b = generateTableKey();
    const draft = draftEntry({
      table: a,
      recipient: generateIdentity().box.publicKey,
      plaintext: Buffer.from('forged'),
    });
    const { bytes, id } = finishEntry({ ...draft, table: b }, 0n);
    assert.ok(decodeEntry(bytes).table.equals(a.signing.publicKey));
    await assertNothingStored(node, [id], async () => {
      assertEntryRejected(await putJson(node.url, [bytes]), 'bad_signature');
    });
  });

  test('proof of work below the node minimum → 422 pow_too_low, nothing stored', async () => {
    // A floor as high as the minimum: every size needs 12 bits.
    const powNode = await startTestNode({ min_pow_bits: 12, min_pow_floor_bits: 12 });
    let weak = makeEntry();
    for (let i = 0; i < 50 && entryPowBits(decodeEntry(weak.bytes)) >= 12; i++) weak = makeEntry();
    assert.ok(entryPowBits(decodeEntry(weak.bytes)) < 12);
    await assertNothingStored(powNode, [weak.id], async () => {
      const response = await putJson(powNode.url, [weak.bytes]);
      assertEntryRejected(response, 'pow_too_low');
      assert.match(String(putResults(response)[0]!.message), /12/);
    });
    // Enough work is accepted by the same node.
    const strong = makeEntry({ powBits: 12 });
    const response = await putFrames(powNode.url, [strong.bytes]);
    assert.equal(response.status, 200);
    assert.equal(putResults(response)[0]!.status, 'stored');
  });

  test('entry larger than max_entry_bytes → 413 entry_too_large, nothing stored', async () => {
    const big = makeEntry({ text: 'x'.repeat(2000) });
    assert.ok(big.bytes.length > 1024);
    await assertNothingStored(node, [big.id], async () => {
      assertEntryRejected(await putJson(node.url, [big.bytes]), 'entry_too_large');
      assertEntryRejected(await putFrames(node.url, [big.bytes]), 'entry_too_large');
    });
  });

  test('body larger than max_body_bytes → 413 body_too_large, nothing stored', async () => {
    const entries = Array.from({ length: 60 }, () => makeEntry({ text: 'y'.repeat(750) }));
    assert.ok(entries[0]!.bytes.length <= 1024);
    const json = JSON.stringify({ entries: entries.map((e) => toBase64(e.bytes)) });
    assert.ok(json.length > 64 * 1024);
    await assertNothingStored(
      node,
      entries.map((e) => e.id),
      async () => {
        assertError(await rawPut(node, json, 'application/json'), 'body_too_large');
        assertError(
          await rawPut(
            node,
            encodeFrames([...entries, ...entries].map((e) => e.bytes)),
            ENTRIES_MEDIA_TYPE,
          ),
          'body_too_large',
        );
      },
    );
  });

  test('malformed JSON → 400 bad_json, nothing stored', async () => {
    const entry = makeEntry();
    await assertNothingStored(node, [entry.id], async () => {
      for (const body of [
        `{"entry": "${toBase64(entry.bytes)}"`,
        `{entry: "${toBase64(entry.bytes)}"}`,
        `{"entries": ["${toBase64(entry.bytes)}",]}`,
        '',
        'undefined',
      ]) {
        assertError(await rawPut(node, body, 'application/json'), 'bad_json');
      }
    });
  });

  test('entry that is not valid base64 → 400 bad_base64, nothing stored', async () => {
    const entry = makeEntry();
    const text = toBase64(entry.bytes);
    await assertNothingStored(node, [entry.id], async () => {
      for (const bad of [`${text.slice(0, 20)}!${text.slice(21)}`, `${text} `, 'A', 42, null]) {
        assertEntryRejected(await postJson(node.url, '/put', { entry: bad }), 'bad_base64');
      }
    });
  });

  test('truncated bytes or a wrong payload_length → 400 bad_encoding, nothing stored', async () => {
    const entry = makeEntry();
    const truncated = entry.bytes.subarray(0, entry.bytes.length - 1);
    const extended = Buffer.concat([entry.bytes, Buffer.alloc(1)]);
    const badLength = Buffer.from(entry.bytes);
    badLength.writeUInt32BE(badLength.readUInt32BE(OFFSET.payloadLength) + 1, OFFSET.payloadLength);
    const tooShortPayload = Buffer.from(entry.bytes);
    tooShortPayload.writeUInt32BE(1, OFFSET.payloadLength);
    const tiny = Buffer.from([1, 2, 3]);
    const badExpiry = Buffer.from(entry.bytes);
    badExpiry.writeBigUInt64BE(1n, OFFSET.expiresAt);
    const cases = [truncated, extended, badLength, tooShortPayload, tiny, badExpiry];
    await assertNothingStored(
      node,
      cases.map((c) => entryId(c)),
      async () => {
        for (const bytes of cases) {
          assertEntryRejected(await putJson(node.url, [bytes]), 'bad_encoding');
          assertEntryRejected(await putFrames(node.url, [bytes]), 'bad_encoding');
        }
        // An empty entry never reaches a version byte.
        assertEntryRejected(await postJson(node.url, '/put', { entry: '' }), 'bad_encoding');
      },
    );
  });

  test('format version other than 1 → 400 unsupported_version, nothing stored', async () => {
    const entry = makeEntry();
    const cases = [0, 2, 255].map((version) => {
      const bytes = Buffer.from(entry.bytes);
      bytes[OFFSET.version] = version;
      return bytes;
    });
    await assertNothingStored(
      node,
      cases.map((c) => entryId(c)),
      async () => {
        for (const bytes of cases) {
          assertEntryRejected(await putJson(node.url, [bytes]), 'unsupported_version');
        }
      },
    );
  });

  test('created_at beyond max_future_skew_seconds → 422 future_timestamp', async () => {
    const future = makeEntry({ createdAt: Date.now() + 2 * HOUR });
    await assertNothingStored(node, [future.id], async () => {
      assertEntryRejected(await putJson(node.url, [future.bytes]), 'future_timestamp');
    });
    // Within the skew (default 600 s) is accepted.
    const slightlyAhead = makeEntry({ createdAt: Date.now() + 60_000 });
    const response = await putJson(node.url, [slightlyAhead.bytes]);
    assert.equal(response.status, 200);
    assert.equal(putResults(response)[0]!.status, 'stored');
  });

  test('expires_at in the past → 422 expired, nothing stored', async () => {
    const expired = makeEntry({ createdAt: Date.now() - 2 * HOUR, expiresAt: Date.now() - HOUR });
    await assertNothingStored(node, [expired.id], async () => {
      assertEntryRejected(await putFrames(node.url, [expired.bytes]), 'expired');
    });
  });

  test('created_at older than retention.max_age_days → 422 expired', async () => {
    const agingNode = await startTestNode({ retention: { max_age_days: 1 } });
    const old = makeEntry({ createdAt: Date.now() - 2 * 24 * HOUR });
    await assertNothingStored(agingNode, [old.id], async () => {
      assertEntryRejected(await putJson(agingNode.url, [old.bytes]), 'expired');
    });
    const recent = makeEntry({ createdAt: Date.now() - 12 * HOUR });
    assert.equal(putResults(await putJson(agingNode.url, [recent.bytes]))[0]!.status, 'stored');
  });

  test('a table outside the mirror allow-list → 403 table_not_accepted', async () => {
    const mirrored = generateTableKey();
    const other = generateTableKey();
    const mirrorNode = await startTestNode({ mirror: [tableText(mirrored)] });
    const foreign = makeEntry({ table: other });
    await assertNothingStored(mirrorNode, [foreign.id], async () => {
      assertEntryRejected(await putJson(mirrorNode.url, [foreign.bytes]), 'table_not_accepted');
    });
    const own = makeEntry({ table: mirrored });
    const response = await putJson(mirrorNode.url, [own.bytes]);
    assert.equal(response.status, 200);
    assert.equal(putResults(response)[0]!.status, 'stored');
    assert.equal(await countOf(mirrorNode), 1);
  });

  test('a content type other than JSON or entry frames → 415 unsupported_media_type', async () => {
    const entry = makeEntry();
    await assertNothingStored(node, [entry.id], async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'image/png']) {
        assertError(
          await rawPut(node, JSON.stringify({ entry: toBase64(entry.bytes) }), type),
          'unsupported_media_type',
        );
      }
      assertError(await rawPut(node, encodeFrames([entry.bytes])), 'unsupported_media_type');
    });
  });

  test('a JSON body of the wrong shape → 400 bad_request', async () => {
    const entry = makeEntry();
    const text = toBase64(entry.bytes);
    await assertNothingStored(node, [entry.id], async () => {
      for (const body of [
        [text],
        text,
        null,
        7,
        {},
        { entry: text, entries: [text] },
        { entries: text },
        { entries: { 0: text } },
        { entry: text, extra: 1 },
        { Entry: text },
        { entries: Array.from({ length: 51 }, () => text) },
      ]) {
        assertError(await postJson(node.url, '/put', body), 'bad_request');
      }
      // A frame stream that stops in the middle of a frame.
      assertError(
        await rawPut(node, encodeFrames([entry.bytes]).subarray(0, 50), ENTRIES_MEDIA_TYPE),
        'bad_request',
      );
      // More frames than max_batch_entries.
      assertError(
        await rawPut(
          node,
          encodeFrames(Array.from({ length: 51 }, () => entry.bytes)),
          ENTRIES_MEDIA_TYPE,
        ),
        'bad_request',
      );
    });
  });

  test('exactly max_batch_entries entries are taken, as JSON and as frames', async () => {
    const table = generateTableKey();
    const batch = Array.from({ length: 50 }, (_, i) => makeEntry({ table, text: `max ${i}` }));
    const json = await putJson(
      node.url,
      batch.slice(0, 50).map((e) => e.bytes),
    );
    assert.equal(json.status, 200);
    assert.equal((json.json as { stored: number }).stored, 50);
    const again = await putFrames(
      node.url,
      batch.map((e) => e.bytes),
    );
    assert.equal(again.status, 200);
    assert.equal((again.json as { duplicates: number }).duplicates, 50);
  });

  test('a frame announcing more bytes than the body limit → 413 entry_too_large', async () => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(0xffffffff, 0);
    await assertNothingStored(node, [], async () => {
      assertError(await rawPut(node, header, ENTRIES_MEDIA_TYPE), 'entry_too_large');
    });
  });

  for (const mode of ['json', 'binary'] as const) {
    test(`mixed ${mode} batch: one result per entry, in order, status 200`, async () => {
      const table = generateTableKey();
      const good1 = makeEntry({ table, text: `${mode} good 1` });
      const good2 = makeEntry({ table, text: `${mode} good 2` });
      const badSig = flip(makeEntry({ table }).bytes, 100);
      const expired = makeEntry({
        table,
        createdAt: Date.now() - 2 * HOUR,
        expiresAt: Date.now() - HOUR,
      });
      const future = makeEntry({ table, createdAt: Date.now() + 2 * HOUR });
      const truncated = good1.bytes.subarray(0, 150);
      const tooBig = makeEntry({ table, text: 'z'.repeat(2000) });
      const batch = [
        good1.bytes,
        badSig,
        baseline[0]!.bytes,
        expired.bytes,
        good2.bytes,
        truncated,
        good1.bytes,
        future.bytes,
        tooBig.bytes,
      ];
      const before = await countOf(node);
      const response =
        mode === 'json' ? await putJson(node.url, batch) : await putFrames(node.url, batch);
      assert.equal(response.status, 200);
      const results = putResults(response);
      assert.deepEqual(
        results.map((r) => [r.status, r.code]),
        [
          ['stored', undefined],
          ['rejected', 'bad_signature'],
          ['duplicate', undefined],
          ['rejected', 'expired'],
          ['stored', undefined],
          ['rejected', 'bad_encoding'],
          ['duplicate', undefined],
          ['rejected', 'future_timestamp'],
          ['rejected', 'entry_too_large'],
        ],
      );
      assert.equal(results[0]!.id, toHex(good1.id));
      assert.equal(results[2]!.id, toHex(baseline[0]!.id));
      assert.equal(results[4]!.id, toHex(good2.id));
      assert.equal(results[6]!.id, toHex(good1.id));
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(typeof r.message === 'string' && r.message);
      }
      const body = response.json as Record<string, unknown>;
      assert.equal(body.stored, 2);
      assert.equal(body.duplicates, 2);
      assert.equal(body.rejected, 5);
      assert.equal(body.error, undefined);
      assert.equal(await countOf(node), before + 2);
      const served = await getEntries(
        node.url,
        `table=${toHex(table.signing.publicKey)}&order=asc`,
      );
      assert.deepEqual(
        served.entries.map((e) => e.entry),
        [good1.bytes, good2.bytes].map((b) => toBase64(b)),
      );
    });
  }

  test('a bad base64 item in a JSON batch spoils nothing else', async () => {
    const good = makeEntry({ text: 'next to garbage' });
    const response = await postJson(node.url, '/put', {
      entries: ['%%%', toBase64(good.bytes), 17, null],
    });
    assert.equal(response.status, 200);
    assert.deepEqual(
      putResults(response).map((r) => [r.status, r.code]),
      [
        ['rejected', 'bad_base64'],
        ['stored', undefined],
        ['rejected', 'bad_base64'],
        ['rejected', 'bad_base64'],
      ],
    );
    assert.equal((await storedIds(node.url, [toHex(good.id)])).size, 1);
  });

  test('frames are also accepted as application/octet-stream', async () => {
    const entry = makeEntry({ text: 'octets' });
    const response = await rawPut(node, encodeFrames([entry.bytes]), 'application/octet-stream');
    assert.equal(response.status, 200);
    assert.deepEqual(putResults(response), [{ status: 'stored', id: toHex(entry.id) }]);
  });

  test('putting the same entry again reports "duplicate" with status 200', async () => {
    const entry = makeEntry();
    assert.equal(putResults(await putJson(node.url, [entry.bytes]))[0]!.status, 'stored');
    const before = await countOf(node);
    for (const send of [putJson, putFrames]) {
      const response = await send(node.url, [entry.bytes]);
      assert.equal(response.status, 200);
      assert.deepEqual(response.json, {
        stored: 0,
        duplicates: 1,
        rejected: 0,
        results: [{ status: 'duplicate', id: toHex(entry.id) }],
      });
    }
    assert.equal(await countOf(node), before);
  });

  test('a batch rejected for different reasons → 400 bad_request with every result', async () => {
    const badSig = flip(makeEntry().bytes, 120);
    const expired = makeEntry({ createdAt: Date.now() - 2 * HOUR, expiresAt: Date.now() - HOUR });
    await assertNothingStored(node, [entryId(badSig), expired.id], async () => {
      const response = await putFrames(node.url, [badSig, expired.bytes]);
      assertError(response, 'bad_request');
      assert.deepEqual(
        putResults(response).map((r) => r.code),
        ['bad_signature', 'expired'],
      );
    });
    // Every entry rejected for the same reason: that reason is the answer.
    const response = await putFrames(node.url, [badSig, flip(makeEntry().bytes, 120)]);
    assertError(response, 'bad_signature');
    assert.equal(putResults(response).length, 2);
  });

  test('a result carries id exactly when the entry decoded (§7.1)', async () => {
    const table = generateTableKey();
    const version2 = Buffer.from(makeEntry({ table }).bytes);
    version2[0] = 2;
    const cases: [Buffer | string | number, ErrorCode, boolean][] = [
      ['%%%', 'bad_base64', false],
      [17, 'bad_base64', false],
      [makeEntry({ table, text: 'z'.repeat(2000) }).bytes, 'entry_too_large', false],
      [makeEntry({ table }).bytes.subarray(0, 150), 'bad_encoding', false],
      [version2, 'unsupported_version', false],
      [makeEntry({ table, createdAt: Date.now() + 2 * HOUR }).bytes, 'future_timestamp', true],
      [
        makeEntry({ table, createdAt: Date.now() - 2 * HOUR, expiresAt: Date.now() - HOUR }).bytes,
        'expired',
        true,
      ],
      [flip(makeEntry({ table }).bytes, 120), 'bad_signature', true],
    ];
    const response = await postJson(node.url, '/put', {
      entries: cases.map(([item]) => (Buffer.isBuffer(item) ? toBase64(item) : item)),
    });
    assertError(response, 'bad_request');
    const results = putResults(response);
    cases.forEach(([item, code, hasId], i) => {
      assert.equal(results[i]!.code, code);
      assert.equal(
        results[i]!.id,
        hasId ? toHex(entryId(item as Buffer)) : undefined,
        `${code}: id ${hasId ? 'missing' : 'present'}`,
      );
    });
  });

  test('p2pcloud-results: summary answers counts and rejected_codes, for errors too', async () => {
    const table = generateTableKey();
    const summaryPut = (entries: Buffer[]) =>
      request(node.url, '/put', {
        method: 'POST',
        body: encodeFrames(entries),
        headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-results': 'summary' },
      });
    const good = makeEntry({ table, text: 'summary' });
    const expired = () =>
      makeEntry({ table, createdAt: Date.now() - 2 * HOUR, expiresAt: Date.now() - HOUR }).bytes;
    const mixed = await summaryPut([
      good.bytes,
      expired(),
      flip(makeEntry({ table }).bytes, 120),
      good.bytes,
      expired(),
    ]);
    assert.equal(mixed.status, 200);
    assert.deepEqual(mixed.json, {
      stored: 1,
      duplicates: 1,
      rejected: 3,
      rejected_codes: { bad_signature: 1, expired: 2 },
    });
    assert.deepEqual(Object.keys((mixed.json as { rejected_codes: object }).rejected_codes), [
      'bad_signature',
      'expired',
    ]);
    const accepted = await summaryPut([good.bytes]);
    assert.deepEqual(accepted.json, { stored: 0, duplicates: 1, rejected: 0, rejected_codes: {} });
    const refused = await summaryPut([expired(), expired()]);
    assertError(refused, 'expired');
    assert.deepEqual(refused.json, {
      error: { code: 'expired', message: 'entry has already expired' },
      stored: 0,
      duplicates: 0,
      rejected: 2,
      rejected_codes: { expired: 2 },
    });
    const different = await summaryPut([expired(), flip(makeEntry({ table }).bytes, 120)]);
    assertError(different, 'bad_request');
    assert.deepEqual((different.json as { rejected_codes: object }).rejected_codes, {
      bad_signature: 1,
      expired: 1,
    });
    assert.equal((different.json as { results?: unknown }).results, undefined);
  });

  test('entries of one request arrive in request order: ties on created_at keep it', async () => {
    const table = generateTableKey();
    const at = Date.now() - HOUR;
    const batch = Array.from({ length: 12 }, (_, i) =>
      makeEntry({ table, createdAt: at, text: `tie ${i}` }),
    );
    assert.equal(
      (
        await putFrames(
          node.url,
          batch.map((e) => e.bytes),
        )
      ).status,
      200,
    );
    const query = `table=${toHex(table.signing.publicKey)}`;
    const inOrder = batch.map((e) => toHex(e.id));
    const asc = await getEntries(node.url, `${query}&order=asc`);
    assert.deepEqual(
      asc.entries.map((e) => e.id),
      inOrder,
    );
    const desc = await getEntries(node.url, `${query}&order=desc`);
    assert.deepEqual(
      desc.entries.map((e) => e.id),
      [...inOrder].reverse(),
    );
  });

  test('an empty batch is answered with zero results', async () => {
    for (const response of [await putJson(node.url, []), await putFrames(node.url, [])]) {
      assert.equal(response.status, 200);
      assert.deepEqual(response.json, { stored: 0, duplicates: 0, rejected: 0, results: [] });
    }
  });

  test('entries stored before all the bad input are unchanged and still served', async () => {
    const served = await getEntries(
      node.url,
      new URLSearchParams(baseline.map((e): [string, string] => ['id', toHex(e.id)])),
    );
    assert.equal(served.entries.length, baseline.length);
    const byId = new Map(served.entries.map((e) => [e.id, e.entry]));
    for (const entry of baseline) assert.equal(byId.get(toHex(entry.id)), toBase64(entry.bytes));
    const h = await health(node.url);
    assert.equal(h.status, 'ok');
  });
});
