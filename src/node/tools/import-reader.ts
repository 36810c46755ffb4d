/**
 * Reads an export file (either format) as a stream of records: the bytes of each entry, or what
 * is wrong with its line or frame, with its position (line or frame number, from 1). Memory
 * stays bounded by one entry of the largest accepted size and one chunk of the file, however
 * long a line or frame claims to be.
 */
import { MAX_ENTRY_BYTES_FORMAT } from '../../entry/format.js';
import {
  EXPORT_VERSION,
  FRAMED_HEADER,
  detectFormat,
  FRAMED_HEADER_BYTES,
  maxLineBytes,
  parseJsonlLine,
  type ExportFormat,
  type LineFault,
} from './export-format.js';

export interface ImportRecord {
  /** Line (JSONL) or frame (framed) number, from 1. */
  readonly position: number;
  readonly bytes?: Buffer;
  readonly fault?: LineFault;
  /** Set on a fault after which nothing more of the file can be read. */
  readonly fatal?: boolean;
}

/** Records of a JSONL file, a chunk's worth at a time. Empty lines are skipped. */
export async function* jsonlRecords(
  source: AsyncIterable<Buffer>,
  maxEntryBytes: number,
): AsyncGenerator<ImportRecord[]> {
  const maxLine = maxLineBytes(maxEntryBytes);
  let line = 1;
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  const finish = (out: ImportRecord[]): void => {
    const position = line;
    line += 1;
    if (tooLong) {
      out.push({
        position,
        fault: {
          code: 'entry_too_large',
          message: `the line is longer than ${maxLine} bytes, the most an entry of ${maxEntryBytes} bytes needs`,
        },
      });
    } else if (size > 0) {
      const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)).toString('utf8');
      if (text.trim() !== '') {
        const parsed = parseJsonlLine(text);
        out.push(
          'bytes' in parsed ? { position, bytes: parsed.bytes } : { position, fault: parsed },
        );
      }
    }
    parts = [];
    size = 0;
    tooLong = false;
  };
  const keep = (piece: Buffer): void => {
    if (tooLong || piece.length === 0) return;
    size += piece.length;
    if (size > maxLine) {
      // The rest of the line is dropped as it streams past, never held.
      tooLong = true;
      parts = [];
      return;
    }
    parts.push(piece);
  };
  for await (const chunk of source) {
    const out: ImportRecord[] = [];
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) {
        // Copied: a short tail must not pin the whole chunk until its line ends.
        keep(Buffer.from(chunk.subarray(start)));
        break;
      }
      keep(chunk.subarray(start, newline));
      finish(out);
      start = newline + 1;
    }
    if (out.length > 0) yield out;
  }
  const last: ImportRecord[] = [];
  if (size > 0 || tooLong) finish(last);
  if (last.length > 0) yield last;
}

/**
 * Records of a framed file: the export header (optional, so that a bare stream of §5 frames
 * reads too), then frames. A frame longer than the node takes is skipped and reported; a length
 * no entry can have (over 16 MiB) leaves nothing after it readable, and ends the file there.
 */
export async function* framedRecords(
  source: AsyncIterable<Buffer>,
  maxEntryBytes: number,
): AsyncGenerator<ImportRecord[]> {
  /** Bytes read and not yet used, and how many must be there before they are looked at. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let need = FRAMED_HEADER_BYTES;
  let headerChecked = false;
  let frame = 1;
  /** Bytes of an oversized frame still to be dropped. */
  let skip = 0;
  let stopped = false;
  for await (const chunk of source) {
    if (stopped) continue;
    let data: Buffer = chunk;
    if (skip > 0) {
      const n = Math.min(skip, data.length);
      skip -= n;
      data = data.subarray(n);
    }
    if (data.length === 0) continue;
    pending.push(data);
    pendingBytes += data.length;
    // A large frame arrives in many chunks: they are joined once, when it is complete.
    if (pendingBytes < need) continue;
    data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const out: ImportRecord[] = [];
    if (!headerChecked) {
      headerChecked = true;
      if (data.subarray(0, FRAMED_HEADER_BYTES - 1).equals(FRAMED_HEADER.subarray(0, -1))) {
        const version = data[FRAMED_HEADER_BYTES - 1]!;
        if (version !== EXPORT_VERSION) {
          stopped = true;
          yield [
            {
              position: 0,
              fatal: true,
              fault: {
                code: 'unsupported_version',
                message: `the file is a framed export of version ${version}; this build reads version ${EXPORT_VERSION}`,
              },
            },
          ];
          continue;
        }
        data = data.subarray(FRAMED_HEADER_BYTES);
      }
    }
    let offset = 0;
    need = 4;
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (length > MAX_ENTRY_BYTES_FORMAT) {
        stopped = true;
        out.push({
          position: frame,
          fatal: true,
          fault: {
            code: 'entry_too_large',
            message: `frame ${frame} announces ${length} bytes, more than any entry has: nothing after it can be read`,
          },
        });
        break;
      }
      if (length > maxEntryBytes) {
        out.push({
          position: frame,
          fault: {
            code: 'entry_too_large',
            message: `the entry is ${length} bytes; at most ${maxEntryBytes} are accepted`,
          },
        });
        frame += 1;
        const here = Math.min(length, data.length - offset - 4);
        offset += 4 + here;
        skip = length - here;
        continue;
      }
      if (data.length - offset - 4 < length) {
        need = 4 + length;
        break;
      }
      out.push({
        position: frame,
        bytes: Buffer.from(data.subarray(offset + 4, offset + 4 + length)),
      });
      frame += 1;
      offset += 4 + length;
    }
    if (!stopped && offset < data.length) {
      // Copied: the unfinished tail must not pin the whole chunk it came in.
      const rest = Buffer.from(data.subarray(offset));
      pending = [rest];
      pendingBytes = rest.length;
    }
    if (out.length > 0) yield out;
  }
  if (stopped || pendingBytes === 0) return;
  const rest = Buffer.concat(pending, pendingBytes);
  if (!headerChecked && FRAMED_HEADER.subarray(0, rest.length).equals(rest)) return;
  const had =
    rest.length >= 4
      ? `${rest.length - 4} of its ${rest.readUInt32BE(0)} bytes`
      : `${rest.length} of the 4 bytes of its length`;
  yield [
    {
      position: frame,
      fault: {
        code: 'bad_request',
        message: `the file ends inside frame ${frame} (it holds ${had})`,
      },
    },
  ];
}

export function importRecords(
  format: ExportFormat,
  source: AsyncIterable<Buffer>,
  maxEntryBytes: number,
): AsyncGenerator<ImportRecord[]> {
  return format === 'jsonl'
    ? jsonlRecords(source, maxEntryBytes)
    : framedRecords(source, maxEntryBytes);
}

/** The first bytes of a stream, and the whole stream again (those bytes included). */
async function peek(
  source: AsyncIterable<Buffer>,
  bytes: number,
): Promise<{ head: Buffer; stream: AsyncIterable<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    seen.push(next.value);
    size += next.value.length;
  }
  async function* stream(): AsyncGenerator<Buffer> {
    yield* seen;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: Buffer.concat(seen).subarray(0, bytes), stream: stream() };
}

/**
 * The records of an export, in the format given or (with 'auto') the one its first bytes
 * show; undefined when they show neither.
 */
export async function readExport(
  source: AsyncIterable<Buffer>,
  format: ExportFormat | 'auto',
  maxEntryBytes: number,
): Promise<{ format: ExportFormat; records: AsyncGenerator<ImportRecord[]> } | undefined> {
  const { head, stream } = await peek(source, 64);
  const chosen = format === 'auto' ? detectFormat(head) : format;
  if (!chosen) return undefined;
  return { format: chosen, records: importRecords(chosen, stream, maxEntryBytes) };
}
