/**
 * docs/vectors/padding.json (scripts/padding-vectors.mjs) against the implementation and
 * against docs/protocol.md §4.9 read on its own: the bucket rule written out again here, each
 * padded entry rebuilt from its inputs, then opened with the padded info string of the document
 * and its plaintext checked byte by byte (content, 0x80, zeros, a bucket-sized entry).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { deriveKeyPair, setupRecipient } from '../../src/crypto/hpke.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { bucketSize, isBucketSize } from '../../src/encoding/size-buckets.js';
import { draftEntry, finishEntry } from '../../src/entry/create.js';
import { decodeEntry, sealAad } from '../../src/entry/format.js';
import { openEntry } from '../../src/entry/open.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('padding.json');

/** §4.9 as written: 256, then each power of two and three quarters of the next one. */
function documentedBucket(n: number): number {
  const buckets: number[] = [256];
  for (let power = 512; power <= 2 ** 25; power *= 2) buckets.push((power / 4) * 3, power);
  return buckets.find((b) => b >= n)!;
}

test('bucket(n) follows the documented list, for the samples and for every n up to 70,000', () => {
  for (let i = 0; i < vectors.length('buckets'); i++) {
    const n = vectors.num(`buckets.${i}.n`);
    assert.equal(vectors.num(`buckets.${i}.bucket`), documentedBucket(n), `n = ${n}`);
    assert.equal(bucketSize(n), documentedBucket(n), `n = ${n}`);
  }
  for (let n = 0; n <= 70_000; n++) assert.equal(bucketSize(n), documentedBucket(n));
  assert.ok(isBucketSize(768) && !isBucketSize(700) && !isBucketSize(128));
});

test('each padded entry rebuilds from its inputs and opens to its content', () => {
  const table = { signing: signingKeyPairFromSeed(vectors.bytes('table_seed')) };
  const recipient = boxKeyPairFromSecret(vectors.bytes('recipient_box_secret'));
  const info = Buffer.from(vectors.str('info_utf8'), 'utf8');
  assert.equal(info.toString(), 'p2pcloud/v1/entry-seal-padded');
  for (let i = 0; i < vectors.length('entries'); i++) {
    const at = `entries.${i}`;
    const name = vectors.str(`${at}.name`);
    const content = vectors.keysOf(`${at}.content`).includes('hex')
      ? Buffer.from(vectors.str(`${at}.content.hex`), 'hex')
      : patterned(vectors.str(`${at}.content.pattern`), vectors.num(`${at}.content.length`));
    const ephemeral = deriveKeyPair(vectors.bytes(`${at}.ephemeral_ikm`));
    const draft = draftEntry({
      table,
      recipient: recipient.publicKey,
      plaintext: content,
      createdAt: vectors.num(`${at}.created_at`),
      ephemeral,
      pad: true,
    });
    const { bytes, id } = finishEntry(draft, 0n);
    assert.equal(bytes.length, vectors.num(`${at}.entry_length`), name);
    assert.equal(bytes.length, documentedBucket(205 + content.length + 1), name);
    if (vectors.keysOf(at).includes('entry_hex')) {
      assert.equal(bytes.toString('hex'), vectors.str(`${at}.entry_hex`), name);
    } else {
      const digest = createHash('sha256').update(bytes).digest('hex');
      assert.equal(digest, vectors.str(`${at}.entry_sha256`), name);
    }
    assert.equal(id.toString('hex'), vectors.str(`${at}.id`), name);

    // Opened by the document's rule, not by openEntry: the padded info, then the marker.
    const entry = decodeEntry(bytes);
    const enc = entry.payload.subarray(0, 32);
    const context = setupRecipient(enc, recipient, { info });
    const plaintext = context.open(sealAad(bytes), entry.payload.subarray(32));
    assert.ok(plaintext, `${name} opens with the padded info`);
    assert.equal(plaintext.length, vectors.num(`${at}.padded_plaintext_length`), name);
    assert.deepEqual(plaintext.subarray(0, content.length), content, name);
    assert.equal(plaintext[content.length], 0x80, name);
    assert.ok(
      plaintext.subarray(content.length + 1).every((b) => b === 0),
      name,
    );
    assert.deepEqual(openEntry(entry, recipient), content, name);
  }
  vectors.assertAllRead(40);
});

function patterned(pattern: string, length: number): Buffer {
  assert.equal(pattern, 'i mod 251');
  return Buffer.from(Array.from({ length }, (_, i) => i % 251));
}
