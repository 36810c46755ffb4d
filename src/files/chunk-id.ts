/**
 * Keyed chunk ids (docs/files.md §3): HMAC-SHA256 of a chunk's bytes under the space's dedup
 * key. Equal chunks of one space get equal ids, so they are stored once; without the key an
 * id cannot be computed, so holding a known file does not tell whether the space stores it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CHUNK_ID_BYTES = 32;

export function chunkId(dedupKey: Uint8Array, bytes: Uint8Array): Buffer {
  if (dedupKey.length !== 32) throw new RangeError('a dedup key is 32 bytes');
  return createHmac('sha256', dedupKey).update(bytes).digest();
}

/** Whether `bytes` are the chunk `id` names (compared in constant time). */
export function chunkIdMatches(dedupKey: Uint8Array, bytes: Uint8Array, id: Uint8Array): boolean {
  return id.length === CHUNK_ID_BYTES && timingSafeEqual(chunkId(dedupKey, bytes), id);
}
