/**
 * The messages of a subscription (docs/protocol.md §15), version 1: JSON objects, sent as
 * WebSocket text frames or as Server-Sent Events whose event name is the message type and
 * whose id is the message's cursor. Pure.
 */
import type { ErrorCode } from '../../errors.js';

export const SUBSCRIPTION_VERSION = 1;

export type SubscriptionMessage =
  | { type: 'start'; v: number; cursor: string | null; heartbeat_ms: number }
  | { type: 'entries'; cursor: string; entries: string[] }
  | { type: 'live'; cursor: string }
  | { type: 'heartbeat'; cursor: string | null }
  | { type: 'closing'; code: ErrorCode; message: string };

/** An `entries` message from entries already in base64url, built without copying them twice. */
export function entriesMessage(cursor: string, texts: readonly string[]): string {
  return `{"type":"entries","cursor":${JSON.stringify(cursor)},"entries":["${texts.join('","')}"]}`;
}

export function messageText(message: SubscriptionMessage): string {
  return JSON.stringify(message);
}

/** The Server-Sent Events form of a message (its JSON has no line breaks). */
export function sseEvent(type: string, cursor: string | null, json: string): string {
  return `${cursor !== null ? `id: ${cursor}\n` : ''}event: ${type}\ndata: ${json}\n\n`;
}

/**
 * A message on its way to subscribers: the bytes of each transport are made once, however
 * many subscribers it goes to.
 */
export class Outgoing {
  private sse: Buffer | undefined;
  private ws: Buffer | undefined;

  constructor(
    readonly type: string,
    readonly cursor: string | null,
    readonly json: string,
  ) {}

  /** About the bytes it takes on any transport. */
  get size(): number {
    return this.json.length;
  }

  sseBytes(): Buffer {
    this.sse ??= Buffer.from(sseEvent(this.type, this.cursor, this.json));
    return this.sse;
  }

  wsBytes(): Buffer {
    this.ws ??= Buffer.from(this.json);
    return this.ws;
  }
}
