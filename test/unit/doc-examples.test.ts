/**
 * The worked examples of docs/protocol.md, read from the document itself and recomputed with
 * the implementation: key texts and key files, the field-by-field entry, proof of work,
 * framing, the /put, /get and /index answers, table digests and the reconciliation estimate.
 * An example that drifts from the code fails here, not in an independent implementation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { powBits } from '../../src/crypto/pow.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { fromBase64, fromHex, toHex } from '../../src/encoding/bytes.js';
import { encodeKeyText } from '../../src/encoding/key-text.js';
import { decodeEntry, entryId, powChallenge } from '../../src/entry/format.js';
import { encodeFrames } from '../../src/entry/framing.js';
import { flatPowRule, requiredPowBits } from '../../src/entry/pow-rule.js';
import {
  parseIdentity,
  parseTableKey,
  serializeIdentity,
  serializeTableKey,
} from '../../src/keys/keys.js';
import {
  addToSum,
  bucketDigest,
  bucketOf,
  bucketPrefixRange,
  combinedTableDigest,
  indexRoot,
  tableDigest,
} from '../../src/reconcile/buckets.js';
import { estimateDifference } from '../../src/reconcile/summary.js';
import { symbolsFor } from '../../src/sync/responder.js';
import { startTestNode } from '../helpers/nodes.js';
import { putFrames, request } from '../helpers/http.js';
import { repoRoot } from '../helpers/paths.js';

const doc = readFileSync(join(repoRoot, 'docs', 'protocol.md'), 'utf8');
const vectors = JSON.parse(
  readFileSync(join(repoRoot, 'docs', 'vectors', 'entries.json'), 'utf8'),
) as { cases: { name: string; entry: { hex: string; id: string } }[] };
const vector = (name: string): Buffer =>
  fromHex(vectors.cases.find((c) => c.name === name)!.entry.hex)!;

/** The text of one section: from its heading to the next heading of the same level or above. */
function section(heading: string): string {
  const start = doc.indexOf(`\n${heading}`);
  assert.ok(start >= 0, `no section ${heading}`);
  const level = /^#+/.exec(heading)![0].length;
  const rest = doc.slice(start + 1 + heading.length);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The ```json blocks of a text, parsed. */
function jsonBlocks(text: string): Record<string, unknown>[] {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map(
    (m) => JSON.parse(m[1]!) as Record<string, unknown>,
  );
}

/** The JSON bodies of the ```http response examples of a text, parsed. */
function httpBodies(text: string): Record<string, unknown>[] {
  return [...text.matchAll(/```http\nHTTP\/1\.1 [^\n]*\n[\s\S]*?\n\n(\{[\s\S]*?\})\n```/g)].map(
    (m) => JSON.parse(m[1]!) as Record<string, unknown>,
  );
}

function match(text: string, pattern: RegExp): RegExpExecArray {
  const found = pattern.exec(text);
  assert.ok(found, `the document has no ${pattern}`);
  return found;
}

test('§3.2 and §3.4: the key text and both key files', () => {
  const keys = section('### 3.2 Text forms');
  const [, bytes, text] = match(keys, /bytes: ([0-9a-f]{64})\ntext: +(\S+)/);
  assert.equal(encodeKeyText('table', fromHex(bytes!)!), text);

  const files = jsonBlocks(section('### 3.4 Key files'));
  assert.equal(files.length, 2);
  const identityText = `${JSON.stringify(files[0], null, 2)}\n`;
  const tableText = `${JSON.stringify(files[1], null, 2)}\n`;
  assert.equal(serializeIdentity(parseIdentity(identityText)), identityText);
  assert.equal(serializeTableKey(parseTableKey(tableText)), tableText);
  assert.equal(files[1]!.public, text);
});

test('§4.1, §4.6 and §5: the plain entry field by field, its work and its framing', () => {
  const layout = section('### 4.1 Canonical layout');
  const block = match(layout, /```\nversion[\s\S]*?```/)[0];
  const fields = [...block.matchAll(/^(?:[a-z_]+)?\s+([0-9a-f]{2,})\b/gm)].map((m) => m[1]!);
  const hex = fields.slice(0, -1).join('');
  const plain = vector('plain');
  assert.equal(hex, toHex(plain));
  assert.equal(fields.at(-1), toHex(entryId(plain)));
  const entry = decodeEntry(plain);
  assert.match(block, new RegExp(`\\(${entry.createdAt} =`));
  assert.match(block, new RegExp(`\\(${entry.powNonce}\\)`));
  assert.match(block, new RegExp(`\\(${entry.payload.length}\\)`));
  assert.match(layout, new RegExp(`\\(${plain.length} bytes`));

  const pow = section('### 4.6 Proof of work');
  const [, challenge, nonce, work, bits] = match(
    pow,
    /challenge\n`([0-9a-f]{64})`, nonce (\d+)\n\(`[0-9a-f]{16}`\), work\n`([0-9a-f]{64})`, (\d+) bits/,
  );
  const computed = powChallenge(plain);
  assert.equal(toHex(computed), challenge);
  assert.equal(BigInt(nonce!), entry.powNonce);
  const nonceBytes = Buffer.alloc(8);
  nonceBytes.writeBigUInt64BE(entry.powNonce);
  assert.equal(toHex(sha256(Buffer.concat([computed, nonceBytes]))), work);
  assert.equal(powBits(computed, entry.powNonce), Number(bits));

  const framing = section('## 5. Binary framing');
  const [, total, start] = match(framing, /form a (\d+)-byte stream beginning `([0-9a-f]+)…`/);
  const stream = encodeFrames([plain, vector('empty')]);
  assert.equal(stream.length, Number(total));
  assert.ok(toHex(stream).startsWith(start!));
});

test('§7.1: the example entries and results', () => {
  const put = section('### 7.1 POST /put');
  const [, base64] = match(put, /\{"entry":"([A-Za-z0-9+/=]+)"\}/);
  const [, storedId] = match(put, /"results":\[\{"status":"stored","id":"([0-9a-f]{64})"\}\]/);
  assert.equal(toHex(entryId(fromBase64(base64!)!)), storedId);
  assert.equal(storedId, toHex(entryId(vector('plain'))));

  const [answer] = jsonBlocks(put).filter((b) => 'results' in b);
  const [, expiredAnswer] = httpBodies(put);
  const results = answer!.results as { id?: string; code?: string; message?: string }[];
  assert.equal(results[0]!.id, toHex(entryId(vector('utf8'))));
  const empty = decodeEntry(vector('empty'));
  assert.equal(results[1]!.id, toHex(entryId(vector('empty'))));
  assert.equal(
    results[1]!.message,
    `proof of work has ${powBits(powChallenge(vector('empty')), empty.powNonce)} bits; this node requires ${requiredPowBits(flatPowRule(16), { table: empty.table, size: empty.bytes.length })} for an entry of ${empty.bytes.length} bytes`,
  );
  const expired = (expiredAnswer!.results as { id: string }[])[0]!;
  const large = vectors.cases.find((c) => c.entry.id === expired.id);
  assert.ok(large, 'the expired example is a vector');
  const expiresAt = decodeEntry(fromHex(large.entry.hex)!).expiresAt;
  assert.ok(expiresAt > 0 && expiresAt < Date.now(), 'the example entry has expired');
});

test('§7.2: the /get answers, cursor included, from a node holding plain and utf8', async () => {
  const get = section('### 7.2 GET /get');
  const [answer] = httpBodies(get);
  const served = (answer!.entries as Record<string, unknown>[])[0]!;
  const bytes = fromBase64(served.entry as string)!;
  const entry = decodeEntry(bytes);
  assert.deepEqual(served, {
    id: toHex(entryId(bytes)),
    table: toHex(entry.table),
    recipient: toHex(entry.recipient),
    created_at: entry.createdAt,
    expires_at: entry.expiresAt === 0 ? null : entry.expiresAt,
    size: bytes.length,
    entry: served.entry,
  });
  assert.equal(served.id, toHex(entryId(vector('utf8'))));
  const frameHead = Buffer.alloc(4);
  frameHead.writeUInt32BE(bytes.length);
  assert.match(
    get,
    new RegExp(`<${bytes.length + 4} bytes: ${toHex(frameHead)} followed by the ${bytes.length}`),
  );

  const node = await startTestNode();
  assert.equal((await putFrames(node.url, [vector('plain'), vector('utf8')])).status, 200);
  const [, query] = match(get, /GET \/get\?(table=\S+&limit=1) HTTP\/1\.1/);
  const first = await request(node.url, `/get?${query}`);
  assert.deepEqual(first.json, answer);
  const [, next] = match(get, /GET \/get\?(table=\S+&limit=1&cursor=\S+) HTTP\/1\.1/);
  const second = (await request(node.url, `/get?${next}`)).json as {
    entries: { entry: string; created_at: number }[];
    next_cursor: unknown;
  };
  assert.equal(second.entries.length, 1);
  assert.equal(fromBase64(second.entries[0]!.entry)!.equals(vector('plain')), true);
  assert.match(get, new RegExp(`\\(\`created_at\` ${second.entries[0]!.created_at}\\)`));
  assert.equal(second.next_cursor, null);
});

test('§7.3 and §7.6: bucket bounds, empty digest, the index views and table digests', () => {
  const index = section('### 7.3 GET /index');
  const [, b1Start, b1Hex] = match(index, /bucket 0 is\n`P < (\d+)` \(`0x([0-9a-f]{8})`\)/);
  assert.equal(bucketPrefixRange(1, 5000).first, Number(b1Start));
  assert.equal(Number(b1Start), parseInt(b1Hex!, 16));
  const [, emptyDigest] = match(index, /the digest\n`([0-9a-f]{64})`/);
  assert.equal(toHex(bucketDigest(0, Buffer.alloc(32))), emptyDigest);

  // The examples: a node with buckets: 4 holding the plain and utf8 vectors.
  const ids = [entryId(vector('plain')), entryId(vector('utf8'))];
  const B = 4;
  const states = Array.from({ length: B }, () => ({ count: 0, sum: Buffer.alloc(32) }));
  for (const id of ids) {
    const state = states[bucketOf(id, B)]!;
    state.count += 1;
    addToSum(state.sum, id, 1);
  }
  const digests = states.map((s) => bucketDigest(s.count, s.sum));
  const root = toHex(indexRoot(ids.length, digests));
  const [summary, full, bucketIds, tables] = jsonBlocks(index);
  assert.deepEqual(summary, { version: 1, buckets: B, count: 2, root });
  assert.deepEqual(full, {
    version: 1,
    buckets: B,
    count: 2,
    root,
    digests: states.map((s, b) => [s.count, toHex(digests[b]!)]),
  });
  const sorted = ids.map((id) => toHex(id)).sort();
  assert.deepEqual(bucketIds, {
    bucket: 0,
    buckets: B,
    count: sorted.filter((id) => bucketOf(fromHex(id)!, B) === 0).length,
    ids: sorted.filter((id) => bucketOf(fromHex(id)!, B) === 0),
  });
  const tableSum = Buffer.alloc(32);
  for (const id of ids) addToSum(tableSum, id, 1);
  const table = toHex(decodeEntry(vector('plain')).table);
  assert.deepEqual(tables, {
    tables: [{ table, count: 2, digest: toHex(tableDigest(2, tableSum)) }],
  });

  const [posted] = jsonBlocks(section('### 7.6 Endpoints between nodes'));
  const combined = combinedTableDigest([
    { count: 2, sum: tableSum },
    { count: 0, sum: Buffer.alloc(32) },
  ]);
  assert.deepEqual(posted, { tables: 2, count: combined.count, digest: toHex(combined.digest) });
});

test('§13.6: the estimates and symbol counts of the reconcile answers', () => {
  const session = section('### 13.6 A session');
  const answers = jsonBlocks(session).filter((b) => 'mode' in b);
  assert.ok(answers.length >= 3);
  const [, bucketsText] = match(session, /"buckets": (\d+) \}/);
  const B = Number(bucketsText);
  for (const answer of answers) {
    const k = answer.differing as number;
    const ours = new Uint8Array(B);
    const theirs = new Uint8Array(B).fill(1, 0, k);
    const { estimate } = estimateDifference(ours, theirs);
    assert.equal(answer.estimate, Number.isFinite(estimate) ? estimate : null, `k = ${k}`);
    if (answer.mode === 'sketch') assert.equal(answer.symbols, symbolsFor(Math.max(1, estimate)));
  }
  const worked = match(session, /ceil\(([\d.]+)…\) = (\d+)`, so `m = (\d+) \+ 32 = (\d+)`/);
  const sketch = answers.find((a) => a.mode === 'sketch')!;
  const p = (sketch.differing as number) / ((B * 255) / 256);
  const exact = Math.log(1 - p) / Math.log(1 - 1 / B);
  assert.ok(exact.toFixed(6).startsWith(worked[1]!), `${exact} vs ${worked[1]}`);
  assert.equal(Number(worked[2]), sketch.estimate);
  assert.equal(Number(worked[4]), sketch.symbols);
  assert.equal(Number(worked[3]), Math.ceil(1.5 * (sketch.estimate as number)));
});
