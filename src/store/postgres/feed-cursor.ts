/**
 * Feed positions of the PostgreSQL store as text: `pg1:XID:SEQ`, after the row of transaction
 * XID (a 64-bit xid8) and sequence number SEQ in (xid, seq) order. Pure.
 */
import { P2PError } from '../../errors.js';

export interface FeedPosition {
  readonly xid: string;
  readonly seq: string;
}

const FORMAT = /^pg1:(\d{1,20}):(\d{1,19})$/;

export function encodeFeedCursor(position: FeedPosition): string {
  return `pg1:${position.xid}:${position.seq}`;
}

export function decodeFeedCursor(cursor: string): FeedPosition {
  const match = FORMAT.exec(cursor);
  if (!match || BigInt(match[1]!) >= 1n << 64n || BigInt(match[2]!) >= 1n << 63n) {
    throw new P2PError('bad_cursor', 'feed cursor is not one this store hands out');
  }
  return { xid: BigInt(match[1]!).toString(), seq: BigInt(match[2]!).toString() };
}
