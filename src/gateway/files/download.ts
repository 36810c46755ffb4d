/**
 * Reading a file's contents (docs/files.md §4.5, §7.5): the manifest is opened and checked
 * against the version's id, the pages under the requested range are read one at a time, and
 * the chunks are fetched a window at a time, the next window while the current one is being
 * written out. Memory is bounded by two windows, whatever the file's size; every chunk is
 * checked before a byte of it leaves.
 */
import { createHash } from 'node:crypto';
import { sha256 } from '../../crypto/sha256.js';
import { P2PError } from '../../errors.js';
import { rangeChunks, verifyChunk } from '../../files/manifest-tree.js';
import {
  decodeManifest,
  decodePage,
  MAX_PAGE_DEPTH,
  type ChunkRef,
  type FileManifest,
  type Items,
  type PageRef,
} from '../../files/manifest.js';
import type { FileVersion } from '../../files/record.js';
import type { ObjectFetcher } from './fetcher.js';
import type { ObjectIndex } from './object-index.js';

/** Chunks fetched per window (about 1.5 – 3 MiB), and windows fetched ahead of the one written. */
const WINDOW_CHUNKS = 64;
const AHEAD = 3;

export interface EpochReader {
  readonly epoch: string;
  readonly dedupKey: Buffer;
  readonly fetcher: ObjectFetcher;
  /** Chunks read back are noted here, so that this device's uploads dedup against them. */
  readonly index: ObjectIndex;
}

interface Piece {
  readonly chunk: ChunkRef;
  readonly from: number;
  readonly to: number;
}

function badManifest(why: string): P2PError {
  return new P2PError('bad_manifest', `the file's manifest is not valid: ${why}`);
}

async function fetchText(reader: EpochReader, entry: string, hash?: string): Promise<string> {
  const found = await reader.fetcher.fetch([entry], (_id, plaintext) =>
    hash === undefined ? true : sha256(plaintext).toString('hex') === hash,
  );
  return found.get(entry)!.toString('utf8');
}

/** The manifest of a version, checked against the version's id, size and hash. */
export async function loadManifest(
  reader: EpochReader,
  version: FileVersion,
): Promise<FileManifest> {
  const text = version.manifest ?? (await fetchText(reader, version.entry!, version.id));
  if (sha256(Buffer.from(text)).toString('hex') !== version.id) {
    throw badManifest('it does not match the version id');
  }
  const decoded = decodeManifest(text);
  if (!decoded.ok) throw badManifest(decoded.reason);
  if (decoded.value.size !== version.size || decoded.value.sha256 !== version.sha256) {
    throw badManifest('its size or hash differs from the tree record');
  }
  return decoded.value;
}

/** The chunks that cover [start, end), in order, reading pages as the walk reaches them. */
async function* pieces(
  reader: EpochReader,
  list: Items,
  start: number,
  end: number,
  depth: number,
): AsyncGenerator<Piece> {
  for (const span of rangeChunks(list, start, end)) {
    if ('id' in span.item) {
      yield { chunk: span.item, from: span.from, to: span.to };
      continue;
    }
    const ref = span.item as PageRef;
    if (depth >= MAX_PAGE_DEPTH) throw badManifest('pages nest deeper than 4 levels');
    const text = await fetchText(reader, ref.entry);
    const page = decodePage(text, ref);
    if (!page.ok) throw badManifest(`a page is refused (${page.reason})`);
    yield* pieces(reader, page.value, ref.offset + span.from, ref.offset + span.to, depth + 1);
  }
}

/** Every chunk of the file in order, reading its pages (a compute job names them all). */
export async function allChunks(reader: EpochReader, manifest: FileManifest): Promise<ChunkRef[]> {
  const chunks: ChunkRef[] = [];
  for await (const piece of pieces(reader, manifest, 0, manifest.size, 0)) chunks.push(piece.chunk);
  return chunks;
}

async function fetchWindow(reader: EpochReader, window: readonly Piece[]): Promise<Buffer[]> {
  // A manifest may list one entry more than once (a chunk that recurs); each listing is
  // checked, so that an entry named under another chunk's id or size is refused, not handed on.
  const byEntry = new Map<string, Map<string, ChunkRef>>();
  for (const { chunk } of window) {
    const listed = byEntry.get(chunk.entry) ?? new Map<string, ChunkRef>();
    listed.set(`${chunk.id}/${chunk.size}`, chunk);
    byEntry.set(chunk.entry, listed);
  }
  // An entry that expires is read, but an upload must not rely on it: it is not noted.
  const lasting = new Set<string>();
  const found = await reader.fetcher.fetch([...byEntry.keys()], (id, plaintext, expiresAt) => {
    const good = [...byEntry.get(id)!.values()].every((c) =>
      verifyChunk(c, plaintext, reader.dedupKey),
    );
    if (good && expiresAt === 0) lasting.add(id);
    return good;
  });
  reader.index.add(
    [...byEntry.entries()]
      .filter(([entry]) => lasting.has(entry))
      .flatMap(([, listed]) => [...listed.values()])
      .map((c) => ({
        epoch: reader.epoch,
        kind: 'chunk' as const,
        key: Buffer.from(c.id, 'hex'),
        entry: c.entry,
      })),
  );
  return window.map((p) => found.get(p.chunk.entry)!.subarray(p.from, p.to));
}

/**
 * Bytes [start, end) of the file. A read of the whole file also checks its SHA-256 at the end
 * (every chunk being checked already, a difference means the manifest lied about the file).
 */
export async function* readContents(
  reader: EpochReader,
  manifest: FileManifest,
  start: number,
  end: number,
): AsyncGenerator<Buffer> {
  const whole = start === 0 && end === manifest.size;
  const hash = whole ? createHash('sha256') : undefined;
  const walk = pieces(reader, manifest, start, end, 0);
  const take = async (): Promise<Piece[]> => {
    const window: Piece[] = [];
    while (window.length < WINDOW_CHUNKS) {
      const next = await walk.next();
      if (next.done) break;
      window.push(next.value);
    }
    return window;
  };
  // Windows fetched ahead, in order; the walk over pages feeds them as they are taken.
  const ahead: Promise<Buffer[]>[] = [];
  let walked = false;
  const refill = async (): Promise<void> => {
    while (!walked && ahead.length < AHEAD) {
      const window = await take();
      if (window.length === 0) {
        walked = true;
        break;
      }
      const fetching = fetchWindow(reader, window);
      // A consumer that stops early leaves fetches behind: their failure is nobody's.
      fetching.catch(() => undefined);
      ahead.push(fetching);
    }
  };
  try {
    await refill();
    while (ahead.length > 0) {
      const buffers = await ahead.shift()!;
      await refill();
      for (const b of buffers) {
        hash?.update(b);
        yield b;
      }
    }
  } finally {
    await walk.return(undefined);
  }
  if (hash && hash.digest('hex') !== manifest.sha256) {
    throw badManifest("the file's bytes do not hash to the manifest's sha256");
  }
}
