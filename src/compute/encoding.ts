/** Byte-level helpers shared by the compute formats (docs/compute.md §2). Pure. */
import { u32be, utf8 } from '../encoding/bytes.js';

/** lp(x): the u32 big-endian byte length of x followed by x (a text is taken as UTF-8). */
export function lp(value: string | Uint8Array): Buffer {
  const bytes = typeof value === 'string' ? utf8(value) : value;
  return Buffer.concat([u32be(bytes.length), bytes]);
}

/** Parses JSON text no longer than `maxBytes` into a plain object, or undefined. */
export function parseBoundedObject(
  text: unknown,
  maxBytes: number,
): Record<string, unknown> | undefined {
  if (typeof text !== 'string') return undefined;
  // Measured before parsing: the text's length bounds the parse, not what it claims.
  if (text.length > maxBytes || Buffer.byteLength(text) > maxBytes) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Strict base64url without padding (the form every compute object carries). */
export function fromBase64Url(text: unknown, maxBytes: number): Buffer | undefined {
  if (typeof text !== 'string' || text.length > Math.ceil((maxBytes * 4) / 3)) return undefined;
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Rejects texts whose unused trailing bits are set: one byte string, one text.
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
