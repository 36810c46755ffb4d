/**
 * Working with a manifest's items (docs/files.md §4.3 – §4.5): splitting a long chunk list into
 * pages, finding the chunks (or pages) that cover a byte range, and checking a chunk read back.
 * Pure: the caller stores and fetches pages and chunks.
 */
import { chunkIdMatches } from './chunk-id.js';
import { MAX_ITEMS, type ChunkRef, type FilePage, type Items, type PageRef } from './manifest.js';

/** What the range lookup needs of an item: the bytes of the file it covers. */
export interface Extent {
  readonly offset: number;
  readonly size: number;
}

/**
 * One level of the page tree: the items, in order, in consecutive pages of MAX_ITEMS (the last
 * page holds the rest). A writer stores each page, lists their references, and repeats on the
 * references until at most MAX_ITEMS remain: those are the manifest's items.
 */
export function splitIntoPages(items: readonly ChunkRef[] | readonly PageRef[]): FilePage[] {
  const pages: FilePage[] = [];
  for (let first = 0; first < items.length; first += MAX_ITEMS) {
    const group = items.slice(first, first + MAX_ITEMS);
    const offset = group[0]!.offset;
    const last = group[group.length - 1]!;
    const size = last.offset + last.size - offset;
    const isChunks = 'id' in group[0]!;
    pages.push(
      isChunks
        ? { offset, size, chunks: group as ChunkRef[], pages: null }
        : { offset, size, chunks: null, pages: group as PageRef[] },
    );
  }
  return pages;
}

/** Where a read of bytes [start, end) meets one item: bytes [from, to) of that item. */
export interface Span<T> {
  readonly index: number;
  readonly item: T;
  readonly from: number;
  readonly to: number;
}

/**
 * The items that cover bytes [start, end) of the file, with the offsets into each: of a
 * manifest or page (its chunks, or its pages to descend into), or of a list of items. The
 * items must tile their range, as decoded lists do; an empty range covers nothing. Throws
 * RangeError for a range outside the items.
 */
export function rangeChunks(list: Items, start: number, end: number): Span<ChunkRef | PageRef>[];
export function rangeChunks<T extends Extent>(
  items: readonly T[],
  start: number,
  end: number,
): Span<T>[];
export function rangeChunks<T extends Extent>(
  list: readonly T[] | Items,
  start: number,
  end: number,
): Span<T>[] {
  // A manifest or page: its one list, chunks or pages.
  const items = (
    Array.isArray(list) ? list : ((list as Items).chunks ?? (list as Items).pages)
  ) as readonly T[];
  const first = items[0];
  const last = items[items.length - 1];
  const low = first ? first.offset : 0;
  const high = last ? last.offset + last.size : 0;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < low || end < start) {
    throw new RangeError(`bad range [${start}, ${end})`);
  }
  if (end > high) throw new RangeError(`range [${start}, ${end}) ends past ${high}`);
  if (start === end) return [];
  // The last item starting at or before `start`.
  let lo = 0;
  let hi = items.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (items[mid]!.offset <= start) lo = mid;
    else hi = mid - 1;
  }
  const spans: Span<T>[] = [];
  for (let index = lo; index < items.length; index++) {
    const item = items[index]!;
    if (item.offset >= end) break;
    const from = Math.max(start, item.offset) - item.offset;
    const to = Math.min(end, item.offset + item.size) - item.offset;
    spans.push({ index, item, from, to });
  }
  return spans;
}

/** Whether bytes read back are the chunk a manifest lists: its size and its keyed id. */
export function verifyChunk(chunk: ChunkRef, bytes: Uint8Array, dedupKey: Uint8Array): boolean {
  return (
    bytes.length === chunk.size && chunkIdMatches(dedupKey, bytes, Buffer.from(chunk.id, 'hex'))
  );
}
