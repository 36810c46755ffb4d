/**
 * A file of a group's drive as the blob of a compute job (docs/compute.md §3): the chunk
 * entries its manifest lists, in order, and the grant keys that open exactly them. A chunk's
 * plaintext is the chunk's bytes (docs/files.md §7.1), so a file is a blob as it is stored:
 * nothing is written again. Each chunk entry is fetched, opened with the epoch's reader key,
 * checked against its manifest item, and the whole against the file's SHA-256, a batch at a
 * time, so that memory stays bounded whatever the file's size.
 */
import { MAX_BLOB_ENTRIES, type Blob } from '../../compute/blob.js';
import { entryKeyFor, openWithGrantKey, type GrantKey } from '../../compute/entry-keys.js';
import { createHash } from 'node:crypto';
import type { Client } from '../../client/client.js';
import { fetchById } from '../../client/fetch-by-id.js';
import { decodeEntry } from '../../entry/format.js';
import { P2PError } from '../../errors.js';
import { verifyChunk } from '../../files/manifest-tree.js';
import type { ChunkRef } from '../../files/manifest.js';
import { allChunks } from './download.js';
import type { Drive, FileView } from './drive.js';
import { MAX_OBJECT_ENTRY_BYTES } from './fetcher.js';

const BATCH = 64;

export interface FileBlob {
  readonly file: FileView;
  readonly blob: Blob;
  readonly keys: GrantKey[];
}

export async function fileJobBlob(
  drive: Drive,
  path: string,
  client: Client,
  signal?: AbortSignal,
): Promise<FileBlob> {
  const { file, manifest, reader, box } = await drive.contentsForJob(path, signal);
  const chunks = await allChunks(reader, manifest);
  if (chunks.length > MAX_BLOB_ENTRIES) {
    throw new P2PError(
      'bad_request',
      `${file.path} has ${chunks.length} chunks; a job reads at most ${MAX_BLOB_ENTRIES} per file`,
    );
  }
  const entries = chunks.map((c) => c.entry);
  if (new Set(entries).size !== entries.length) {
    // The blob format names each entry once; a file whose content recurs refers to one chunk twice.
    throw new P2PError('bad_request', `${file.path} repeats a chunk: a job cannot read it`);
  }
  const hash = createHash('sha256');
  const keys: GrantKey[] = [];
  for (let i = 0; i < chunks.length; i += BATCH) {
    const batch = chunks.slice(i, i + BATCH);
    const opened = await fetchBatch(client, batch, box, reader.dedupKey, signal);
    for (const chunk of batch) {
      const { key, plaintext } = opened.get(chunk.entry)!;
      keys.push(key);
      hash.update(plaintext);
    }
  }
  if (hash.digest('hex') !== manifest.sha256) {
    throw new P2PError(
      'bad_manifest',
      `the chunks of ${file.path} do not hash to the file's sha256`,
    );
  }
  return { file, blob: { sha256: manifest.sha256, size: manifest.size, entries }, keys };
}

/** The chunks of `batch`, each from the first node that serves a copy passing its check. */
async function fetchBatch(
  client: Client,
  batch: readonly ChunkRef[],
  box: Parameters<typeof entryKeyFor>[1],
  dedupKey: Buffer,
  signal: AbortSignal | undefined,
): Promise<Map<string, { key: GrantKey; plaintext: Buffer }>> {
  const good = new Map<string, { key: GrantKey; plaintext: Buffer }>();
  const problems: string[] = [];
  for (const node of client.nodes) {
    const missing = batch.filter((c) => !good.has(c.entry));
    if (missing.length === 0) break;
    try {
      const { entries } = await fetchById(
        node,
        missing.map((c) => c.entry),
        {
          maxEntryBytes: MAX_OBJECT_ENTRY_BYTES,
          ...(client.connector ? { connector: client.connector } : {}),
          ...(signal ? { signal } : {}),
        },
      );
      for (const chunk of missing) {
        const bytes = entries.get(chunk.entry);
        const key = bytes ? entryKeyFor(bytes, box) : undefined;
        const plaintext = key ? openWithGrantKey(decodeEntry(bytes!), key) : undefined;
        if (key && plaintext && verifyChunk(chunk, plaintext, dedupKey)) {
          good.set(chunk.entry, { key, plaintext });
        }
      }
    } catch (error) {
      if (error instanceof P2PError && error.code === 'aborted') throw error;
      problems.push(`${node}: ${(error as Error).message}`);
    }
  }
  if (good.size < batch.length) {
    const why = problems.length > 0 ? ` (${problems.join('; ')})` : '';
    throw new P2PError(
      'chunk_unavailable',
      `${batch.length - good.size} chunks of the file have no good copy on any node${why}`,
    );
  }
  return good;
}
