/**
 * Padded entries a hostile writer can make (docs/protocol.md §4.9), sealed here by hand with
 * either info string and any plaintext: only a bucket-sized entry sealed with the padded info
 * and ending in 0x80 then zeros opens as padded; everything else opens as written or not at all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sealBase } from '../../src/crypto/hpke.js';
import { bucketSize, isBucketSize } from '../../src/encoding/size-buckets.js';
import { draftEntry, entryBytesFor, finishEntry } from '../../src/entry/create.js';
import {
  DOMAIN,
  ENTRY_VERSION,
  MAX_ENTRY_BYTES_FORMAT,
  decodeEntry,
  encodeUnsigned,
  powChallenge,
  sealAad,
} from '../../src/entry/format.js';
import { openEntry, unpadPlaintext } from '../../src/entry/open.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';

const table = generateTableKey();
const reader = generateIdentity();
/** header + enc + tag + signature around a plaintext. */
const OVERHEAD = entryBytesFor(0, false);

/** An entry whose payload is `plaintext` sealed with `info`, as any writer can make one. */
function sealedWith(info: Uint8Array, plaintext: Uint8Array): ReturnType<typeof decodeEntry> {
  const fields = {
    version: ENTRY_VERSION,
    table: table.signing.publicKey,
    recipient: Buffer.from(reader.box.publicKey),
    createdAt: 1_735_689_600_000,
    expiresAt: 0,
    powNonce: 0n,
  };
  const header = encodeUnsigned({ ...fields, payload: Buffer.alloc(0) });
  const payload = sealBase(fields.recipient, info, sealAad(header), plaintext);
  const bytes = encodeUnsigned({ ...fields, payload });
  return decodeEntry(finishEntry({ table, bytes, challenge: powChallenge(bytes) }, 0n).bytes);
}

test('a padded seal without its marker does not open, whatever the zeros before it', () => {
  const size = 1024;
  assert.ok(isBucketSize(size));
  const zeros = Buffer.alloc(size - OVERHEAD);
  const entry = sealedWith(DOMAIN.sealPadded, zeros);
  assert.equal(entry.bytes.length, size);
  assert.equal(openEntry(entry, reader.box), undefined, 'all zeros, no marker');

  const noMarker = Buffer.alloc(size - OVERHEAD, 0x41);
  assert.equal(openEntry(sealedWith(DOMAIN.sealPadded, noMarker), reader.box), undefined);

  // Another byte than 0x80 before the zeros is not a marker either.
  const wrongMarker = Buffer.alloc(size - OVERHEAD);
  wrongMarker[10] = 0x81;
  assert.equal(openEntry(sealedWith(DOMAIN.sealPadded, wrongMarker), reader.box), undefined);
  assert.equal(unpadPlaintext(Buffer.alloc(0)), undefined);
});

test('a padded seal of a length that is no bucket does not open', () => {
  const content = Buffer.from('not a bucket');
  const padded = Buffer.concat([content, Buffer.from([0x80]), Buffer.alloc(100)]);
  const entry = sealedWith(DOMAIN.sealPadded, padded);
  assert.ok(!isBucketSize(entry.bytes.length), `${entry.bytes.length}`);
  assert.equal(openEntry(entry, reader.box), undefined);
});

test('an unpadded entry of a bucket length that ends like padding opens unchanged', () => {
  const size = 768;
  const plaintext = Buffer.alloc(size - OVERHEAD);
  plaintext.write('content');
  plaintext[7] = 0x80;
  const entry = sealedWith(DOMAIN.seal, plaintext);
  assert.equal(entry.bytes.length, size);
  assert.deepEqual(openEntry(entry, reader.box), plaintext, 'nothing stripped');
});

test('a well-formed padded seal opens to the content before the marker', () => {
  const content = Buffer.from('content\x80\x00\x00');
  const padded = Buffer.alloc(bucketSize(OVERHEAD + content.length + 1) - OVERHEAD);
  content.copy(padded);
  padded[content.length] = 0x80;
  assert.deepEqual(openEntry(sealedWith(DOMAIN.sealPadded, padded), reader.box), content);
});

test('the 16 MiB edge: the largest paddable content pads to 16 MiB, one byte more is refused', () => {
  // At a node's default limit (64 KiB), as at every bucket: the content of an unpadded entry of
  // exactly the bucket does not fit padded, one byte less does.
  assert.equal(entryBytesFor(65_331, false), 65_536);
  assert.equal(entryBytesFor(65_331, true), 98_304);
  assert.equal(entryBytesFor(65_330, true), 65_536);
  const largest = MAX_ENTRY_BYTES_FORMAT - OVERHEAD - 1;
  assert.equal(entryBytesFor(largest, true), MAX_ENTRY_BYTES_FORMAT);
  assert.ok(entryBytesFor(largest + 1, true) > MAX_ENTRY_BYTES_FORMAT);
  // Unpadded, that content still fits: padding is what makes it too large.
  assert.equal(entryBytesFor(largest + 1, false), MAX_ENTRY_BYTES_FORMAT);
  const draft = draftEntry({
    table,
    recipient: reader.box.publicKey,
    plaintext: Buffer.alloc(largest),
    pad: true,
  });
  assert.equal(draft.bytes.length, MAX_ENTRY_BYTES_FORMAT);
  assert.throws(
    () =>
      draftEntry({
        table,
        recipient: reader.box.publicKey,
        plaintext: Buffer.alloc(largest + 1),
        pad: true,
      }),
    RangeError,
  );
});
