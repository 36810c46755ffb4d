/**
 * Writing one file's contents (docs/files.md §7.4): the bytes are chunked as they arrive, each
 * chunk not already held in the epoch is sealed into an entry of the files table and sent to
 * the nodes in batches, a few batches in flight at once; what waits in memory is bounded by
 * those batches, whatever the file's size. The manifest (and its pages, for long files) is
 * written last. Nothing here touches the tree: the caller writes the record once this returns.
 */
import { createHash } from 'node:crypto';
import type { Client } from '../../client/client.js';
import { requiredPowBitsOfAll } from '../../entry/pow-rule.js';
import { sha256 } from '../../crypto/sha256.js';
import { P2PError } from '../../errors.js';
import { chunkId } from '../../files/chunk-id.js';
import { Chunker, type Chunk } from '../../files/chunker.js';
import { splitIntoPages } from '../../files/manifest-tree.js';
import {
  encodeManifest,
  encodePage,
  MAX_ITEMS,
  type ChunkRef,
  type PageRef,
} from '../../files/manifest.js';
import { INLINE_MANIFEST_BYTES } from '../../files/record.js';
import type { TableKey } from '../../keys/keys.js';
import { seal } from '../publish.js';
import type { EntryBatcher } from './entry-batcher.js';
import type { ObjectIndex, ObjectKind } from './object-index.js';

/** What writing in one epoch of a space needs. */
export interface EpochWriter {
  readonly epoch: string;
  /** The epoch's files table (files.md §7.1). */
  readonly table: TableKey;
  /** The epoch's reader public key: every entry is sealed to it. */
  readonly to: Buffer;
  readonly dedupKey: Buffer;
  readonly gear: Uint32Array;
  readonly client: Client;
  readonly index: ObjectIndex;
  /** The space's entries on their way to the nodes, shared by its uploads. */
  readonly batcher: EntryBatcher;
  readonly powThreads: number | undefined;
}

export interface Counts {
  chunks: number;
  bytes: number;
}

export interface Uploaded {
  readonly size: number;
  readonly sha256: string;
  /** The manifest text, and its entry id when it is not short enough to inline. */
  readonly manifest: string;
  readonly manifestEntry: string | null;
  readonly version: string;
  readonly sent: Counts;
  readonly reused: Counts;
}

export interface UploadOptions {
  readonly mediaType: string | null;
  /** Bytes the source promises (a Content-Length): fewer is upload_truncated, more too. */
  readonly expectedSize?: number;
  readonly signal?: AbortSignal;
}

/** Writes one upload's objects: seals each object once, however often it recurs. */
class ObjectWriter {
  /** Objects this upload sealed or found being sent: their entry ids. */
  private readonly fresh = new Map<string, string>();
  /** Acknowledgements still awaited; the first failure among them. */
  private readonly unsettled = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  readonly sent: Counts = { chunks: 0, bytes: 0 };
  readonly reused: Counts = { chunks: 0, bytes: 0 };

  constructor(
    private readonly writer: EpochWriter,
    private readonly bits: (size: number) => number,
  ) {}

  /** The entry id of the object, sealing and sending it unless the epoch already holds it. */
  async put(kind: ObjectKind, key: Buffer, plaintext: Uint8Array): Promise<string> {
    if (this.failure) throw this.failure.error;
    const { batcher, index, epoch } = this.writer;
    const memo = `${kind}:${key.toString('hex')}`;
    let known = this.fresh.get(memo) ?? index.get(epoch, kind, key);
    if (known === undefined) {
      // Another upload is sending it: use its entry, and wait for a node to take it too.
      const elsewhere = batcher.sendingNow(kind, key);
      if (elsewhere) {
        known = elsewhere.id;
        this.fresh.set(memo, known);
        this.track(elsewhere.done);
      }
    }
    if (known !== undefined) {
      if (kind === 'chunk') {
        this.reused.chunks += 1;
        this.reused.bytes += plaintext.length;
      }
      return known;
    }
    await batcher.admit();
    const item = {
      table: this.writer.table,
      to: this.writer.to,
      plaintext: Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length),
      createdAt: Date.now(),
    };
    // The size rule needs the entry's size before sealing: the draft has it.
    const sealed = await seal(item, (subject) => this.bits(subject.size), this.writer.powThreads);
    this.fresh.set(memo, sealed.id);
    this.track(
      batcher.enqueue(kind, key, sealed).then(() => {
        if (kind === 'chunk') {
          this.sent.chunks += 1;
          this.sent.bytes += plaintext.length;
        }
      }),
    );
    return sealed.id;
  }

  private track(done: Promise<void>): void {
    const settled: Promise<void> = done.then(
      () => void this.unsettled.delete(settled),
      (error: unknown) => {
        this.unsettled.delete(settled);
        this.failure ??= { error };
      },
    );
    this.unsettled.add(settled);
  }

  /** Waits until a node took every object of this upload; throws the first failure. */
  async finish(): Promise<void> {
    while (this.unsettled.size > 0) await Promise.all(this.unsettled);
    if (this.failure) throw this.failure.error;
  }
}

async function* bytesOf(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const piece of source) {
    yield typeof piece === 'string' ? Buffer.from(piece as string) : piece;
  }
}

/** Uploads the bytes of `source` as a file of `writer`'s epoch. */
export async function uploadContents(
  writer: EpochWriter,
  source: AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<Uploaded> {
  const rules = await writer.client.powRules();
  const tableHex = writer.table.signing.publicKey;
  const objects = new ObjectWriter(writer, (size) =>
    requiredPowBitsOfAll(rules, { table: tableHex, size }),
  );
  const chunker = new Chunker(writer.gear);
  const hash = createHash('sha256');
  const refs: ChunkRef[] = [];
  let size = 0;
  const take = async (chunks: readonly Chunk[]): Promise<void> => {
    for (const chunk of chunks) {
      const id = chunkId(writer.dedupKey, chunk.bytes);
      const entry = await objects.put('chunk', id, chunk.bytes);
      refs.push({ id: id.toString('hex'), entry, offset: chunk.offset, size: chunk.bytes.length });
    }
  };
  for await (const piece of bytesOf(source)) {
    if (options.signal?.aborted) throw new P2PError('aborted', 'the upload was aborted');
    size += piece.length;
    if (options.expectedSize !== undefined && size > options.expectedSize) {
      throw new P2PError('upload_truncated', 'the upload sent more bytes than it announced');
    }
    hash.update(piece);
    await take(chunker.push(piece));
  }
  if (options.expectedSize !== undefined && size !== options.expectedSize) {
    throw new P2PError(
      'upload_truncated',
      `the upload ended after ${size} of the ${options.expectedSize} bytes it announced`,
    );
  }
  await take(chunker.end());
  const digest = hash.digest('hex');
  // Pages bottom up until the top list fits the manifest (files.md §4.4).
  let items: readonly ChunkRef[] | readonly PageRef[] = refs;
  let pages = false;
  while (items.length > MAX_ITEMS) {
    const next: PageRef[] = [];
    for (const page of splitIntoPages(items)) {
      const text = Buffer.from(encodePage(page));
      const entry = await objects.put('text', sha256(text), text);
      next.push({ entry, offset: page.offset, size: page.size });
    }
    items = next;
    pages = true;
  }
  const manifest = encodeManifest({
    size,
    sha256: digest,
    mediaType: options.mediaType,
    ...(pages
      ? { chunks: null, pages: items as readonly PageRef[] }
      : { chunks: items as readonly ChunkRef[], pages: null }),
  });
  const manifestBytes = Buffer.from(manifest);
  const version = sha256(manifestBytes);
  const manifestEntry =
    manifestBytes.length <= INLINE_MANIFEST_BYTES
      ? null
      : await objects.put('text', version, manifestBytes);
  await objects.finish();
  return {
    size,
    sha256: digest,
    manifest,
    manifestEntry,
    version: version.toString('hex'),
    sent: objects.sent,
    reused: objects.reused,
  };
}
