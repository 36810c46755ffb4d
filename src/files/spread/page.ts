/**
 * A shard page (docs/spread.md §4.2): the entry ids and SHA-256 of one provider's shards for up
 * to 1,000 consecutive stripes, in a fixed binary layout. The manifest pins each page by its
 * entry id and the SHA-256 of these bytes. Pure: no I/O.
 */
import { fail } from '../../errors.js';
import { PAGE_SHARDS } from './layout.js';

export const PAGE_MAGIC = Buffer.from('p2ps', 'ascii');
export const PAGE_VERSION = 1;
export const PAGE_HEADER_BYTES = 12;
const REF_BYTES = 64;

/** One shard of a provider: the entry that stores it and the SHA-256 of its plaintext. */
export interface ShardRef {
  /** 32-byte entry id. */
  readonly entry: Buffer;
  /** 32-byte SHA-256 of the shard (the entry's plaintext, without padding). */
  readonly sha256: Buffer;
}

export interface ShardPage {
  readonly provider: number;
  readonly firstStripe: number;
  readonly shards: readonly ShardRef[];
}

/**
 * magic "p2ps" | version u8 = 1 | provider u8 | first stripe u32 | count u16 |
 * count × (entry id 32 | sha256 32); integers big-endian.
 */
export function encodePage(page: ShardPage): Buffer {
  const count = page.shards.length;
  if (count < 1 || count > PAGE_SHARDS) throw new RangeError(`a page lists 1 to ${PAGE_SHARDS}`);
  if (!Number.isInteger(page.provider) || page.provider < 0 || page.provider > 255)
    throw new RangeError('provider index out of range');
  const out = Buffer.alloc(PAGE_HEADER_BYTES + count * REF_BYTES);
  PAGE_MAGIC.copy(out, 0);
  out[4] = PAGE_VERSION;
  out[5] = page.provider;
  out.writeUInt32BE(page.firstStripe, 6);
  out.writeUInt16BE(count, 10);
  page.shards.forEach((shard, i) => {
    if (shard.entry.length !== 32 || shard.sha256.length !== 32)
      throw new RangeError('entry ids and hashes are 32 bytes');
    shard.entry.copy(out, PAGE_HEADER_BYTES + i * REF_BYTES);
    shard.sha256.copy(out, PAGE_HEADER_BYTES + i * REF_BYTES + 32);
  });
  return out;
}

/**
 * Decodes a page and checks it is the one expected there: this provider, these stripes.
 * Anything else is bad_spread_manifest.
 */
export function decodePage(
  bytes: Buffer,
  expected: { provider: number; firstStripe: number; count: number },
): ShardPage {
  const bad = (why: string): never => fail('bad_spread_manifest', `shard page: ${why}`);
  if (bytes.length < PAGE_HEADER_BYTES) bad('shorter than its header');
  if (!bytes.subarray(0, 4).equals(PAGE_MAGIC)) bad('not a shard page (magic)');
  if (bytes[4] !== PAGE_VERSION) bad(`unsupported version ${bytes[4]}`);
  const provider = bytes[5]!;
  const firstStripe = bytes.readUInt32BE(6);
  const count = bytes.readUInt16BE(10);
  if (provider !== expected.provider) bad(`lists provider ${provider}, not ${expected.provider}`);
  if (firstStripe !== expected.firstStripe)
    bad(`starts at stripe ${firstStripe}, not ${expected.firstStripe}`);
  if (count !== expected.count) bad(`lists ${count} shards, not ${expected.count}`);
  if (bytes.length !== PAGE_HEADER_BYTES + count * REF_BYTES) bad('length does not match count');
  const shards: ShardRef[] = [];
  for (let i = 0; i < count; i++) {
    const at = PAGE_HEADER_BYTES + i * REF_BYTES;
    shards.push({
      entry: Buffer.from(bytes.subarray(at, at + 32)),
      sha256: Buffer.from(bytes.subarray(at + 32, at + 64)),
    });
  }
  return { provider, firstStripe, shards };
}
