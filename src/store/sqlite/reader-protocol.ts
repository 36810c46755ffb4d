/** Messages between the store and its reader threads: queries in, packed pages out. */
import type { EntryQuery, FramedPage, QueryPage, StoredEntry } from '../store.js';
import { encodeFrames } from '../../entry/framing.js';

export interface ReadRequest {
  readonly id: number;
  readonly query: EntryQuery;
  /** Answer with the page in binary framing rather than entry by entry. */
  readonly framed?: boolean;
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
