/**
 * Where a subscriber's messages go: a Server-Sent Events response or a WebSocket. Both expose
 * the bytes written but not yet taken by the network, which is what bounds a subscriber.
 */
import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { Outgoing } from './messages.js';

export interface SubscriberSink {
  /** Bytes written to the connection that it has not sent yet. */
  buffered(): number;
  send(message: Outgoing): void;
  /**
   * Ends the connection after what was written, naming why (an error code); `abrupt` for a
   * subscriber that is dropped rather than let go.
   */
  end(reason: string, abrupt: boolean): void;
  onClose(listener: () => void): void;
}

/**
 * A subscriber that does not read does not take its closing message either: its connection is
 * destroyed this long after being ended, so its buffers are freed whatever it does.
 */
const LINGER_MS = 10_000;

export class SseSink implements SubscriberSink {
  constructor(private readonly response: ServerResponse) {}

  buffered(): number {
    return this.response.writableLength;
  }

  send(message: Outgoing): void {
    if (!this.response.writableEnded) this.response.write(message.sseBytes());
  }

  end(_reason: string, abrupt: boolean): void {
    if (!this.response.writableEnded) this.response.end();
    const socket = this.response.socket;
    if (socket) setTimeout(() => socket.destroy(), abrupt ? LINGER_MS : LINGER_MS * 2).unref();
  }

  onClose(listener: () => void): void {
    this.response.once('close', listener);
  }
}

/** Close codes: 1001 going away (the node stops), 1008 policy (the subscriber was dropped). */
export class WebSocketSink implements SubscriberSink {
  constructor(private readonly socket: WebSocket) {}

  buffered(): number {
    return this.socket.bufferedAmount;
  }

  send(message: Outgoing): void {
    if (this.socket.readyState === this.socket.OPEN) {
      this.socket.send(message.wsBytes(), { binary: false });
    }
  }

  end(reason: string, abrupt: boolean): void {
    if (this.socket.readyState === this.socket.OPEN) {
      this.socket.close(abrupt ? 1008 : 1001, reason);
    }
    const socket = this.socket;
    setTimeout(() => socket.terminate(), abrupt ? LINGER_MS : LINGER_MS * 2).unref();
  }

  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }
}
