/**
 * The committed test vectors (docs/vectors/, written once by tools/gen-vectors.ts) against the
 * implementation, byte for byte: every positive entry is rebuilt from its fixed inputs, every
 * negative one must fail with its stated code, and key texts and bucket maths must agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { deriveKeyPair, setupSender } from '../../src/crypto/hpke.js';
import { powBits, searchPow } from '../../src/crypto/pow.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { boxKeyPairFromSecret, generateBoxKeyPair } from '../../src/crypto/x25519.js';
import { fromBase64 } from '../../src/encoding/bytes.js';
import {
  decodeKeyText,
  encodeKeyText,
  parsePublicKey,
  type KeyTextKind,
} from '../../src/encoding/key-text.js';
import { draftEntry, finishEntry } from '../../src/entry/create.js';
import {
  DOMAIN,
  HEADER_BYTES,
  SEAL_AAD_BYTES,
  decodeEntry,
  entryId,
  powChallenge,
  signatureMessage,
} from '../../src/entry/format.js';
import { decodeFrames, encodeFrames } from '../../src/entry/framing.js';
import { openEntry } from '../../src/entry/open.js';
import { verifyEntryBytes } from '../../src/entry/verify.js';
import { flatPowRule } from '../../src/entry/pow-rule.js';
import { P2PError } from '../../src/errors.js';
import {
  identityText,
  parseIdentity,
  parseTableKey,
  recipientText,
  serializeIdentity,
  serializeTableKey,
  tableText,
} from '../../src/keys/keys.js';
import { checkEntryPolicy, type Policy } from '../../src/node/policy.js';
import { VERIFY_STATUS, verifyEncoded } from '../../src/node/verify-protocol.js';
import {
  addToSum,
  bucketDigest,
  bucketOf,
  bucketPrefixRange,
  indexRoot,
  tableDigest,
} from '../../src/reconcile/buckets.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { repoRoot } from '../helpers/paths.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- vector files are plain JSON */
function load(name: string): any {
  return JSON.parse(readFileSync(join(repoRoot, 'docs', 'vectors', name), 'utf8'));
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const h = (text: string): Buffer => Buffer.from(text, 'hex');
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

interface EntryCase {
  name: string;
  keys: {
    table: { seed: string; public: string; text: string };
    recipient: {
      signing_seed: string;
      signing_public: string;
      box_secret: string;
      box_public: string;
      identity_text: string;
      recipient_text: string;
    };
    ephemeral: { ikm: string; secret: string; public: string };
  };
  fields: {
    version: number;
    table: string;
    recipient: string;
    created_at: number;
    expires_at: number;
    plaintext_hex: string;
    plaintext_utf8: string | null;
  };
  seal: {
    info_utf8: string;
    info_hex: string;
    aad_hex: string;
    shared_secret: string;
    key: string;
    base_nonce: string;
    enc: string;
    ciphertext: string;
    payload_length: number;
  };
  pow: {
    domain_utf8: string;
    challenge: string;
    target_bits: number;
    nonce: number;
    nonce_hex: string;
    work_hash: string;
    achieved_bits: number;
  };
  signature: {
    domain_utf8: string;
    message_length: number;
    message_hex?: string;
    message_sha256: string;
    signature: string;
  };
  entry: { length: number; hex: string; base64: string; id: string };
}

interface NegativeCase {
  name: string;
  stage: 'decode' | 'verify' | 'open' | 'policy';
  min_pow_bits: number;
  now?: number;
  policy?: {
    min_pow_bits: number;
    max_entry_bytes: number;
    max_future_skew_seconds: number;
    mirror: 'all' | string[];
    max_age_days: number | null;
  };
  expected_code: string;
  entry_hex: string;
  id?: string;
}

const entries = load('entries.json') as {
  cases: EntryCase[];
  framing: { entries: string[]; hex: string };
};
const invalid = load('invalid.json') as { recipient_box_secret: string; cases: NegativeCase[] };

test('entry vectors: the expected set of cases is present', () => {
  assert.deepEqual(
    entries.cases.map((c) => c.name),
    ['plain', 'expires', 'empty', 'utf8', 'large', 'max-timestamps'],
  );
  assert.ok(invalid.cases.length >= 20);
});

for (const v of entries.cases) {
  test(`entry vector "${v.name}": keys derive as stated`, () => {
    const table = signingKeyPairFromSeed(h(v.keys.table.seed));
    assert.equal(hex(table.publicKey), v.keys.table.public);
    assert.equal(tableText(table.publicKey), v.keys.table.text);
    const identity = {
      signing: signingKeyPairFromSeed(h(v.keys.recipient.signing_seed)),
      box: boxKeyPairFromSecret(h(v.keys.recipient.box_secret)),
    };
    assert.equal(hex(identity.signing.publicKey), v.keys.recipient.signing_public);
    assert.equal(hex(identity.box.publicKey), v.keys.recipient.box_public);
    assert.equal(identityText(identity), v.keys.recipient.identity_text);
    assert.equal(recipientText(identity.box.publicKey), v.keys.recipient.recipient_text);
    const ephemeral = deriveKeyPair(h(v.keys.ephemeral.ikm));
    assert.equal(hex(ephemeral.secretKey), v.keys.ephemeral.secret);
    assert.equal(hex(ephemeral.publicKey), v.keys.ephemeral.public);
  });

  test(`entry vector "${v.name}": rebuilt byte for byte from its inputs`, () => {
    const table = { signing: signingKeyPairFromSeed(h(v.keys.table.seed)) };
    const recipient = h(v.fields.recipient);
    const plaintext = h(v.fields.plaintext_hex);
    if (v.fields.plaintext_utf8 !== null) {
      assert.equal(plaintext.toString('utf8'), v.fields.plaintext_utf8);
    }
    const ephemeral = deriveKeyPair(h(v.keys.ephemeral.ikm));
    const draft = draftEntry({
      table,
      recipient,
      plaintext,
      createdAt: v.fields.created_at,
      expiresAt: v.fields.expires_at,
      ephemeral,
    });

    // Sealed payload: HPKE base mode, info = seal domain, aad = bytes [0, 81).
    assert.equal(v.seal.info_utf8, 'p2pcloud/v1/entry-seal');
    assert.equal(hex(DOMAIN.seal), v.seal.info_hex);
    assert.equal(hex(draft.bytes.subarray(0, SEAL_AAD_BYTES)), v.seal.aad_hex);
    const { context } = setupSender(recipient, { info: DOMAIN.seal, ephemeral });
    assert.equal(hex(context.keySchedule.sharedSecret), v.seal.shared_secret);
    assert.equal(hex(context.keySchedule.key), v.seal.key);
    assert.equal(hex(context.keySchedule.baseNonce), v.seal.base_nonce);
    assert.equal(hex(context.seal(h(v.seal.aad_hex), plaintext)), v.seal.ciphertext);
    const payload = draft.bytes.subarray(HEADER_BYTES, HEADER_BYTES + v.seal.payload_length);
    assert.equal(hex(payload), v.seal.enc + v.seal.ciphertext);
    assert.equal(draft.bytes.length, v.entry.length);

    // Proof of work: the first nonce from 0 that reaches the target.
    assert.equal(v.pow.domain_utf8, 'p2pcloud/v1/entry-pow');
    assert.equal(hex(draft.challenge), v.pow.challenge);
    const search = searchPow({
      challenge: draft.challenge,
      bits: v.pow.target_bits,
      start: 0n,
      maxHashes: 1 << 24,
    });
    assert.equal(search.nonce, BigInt(v.pow.nonce));
    assert.equal(BigInt(`0x${v.pow.nonce_hex}`), BigInt(v.pow.nonce));
    const workInput = Buffer.concat([draft.challenge, h(v.pow.nonce_hex)]);
    assert.equal(hex(sha256(workInput)), v.pow.work_hash);
    assert.equal(powBits(draft.challenge, BigInt(v.pow.nonce)), v.pow.achieved_bits);
    assert.ok(v.pow.achieved_bits >= v.pow.target_bits);

    // Signature and the finished canonical bytes.
    const { bytes, id } = finishEntry(draft, BigInt(v.pow.nonce));
    assert.equal(v.signature.domain_utf8, 'p2pcloud/v1/entry-sig');
    const message = signatureMessage(bytes);
    assert.equal(message.length, v.signature.message_length);
    if (v.signature.message_hex !== undefined) assert.equal(hex(message), v.signature.message_hex);
    assert.equal(hex(sha256(message)), v.signature.message_sha256);
    assert.equal(hex(bytes.subarray(bytes.length - 64)), v.signature.signature);
    assert.equal(hex(bytes), v.entry.hex);
    assert.equal(bytes.toString('base64'), v.entry.base64);
    assert.equal(hex(id), v.entry.id);
    assert.equal(hex(entryId(bytes)), v.entry.id);
    assert.equal(hex(powChallenge(bytes)), v.pow.challenge);
  });

  test(`entry vector "${v.name}": decodes, verifies and opens`, () => {
    const bytes = fromBase64(v.entry.base64);
    assert.ok(bytes);
    assert.equal(hex(bytes), v.entry.hex);
    const entry = decodeEntry(bytes);
    assert.equal(entry.version, v.fields.version);
    assert.equal(hex(entry.table), v.fields.table);
    assert.equal(hex(entry.recipient), v.fields.recipient);
    assert.equal(entry.createdAt, v.fields.created_at);
    assert.equal(entry.expiresAt, v.fields.expires_at);
    assert.equal(entry.powNonce, BigInt(v.pow.nonce));
    assert.equal(hex(entry.payload), v.seal.enc + v.seal.ciphertext);
    assert.equal(hex(entry.signature), v.signature.signature);

    const outcome = verifyEntryBytes(bytes, v.pow.achieved_bits);
    assert.ok(outcome.ok, outcome.ok ? '' : outcome.message);
    assert.equal(hex(outcome.value.id), v.entry.id);
    assert.equal(outcome.value.powBits, v.pow.achieved_bits);
    assert.equal(verifyEncoded(bytes, v.pow.target_bits).status, VERIFY_STATUS.ok);

    const recipient = boxKeyPairFromSecret(h(v.keys.recipient.box_secret));
    assert.equal(hex(openEntry(outcome.value.entry, recipient)!), v.fields.plaintext_hex);
    assert.equal(openEntry(outcome.value.entry, generateBoxKeyPair()), undefined);
  });
}

test('framing vector: u32 length prefixes around canonical entries', () => {
  const byName = new Map(entries.cases.map((c) => [c.name, h(c.entry.hex)]));
  const list = entries.framing.entries.map((name) => byName.get(name)!);
  assert.equal(hex(encodeFrames(list)), entries.framing.hex);
  const frames = decodeFrames(h(entries.framing.hex), { maxFrameBytes: 1 << 20 });
  assert.deepEqual(frames.map(hex), list.map(hex));
});

function policyOf(settings: NonNullable<NegativeCase['policy']>): Policy {
  return {
    minPowBits: settings.min_pow_bits,
    pow: flatPowRule(settings.min_pow_bits),
    maxEntryBytes: settings.max_entry_bytes,
    maxFutureSkewMs: settings.max_future_skew_seconds * 1000,
    tables: settings.mirror === 'all' ? undefined : new Set(settings.mirror),
    maxAgeMs: settings.max_age_days === null ? undefined : settings.max_age_days * 86_400_000,
  };
}

const NODE_STATUS: Record<string, number> = {
  bad_encoding: VERIFY_STATUS.badEncoding,
  unsupported_version: VERIFY_STATUS.badEncoding,
  pow_too_low: VERIFY_STATUS.powTooLow,
  bad_signature: VERIFY_STATUS.badSignature,
};

for (const v of invalid.cases) {
  test(`invalid vector "${v.name}" (${v.stage}): ${v.expected_code}`, () => {
    const bytes = h(v.entry_hex);
    if (v.id !== undefined) assert.equal(hex(entryId(bytes)), v.id);
    const outcome = verifyEntryBytes(bytes, v.min_pow_bits);
    switch (v.stage) {
      case 'decode':
        assert.throws(
          () => decodeEntry(bytes),
          (error: unknown) => error instanceof P2PError && error.code === v.expected_code,
        );
        assert.equal(outcome.ok, false);
        assert.equal(!outcome.ok && outcome.code, v.expected_code);
        assert.equal(verifyEncoded(bytes, v.min_pow_bits).status, NODE_STATUS[v.expected_code]);
        break;
      case 'verify':
        decodeEntry(bytes);
        assert.equal(outcome.ok, false);
        assert.equal(!outcome.ok && outcome.code, v.expected_code);
        assert.equal(verifyEncoded(bytes, v.min_pow_bits).status, NODE_STATUS[v.expected_code]);
        break;
      case 'open': {
        assert.equal(v.expected_code, 'decrypt_failed');
        assert.ok(outcome.ok, outcome.ok ? '' : outcome.message);
        const recipient = boxKeyPairFromSecret(h(invalid.recipient_box_secret));
        assert.equal(openEntry(outcome.value.entry, recipient), undefined);
        break;
      }
      case 'policy': {
        assert.ok(outcome.ok, outcome.ok ? '' : outcome.message);
        const policy = policyOf(v.policy!);
        const rejection = checkEntryPolicy(policy, outcome.value.entry, v.now!);
        assert.equal(rejection?.code, v.expected_code);
        break;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- vector files are plain JSON */
const keyText = load('key-text.json') as any;
const buckets = load('buckets.json') as any;
/* eslint-enable @typescript-eslint/no-explicit-any */

test('key text vectors: bytes ↔ text', () => {
  assert.deepEqual(keyText.prefixes, {
    identity: 'p2pid',
    table: 'p2ptable',
    recipient: 'p2prcpt',
  });
  for (const v of keyText.valid as { kind: KeyTextKind; hex: string; text: string }[]) {
    assert.equal(encodeKeyText(v.kind, h(v.hex)), v.text);
    const decoded = decodeKeyText(v.text, [v.kind]);
    assert.equal(decoded.kind, v.kind);
    assert.equal(hex(decoded.bytes), v.hex);
  }
  for (const v of keyText.parse_public_key as {
    input: string;
    want: 'table' | 'recipient';
    hex: string;
  }[]) {
    assert.equal(hex(parsePublicKey(v.input, v.want)), v.hex, v.input);
  }
  for (const v of keyText.invalid as {
    name: string;
    text: string;
    accept: KeyTextKind[];
    expected_code: string;
  }[]) {
    assert.throws(
      () => decodeKeyText(v.text, v.accept),
      (error: unknown) => error instanceof P2PError && error.code === v.expected_code,
      v.name,
    );
  }
});

test('key file vectors: the JSON key files parse and serialise exactly', () => {
  const identityFile = `${JSON.stringify(keyText.key_files.identity, null, 2)}\n`;
  const identity = parseIdentity(identityFile);
  assert.equal(serializeIdentity(identity), identityFile);
  const tableFile = `${JSON.stringify(keyText.key_files.table, null, 2)}\n`;
  const table = parseTableKey(tableFile);
  assert.equal(serializeTableKey(table), tableFile);
});

test('bucket vectors: bucket numbers and prefix ranges', () => {
  for (const v of buckets.bucket_of as { buckets: number; id: string; bucket: number }[]) {
    assert.equal(bucketOf(h(v.id), v.buckets), v.bucket, `${v.id} with B = ${v.buckets}`);
  }
  for (const v of buckets.prefix_ranges as {
    buckets: number;
    bucket: number;
    first: number;
    end: number;
  }[]) {
    assert.deepEqual(bucketPrefixRange(v.bucket, v.buckets), { first: v.first, end: v.end });
    const before = Buffer.alloc(32);
    if (v.first > 0) {
      before.writeUInt32BE(v.first - 1);
      assert.equal(bucketOf(before, v.buckets), v.bucket - 1);
    }
    const at = Buffer.alloc(32);
    at.writeUInt32BE(v.first);
    assert.equal(bucketOf(at, v.buckets), v.bucket);
  }
  const wrap = new Uint8Array(32);
  for (const id of buckets.sum_wraparound.ids as string[]) addToSum(wrap, h(id), 1);
  assert.equal(hex(wrap), buckets.sum_wraparound.sum);
  assert.equal(hex(bucketDigest(2, wrap)), buckets.sum_wraparound.digest);
});

interface BucketSet {
  buckets: number;
  ids: string[];
  total: number;
  non_empty_buckets: { bucket: number; count: number; sum: string; digest: string }[];
  empty_bucket_digest: string;
  digests?: string[];
  root: string;
}

test('bucket vectors: states, digests and roots', () => {
  for (const set of buckets.sets as BucketSet[]) {
    const counts = new Array<number>(set.buckets).fill(0);
    const sums = Array.from({ length: set.buckets }, () => new Uint8Array(32));
    for (const id of set.ids) {
      const b = bucketOf(h(id), set.buckets);
      counts[b]! += 1;
      addToSum(sums[b]!, h(id), 1);
    }
    const digests = counts.map((count, b) => bucketDigest(count, sums[b]!));
    assert.equal(hex(bucketDigest(0, new Uint8Array(32))), set.empty_bucket_digest);
    const nonEmpty = counts.flatMap((count, b) =>
      count > 0 ? [{ bucket: b, count, sum: hex(sums[b]!), digest: hex(digests[b]!) }] : [],
    );
    assert.deepEqual(nonEmpty, set.non_empty_buckets);
    if (set.digests) assert.deepEqual(digests.map(hex), set.digests);
    assert.equal(set.total, set.ids.length);
    assert.equal(hex(indexRoot(set.total, digests)), set.root);

    // Removing every id again leaves the empty state (sums are mod 2^256, so order is free).
    for (const id of [...set.ids].reverse())
      addToSum(sums[bucketOf(h(id), set.buckets)]!, h(id), -1);
    assert.ok(sums.every((sum) => sum.every((byte) => byte === 0)));
  }
  const t = buckets.table_digest as { ids: string[]; count: number; sum: string; digest: string };
  const sum = new Uint8Array(32);
  for (const id of t.ids) addToSum(sum, h(id), 1);
  assert.equal(hex(sum), t.sum);
  assert.equal(hex(tableDigest(t.count, sum)), t.digest);
});

test('bucket vectors: a store holding the entry vectors reports the same view', async () => {
  const entrySets = (buckets.sets as BucketSet[]).filter(
    (set) => set.total > 0 && set.ids.every((id) => entries.cases.some((c) => c.entry.id === id)),
  );
  assert.ok(entrySets.length >= 2);
  for (const set of entrySets) {
    const store = openSqliteStore({ path: ':memory:', buckets: set.buckets });
    try {
      const items = set.ids.map((id) => {
        const v = entries.cases.find((c) => c.entry.id === id)!;
        const entry = decodeEntry(h(v.entry.hex));
        return { entry, id: h(id) };
      });
      assert.deepEqual(
        await store.putMany(items),
        items.map(() => 'stored'),
      );
      const view = await store.indexView();
      assert.equal(view.count, set.total);
      const digests = view.states.map((state) => bucketDigest(state.count, state.sum));
      assert.equal(hex(indexRoot(view.count, digests)), set.root);
      for (const b of set.non_empty_buckets) {
        const ids = (await store.bucketIds(b.bucket)).map(hex);
        assert.equal(ids.length, b.count);
        const sum = new Uint8Array(32);
        for (const id of ids) addToSum(sum, h(id), 1);
        assert.equal(hex(sum), b.sum);
      }
      const [stats] = await store.tableStats([h(entries.cases[0]!.fields.table)]);
      assert.equal(hex(tableDigest(stats!.count, stats!.sum)), buckets.table_digest.digest);
    } finally {
      await store.close();
    }
  }
});
