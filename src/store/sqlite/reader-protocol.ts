/**
 * Messages between the store and its reader threads: queries (or sync scans) in, packed pages
 * (or short-id lists) out.
 */
import type { EntryQuery, FramedPage, QueryPage, StoredEntry } from '../store.js';
import { encodeFrames } from '../../entry/framing.js';
import type { BucketPage, KeyRange, Scan, SyncScans } from './sync-scans.js';

/** A sync scan for a reader thread (see sync-scans.ts); table keys as binary strings. */
export type ScanRequest =
  | {
      readonly kind: 'ids';
      readonly ranges: readonly KeyRange[];
      readonly wanted?: readonly string[];
      readonly limit: number;
    }
  | {
      readonly kind: 'table-ids';
      /** The table keys one after the other, 32 bytes each (one buffer: cheap to pass on). */
      readonly tables: Uint8Array;
      readonly ranges: readonly KeyRange[];
      readonly limit: number;
    }
  | {
      readonly kind: 'page';
      readonly range: KeyRange;
      readonly wanted?: readonly string[];
      readonly after?: bigint;
      readonly maxBytes: number;
    };

export interface ReadRequest {
  readonly id: number;
  readonly query?: EntryQuery;
  /** Answer with the page in binary framing rather than entry by entry. */
  readonly framed?: boolean;
  readonly scan?: ScanRequest;
}

export interface ReadResponse {
  readonly id: number;
  readonly error?: string;
  /** seq, created_at, expires_at of each entry, in order. */
  readonly meta?: Float64Array;
  /** Entry i is data[offsets[i], offsets[i+1]). */
  readonly offsets?: Uint32Array;
  readonly data?: Uint8Array;
  readonly next?: { createdAt: number; seq: number };
  /** For framed requests: the page as frames, and how many entries it holds. */
  readonly frames?: Uint8Array;
  readonly count?: number;
  /** For short-id scans: hi, lo of every id in order, and how many belong to each list. */
  readonly ids?: Uint32Array;
  readonly counts?: Uint32Array;
  /** For bucket-range pages: where the range continues. */
  readonly pageNext?: [number, number];
}

/** Buffers lose their class on the way to a thread; make the query's keys Buffers again. */
export function reviveQuery(query: EntryQuery): EntryQuery {
  const buffers = (list: readonly Uint8Array[] | undefined): Buffer[] | undefined =>
    list?.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const tables = buffers(query.tables);
  const recipients = buffers(query.recipients);
  const ids = buffers(query.ids);
  return {
    ...query,
    ...(tables ? { tables } : {}),
    ...(recipients ? { recipients } : {}),
    ...(ids ? { ids } : {}),
  };
}

export function packPage(
  id: number,
  page: QueryPage,
): { response: ReadResponse; transfer: ArrayBuffer[] } {
  const n = page.entries.length;
  const meta = new Float64Array(n * 3);
  const offsets = new Uint32Array(n + 1);
  let total = 0;
  page.entries.forEach((e, i) => {
    meta[i * 3] = e.seq;
    meta[i * 3 + 1] = e.createdAt;
    meta[i * 3 + 2] = e.expiresAt;
    offsets[i] = total;
    total += e.bytes.length;
  });
  offsets[n] = total;
  const data = new Uint8Array(total);
  page.entries.forEach((e, i) => data.set(e.bytes, offsets[i]!));
  return {
    response: { id, meta, offsets, data, ...(page.next ? { next: page.next } : {}) },
    transfer: [meta.buffer, offsets.buffer, data.buffer],
  };
}

export function unpackPage(response: ReadResponse): QueryPage {
  const meta = response.meta!;
  const offsets = response.offsets!;
  const data = Buffer.from(
    response.data!.buffer,
    response.data!.byteOffset,
    response.data!.byteLength,
  );
  const entries: StoredEntry[] = [];
  for (let i = 0; i + 1 < offsets.length; i++) {
    entries.push({
      seq: meta[i * 3]!,
      createdAt: meta[i * 3 + 1]!,
      expiresAt: meta[i * 3 + 2]!,
      bytes: data.subarray(offsets[i]!, offsets[i + 1]!),
    });
  }
  return response.next ? { entries, next: response.next } : { entries };
}

export function packFramed(
  id: number,
  page: QueryPage,
): { response: ReadResponse; transfer: ArrayBuffer[] } {
  let frames: Uint8Array = encodeFrames(page.entries.map((e) => e.bytes));
  // Transfer moves the whole underlying buffer: copy only if the frames share theirs.
  if (frames.byteOffset !== 0 || frames.byteLength !== frames.buffer.byteLength) {
    frames = Uint8Array.from(frames);
  }
  return {
    response: { id, frames, count: page.entries.length, ...(page.next ? { next: page.next } : {}) },
    transfer: [frames.buffer as ArrayBuffer],
  };
}

export function unpackFramed(response: ReadResponse): FramedPage {
  const f = response.frames!;
  const frames = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  return response.next
    ? { frames, count: response.count!, next: response.next }
    : { frames, count: response.count! };
}

/** Starts the scan a request asks for. */
export function startScan(scans: SyncScans, request: ScanRequest): Scan<unknown> {
  const wanted = 'wanted' in request && request.wanted ? new Set(request.wanted) : undefined;
  switch (request.kind) {
    case 'ids':
      return scans.idsInRanges(request.ranges, wanted, request.limit);
    case 'table-ids':
      return scans.idsOfTablesInRanges(
        Array.from({ length: request.tables.length / 32 }, (_, i) =>
          request.tables.subarray(i * 32, i * 32 + 32),
        ),
        request.ranges,
        request.limit,
      );
    case 'page':
      return scans.bucketPage(request.range, wanted, request.after, request.maxBytes);
  }
}

/** Packs what a scan returned (short-id lists or a page of entries) for the way back. */
export function packScan(
  id: number,
  result: [number, number][][] | BucketPage,
): { response: ReadResponse; transfer: ArrayBuffer[] } {
  if (Array.isArray(result)) {
    const counts = Uint32Array.from(result, (list) => list.length);
    const ids = new Uint32Array(counts.reduce((a, b) => a + b, 0) * 2);
    let i = 0;
    for (const list of result) {
      for (const [hi, lo] of list) {
        ids[i++] = hi;
        ids[i++] = lo;
      }
    }
    return { response: { id, ids, counts }, transfer: [ids.buffer, counts.buffer] };
  }
  const page = packPage(id, {
    entries: result.entries.map((bytes) => ({ seq: 0, createdAt: 0, expiresAt: 0, bytes })),
  });
  return {
    response: { ...page.response, ...(result.next ? { pageNext: result.next } : {}) },
    transfer: page.transfer,
  };
}

export function unpackIds(response: ReadResponse): [number, number][][] {
  const ids = response.ids!;
  let i = 0;
  return Array.from(response.counts!, (n) => {
    const list: [number, number][] = new Array(n);
    for (let j = 0; j < n; j++, i += 2) list[j] = [ids[i]!, ids[i + 1]!];
    return list;
  });
}

export function unpackBucketPage(response: ReadResponse): BucketPage {
  const entries = unpackPage(response).entries.map((e) => e.bytes);
  return response.pageNext ? { entries, next: response.pageNext } : { entries };
}
