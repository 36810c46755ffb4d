/**
 * The contents of docs/vectors/spread.json, computed: the generator writes them and the
 * vectors test computes them again and compares (docs/spread.md §8). Fixed keys are those of
 * entries.json (table A, the identity); every HPKE ephemeral key is derived from a label.
 */
import { deriveKeyPair } from '../src/crypto/hpke.js';
import { signingKeyPairFromSeed } from '../src/crypto/ed25519.js';
import { sha256 } from '../src/crypto/sha256.js';
import { boxKeyPairFromSecret } from '../src/crypto/x25519.js';
import { utf8 } from '../src/encoding/bytes.js';
import { draftEntry, finishEntry } from '../src/entry/create.js';
import { ErasureCode } from '../src/files/spread/erasure.js';
import {
  MAX_SHARD_BYTES,
  shardBytesFor,
  stripeCount,
  stripeSpan,
} from '../src/files/spread/layout.js';
import { encodeSpreadManifest, type SpreadManifest } from '../src/files/spread/manifest.js';
import { encodePage } from '../src/files/spread/page.js';
import type { Identity, TableKey } from '../src/keys/keys.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export const TABLE_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
export const IDENTITY_SIGNING_SEED =
  '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
export const IDENTITY_BOX_SECRET =
  '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
export const CREATED_AT = 1_767_225_600_000;

export const vectorTable: TableKey = {
  signing: signingKeyPairFromSeed(Buffer.from(TABLE_SEED, 'hex')),
};
export const vectorIdentity: Identity = {
  signing: signingKeyPairFromSeed(Buffer.from(IDENTITY_SIGNING_SEED, 'hex')),
  box: boxKeyPairFromSecret(Buffer.from(IDENTITY_BOX_SECRET, 'hex')),
};

/** Byte i of a vector's content: (31 i + 7) mod 251. */
export function patternBytes(length: number, from = 0): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (31 * (from + i) + 7) % 251;
  return out;
}

function ephemeral(label: string): { secretKey: Buffer; publicKey: Buffer } {
  return deriveKeyPair(sha256(utf8(`p2pcloud/v1/test-vectors/ephemeral/spread/${label}`)));
}

/** An entry of the vectors: table A, sealed to the identity, padded, proof of work 0. */
export function vectorEntry(plaintext: Buffer, label: string): { id: string; bytes: Buffer } {
  const draft = draftEntry({
    table: vectorTable,
    recipient: vectorIdentity.box.publicKey,
    plaintext,
    createdAt: CREATED_AT,
    pad: true,
    ephemeral: ephemeral(label),
  });
  const { bytes, id } = finishEntry(draft, 0n);
  return { id: hex(id), bytes };
}

export const SHORT_CODES: readonly [number, number, number][] = [
  [1, 4, 8],
  [3, 5, 16],
  [10, 16, 16],
  [16, 17, 16],
  [20, 26, 32],
];
export const FULL_CODES: readonly [number, number][] = [
  [10, 16],
  [24, 30],
];

async function parityOf(k: number, n: number, shardBytes: number): Promise<Buffer[]> {
  const code = new ErasureCode(k, n);
  const stripe = code.allocStripe(shardBytes);
  patternBytes(k * shardBytes).copy(stripe);
  await code.encode(stripe, shardBytes);
  return Array.from({ length: n - k }, (_, r) =>
    Buffer.from(stripe.subarray((k + r) * shardBytes, (k + r + 1) * shardBytes)),
  );
}

export async function codeVectors(): Promise<unknown> {
  const short = [];
  for (const [k, n, shardBytes] of SHORT_CODES) {
    short.push({
      k,
      n,
      shard_bytes: shardBytes,
      data: hex(patternBytes(k * shardBytes)),
      parity: (await parityOf(k, n, shardBytes)).map(hex),
    });
  }
  const full = [];
  for (const [k, n] of FULL_CODES) {
    full.push({
      k,
      n,
      shard_bytes: MAX_SHARD_BYTES,
      data_sha256: hex(sha256(patternBytes(k * MAX_SHARD_BYTES))),
      parity_sha256: (await parityOf(k, n, MAX_SHARD_BYTES)).map((p) => hex(sha256(p))),
    });
  }
  return {
    description:
      'Parity shards of docs/spread.md §3. The data shards are the stripe bytes (31 i + 7) mod 251, ' +
      'i from 0, cut into k shards of shard_bytes; "short" gives them and the parity in full, "full" ' +
      'by SHA-256 (full-size shards, whose packet size is halved at 24-of-30).',
    short,
    full,
  };
}

export const LAYOUT_SIZES: readonly [number, number][] = [
  [0, 3],
  [1, 3],
  [24, 3],
  [25, 3],
  [1000, 10],
  [3 * MAX_SHARD_BYTES, 3],
  [3 * MAX_SHARD_BYTES + 1, 3],
  [1024 * 1024 * 1024, 10],
];

export function layoutVectors(): unknown {
  return LAYOUT_SIZES.map(([size, k]) => {
    const shardBytes = shardBytesFor(size, k);
    return { size, k, shard_bytes: shardBytes, stripes: stripeCount(size, k, shardBytes) };
  });
}

export const FILE_K = 3;
export const FILE_N = 5;
export const FILE_SIZE = 2 * FILE_K * MAX_SHARD_BYTES + 12_345;
export const FILE_URLS = [1, 2, 3, 4, 5].map((i) => `http://127.0.0.1:700${i}`);

export async function fileVector(): Promise<unknown> {
  const k = FILE_K;
  const n = FILE_N;
  const size = FILE_SIZE;
  const content = patternBytes(size);
  const shardBytes = shardBytesFor(size, k);
  const stripes = stripeCount(size, k, shardBytes);
  const code = new ErasureCode(k, n);
  const shards: { entry: string; sha256: string }[][] = Array.from({ length: n }, () => []);
  for (let s = 0; s < stripes; s++) {
    const stripe = code.allocStripe(shardBytes);
    const span = stripeSpan(size, k, shardBytes, s);
    content.copy(stripe, 0, span.offset, span.offset + span.length);
    await code.encode(stripe, shardBytes);
    for (let i = 0; i < n; i++) {
      const shard = stripe.subarray(i * shardBytes, (i + 1) * shardBytes);
      shards[i]!.push({
        entry: vectorEntry(Buffer.from(shard), `shard/${i}/${s}`).id,
        sha256: hex(sha256(shard)),
      });
    }
  }
  const pages = shards.map((list, i) => {
    const text = encodePage({
      provider: i,
      firstStripe: 0,
      shards: list.map((r) => ({
        entry: Buffer.from(r.entry, 'hex'),
        sha256: Buffer.from(r.sha256, 'hex'),
      })),
    });
    return {
      text: hex(text),
      entry: vectorEntry(text, `page/${i}/0`).id,
      sha256: hex(sha256(text)),
    };
  });
  const manifest: SpreadManifest = {
    revision: 1,
    previous: null,
    size,
    sha256: hex(sha256(content)),
    k,
    n,
    shardBytes,
    stripes,
    providers: FILE_URLS.map((url, i) => ({
      url,
      pages: [{ entry: pages[i]!.entry, sha256: pages[i]!.sha256 }],
    })),
  };
  const text = encodeSpreadManifest(manifest);
  const entry = vectorEntry(text, 'manifest');
  return {
    description:
      'A file of FILE_SIZE bytes (31 i + 7) mod 251 spread 3-of-5: every entry of table A ' +
      '(entries.json) sealed to its identity, padded, created_at fixed, proof of work nonce 0, ' +
      'HPKE ephemeral from SHA-256("p2pcloud/v1/test-vectors/ephemeral/spread/" || label) with ' +
      'labels shard/PROVIDER/STRIPE, page/PROVIDER/0 and manifest.',
    table_seed: TABLE_SEED,
    identity_box_secret: IDENTITY_BOX_SECRET,
    created_at: CREATED_AT,
    size,
    k,
    n,
    shard_bytes: shardBytes,
    stripes,
    sha256: manifest.sha256,
    shards,
    pages,
    manifest_text: text.toString('utf8'),
    manifest_entry: { id: entry.id, hex: hex(entry.bytes) },
  };
}
