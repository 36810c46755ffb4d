/**
 * Opaque pagination cursors: the position of the last entry returned, the direction, and a
 * fingerprint of the filters, so a cursor cannot be replayed against a different query.
 *   base64url( version u8 | order u8 | created_at u64 | seq u64 | filter fingerprint 8 bytes )
 */
import { P2PError } from '../errors.js';
import { sha256 } from '../crypto/sha256.js';
import type { QueryPosition } from '../store/store.js';

const CURSOR_VERSION = 1;
const CURSOR_BYTES = 26;

export function filterFingerprint(description: string): Buffer {
  return sha256(Buffer.from(`p2pcloud/v1/cursor\n${description}`)).subarray(0, 8);
}

export function encodeCursor(
  order: 'asc' | 'desc',
  position: QueryPosition,
  fingerprint: Buffer,
): string {
  const out = Buffer.alloc(CURSOR_BYTES);
  out[0] = CURSOR_VERSION;
  out[1] = order === 'asc' ? 0 : 1;
  out.writeBigUInt64BE(BigInt(position.createdAt), 2);
  out.writeBigUInt64BE(BigInt(position.seq), 10);
  fingerprint.copy(out, 18);
  return out.toString('base64url');
}

export function decodeCursor(
  text: string,
  order: 'asc' | 'desc',
  fingerprint: Buffer,
): QueryPosition {
  const bytes = /^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, 'base64url') : Buffer.alloc(0);
  if (bytes.length !== CURSOR_BYTES || bytes[0] !== CURSOR_VERSION) {
    throw new P2PError('bad_cursor', 'cursor is not one this node issued');
  }
  if ((bytes[1] === 0 ? 'asc' : 'desc') !== order || !bytes.subarray(18).equals(fingerprint)) {
    throw new P2PError('bad_cursor', 'cursor belongs to a query with other filters or order');
  }
  const createdAt = bytes.readBigUInt64BE(2);
  const seq = bytes.readBigUInt64BE(10);
  if (createdAt > BigInt(Number.MAX_SAFE_INTEGER) || seq > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new P2PError('bad_cursor', 'cursor is out of range');
  }
  return { createdAt: Number(createdAt), seq: Number(seq) };
}
