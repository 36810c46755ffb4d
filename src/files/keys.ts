/**
 * The keys of a space's files (docs/files.md §3): derived from the reader secret of the group
 * epoch the file is written in, so every member (readers too) can verify chunks, nobody outside
 * the space can compute chunk ids or boundaries, and a member removed by a rekey cannot compute
 * those of what is written after.
 */
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { utf8 } from '../encoding/bytes.js';

export interface FileKeys {
  /** HMAC-SHA256 key of chunk ids. */
  readonly dedup: Buffer;
  /** Key of the chunker's gear table. */
  readonly chunking: Buffer;
}

const DEDUP_INFO = utf8('p2pcloud/v1/files/dedup');
const CHUNKING_INFO = utf8('p2pcloud/v1/files/chunking');

/**
 * dedup    = HKDF(salt = group id, ikm = reader secret, "p2pcloud/v1/files/dedup", 32)
 * chunking = HKDF(salt = group id, ikm = reader secret, "p2pcloud/v1/files/chunking", 32)
 */
export function fileKeys(readerSecret: Uint8Array, groupId: Uint8Array): FileKeys {
  if (readerSecret.length !== 32) throw new RangeError('a reader secret is 32 bytes');
  if (groupId.length !== 16) throw new RangeError('a group id is 16 bytes');
  const prk = hkdfExtract(groupId, readerSecret);
  return { dedup: hkdfExpand(prk, DEDUP_INFO, 32), chunking: hkdfExpand(prk, CHUNKING_INFO, 32) };
}
