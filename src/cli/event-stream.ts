/**
 * Reading a Server-Sent Events stream (the gateway's watch routes, docs/gateway.md §14): the
 * `event` and `data` fields of each message, in order. Pure: it is fed the body's chunks as
 * they come. Comments (lines starting with ":") keep a quiet stream alive and are skipped.
 */
import { P2PError } from '../errors.js';

export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

/** The longest line taken: a stream that sends more without a line break is refused. */
export const MAX_EVENT_LINE = 16 * 1024 * 1024;

export class EventStreamReader {
  private pending = '';
  private event = '';
  private data: string[] = [];
  private readonly decoder = new TextDecoder('utf-8');

  /** The events completed by this chunk of the body. */
  push(chunk: Uint8Array): StreamEvent[] {
    this.pending += this.decoder.decode(chunk, { stream: true });
    const out: StreamEvent[] = [];
    let start = 0;
    for (;;) {
      const end = this.pending.indexOf('\n', start);
      if (end < 0) break;
      const line = this.pending.slice(start, end).replace(/\r$/, '');
      start = end + 1;
      const done = this.line(line);
      if (done) out.push(done);
    }
    this.pending = this.pending.slice(start);
    if (this.pending.length > MAX_EVENT_LINE) {
      throw new P2PError('node_error', 'the event stream sent a line longer than 16 MiB');
    }
    return out;
  }

  private line(line: string): StreamEvent | undefined {
    if (line === '') {
      const done =
        this.data.length > 0
          ? { event: this.event || 'message', data: this.data.join('\n') }
          : undefined;
      this.event = '';
      this.data = [];
      return done;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }
}
