/**
 * Framing of sync requests and answers (media type application/vnd.p2pcloud.sync): a u32 BE
 * header length, a JSON header, then a binary payload (fingerprints, coded symbols or short
 * ids), so bulk data never pays for base64.
 */
import { P2PError } from '../errors.js';

export const SYNC_MEDIA_TYPE = 'application/vnd.p2pcloud.sync';
export const MAX_SYNC_HEADER_BYTES = 1024 * 1024;
export const SHORT_ID_BYTES = 8;

export function encodeSyncMessage(
  header: Record<string, unknown>,
  payload: Uint8Array = new Uint8Array(0),
): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.length + payload.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  out.set(payload, 4 + json.length);
  return out;
}

export function decodeSyncMessage(body: Buffer): {
  header: Record<string, unknown>;
  payload: Buffer;
} {
  if (!Buffer.isBuffer(body) || body.length < 4)
    throw new P2PError('bad_sync_request', 'sync message is too short');
  const length = body.readUInt32BE(0);
  if (length > MAX_SYNC_HEADER_BYTES || 4 + length > body.length) {
    throw new P2PError('bad_sync_request', 'sync message header length is invalid');
  }
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(4, 4 + length).toString('utf8'));
  } catch {
    throw new P2PError('bad_sync_request', 'sync message header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new P2PError('bad_sync_request', 'sync message header must be a JSON object');
  }
  return { header: header as Record<string, unknown>, payload: body.subarray(4 + length) };
}

/** Short ids travel as 8-byte big-endian values; in memory as [hi, lo] 32-bit halves. */
export function encodeShortIds(ids: readonly (readonly [number, number])[]): Buffer {
  const out = Buffer.allocUnsafe(ids.length * SHORT_ID_BYTES);
  ids.forEach(([hi, lo], i) => {
    out.writeUInt32BE(hi >>> 0, i * 8);
    out.writeUInt32BE(lo >>> 0, i * 8 + 4);
  });
  return out;
}

export function decodeShortIds(data: Buffer, max: number): [number, number][] {
  if (data.length % SHORT_ID_BYTES !== 0)
    throw new P2PError('bad_sync_request', 'short ids must be 8 bytes each');
  const n = data.length / SHORT_ID_BYTES;
  if (n > max) throw new P2PError('bad_sync_request', `at most ${max} short ids per request`);
  const out: [number, number][] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [data.readUInt32BE(i * 8), data.readUInt32BE(i * 8 + 4)];
  return out;
}

/** The short id (first 8 bytes) of a full id. */
export function shortIdOf(id: Uint8Array): [number, number] {
  const view = Buffer.from(id.buffer, id.byteOffset, 8);
  return [view.readUInt32BE(0), view.readUInt32BE(4)];
}

export function shortIdKey(hi: number, lo: number): string {
  return `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

/** The short id written by shortIdKey (16 lowercase hex digits), or undefined for anything else. */
export function parseShortIdKey(text: unknown): [number, number] | undefined {
  if (typeof text !== 'string' || !/^[0-9a-f]{16}$/.test(text)) return undefined;
  return [parseInt(text.slice(0, 8), 16), parseInt(text.slice(8), 16)];
}

export function integer(
  header: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number {
  const value = header[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new P2PError('bad_sync_request', `${name} must be an integer in ${min}..${max}`);
  }
  return value;
}
