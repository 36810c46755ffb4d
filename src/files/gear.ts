/**
 * The gear table of the content-defined chunker (docs/files.md §2.1): 256 pseudo-random 32-bit
 * words, one per byte value, derived from the space's chunking key so that chunk boundaries
 * cannot be computed by anyone outside the space.
 */
import { sha256 } from '../crypto/sha256.js';
import { utf8 } from '../encoding/bytes.js';

const GEAR_LABEL = utf8('p2pcloud/v1/files/gear');

/**
 * gear[i] = the i-th big-endian u32 of SHA-256(label || key || u32be(0)) || SHA-256(label ||
 * key || u32be(1)) || … || SHA-256(label || key || u32be(31)).
 */
export function gearTable(chunkingKey: Uint8Array): Uint32Array {
  if (chunkingKey.length !== 32) throw new RangeError('a chunking key is 32 bytes');
  const table = new Uint32Array(256);
  const counter = Buffer.alloc(4);
  for (let block = 0; block < 32; block++) {
    counter.writeUInt32BE(block);
    const digest = sha256(GEAR_LABEL, chunkingKey, counter);
    for (let word = 0; word < 8; word++) table[block * 8 + word] = digest.readUInt32BE(word * 4);
  }
  return table;
}

/** SHA-256 of the table's 1,024 bytes, each word big-endian: how the vectors pin a table. */
export function gearDigest(table: Uint32Array): Buffer {
  const bytes = Buffer.alloc(table.length * 4);
  table.forEach((word, i) => bytes.writeUInt32BE(word, i * 4));
  return sha256(bytes);
}
