#!/usr/bin/env node
// Writes docs/vectors/padding.json (docs/protocol.md §4.9) from the fixed keys of entries.json
// and fixed HPKE ephemeral keys, using the compiled code in dist/ (build first: npx tsc -p
// tsconfig.json). test/unit/padding-vectors.test.ts recomputes every value.
//
//   node scripts/padding-vectors.mjs           write the file if missing, else check it
//   node scripts/padding-vectors.mjs --force   overwrite (only when the format is meant to change)
import { createHash } from 'node:crypto';
import { dist, writeVectors } from './lib/vector-file.mjs';

const { signingKeyPairFromSeed } = await dist('crypto/ed25519.js');
const { boxKeyPairFromSecret } = await dist('crypto/x25519.js');
const { deriveKeyPair } = await dist('crypto/hpke.js');
const { bucketSize } = await dist('encoding/size-buckets.js');
const { draftEntry, finishEntry, padPlaintext } = await dist('entry/create.js');

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');

// RFC 8032 §7.1 test key 1 (table A of entries.json) and Alice's X25519 key of RFC 7748 §6.1.
const TABLE_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const BOX_SECRET = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const table = { signing: signingKeyPairFromSeed(Buffer.from(TABLE_SEED, 'hex')) };
const recipient = boxKeyPairFromSecret(Buffer.from(BOX_SECRET, 'hex'));
const CREATED_AT = Date.UTC(2025, 0, 1);

/** Content byte i is i mod 251: long contents are given by their length, not their bytes. */
const patterned = (length) => Buffer.from(Array.from({ length }, (_, i) => i % 251));

const CASES = [
  { name: 'empty', content: Buffer.alloc(0), inline: true },
  { name: 'short', content: Buffer.from('hello, p2pcloud', 'utf8'), inline: true },
  { name: 'just-over-a-bucket', content: patterned(1024 - 205), inline: true },
  { name: 'chunk', content: patterned(60 * 1024), inline: false },
];

const cases = CASES.map(({ name, content, inline }) => {
  const ikm = createHash('sha256')
    .update(`p2pcloud/v1/test-vectors/ephemeral/padded-${name}`)
    .digest();
  const ephemeral = deriveKeyPair(ikm);
  const draft = draftEntry({
    table,
    recipient: recipient.publicKey,
    plaintext: content,
    createdAt: CREATED_AT,
    ephemeral,
    pad: true,
  });
  // No proof of work: these vectors are about the payload, so the nonce stays 0.
  const { bytes, id } = finishEntry(draft, 0n);
  const padded = padPlaintext(content);
  return {
    name,
    content: inline ? { hex: hex(content) } : { pattern: 'i mod 251', length: content.length },
    ephemeral_ikm: hex(ikm),
    created_at: CREATED_AT,
    padded_plaintext_length: padded.length,
    entry_length: bytes.length,
    ...(inline ? { entry_hex: hex(bytes) } : { entry_sha256: sha(bytes) }),
    id: hex(id),
  };
});

const samples = [0, 205, 206, 256, 257, 384, 385, 1000, 1025, 4097, 61645, 65536, 65537, 16777216];

writeVectors('padding.json', 'padding', {
  description:
    'Size buckets and padded entries (docs/protocol.md §4.9). Keys: table A and the recipient ' +
    'box secret of entries.json; pow_nonce 0; expires_at 0.',
  table_seed: TABLE_SEED,
  recipient_box_secret: BOX_SECRET,
  info_utf8: 'p2pcloud/v1/entry-seal-padded',
  buckets: samples.map((n) => ({ n, bucket: bucketSize(n) })),
  entries: cases,
});
