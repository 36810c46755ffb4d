/**
 * Streams a store's entries, as /get filters them, into an export file. Pages are read with
 * `after` (never OFFSET) and sized so that one page holds about PAGE_BYTES whatever the entries
 * weigh; the sink's backpressure is honoured, so memory stays bounded on a slow pipe.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createHash, hash } from 'node:crypto';
import type { EntryQuery, QueryPosition, Store, StoredEntry } from '../../store/store.js';
import { FRAMED_HEADER, jsonlLine, type ExportFormat } from './export-format.js';

/** About this many bytes of entries per page. */
const PAGE_BYTES = 8 * 1024 * 1024;
const MAX_PAGE = 4096;
/** The first page assumes entries of the usual node limit (64 KiB); later pages learn. */
const FIRST_PAGE = PAGE_BYTES / 65_536;

export interface ExportFilter {
  readonly tables?: readonly Buffer[];
  readonly recipients?: readonly Buffer[];
  /** created_at ≥ since (ms). */
  readonly since?: number;
  /** created_at < until (ms). */
  readonly until?: number;
}

export interface ExportProgress {
  entries: number;
  /** Bytes of entries written (not of the file). */
  bytes: number;
}

/**
 * The hex id of entry bytes. One-shot hashing (Node 20.12 and later) costs a fraction of a hash
 * object per entry, which at export rates is most of the work.
 */
const hexId: (bytes: Buffer) => string =
  typeof hash === 'function'
    ? (bytes) => hash('sha256', bytes, 'hex')
    : (bytes) => createHash('sha256').update(bytes).digest('hex');

function distinct(keys: readonly Buffer[] | undefined): Buffer[] {
  const list = keys ?? [];
  return list.filter((key, i) => list.findIndex((other) => other.equals(key)) === i);
}

/**
 * The scans an export runs: one per table (each filtered by the recipients), else one per
 * recipient, else one over the whole store. One key per scan reads each page once; the store
 * would otherwise read a page per key and merge them.
 */
function scans(filter: ExportFilter): Pick<EntryQuery, 'tables' | 'recipients'>[] {
  const tables = distinct(filter.tables);
  const recipients = distinct(filter.recipients);
  if (tables.length > 0)
    return tables.map((t) => ({
      tables: [t],
      ...(recipients.length > 0 ? { recipients } : {}),
    }));
  if (recipients.length > 0) return recipients.map((r) => ({ recipients: [r] }));
  return [{}];
}

/** Writes to a sink, waiting for it to drain; a sink that failed (a closed pipe) stops it. */
function writer(sink: Writable): (chunk: Buffer | string) => Promise<void> {
  let failed: Error | undefined;
  sink.on('error', (error: Error) => {
    failed ??= error;
  });
  return async (chunk) => {
    if (failed) throw failed;
    if (!sink.write(chunk)) await once(sink, 'drain');
    if (failed) throw failed;
  };
}

function jsonlPage(entries: readonly StoredEntry[]): string {
  let text = '';
  for (const { bytes } of entries) text += jsonlLine(bytes, hexId(bytes));
  return text;
}

function framedPage(entries: readonly StoredEntry[]): Buffer {
  let total = 0;
  for (const { bytes } of entries) total += 4 + bytes.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const { bytes } of entries) {
    out.writeUInt32BE(bytes.length, offset);
    out.set(bytes, offset + 4);
    offset += 4 + bytes.length;
  }
  return out;
}

/**
 * Writes the matching entries to `sink` in `format`: table by table (or recipient by
 * recipient) when those are given, each in (created_at, seq) order. Entries that expired at
 * `now` are left out. Does not end the sink.
 */
export async function exportEntries(
  store: Store,
  filter: ExportFilter,
  format: ExportFormat,
  sink: Writable,
  options: { now?: number; onProgress?: (progress: ExportProgress) => void } = {},
): Promise<ExportProgress> {
  const progress: ExportProgress = { entries: 0, bytes: 0 };
  const now = options.now ?? Date.now();
  const write = writer(sink);
  if (format === 'framed') await write(FRAMED_HEADER);
  let limit = FIRST_PAGE;
  for (const scan of scans(filter)) {
    const pageAfter = (after: QueryPosition | undefined) =>
      store.query({
        ...scan,
        ...(filter.since !== undefined ? { since: filter.since } : {}),
        ...(filter.until !== undefined ? { until: filter.until } : {}),
        ...(after ? { after } : {}),
        now,
        order: 'asc',
        limit,
      });
    let next = pageAfter(undefined);
    for (;;) {
      const page = await next;
      // A store that answers elsewhere (a reader thread, a database server) reads the next page
      // while this one is encoded and written.
      if (page.next) next = pageAfter(page.next);
      let largest = 0;
      for (const { bytes } of page.entries) {
        largest = Math.max(largest, bytes.length);
        progress.bytes += bytes.length;
      }
      const out = format === 'jsonl' ? jsonlPage(page.entries) : framedPage(page.entries);
      if (out.length > 0) await write(out);
      progress.entries += page.entries.length;
      options.onProgress?.(progress);
      if (largest > 0) limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(PAGE_BYTES / largest)));
      if (!page.next) break;
    }
  }
  return progress;
}
