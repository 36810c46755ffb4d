/**
 * Blobs on nodes (docs/compute.md §3): bytes cut into chunk entries of at most 60 KiB sealed to
 * the requester, and the per-entry keys a grant hands a node so it can open exactly those
 * chunks. The chunk entries are fetched back by id (their id is the SHA-256 of their bytes, so
 * any node may serve them) and checked against the blob before any key is made from them.
 */
import { BLOB_CHUNK_BYTES, MAX_BLOB_BYTES, blobMismatch, type Blob } from '../../compute/blob.js';
import { entryKeyFor, openWithGrantKey, type GrantKey } from '../../compute/entry-keys.js';
import { sha256 } from '../../crypto/sha256.js';
import { toHex } from '../../encoding/bytes.js';
import { decodeEntry } from '../../entry/format.js';
import { P2PError } from '../../errors.js';
import type { Identity, TableKey } from '../../keys/keys.js';
import type { Client } from '../client.js';
import { fetchById } from '../fetch-by-id.js';

/** A chunk entry is at most 60 KiB of plaintext plus the seal, header and padding bucket. */
const MAX_CHUNK_ENTRY_BYTES = 128 * 1024;
/** Ids asked for in one request: bounds one answer at 8 MiB. */
const IDS_PER_FETCH = 64;

export interface BlobOwner {
  /** The table the chunk entries are written to. */
  readonly table: TableKey;
  /** The requester: chunks are sealed to its box key, so only it (and a granted node) reads them. */
  readonly identity: Identity;
}

export interface StoreBlobOptions {
  readonly signal?: AbortSignal;
  /** Called after each chunk is stored. */
  readonly onChunk?: (stored: number, total: number) => void;
}

/**
 * The entries among `ids` that `nodes` hold, asking each in turn for what is still missing;
 * with the reasons of the nodes that could not answer.
 */
async function fetchChunks(
  client: Client,
  ids: readonly string[],
  nodes: readonly string[],
  signal: AbortSignal | undefined,
): Promise<{ found: Map<string, Buffer>; failures: string[] }> {
  const found = new Map<string, Buffer>();
  const failures: string[] = [];
  for (const node of nodes) {
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length === 0) break;
    try {
      for (let i = 0; i < missing.length; i += IDS_PER_FETCH) {
        const { entries } = await fetchById(node, missing.slice(i, i + IDS_PER_FETCH), {
          maxEntryBytes: MAX_CHUNK_ENTRY_BYTES,
          ...(client.connector ? { connector: client.connector } : {}),
          ...(signal ? { signal } : {}),
        });
        for (const [id, bytes] of entries) found.set(id, bytes);
      }
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  return { found, failures };
}

/**
 * Writes `bytes` as chunk entries to every node of `client` and returns the blob naming them.
 * A chunk no node accepted fails the whole call (all_nodes_failed), naming what they said.
 */
export async function storeBlob(
  client: Client,
  owner: BlobOwner,
  bytes: Uint8Array,
  options: StoreBlobOptions = {},
): Promise<Blob> {
  if (bytes.length > MAX_BLOB_BYTES) {
    throw new P2PError(
      'bad_argument',
      `a blob holds at most ${MAX_BLOB_BYTES} bytes, this one has ${bytes.length}`,
    );
  }
  const total = Math.ceil(bytes.length / BLOB_CHUNK_BYTES);
  const entries: string[] = [];
  for (let i = 0; i < total; i++) {
    const chunk = bytes.subarray(i * BLOB_CHUNK_BYTES, (i + 1) * BLOB_CHUNK_BYTES);
    const report = await client.put({
      table: owner.table,
      to: owner.identity.box.publicKey,
      data: chunk,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (report.accepted === 0) {
      const reasons = report.nodes.map((n) => `${n.node}: ${n.message ?? n.code ?? n.status}`);
      throw new P2PError('all_nodes_failed', `no node stored a chunk: ${reasons.join('; ')}`);
    }
    entries.push(report.id);
    options.onChunk?.(i + 1, total);
  }
  return { sha256: toHex(sha256(bytes)), size: bytes.length, entries };
}

/**
 * The grant keys of every chunk of `blobs`, in order, made with the requester's box key from
 * the chunk entries fetched from `nodes` (the first that holds each). The chunks are opened and
 * checked against their blob first: a key is never made for bytes that are not the blob.
 */
export async function blobGrantKeys(
  client: Client,
  identity: Identity,
  blobs: readonly Blob[],
  nodes: readonly string[] = client.nodes,
  signal?: AbortSignal,
): Promise<GrantKey[]> {
  const wanted = [...new Set(blobs.flatMap((b) => b.entries))];
  const { found, failures } = await fetchChunks(client, wanted, nodes, signal);
  const keys = new Map<string, GrantKey>();
  for (const blob of blobs) {
    const chunks: Buffer[] = [];
    for (const id of blob.entries) {
      const bytes = found.get(id);
      if (!bytes) {
        const why = failures.length > 0 ? ` (${failures.join('; ')})` : '';
        throw new P2PError('all_nodes_failed', `no node holds the chunk entry ${id}${why}`);
      }
      const key = keys.get(id) ?? entryKeyFor(bytes, identity.box);
      const plaintext = key ? openWithGrantKey(decodeEntry(bytes), key) : undefined;
      if (!key || !plaintext) {
        throw new P2PError(
          'decrypt_failed',
          `the chunk entry ${id} is not sealed to this identity`,
        );
      }
      keys.set(id, key);
      chunks.push(plaintext);
    }
    const mismatch = blobMismatch(blob, chunks);
    if (mismatch) {
      throw new P2PError(
        'bad_argument',
        `the blob ${blob.sha256} does not match its chunks: ${mismatch}`,
      );
    }
  }
  return wanted.map((id) => keys.get(id)!);
}

/**
 * The blob whose chunks are entries already stored (a person's notes, say): each must be
 * sealed to `identity` and hold 1 byte to 60 KiB. Its bytes are their plaintexts in the order
 * given; nothing is written.
 */
export async function blobOfEntries(
  client: Client,
  identity: Identity,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<Blob> {
  const unique = [...new Set(ids)];
  if (unique.length !== ids.length) throw new P2PError('bad_argument', 'an entry is named twice');
  const { found, failures } = await fetchChunks(client, unique, client.nodes, signal);
  const chunks: Buffer[] = [];
  for (const id of ids) {
    const bytes = found.get(id);
    if (!bytes) {
      const why = failures.length > 0 ? ` (${failures.join('; ')})` : '';
      throw new P2PError('all_nodes_failed', `no node holds the entry ${id}${why}`);
    }
    const key = entryKeyFor(bytes, identity.box);
    const plaintext = key ? openWithGrantKey(decodeEntry(bytes), key) : undefined;
    if (!plaintext) {
      throw new P2PError('decrypt_failed', `the entry ${id} is not sealed to this identity`);
    }
    if (plaintext.length === 0 || plaintext.length > BLOB_CHUNK_BYTES) {
      throw new P2PError(
        'bad_argument',
        `the entry ${id} holds ${plaintext.length} bytes: a chunk holds 1 to ${BLOB_CHUNK_BYTES}`,
      );
    }
    chunks.push(plaintext);
  }
  return {
    sha256: toHex(sha256(...chunks)),
    size: chunks.reduce((n, c) => n + c.length, 0),
    entries: [...ids],
  };
}
