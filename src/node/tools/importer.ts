/**
 * Imports the records of an export file into a store through the node's own ingest path
 * (node/ingest.ts): size, decoding, clock, expiry, mirrored tables, proof of work against the
 * policy and the signature on the verification threads, then one transaction per batch. Several
 * batches are checked at once while the previous ones are stored, in file order, so that the
 * store's order (and a later export of it) follows the file.
 */
import type { ErrorCode } from '../../errors.js';
import type { IngestItem, Ingestor, CheckedBatch } from '../ingest.js';
import type { ImportRecord } from './import-reader.js';

/**
 * Entry bytes at which a batch ends, whatever its count: batches in flight are bounded by
 * count, so this bounds the entry bytes held at once to about (inFlight + 1) × this.
 */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** Rejected records listed one by one in a report; the others are only counted. */
export const LISTED_REJECTS = 10;

export interface ImportReject {
  readonly position: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface ImportReport {
  /** Records read: entries and damaged lines or frames. */
  read: number;
  stored: number;
  duplicate: number;
  rejected: number;
  readonly rejectedByCode: Partial<Record<ErrorCode, number>>;
  /** The first LISTED_REJECTS rejections, in file order. */
  readonly firstRejects: ImportReject[];
  /** Why the file could not be read to its end, when it could not. */
  fatal?: string;
}

export interface ImportOptions {
  /** Entries per transaction. */
  readonly batch: number;
  /** Entry bytes per transaction (MAX_BATCH_BYTES unless told). */
  readonly batchBytes?: number;
  /** Batches being verified at once (the verification threads plus one keeps them all busy). */
  readonly inFlight: number;
  readonly onProgress?: (report: ImportReport) => void;
  /** The clock of the expiry and future-timestamp checks. */
  readonly now?: () => number;
}

export function emptyReport(): ImportReport {
  return { read: 0, stored: 0, duplicate: 0, rejected: 0, rejectedByCode: {}, firstRejects: [] };
}

function reject(report: ImportReport, position: number, code: ErrorCode, message: string): void {
  report.rejected += 1;
  report.rejectedByCode[code] = (report.rejectedByCode[code] ?? 0) + 1;
  if (report.firstRejects.length < LISTED_REJECTS)
    report.firstRejects.push({ position, code, message });
}

export async function importEntries(
  records: AsyncIterable<ImportRecord[]>,
  ingestor: Ingestor,
  options: ImportOptions,
): Promise<ImportReport> {
  const report = emptyReport();
  const now = options.now ?? Date.now;
  /** Batches being checked, oldest first, with the positions of their items. */
  const checking: { positions: number[]; checked: Promise<CheckedBatch> }[] = [];
  const batchBytes = options.batchBytes ?? MAX_BATCH_BYTES;
  let items: IngestItem[] = [];
  let positions: number[] = [];
  let bytes = 0;

  const storeOldest = async (): Promise<void> => {
    const next = checking.shift()!;
    const [results] = await ingestor.store([await next.checked]);
    results!.forEach((result, i) => {
      if (result.status === 'stored') report.stored += 1;
      else if (result.status === 'duplicate') report.duplicate += 1;
      else reject(report, next.positions[i]!, result.code ?? 'bad_request', result.message ?? '');
    });
    options.onProgress?.(report);
  };
  const send = async (): Promise<void> => {
    if (items.length === 0) return;
    const checked = ingestor.check(items, 'put', now());
    // Awaited in turn below; a failure must not surface earlier as an unhandled rejection.
    checked.catch(() => undefined);
    checking.push({ positions, checked });
    items = [];
    positions = [];
    bytes = 0;
    while (checking.length >= options.inFlight) await storeOldest();
  };

  for await (const chunk of records) {
    for (const record of chunk) {
      report.read += 1;
      if (record.fault) {
        // Rejections of the file's form are counted in order with the entries around them.
        if (record.fatal) report.fatal = record.fault.message;
        items.push({ rejection: record.fault });
        positions.push(record.position);
      } else {
        items.push({ bytes: record.bytes! });
        positions.push(record.position);
        bytes += record.bytes!.length;
      }
      if (items.length >= options.batch || bytes >= batchBytes) await send();
    }
  }
  await send();
  while (checking.length > 0) await storeOldest();
  return report;
}
