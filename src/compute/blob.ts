/**
 * A blob: a module or an input, stored as chunk entries and named by its content
 * (docs/compute.md §3):  { "sha256": hex64, "size": n, "entries": [entry id hex, …] }.
 * Pure.
 */
import { z } from 'zod';
import { sha256 } from '../crypto/sha256.js';
import { toHex } from '../encoding/bytes.js';

/** Most plaintext bytes one chunk entry of a blob carries. */
export const BLOB_CHUNK_BYTES = 60 * 1024;
/** Most chunk entries one blob names. */
export const MAX_BLOB_ENTRIES = 4096;
/** The largest blob the format can name. */
export const MAX_BLOB_BYTES = MAX_BLOB_ENTRIES * BLOB_CHUNK_BYTES;

export const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');

export const blobSchema = z
  .strictObject({
    sha256: hex64,
    size: z.number().int().min(0).max(MAX_BLOB_BYTES),
    entries: z.array(hex64).max(MAX_BLOB_ENTRIES),
  })
  .refine((b) => b.size <= b.entries.length * BLOB_CHUNK_BYTES, {
    message: 'size is more than its entries can hold',
    path: ['size'],
  })
  // Every chunk holds at least one byte: a blob cannot name more entries than it has bytes.
  .refine((b) => b.entries.length <= b.size, {
    message: 'more entries than bytes',
    path: ['entries'],
  })
  .refine((b) => new Set(b.entries).size === b.entries.length, {
    message: 'an entry is named twice',
    path: ['entries'],
  });

export type Blob = z.infer<typeof blobSchema>;

/** How a list of chunk plaintexts fails to be the blob it claims to be, or undefined if it is. */
export function blobMismatch(blob: Blob, chunks: readonly Uint8Array[]): string | undefined {
  if (chunks.length !== blob.entries.length) return 'wrong number of chunks';
  let size = 0;
  for (const chunk of chunks) {
    if (chunk.length > BLOB_CHUNK_BYTES) return 'a chunk is larger than 60 KiB';
    if (chunk.length === 0) return 'a chunk is empty';
    size += chunk.length;
  }
  if (size !== blob.size) return `the chunks hold ${size} bytes, the blob says ${blob.size}`;
  if (toHex(sha256(...chunks)) !== blob.sha256) return 'SHA-256 of the chunks differs';
  return undefined;
}
