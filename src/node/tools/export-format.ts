/**
 * The two export formats of a store (docs/operations.md, "Export formats"), version 1. Pure.
 *
 * - JSONL: one line per entry, `{"v":1,"id":"<64 hex>","entry":"<base64url>"}` and a newline.
 * - Framed: the 16-byte header `P2PCLOUD-FRAMED` + 0x01, then a stream of protocol §5 frames.
 *   A bare §5 stream (what /get?format=binary answers) is read as well.
 */
import type { ErrorCode } from '../../errors.js';
import { sha256 } from '../../crypto/sha256.js';
import { MAX_ENTRY_BYTES_FORMAT } from '../../entry/format.js';

export const EXPORT_VERSION = 1;
export type ExportFormat = 'jsonl' | 'framed';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'framed'];

const FRAMED_MAGIC = Buffer.from('P2PCLOUD-FRAMED', 'ascii');
/** The header a framed export starts with: the magic, then the format version. */
export const FRAMED_HEADER = Buffer.concat([FRAMED_MAGIC, Buffer.from([EXPORT_VERSION])]);
export const FRAMED_HEADER_BYTES = FRAMED_HEADER.length;

/** The JSONL line of one entry (its id in hex), newline included. */
export function jsonlLine(bytes: Buffer, id: string): string {
  return `{"v":${EXPORT_VERSION},"id":"${id}","entry":"${bytes.toString('base64url')}"}\n`;
}

/** The longest JSONL line that can hold an entry of `maxEntryBytes` (newline excluded). */
export function maxLineBytes(maxEntryBytes: number): number {
  return Math.ceil((maxEntryBytes * 4) / 3) + 256;
}

export interface LineFault {
  readonly code: ErrorCode;
  readonly message: string;
}

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;
const HEX_ID_RE = /^[0-9a-f]{64}$/;

/**
 * The entry bytes of one JSONL line (without its newline), or what is wrong with the line.
 * Only the line's form is checked here; the entry itself is checked as a node checks it.
 */
export function parseJsonlLine(line: string): { bytes: Buffer } | LineFault {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { code: 'bad_json', message: 'the line is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { code: 'bad_json', message: 'the line is not a JSON object' };
  const { v, id, entry } = value as { v?: unknown; id?: unknown; entry?: unknown };
  if (v !== EXPORT_VERSION)
    return {
      code: 'unsupported_version',
      message: `"v" is ${JSON.stringify(v) ?? 'missing'}; this build reads version ${EXPORT_VERSION}`,
    };
  if (typeof entry !== 'string')
    return { code: 'bad_json', message: '"entry" is missing or not a string' };
  if (typeof id !== 'string' || !HEX_ID_RE.test(id))
    return { code: 'bad_json', message: '"id" is missing or not 64 lower-case hex characters' };
  if (!BASE64URL_RE.test(entry) || entry.length % 4 === 1)
    return { code: 'bad_base64', message: '"entry" is not base64url (RFC 4648 §5, no padding)' };
  const bytes = Buffer.from(entry, 'base64url');
  // The id is the line's checksum: a changed character in "entry" shows here.
  if (sha256(bytes).toString('hex') !== id)
    return {
      code: 'bad_encoding',
      message: '"id" is not the SHA-256 of "entry": the line is damaged',
    };
  return { bytes };
}

/** What a file's first bytes say it is; undefined when they fit neither format. */
export function detectFormat(head: Buffer): ExportFormat | undefined {
  const first = head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first === undefined) return 'jsonl';
  if (first === 0x7b /* { */) return 'jsonl';
  if (head.subarray(0, FRAMED_MAGIC.length).equals(FRAMED_MAGIC)) return 'framed';
  // A bare frame stream starts with a length of at most 16 MiB: its first byte is 0 or 1.
  if (
    head[0] === 0x00 ||
    (head[0] === 0x01 && head.length >= 4 && head.readUInt32BE(0) <= MAX_ENTRY_BYTES_FORMAT)
  )
    return 'framed';
  return undefined;
}
