/**
 * Generates the test vectors in docs/vectors/ from fixed keys and fixed inputs. The vectors are
 * generated once and committed; test/unit/vectors.test.ts then checks the implementation
 * against them byte for byte. Running this again must reproduce the committed files exactly:
 * a file that would change is refused unless --force is given, because a changed vector means
 * a changed wire format.
 *
 *   npm run vectors            write missing files, check existing ones
 *   npm run vectors -- --force overwrite (only when the format is meant to change)
 */
import { fmix32, splitmix64 } from '../src/reconcile/mix.js';
import { Sketch, elementHash, forEachIndex } from '../src/reconcile/riblt.js';
import { SetSummary, bucketFingerprint } from '../src/reconcile/summary.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sodium from 'sodium-native';
import { bech32, bech32m } from '@scure/base';
import { sign, signingKeyPairFromSeed, type SigningKeyPair } from '../src/crypto/ed25519.js';
import { deriveKeyPair, sealBase, setupSender } from '../src/crypto/hpke.js';
import { leadingZeroBits, powBits, searchPow } from '../src/crypto/pow.js';
import { sha256 } from '../src/crypto/sha256.js';
import { boxKeyPairFromSecret } from '../src/crypto/x25519.js';
import { u64be, utf8 } from '../src/encoding/bytes.js';
import {
  KEY_TEXT_PREFIX,
  decodeKeyText,
  encodeKeyText,
  parsePublicKey as parseKey,
  type KeyTextKind,
} from '../src/encoding/key-text.js';
import { P2PError } from '../src/errors.js';
import { draftEntry, finishEntry } from '../src/entry/create.js';
import {
  DOMAIN,
  HEADER_BYTES,
  OFFSET,
  SEAL_AAD_BYTES,
  SIGNATURE_BYTES,
  decodeEntry,
  entryId,
  powChallenge,
  signatureMessage,
} from '../src/entry/format.js';
import { encodeFrames } from '../src/entry/framing.js';
import { verifyEntryBytes } from '../src/entry/verify.js';
import { flatPowRule } from '../src/entry/pow-rule.js';
import { openEntry } from '../src/entry/open.js';
import { identityText, recipientText, tableText, type Identity } from '../src/keys/keys.js';
import {
  addToSum,
  bucketDigest,
  bucketOf,
  bucketPrefixRange,
  indexRoot,
  tableDigest,
} from '../src/reconcile/buckets.js';
import { checkEntryPolicy, type Policy } from '../src/node/policy.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(repoRoot, 'docs', 'vectors');
const force = process.argv.includes('--force');

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Buffer => Buffer.from(text, 'hex');

// ---------------------------------------------------------------------------------------------
// Fixed keys. The Ed25519 seeds are the secret keys of RFC 8032 §7.1 tests 1, 2 and 3 and the
// X25519 secret is Alice's key of RFC 7748 §6.1, so their public halves can be checked against
// those documents too.

const TABLE_A_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const TABLE_B_SEED = 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7';
const IDENTITY_SIGNING_SEED = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const IDENTITY_BOX_SECRET = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';

const tableA = signingKeyPairFromSeed(fromHex(TABLE_A_SEED));
const tableB = signingKeyPairFromSeed(fromHex(TABLE_B_SEED));
const identity: Identity = {
  signing: signingKeyPairFromSeed(fromHex(IDENTITY_SIGNING_SEED)),
  box: boxKeyPairFromSecret(fromHex(IDENTITY_BOX_SECRET)),
};

/** The HPKE ephemeral input keying material of a vector: SHA-256 of a fixed label. */
function ephemeralIkm(name: string): Buffer {
  return sha256(utf8(`p2pcloud/v1/test-vectors/ephemeral/${name}`));
}

function tableKeysJson(table: SigningKeyPair): Record<string, string> {
  return { seed: hex(table.seed), public: hex(table.publicKey), text: tableText(table.publicKey) };
}

function identityKeysJson(id: Identity): Record<string, string> {
  return {
    signing_seed: hex(id.signing.seed),
    signing_public: hex(id.signing.publicKey),
    box_secret: hex(id.box.secretKey),
    box_public: hex(id.box.publicKey),
    identity_text: identityText(id),
    recipient_text: recipientText(id.box.publicKey),
  };
}

function firstNonce(challenge: Buffer, bits: number): bigint {
  const result = searchPow({ challenge, bits, start: 0n, maxHashes: 1 << 26 });
  if (result.nonce === undefined) throw new Error(`no nonce for ${bits} bits in 2^26 tries`);
  return result.nonce;
}

function workHash(challenge: Buffer, nonce: bigint): Buffer {
  const input = Buffer.alloc(40);
  challenge.copy(input, 0);
  input.writeBigUInt64BE(nonce, 32);
  return sha256(input);
}

// ---------------------------------------------------------------------------------------------
// Positive vectors: entries built by the real creation path (draftEntry, searchPow, finishEntry).

interface PositiveInput {
  readonly name: string;
  readonly description: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly plaintext: Buffer;
  readonly powBits: number;
}

const BASE_TIME = Date.UTC(2025, 0, 1); // 2025-01-01T00:00:00.000Z = 1735689600000

const largePlaintext = Buffer.alloc(1024);
for (let i = 0; i < largePlaintext.length; i++) largePlaintext[i] = i & 0xff;

const POSITIVE: PositiveInput[] = [
  {
    name: 'plain',
    description: 'A short ASCII text that never expires, stamped with 16 bits of work.',
    createdAt: BASE_TIME,
    expiresAt: 0,
    plaintext: utf8('hello, p2pcloud'),
    powBits: 16,
  },
  {
    name: 'expires',
    description: 'An entry that expires 7 days after it was created, 8 bits of work.',
    createdAt: BASE_TIME + 3_600_000,
    expiresAt: BASE_TIME + 3_600_000 + 7 * 86_400_000,
    plaintext: utf8('this entry expires after a week'),
    powBits: 8,
  },
  {
    name: 'empty',
    description: 'An empty plaintext: the payload is the smallest allowed, enc and tag (48 bytes).',
    createdAt: BASE_TIME + 7_200_000,
    expiresAt: 0,
    plaintext: Buffer.alloc(0),
    powBits: 8,
  },
  {
    name: 'utf8',
    description: 'Multi-byte UTF-8 text (2-, 3- and 4-byte sequences), 16 bits of work.',
    createdAt: BASE_TIME + 10_800_000,
    expiresAt: 0,
    plaintext: utf8('Grüße aus Köln — 你好，世界 — 🔐🌍'),
    powBits: 16,
  },
  {
    name: 'large',
    description: 'A 1024-byte binary plaintext (bytes 0x00…0xff repeated four times).',
    createdAt: BASE_TIME + 14_400_000,
    expiresAt: BASE_TIME + 14_400_000 + 30 * 86_400_000,
    plaintext: largePlaintext,
    powBits: 8,
  },
  {
    name: 'max-timestamps',
    description:
      'The largest timestamps the format allows: created_at = 2^53 - 2, expires_at = 2^53 - 1.',
    createdAt: Number.MAX_SAFE_INTEGER - 1,
    expiresAt: Number.MAX_SAFE_INTEGER,
    plaintext: utf8('far future'),
    powBits: 8,
  },
];

const SIGNATURE_MESSAGE_HEX_LIMIT = 512;

function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

interface BuiltPositive {
  readonly name: string;
  readonly bytes: Buffer;
  readonly id: Buffer;
  readonly json: Record<string, unknown>;
}

function buildPositive(input: PositiveInput): BuiltPositive {
  const ikm = ephemeralIkm(input.name);
  const ephemeral = deriveKeyPair(ikm);
  const table = { signing: tableA };
  const draft = draftEntry({
    table,
    recipient: identity.box.publicKey,
    plaintext: input.plaintext,
    createdAt: input.createdAt,
    expiresAt: input.expiresAt,
    ephemeral,
  });
  const nonce = firstNonce(draft.challenge, input.powBits);
  const { bytes, id } = finishEntry(draft, nonce);

  // Cross-checks: the finished entry verifies and opens, and the pieces are where they belong.
  const outcome = verifyEntryBytes(bytes, input.powBits);
  if (!outcome.ok) throw new Error(`${input.name}: does not verify (${outcome.code})`);
  const opened = openEntry(outcome.value.entry, identity.box);
  if (!opened || !opened.equals(input.plaintext)) throw new Error(`${input.name}: does not open`);

  const aad = bytes.subarray(0, SEAL_AAD_BYTES);
  const { context } = setupSender(identity.box.publicKey, { info: DOMAIN.seal, ephemeral });
  const payload = sealBase(identity.box.publicKey, DOMAIN.seal, aad, input.plaintext, ephemeral);
  const entry = decodeEntry(bytes);
  if (!entry.payload.equals(payload)) throw new Error(`${input.name}: payload differs`);
  const challenge = powChallenge(bytes);
  const message = signatureMessage(bytes);
  const work = workHash(challenge, nonce);

  const json: Record<string, unknown> = {
    name: input.name,
    description: input.description,
    keys: {
      table: tableKeysJson(tableA),
      recipient: identityKeysJson(identity),
      ephemeral: {
        ikm: hex(ikm),
        secret: hex(ephemeral.secretKey),
        public: hex(ephemeral.publicKey),
      },
    },
    fields: {
      version: 1,
      table: hex(tableA.publicKey),
      recipient: hex(identity.box.publicKey),
      created_at: input.createdAt,
      expires_at: input.expiresAt,
      plaintext_hex: hex(input.plaintext),
      plaintext_utf8: isUtf8(input.plaintext) ? input.plaintext.toString('utf8') : null,
    },
    seal: {
      info_utf8: DOMAIN.seal.toString('utf8'),
      info_hex: hex(DOMAIN.seal),
      aad_hex: hex(aad),
      shared_secret: hex(context.keySchedule.sharedSecret),
      key: hex(context.keySchedule.key),
      base_nonce: hex(context.keySchedule.baseNonce),
      enc: hex(payload.subarray(0, 32)),
      ciphertext: hex(payload.subarray(32)),
      payload_length: payload.length,
    },
    pow: {
      domain_utf8: DOMAIN.pow.toString('utf8'),
      challenge: hex(challenge),
      target_bits: input.powBits,
      nonce: Number(nonce),
      nonce_hex: hex(u64be(Number(nonce))),
      work_hash: hex(work),
      achieved_bits: powBits(challenge, nonce),
    },
    signature: {
      domain_utf8: DOMAIN.signature.toString('utf8'),
      message_length: message.length,
      ...(message.length <= SIGNATURE_MESSAGE_HEX_LIMIT ? { message_hex: hex(message) } : {}),
      message_sha256: hex(sha256(message)),
      signature: hex(entry.signature),
    },
    entry: {
      length: bytes.length,
      hex: hex(bytes),
      base64: bytes.toString('base64'),
      id: hex(id),
    },
  };
  if (leadingZeroBits(work) !== powBits(challenge, nonce)) throw new Error('pow bits disagree');
  return { name: input.name, bytes, id, json };
}

// ---------------------------------------------------------------------------------------------
// Negative vectors: entries assembled by hand so that exactly one thing is wrong.

interface RawFields {
  readonly version?: number;
  readonly table?: Buffer;
  readonly createdAt?: bigint;
  readonly expiresAt?: bigint;
  readonly plaintext?: Buffer;
  readonly ephemeralName: string;
}

/** Lays out header and sealed payload (nonce 0, signature zero) without any validity checks. */
function assemble(fields: RawFields): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[OFFSET.version] = fields.version ?? 1;
  (fields.table ?? tableA.publicKey).copy(header, OFFSET.table);
  identity.box.publicKey.copy(header, OFFSET.recipient);
  header.writeBigUInt64BE(fields.createdAt ?? BigInt(BASE_TIME), OFFSET.createdAt);
  header.writeBigUInt64BE(fields.expiresAt ?? 0n, OFFSET.expiresAt);
  const payload = sealBase(
    identity.box.publicKey,
    DOMAIN.seal,
    header.subarray(0, SEAL_AAD_BYTES),
    fields.plaintext ?? utf8('negative vector'),
    deriveKeyPair(ephemeralIkm(fields.ephemeralName)),
  );
  header.writeUInt32BE(payload.length, OFFSET.payloadLength);
  return Buffer.concat([header, payload, Buffer.alloc(SIGNATURE_BYTES)]);
}

/** Searches the nonce from 0 and writes it. */
function stamp(bytes: Buffer, bits: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeBigUInt64BE(firstNonce(powChallenge(out), bits), OFFSET.powNonce);
  return out;
}

/** Signs the entry (domain-separated, as the format requires) with `key` and writes it. */
function signWith(bytes: Buffer, key: SigningKeyPair): Buffer {
  const out = Buffer.from(bytes);
  sign(signatureMessage(out), key).copy(out, out.length - SIGNATURE_BYTES);
  return out;
}

const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function bigFromLe(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).reverse().toString('hex') || '0'}`);
}

function leFromBig(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex').reverse();
}

interface NegativeCase {
  readonly name: string;
  readonly description: string;
  /** decode: decodeEntry fails; verify: decoding passes, verification fails; open: the entry
   * verifies but the payload does not open; policy: the entry verifies but a node refuses it. */
  readonly stage: 'decode' | 'verify' | 'open' | 'policy';
  readonly bytes: Buffer;
  readonly min_pow_bits: number;
  readonly expected_code: string;
  readonly now?: number;
  readonly policy?: Record<string, unknown>;
}

function buildNegatives(positives: Map<string, BuiltPositive>): NegativeCase[] {
  const plain = positives.get('plain')!.bytes;
  const plainBits = decodeEntryBits(plain);
  const cases: NegativeCase[] = [];
  const add = (c: NegativeCase): void => {
    cases.push(c);
  };

  const flipped = Buffer.from(plain);
  flipped[flipped.length - SIGNATURE_BYTES]! ^= 0x01;
  add({
    name: 'bad-signature',
    description: 'The "plain" entry with the lowest bit of the first signature byte flipped.',
    stage: 'verify',
    bytes: flipped,
    min_pow_bits: 0,
    expected_code: 'bad_signature',
  });

  add({
    name: 'signed-by-other-table',
    description:
      'table names table A (RFC 8032 test 1 key) but the signature is by table B (test 3 key).',
    stage: 'verify',
    bytes: signWith(stamp(assemble({ ephemeralName: 'other-table' }), 8), tableB),
    min_pow_bits: 0,
    expected_code: 'bad_signature',
  });

  const noDomain = stamp(assemble({ ephemeralName: 'no-domain' }), 8);
  sign(noDomain.subarray(0, noDomain.length - SIGNATURE_BYTES), tableA).copy(
    noDomain,
    noDomain.length - SIGNATURE_BYTES,
  );
  add({
    name: 'signature-without-domain',
    description:
      'Signed by the right key over bytes [0, len-64) without the "p2pcloud/v1/entry-sig" prefix.',
    stage: 'verify',
    bytes: noDomain,
    min_pow_bits: 0,
    expected_code: 'bad_signature',
  });

  const malleable = Buffer.from(plain);
  const sOffset = malleable.length - 32;
  const s = bigFromLe(malleable.subarray(sOffset));
  leFromBig(s + L, 32).copy(malleable, sOffset);
  add({
    name: 'signature-non-canonical-s',
    description:
      'The "plain" entry with S replaced by S + L (the group order): the same point equation ' +
      'holds, but S is not reduced, so strict verification must refuse it.',
    stage: 'verify',
    bytes: malleable,
    min_pow_bits: 0,
    expected_code: 'bad_signature',
  });

  // Table key = the identity point (small order). With A of small order, (R = [s]B, S = s)
  // satisfies the cofactorless equation for every message; strict verification refuses A.
  const identityPoint = Buffer.alloc(32);
  identityPoint[0] = 1;
  const smallOrder = stamp(
    assemble({ table: identityPoint, ephemeralName: 'small-order-table' }),
    8,
  );
  const scalar = Buffer.alloc(32);
  scalar[0] = 7;
  const r = Buffer.alloc(32);
  // Not in the typed subset of sodium-native that src/ uses; only this generator needs it.
  (
    sodium as unknown as { crypto_scalarmult_ed25519_base_noclamp(q: Buffer, n: Buffer): void }
  ).crypto_scalarmult_ed25519_base_noclamp(r, scalar);
  Buffer.concat([r, scalar]).copy(smallOrder, smallOrder.length - SIGNATURE_BYTES);
  add({
    name: 'small-order-table-key',
    description:
      'table is the Ed25519 identity point (01 00…00, small order) and the signature is ' +
      '(R = [7]B, S = 7), which satisfies [S]B = R + [k]A for any message. Strict ' +
      'verification refuses small-order public keys.',
    stage: 'verify',
    bytes: smallOrder,
    min_pow_bits: 0,
    expected_code: 'bad_signature',
  });

  add({
    name: 'pow-below-minimum',
    description: `The "plain" entry (${plainBits} bits of work) checked against a minimum of ${plainBits + 1} bits.`,
    stage: 'verify',
    bytes: plain,
    min_pow_bits: plainBits + 1,
    expected_code: 'pow_too_low',
  });

  // Another nonce for the same entry, properly re-signed: a valid entry with little work.
  const cheap = Buffer.from(plain);
  const challenge = powChallenge(cheap);
  let nonce = 0n;
  while (powBits(challenge, nonce) >= 16) nonce += 1n;
  cheap.writeBigUInt64BE(nonce, OFFSET.powNonce);
  const cheapSigned = signWith(cheap, tableA);
  add({
    name: 'pow-nonce-without-work',
    description: `The "plain" entry with pow_nonce ${nonce} (${powBits(challenge, nonce)} bits) and a fresh valid signature, checked against a minimum of 16 bits.`,
    stage: 'verify',
    bytes: cheapSigned,
    min_pow_bits: 16,
    expected_code: 'pow_too_low',
  });

  add({
    name: 'empty',
    description: 'Zero bytes.',
    stage: 'decode',
    bytes: Buffer.alloc(0),
    min_pow_bits: 0,
    expected_code: 'bad_encoding',
  });
  add({
    name: 'truncated-last-byte',
    description: 'The "plain" entry without its last byte.',
    stage: 'decode',
    bytes: plain.subarray(0, plain.length - 1),
    min_pow_bits: 0,
    expected_code: 'bad_encoding',
  });
  add({
    name: 'truncated-header',
    description: 'The first 92 bytes of the "plain" entry (shorter than the 205-byte minimum).',
    stage: 'decode',
    bytes: plain.subarray(0, 92),
    min_pow_bits: 0,
    expected_code: 'bad_encoding',
  });
  add({
    name: 'trailing-byte',
    description: 'The "plain" entry followed by one extra zero byte.',
    stage: 'decode',
    bytes: Buffer.concat([plain, Buffer.alloc(1)]),
    min_pow_bits: 0,
    expected_code: 'bad_encoding',
  });

  const longer = Buffer.from(plain);
  longer.writeUInt32BE(longer.readUInt32BE(OFFSET.payloadLength) + 1, OFFSET.payloadLength);
  add({
    name: 'payload-length-mismatch',
    description: 'The "plain" entry with payload_length one larger than the payload.',
    stage: 'decode',
    bytes: longer,
    min_pow_bits: 0,
    expected_code: 'bad_encoding',
  });

  const tooSmall = assemble({ ephemeralName: 'payload-length-47' });
  tooSmall.writeUInt32BE(47, OFFSET.payloadLength);
  add({
    name: 'payload-length-below-minimum',
    description:
      'payload_length = 47, below the 48-byte minimum (enc and AEAD tag), in an entry that is ' +
      'longer than the 205-byte minimum entry size; stamped and signed.',
    stage: 'decode',
    bytes: signWith(stamp(tooSmall, 8), tableA),
    min_pow_bits: 0,
    expected_code: 'bad_encoding',
  });

  add({
    name: 'version-2',
    description:
      'Version byte 2, otherwise well formed, sealed, stamped and signed as version 1 would be.',
    stage: 'decode',
    bytes: signWith(stamp(assemble({ version: 2, ephemeralName: 'version-2' }), 8), tableA),
    min_pow_bits: 0,
    expected_code: 'unsupported_version',
  });
  add({
    name: 'version-0',
    description: 'Version byte 0, otherwise well formed.',
    stage: 'decode',
    bytes: signWith(stamp(assemble({ version: 0, ephemeralName: 'version-0' }), 8), tableA),
    min_pow_bits: 0,
    expected_code: 'unsupported_version',
  });

  const created = BigInt(BASE_TIME);
  const timestampCase = (
    name: string,
    description: string,
    createdAt: bigint,
    expiresAt: bigint,
  ): void =>
    add({
      name,
      description,
      stage: 'decode',
      bytes: signWith(stamp(assemble({ createdAt, expiresAt, ephemeralName: name }), 8), tableA),
      min_pow_bits: 0,
      expected_code: 'bad_encoding',
    });
  timestampCase(
    'expires-equal-created',
    'expires_at = created_at (it must be 0 or later), properly sealed, stamped and signed.',
    created,
    created,
  );
  timestampCase(
    'expires-before-created',
    'expires_at = created_at - 1 ms, properly sealed, stamped and signed.',
    created,
    created - 1n,
  );
  timestampCase(
    'created-at-2-pow-53',
    'created_at = 2^53 (one more than the largest allowed value 2^53 - 1).',
    1n << 53n,
    0n,
  );
  timestampCase('created-at-max-u64', 'created_at = 2^64 - 1.', (1n << 64n) - 1n, 0n);
  timestampCase(
    'expires-at-2-pow-53',
    'expires_at = 2^53 with a normal created_at.',
    created,
    1n << 53n,
  );

  // Entries that verify (the table key signed them) but whose payload cannot be opened.
  const moved = assemble({ ephemeralName: 'aad-mismatch', plaintext: utf8('sealed at one time') });
  moved.writeBigUInt64BE(created + 1000n, OFFSET.createdAt);
  add({
    name: 'aad-mismatch',
    description:
      'Sealed with created_at = 1735689600000 in the AAD, then created_at changed to ' +
      '1735689601000, re-stamped and re-signed by the table key. It verifies, but the AEAD ' +
      'refuses the changed header.',
    stage: 'open',
    bytes: signWith(stamp(moved, 8), tableA),
    min_pow_bits: 0,
    expected_code: 'decrypt_failed',
  });
  const tampered = assemble({ ephemeralName: 'payload-tampered' });
  tampered[HEADER_BYTES + 32]! ^= 0x80;
  add({
    name: 'payload-tampered',
    description:
      'First ciphertext byte flipped after sealing, then stamped and signed by the table key.',
    stage: 'open',
    bytes: signWith(stamp(tampered, 8), tableA),
    min_pow_bits: 0,
    expected_code: 'decrypt_failed',
  });

  // Node policy: the entries are valid; a node with the stated policy and clock refuses them.
  const policy = {
    min_pow_bits: 8,
    max_entry_bytes: 65536,
    max_future_skew_seconds: 600,
    mirror: 'all' as 'all' | string[],
    max_age_days: null as number | null,
  };
  const expires = positives.get('expires')!;
  const expiresAt = decodeEntry(expires.bytes).expiresAt;
  add({
    name: 'policy-expired',
    description: 'The "expires" entry offered to a node whose clock reads exactly its expires_at.',
    stage: 'policy',
    bytes: expires.bytes,
    min_pow_bits: 8,
    expected_code: 'expired',
    now: expiresAt,
    policy,
  });
  add({
    name: 'policy-future-timestamp',
    description:
      'The "plain" entry offered to a node whose clock is 600.001 s behind its created_at ' +
      '(the node allows 600 s of skew).',
    stage: 'policy',
    bytes: plain,
    min_pow_bits: 8,
    expected_code: 'future_timestamp',
    now: BASE_TIME - 600_001,
    policy,
  });
  const large = positives.get('large')!.bytes;
  add({
    name: 'policy-entry-too-large',
    description: `The ${large.length}-byte "large" entry offered to a node with max_entry_bytes ${large.length - 1}.`,
    stage: 'policy',
    bytes: large,
    min_pow_bits: 8,
    expected_code: 'entry_too_large',
    now: BASE_TIME + 86_400_000,
    policy: { ...policy, max_entry_bytes: large.length - 1 },
  });
  add({
    name: 'policy-table-not-accepted',
    description: 'The "plain" entry (table A) offered to a node that mirrors only table B.',
    stage: 'policy',
    bytes: plain,
    min_pow_bits: 8,
    expected_code: 'table_not_accepted',
    now: BASE_TIME + 86_400_000,
    policy: { ...policy, mirror: [hex(tableB.publicKey)] },
  });
  add({
    name: 'policy-older-than-retention',
    description:
      'The "plain" entry offered two days after its created_at to a node that keeps entries ' +
      'for one day (retention.max_age_days = 1).',
    stage: 'policy',
    bytes: plain,
    min_pow_bits: 8,
    expected_code: 'expired',
    now: BASE_TIME + 2 * 86_400_000,
    policy: { ...policy, max_age_days: 1 },
  });

  // Self-check: every case fails exactly as stated.
  for (const c of cases) {
    const outcome = verifyEntryBytes(c.bytes, c.min_pow_bits);
    if (c.stage === 'decode' || c.stage === 'verify') {
      if (outcome.ok || outcome.code !== c.expected_code) {
        throw new Error(`${c.name}: expected ${c.expected_code}, got ${JSON.stringify(outcome)}`);
      }
      continue;
    }
    if (!outcome.ok) throw new Error(`${c.name}: should verify, got ${outcome.code}`);
    if (c.stage === 'open') {
      if (openEntry(outcome.value.entry, identity.box) !== undefined) {
        throw new Error(`${c.name}: opened`);
      }
      continue;
    }
    const rejection = checkEntryPolicy(policyOf(c.policy!), outcome.value.entry, c.now!);
    if (rejection?.code !== c.expected_code) {
      throw new Error(`${c.name}: expected ${c.expected_code}, got ${rejection?.code}`);
    }
  }
  return cases;
}

function decodeEntryBits(bytes: Buffer): number {
  const entry = decodeEntry(bytes);
  return powBits(powChallenge(entry.bytes), entry.powNonce);
}

/** The Policy a node builds from these config settings (see node/policy.ts). */
function policyOf(settings: Record<string, unknown>): Policy {
  const mirror = settings.mirror as 'all' | string[];
  const maxAge = settings.max_age_days as number | null;
  return {
    minPowBits: settings.min_pow_bits as number,
    pow: flatPowRule(settings.min_pow_bits as number),
    maxEntryBytes: settings.max_entry_bytes as number,
    maxFutureSkewMs: (settings.max_future_skew_seconds as number) * 1000,
    tables: mirror === 'all' ? undefined : new Set(mirror),
    maxAgeMs: maxAge === null ? undefined : maxAge * 86_400_000,
  };
}

// ---------------------------------------------------------------------------------------------
// Key texts.

function keyTextVectors(): Record<string, unknown> {
  const identityBytes = Buffer.concat([identity.signing.publicKey, identity.box.publicKey]);
  const valid = [
    { kind: 'table', hex: hex(tableA.publicKey), text: encodeKeyText('table', tableA.publicKey) },
    { kind: 'table', hex: hex(tableB.publicKey), text: encodeKeyText('table', tableB.publicKey) },
    { kind: 'identity', hex: hex(identityBytes), text: encodeKeyText('identity', identityBytes) },
    {
      kind: 'recipient',
      hex: hex(identity.box.publicKey),
      text: encodeKeyText('recipient', identity.box.publicKey),
    },
    {
      kind: 'table',
      hex: '00'.repeat(32),
      text: encodeKeyText('table', Buffer.alloc(32)),
    },
    {
      kind: 'recipient',
      hex: 'ff'.repeat(32),
      text: encodeKeyText('recipient', Buffer.alloc(32, 0xff)),
    },
  ];
  const tableTextA = valid[0]!.text;
  const recipientTextV = valid[3]!.text;
  const identityTextV = valid[2]!.text;
  const replaceLast = (text: string): string =>
    text.slice(0, -1) + (text.endsWith('q') ? 'p' : 'q');
  const withPadding = (() => {
    const words = bech32m.toWords(tableA.publicKey);
    // 32 bytes = 256 bits = 51 words of 5 bits + 1 bit; the last word carries 4 padding bits.
    words[words.length - 1]! |= 0b00001;
    return bech32m.encode(KEY_TEXT_PREFIX.table, words, false);
  })();
  const invalid = [
    {
      name: 'wrong-kind',
      text: tableTextA,
      accept: ['recipient', 'identity'],
      expected_code: 'bad_key',
      reason: 'a table key where a recipient or identity is expected',
    },
    {
      name: 'bad-checksum',
      text: replaceLast(recipientTextV),
      accept: ['recipient', 'identity'],
      expected_code: 'bad_key',
      reason: 'last character changed',
    },
    {
      name: 'bech32-not-bech32m',
      text: bech32.encode(KEY_TEXT_PREFIX.table, bech32.toWords(tableA.publicKey), false),
      accept: ['table'],
      expected_code: 'bad_key',
      reason: 'the BIP 173 (bech32) checksum instead of the BIP 350 (bech32m) one',
    },
    {
      name: 'unknown-prefix',
      text: bech32m.encode('p2pkey', bech32m.toWords(tableA.publicKey), false),
      accept: ['table', 'recipient', 'identity'],
      expected_code: 'bad_key',
      reason: 'prefix p2pkey is not a key kind',
    },
    {
      name: 'wrong-length',
      text: bech32m.encode(
        KEY_TEXT_PREFIX.table,
        bech32m.toWords(tableA.publicKey.subarray(0, 31)),
        false,
      ),
      accept: ['table'],
      expected_code: 'bad_key',
      reason: 'a table text holding 31 bytes',
    },
    {
      name: 'nonzero-padding',
      text: withPadding,
      accept: ['table'],
      expected_code: 'bad_key',
      reason: 'valid checksum, but the padding bits of the last 5-bit group are not zero',
    },
    {
      name: 'mixed-case',
      text: tableTextA.slice(0, 10) + tableTextA.slice(10).toUpperCase(),
      accept: ['table'],
      expected_code: 'bad_key',
      reason: 'bech32 texts are all lower case or all upper case',
    },
  ];
  const parsePublicKey = [
    {
      input: tableTextA,
      want: 'table',
      hex: hex(tableA.publicKey),
      note: 'table text',
    },
    {
      input: hex(tableA.publicKey),
      want: 'table',
      hex: hex(tableA.publicKey),
      note: '64 hex characters are accepted wherever a 32-byte public key is',
    },
    {
      input: identityTextV,
      want: 'recipient',
      hex: hex(identity.box.publicKey),
      note: 'an identity text stands for its X25519 half (bytes 32..63) when a recipient is wanted',
    },
    {
      input: recipientTextV,
      want: 'recipient',
      hex: hex(identity.box.publicKey),
      note: 'recipient text',
    },
    {
      input: tableTextA.toUpperCase(),
      want: 'table',
      hex: hex(tableA.publicKey),
      note: 'an all upper case text is the same key',
    },
    {
      input: `  ${recipientTextV}\n`,
      want: 'recipient',
      hex: hex(identity.box.publicKey),
      note: 'surrounding white space is ignored',
    },
  ];
  for (const v of valid) {
    const decoded = decodeKeyText(v.text, [v.kind as KeyTextKind]);
    if (hex(decoded.bytes) !== v.hex) throw new Error(`key text ${v.text} does not round-trip`);
  }
  for (const v of invalid) {
    try {
      decodeKeyText(v.text, v.accept as KeyTextKind[]);
      throw new Error(`key text ${v.name} decoded`);
    } catch (error) {
      if (!(error instanceof P2PError) || error.code !== v.expected_code) throw error;
    }
  }
  for (const v of parsePublicKey) {
    if (hex(parseKey(v.input, v.want as 'table' | 'recipient')) !== v.hex) {
      throw new Error(`parsePublicKey(${v.input}) differs`);
    }
  }
  return {
    description:
      'Text forms of public keys: bech32m (BIP 350) without the 90-character limit, with the ' +
      'prefix naming the kind. identity = Ed25519 public key || X25519 public key (64 bytes); ' +
      'table = Ed25519 public key; recipient = X25519 public key.',
    prefixes: KEY_TEXT_PREFIX,
    valid,
    parse_public_key: parsePublicKey,
    invalid,
    key_files: {
      identity: {
        kind: 'p2pcloud-identity',
        version: 1,
        signing_seed: hex(identity.signing.seed),
        box_secret: hex(identity.box.secretKey),
        public: identityTextV,
      },
      table: {
        kind: 'p2pcloud-table',
        version: 1,
        seed: hex(tableA.seed),
        public: tableTextA,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Buckets, digests and roots.

function syntheticId(label: string): Buffer {
  return sha256(utf8(`p2pcloud/v1/test-vectors/id/${label}`));
}

function bucketSet(buckets: number, ids: readonly Buffer[]): Record<string, unknown> {
  const counts = new Array<number>(buckets).fill(0);
  const sums = Array.from({ length: buckets }, () => new Uint8Array(32));
  for (const id of ids) {
    const b = bucketOf(id, buckets);
    counts[b]! += 1;
    addToSum(sums[b]!, id, 1);
  }
  const digests = counts.map((count, b) => bucketDigest(count, sums[b]!));
  const nonEmpty = counts.flatMap((count, b) =>
    count > 0 ? [{ bucket: b, count, sum: hex(sums[b]!), digest: hex(digests[b]!) }] : [],
  );
  return {
    buckets,
    ids: ids.map(hex),
    total: ids.length,
    non_empty_buckets: nonEmpty,
    empty_bucket_digest: hex(bucketDigest(0, new Uint8Array(32))),
    ...(buckets <= 16 ? { digests: digests.map(hex) } : {}),
    root: hex(indexRoot(ids.length, digests)),
  };
}

function bucketVectors(positives: BuiltPositive[]): Record<string, unknown> {
  const edgeIds: { label: string; id: Buffer }[] = [
    { label: 'all zero', id: Buffer.alloc(32) },
    { label: 'all ff', id: Buffer.alloc(32, 0xff) },
    { label: 'prefix 0x80000000', id: Buffer.concat([fromHex('80000000'), Buffer.alloc(28)]) },
    // The first prefix of bucket 1 for B = 5000 is ceil(2^32 / 5000) = 858994 = 0x000d1b72.
    { label: 'prefix 0x000d1b71', id: Buffer.concat([fromHex('000d1b71'), Buffer.alloc(28)]) },
    { label: 'prefix 0x000d1b72', id: Buffer.concat([fromHex('000d1b72'), Buffer.alloc(28)]) },
  ];
  for (let i = 0; i < 5; i++) edgeIds.push({ label: `synthetic ${i}`, id: syntheticId(String(i)) });
  for (const p of positives) edgeIds.push({ label: `entry "${p.name}"`, id: p.id });
  const bucketOfCases = [5000, 1, 7, 65536].flatMap((buckets) =>
    edgeIds.map(({ label, id }) => ({
      buckets,
      id: hex(id),
      bucket: bucketOf(id, buckets),
      label,
    })),
  );
  const ranges = [
    [5000, 0],
    [5000, 1],
    [5000, 2500],
    [5000, 4999],
    [7, 3],
    [65536, 65535],
  ].map(([buckets, bucket]) => ({
    buckets,
    bucket,
    ...bucketPrefixRange(bucket!, buckets!),
  }));

  const entryIds = positives.map((p) => p.id);
  const wrapA = Buffer.alloc(32, 0xff);
  const wrapB = Buffer.concat([Buffer.alloc(31, 0xff), fromHex('02')]);
  const wrapSum = new Uint8Array(32);
  addToSum(wrapSum, wrapA, 1);
  addToSum(wrapSum, wrapB, 1);

  const tableSum = new Uint8Array(32);
  for (const id of entryIds) addToSum(tableSum, id, 1);

  return {
    description:
      'bucket(id) = floor(P × B / 2^32) with P the first 4 bytes of the id (big-endian). ' +
      'Bucket state = (count, sum of ids as 256-bit big-endian integers mod 2^256). ' +
      'digest = SHA-256("p2pcloud/v1/bucket" || u32 count || sum). ' +
      'root = SHA-256("p2pcloud/v1/index" || u32 B || u64 total || digest_0 || … || digest_(B-1)).',
    bucket_of: bucketOfCases,
    prefix_ranges: ranges,
    sum_wraparound: {
      ids: [hex(wrapA), hex(wrapB)],
      sum: hex(wrapSum),
      digest: hex(bucketDigest(2, wrapSum)),
      note: '(2^256 - 1) + (2^256 - 254) mod 2^256 = 2^256 - 255',
    },
    sets: [
      bucketSet(4, entryIds),
      bucketSet(5000, entryIds),
      bucketSet(5000, []),
      bucketSet(1, [...entryIds, ...edgeIds.slice(0, 5).map((e) => e.id)]),
    ],
    table_digest: {
      table: hex(tableA.publicKey),
      ids: entryIds.map(hex),
      count: entryIds.length,
      sum: hex(tableSum),
      digest: hex(tableDigest(entryIds.length, tableSum)),
    },
  };
}

/** Reconciliation (§13): the mixing functions, index sequences, fingerprints and a sketch. */
function syncVectors(): Record<string, unknown> {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((label) => syntheticId(`sync ${label}`));
  const shorts = ids.map((id) => [id.readUInt32BE(0), id.readUInt32BE(4)] as [number, number]);
  const u64 = (hi: number, lo: number): string =>
    `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
  const elements = shorts.map(([hi, lo]) => {
    const [zHi, zLo] = splitmix64(hi, lo);
    const indices: number[] = [];
    const { seedHi, seedLo } = elementHash(hi, lo);
    forEachIndex(seedHi, seedLo, 4096, (i) => indices.push(i));
    return {
      short_id: u64(hi, lo),
      splitmix64: u64(zHi, zLo),
      check: zLo,
      indices_below_4096: indices,
    };
  });
  const fmix = [0, 1, 0xdeadbeef, 0xffffffff].map((x) => ({ input: x, output: fmix32(x) }));
  const buckets = 16;
  const summary = new SetSummary(buckets, 64);
  for (const [hi, lo] of shorts) summary.toggle(hi, lo, 1);
  const salt = 0x5eed1234;
  const other = new Sketch(64);
  for (const [hi, lo] of shorts.slice(0, 4)) other.toggle(hi, lo, 1);
  return {
    description:
      'Set reconciliation (protocol §13). Short ids are the first 8 bytes of ids, here the ids ' +
      'SHA-256("p2pcloud/v1/test-vectors/id/sync a") … ("… sync f"); splitmix64 and fmix32 as specified; ' +
      'the index sequence of each element below 4096; bucket fingerprints of the six-element set ' +
      'with B = 16 and the given salt; and the first 64 coded symbols (13 bytes each) of the set ' +
      'and of its first four elements, whose difference decodes to the last two.',
    fmix32: fmix,
    elements,
    fingerprints: {
      buckets,
      salt,
      bytes: hex(Buffer.from(summary.fingerprints(salt))),
      empty_bucket: bucketFingerprint(salt, 0, 0, 0),
    },
    sketch: {
      symbols: 64,
      set: hex(summary.sketch.encode(0, 64)),
      first_four: hex(other.encode(0, 64)),
      difference: shorts.slice(4).map(([hi, lo]) => u64(hi, lo)),
    },
  };
}

// ---------------------------------------------------------------------------------------------

function write(name: string, value: unknown): void {
  const path = join(outDir, name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (existsSync(path)) {
    const current = readFileSync(path, 'utf8');
    if (current === text) {
      console.log(`unchanged  docs/vectors/${name}`);
      return;
    }
    if (!force) {
      console.error(
        `docs/vectors/${name} would change. Vectors are fixed once published; if the format ` +
          'is really meant to change, run again with --force.',
      );
      process.exitCode = 1;
      return;
    }
  }
  writeFileSync(path, text);
  console.log(`wrote      docs/vectors/${name}`);
}

function main(): void {
  mkdirSync(outDir, { recursive: true });
  const positives = POSITIVE.map(buildPositive);
  const byName = new Map(positives.map((p) => [p.name, p]));
  const framed = ['plain', 'empty'].map((name) => byName.get(name)!.bytes);

  write('entries.json', {
    description:
      'Valid entries (format version 1) built from fixed keys, fixed times and a fixed HPKE ' +
      'ephemeral key (DeriveKeyPair(ikm), RFC 9180 §7.1.3). The proof-of-work nonce is the ' +
      'first nonce, counting from 0, whose work hash has at least target_bits leading zero ' +
      'bits. Every value is lowercase hex unless named otherwise.',
    suite: {
      hpke: 'DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305; base mode',
      kem_id: 0x20,
      kdf_id: 1,
      aead_id: 3,
      signature: 'Ed25519 (RFC 8032), strict verification',
      hash: 'SHA-256',
    },
    cases: positives.map((p) => p.json),
    framing: {
      media_type: 'application/vnd.p2pcloud.entries',
      entries: ['plain', 'empty'],
      hex: hex(encodeFrames(framed)),
    },
  });
  write('invalid.json', {
    description:
      'Entries that must be rejected, with the error code expected. stage "decode": the ' +
      'canonical decoding fails; "verify": it decodes but verification (proof of work against ' +
      'min_pow_bits, then the table signature) fails; "open": it verifies, but the recipient ' +
      '(the identity of entries.json) cannot open the payload; "policy": it verifies, but a ' +
      'node with the stated settings, whose clock reads `now` (ms), refuses it.',
    recipient_box_secret: hex(identity.box.secretKey),
    cases: buildNegatives(byName).map((c) => ({
      name: c.name,
      description: c.description,
      stage: c.stage,
      min_pow_bits: c.min_pow_bits,
      ...(c.now !== undefined ? { now: c.now } : {}),
      ...(c.policy !== undefined ? { policy: c.policy } : {}),
      expected_code: c.expected_code,
      entry_hex: hex(c.bytes),
      ...(c.bytes.length >= HEADER_BYTES ? { id: hex(entryId(c.bytes)) } : {}),
    })),
  });
  write('key-text.json', keyTextVectors());
  write('buckets.json', bucketVectors(positives));
  write('sync.json', syncVectors());
}

main();
