/**
 * Reads the blobs of an admitted job from the node's store and opens them with the grant's
 * keys: every chunk entry must be stored here, in an allowed table, open with its key, and the
 * chunks must add up to the blob's size and SHA-256.
 *
 * What this costs is bounded by what admission checked (the blobs' sizes within the node's
 * max_module_bytes and max_input_bytes), never by what the store or the request holds beyond
 * it: entries are fetched a few at a time and the read stops as soon as the bytes read pass
 * what chunks of the claimed size can take.
 */
import type { Blob } from '../../compute/blob.js';
import { blobMismatch } from '../../compute/blob.js';
import { openWithGrantKey, type GrantKey } from '../../compute/entry-keys.js';
import { refuse } from '../../compute/errors.js';
import { fromHex, toHex } from '../../encoding/bytes.js';
import { decodeEntry, entryId } from '../../entry/format.js';
import type { Store } from '../../store/store.js';

/** Entries fetched per store query: at most this many entries are in memory before checks. */
const FETCH_IDS = 32;
/**
 * The most entry bytes `count` chunks of `plaintext` bytes in all take: each chunk's fixed
 * overhead (header, enc, tag, signature: 205 bytes, and the padding marker) and, for padded
 * entries, the bucket each was rounded up to (at most 1.5 times, at least 256 bytes).
 */
export function maxEntryBytesOf(plaintext: number, count: number): number {
  return Math.ceil(1.5 * (plaintext + count * 206)) + count * 256;
}

export async function loadBlob(
  store: Store,
  blob: Blob,
  keys: ReadonlyMap<string, GrantKey>,
  tables: '*' | ReadonlySet<string>,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Entry bytes that chunks of this blob may take in all: a store holding larger entries under
  // these ids stops the read here.
  const budget = maxEntryBytesOf(blob.size, blob.entries.length);
  let read = 0;
  let plaintextBytes = 0;
  for (let i = 0; i < blob.entries.length; i += FETCH_IDS) {
    const wanted = blob.entries.slice(i, i + FETCH_IDS);
    const page = await store.query({
      ids: wanted.map((id) => fromHex(id, 32)!),
      limit: wanted.length,
      order: 'asc',
    });
    const byId = new Map(page.entries.map((e) => [toHex(entryId(e.bytes)), e]));
    for (const id of wanted) {
      const stored = byId.get(id);
      if (!stored) refuse('input_missing', `${what}: entry ${id} is not on this node`);
      read += stored.bytes.length;
      if (read > budget) {
        refuse('job_invalid', `${what}: its entries are larger than ${blob.size} bytes allow`);
      }
      const entry = decodeEntry(stored.bytes);
      const table = toHex(entry.table);
      if (tables !== '*' && !tables.has(table)) {
        refuse(
          'table_not_allowed',
          `${what}: entry ${id} is in table ${table}, which this node runs no jobs over`,
        );
      }
      const plaintext = openWithGrantKey(entry, keys.get(id)!);
      if (!plaintext) refuse('grant_invalid', `${what}: the key for entry ${id} does not open it`);
      plaintextBytes += plaintext.length;
      if (plaintextBytes > blob.size) {
        refuse('job_invalid', `${what}: its chunks hold more than ${blob.size} bytes`);
      }
      chunks.push(plaintext);
    }
  }
  const mismatch = blobMismatch(blob, chunks);
  if (mismatch) refuse('job_invalid', `${what}: ${mismatch}`);
  return Buffer.concat(chunks);
}
