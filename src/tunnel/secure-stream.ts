/**
 * A SecureStream: the plaintext Duplex over a transport Duplex once the handshake is done
 * (docs/tunnel-channel.md §4). Writes made in one tick are coalesced into records of up to 64
 * KiB; the transport's write() return value and the reader's push() return value are obeyed,
 * so neither direction buffers more than about a record beyond the two streams' own limits.
 *
 * Ending: end() sends an end record (half-close) and the other direction keeps flowing; the
 * transport itself is ended once both ends have been sent, so a transport that closes its
 * write side when its read side ends (a net.Socket without allowHalfOpen) works too. A
 * transport that ends before the peer's end record is a truncation: an error, never a clean
 * end of the readable side.
 */
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { P2PError } from '../errors.js';
import type { FrameReader } from './frames.js';
import { FrameTooLarge } from './frames.js';
import {
  closeBody,
  MAX_BODY_BYTES,
  MAX_CIPHERTEXT_BYTES,
  MAX_CONTROL_BODY_BYTES,
  parseCloseBody,
  RECORD_TYPE,
  recordLength,
  type OpenedRecord,
  type RecordOpener,
  type RecordSealer,
  type RecordType,
} from './records.js';

export interface SecureStreamParams {
  readonly transport: Duplex;
  readonly sealer: RecordSealer;
  readonly opener: RecordOpener;
  /** Bytes read with the handshake and not used by it. */
  readonly reader: FrameReader;
  readonly peer: string;
  readonly service: string;
  /** The initiator sends the key confirmation record first. */
  readonly confirm: boolean;
}

/** How long a closing stream waits for its close record to leave before cutting the transport. */
const CLOSE_LINGER_MS = 2000;
const NO_BODY = Buffer.alloc(0);
/** An output slab holds 16 full records; a stream keeps at most 4 free ones. */
const SLAB_BYTES = 16 * recordLength(MAX_BODY_BYTES, false);
const MAX_FREE_SLABS = 4;

export class SecureStream extends Duplex {
  /** The other device's identity text (p2pid1…). */
  readonly peer: string;
  readonly service: string;
  /** Whether records are padded to size buckets. */
  readonly padded: boolean;

  private readonly transport: Duplex;
  private readonly sealer: RecordSealer;
  private readonly opener: RecordOpener;
  private readonly reader: FrameReader;
  /** Free output slabs, over a socket only (see output()). */
  private readonly slabs: Buffer[] | undefined;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** The transport's write() returned false: wait for 'drain' before taking more. */
  private blocked = false;
  private heldCallback: ((error?: Error | null) => void) | undefined;

  /** The reader's buffer is full: stop reading the transport until _read. */
  private consumerFull = false;
  /** A pong is waiting for the transport to drain: read no more pings until it has. */
  private pongHold = false;
  private peerEnded = false;
  private endSent = false;
  private transportEnded = false;
  private transportReadEnded = false;
  private closeReceived = false;

  private nextPing = 0;
  private readonly pings = new Map<
    number,
    { at: number; resolve(ms: number): void; reject(error: Error): void }
  >();

  constructor(params: SecureStreamParams) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: MAX_BODY_BYTES,
      writableHighWaterMark: MAX_BODY_BYTES,
    });
    this.transport = params.transport;
    this.sealer = params.sealer;
    this.opener = params.opener;
    this.reader = params.reader;
    this.peer = params.peer;
    this.service = params.service;
    this.padded = params.sealer.pad;
    this.slabs = params.transport instanceof Socket ? [] : undefined;
    // Writes of a tick are coalesced here already; Nagle's wait on top would hold a small
    // record (a keystroke, an echo) for up to a delayed ACK.
    if (params.transport instanceof Socket) params.transport.setNoDelay(true);
    this.transport.on('data', this.onData);
    this.transport.on('end', this.onEnd);
    this.transport.on('error', this.onError);
    this.transport.on('close', this.onClose);
    this.transport.on('drain', this.onDrain);
    if (params.confirm) this.sendRecord(RECORD_TYPE.confirm, NO_BODY);
    // Records that came with the handshake's last message wait in the reader; the transport
    // was paused for the hand-over, and control records are read even before any data is.
    process.nextTick(() => this.resumeReading());
  }

  /** Round-trip time of a ping record, in milliseconds. */
  ping(timeoutMs = 10_000): Promise<number> {
    if (this.destroyed || this.transportEnded) {
      return Promise.reject(new P2PError('tunnel_lost', 'the tunnel is closed'));
    }
    const id = this.nextPing++;
    const body = Buffer.alloc(8);
    body.writeUInt32BE(id >>> 0, 4);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new P2PError('tunnel_timeout', `no answer to a ping within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(id, {
        at: performance.now(),
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.sendRecord(RECORD_TYPE.ping, body);
    });
  }

  // --- writing -------------------------------------------------------------------------------

  private send(bytes: Buffer, done?: () => void): void {
    if (this.transportEnded || this.transport.destroyed) return;
    if (!this.transport.write(bytes, done)) this.blocked = true;
  }

  /**
   * An output buffer of `size` bytes. Over a socket, whose write callback means the kernel has
   * the bytes, slabs are reused: fresh memory for every megabyte costs page faults that showed
   * as a fifth of the sender's time. Other transports may hand the buffer on (an in-memory
   * pair), so they get fresh memory.
   */
  private output(size: number): { out: Buffer; done?: () => void } {
    if (!this.slabs || size > SLAB_BYTES) return { out: Buffer.allocUnsafe(size) };
    const slab = this.slabs.pop() ?? Buffer.allocUnsafe(SLAB_BYTES);
    const slabs = this.slabs;
    return {
      out: slab.subarray(0, size),
      done: () => {
        if (slabs.length < MAX_FREE_SLABS) slabs.push(slab);
      },
    };
  }

  private sendRecord(type: RecordType, body: Uint8Array): void {
    // Data written before a control record goes first: the counter orders them on the wire.
    this.flush();
    const out = Buffer.allocUnsafe(recordLength(body.length, this.sealer.pad));
    this.sealer.sealInto(out, 0, type, [body], body.length);
    this.send(out);
  }

  /**
   * Seals pending data into records of up to MAX_BODY_BYTES, in one transport write; with
   * `fullOnly`, only whole records, leaving the rest for more writes of the same tick.
   */
  private flush(fullOnly = false): void {
    const records = fullOnly
      ? Math.floor(this.pendingBytes / MAX_BODY_BYTES)
      : Math.ceil(this.pendingBytes / MAX_BODY_BYTES);
    if (records === 0) return;
    if (this.transportEnded || this.transport.destroyed) {
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    let left = Math.min(this.pendingBytes, records * MAX_BODY_BYTES);
    let size = 0;
    for (let rest = left; rest > 0; rest -= MAX_BODY_BYTES) {
      size += recordLength(Math.min(rest, MAX_BODY_BYTES), this.sealer.pad);
    }
    const chunks = this.pending;
    const { out, done } = this.output(size);
    this.pendingBytes -= left;
    let offset = 0;
    let index = 0;
    let within = 0;
    while (left > 0) {
      const body = Math.min(left, MAX_BODY_BYTES);
      const parts: Buffer[] = [];
      for (let need = body; need > 0; ) {
        const chunk = chunks[index]!;
        const n = Math.min(chunk.length - within, need);
        parts.push(within === 0 && n === chunk.length ? chunk : chunk.subarray(within, within + n));
        within += n;
        need -= n;
        if (within === chunk.length) {
          index += 1;
          within = 0;
        }
      }
      offset = this.sealer.sealInto(out, offset, RECORD_TYPE.data, parts, body);
      left -= body;
    }
    this.pending = chunks.slice(index);
    if (within > 0) this.pending[0] = this.pending[0]!.subarray(within);
    this.send(out, done);
  }

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    if (!this.destroyed) this.flush();
  };

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= MAX_BODY_BYTES) this.flush(true);
    if (this.pendingBytes > 0 && !this.flushScheduled) {
      // Writes made in the same tick share a record (like Nagle, without the wait).
      this.flushScheduled = true;
      process.nextTick(this.flushTick);
    }
    if (this.blocked) this.heldCallback = callback;
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sendRecord(RECORD_TYPE.end, NO_BODY);
    this.endSent = true;
    this.maybeEndTransport();
    if (this.blocked) this.heldCallback = callback;
    else callback();
  }

  private readonly onDrain = (): void => {
    this.blocked = false;
    const callback = this.heldCallback;
    this.heldCallback = undefined;
    if (this.pongHold) {
      this.pongHold = false;
      this.resumeReading();
    }
    callback?.();
  };

  private maybeEndTransport(): void {
    if (this.peerEnded && this.endSent && !this.transportEnded) {
      this.transportEnded = true;
      this.transport.end();
    }
  }

  // --- reading -------------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    this.drainFrames();
  };

  override _read(): void {
    this.consumerFull = false;
    this.resumeReading();
  }

  private resumeReading(): void {
    this.drainFrames();
    if (!this.consumerFull && !this.pongHold && !this.destroyed) this.transport.resume();
  }

  private drainFrames(): void {
    while (!this.destroyed && !this.consumerFull && !this.pongHold) {
      let frame: Buffer | undefined;
      try {
        frame = this.reader.next(MAX_CIPHERTEXT_BYTES);
      } catch (error) {
        if (!(error instanceof FrameTooLarge)) throw error;
        this.corrupt(`record ${this.opener.received} claims ${error.length} bytes`);
        return;
      }
      if (!frame) break;
      const record = this.opener.open(frame);
      if (!record) {
        this.corrupt(
          `record ${this.opener.received} does not authenticate ` +
            '(altered, reordered, replayed, or a record before it is missing)',
        );
        return;
      }
      this.handle(record);
    }
    if (this.transportReadEnded && !this.destroyed && !this.consumerFull && !this.pongHold) {
      this.checkTruncation();
    }
  }

  private handle(record: OpenedRecord): void {
    switch (record.type) {
      case RECORD_TYPE.data:
        if (this.peerEnded) return this.corrupt('data record after the end of the stream');
        if (record.body.length > 0 && !this.push(record.body)) {
          this.consumerFull = true;
          this.transport.pause();
        }
        return;
      case RECORD_TYPE.end:
        if (this.peerEnded) return this.corrupt('a second end-of-stream record');
        this.peerEnded = true;
        this.push(null);
        this.maybeEndTransport();
        return;
      case RECORD_TYPE.close: {
        const reason = parseCloseBody(record.body);
        if (!reason) return this.corrupt('a close record that is malformed');
        this.closeReceived = true;
        const because = reason.code ? `${reason.message} (${reason.code})` : reason.message;
        this.destroy(
          new P2PError('tunnel_closed', `the other end closed the tunnel: ${because}`, {
            reason_code: reason.code,
          }),
        );
        return;
      }
      case RECORD_TYPE.ping:
        if (record.body.length > MAX_CONTROL_BODY_BYTES) return this.corrupt('ping is too long');
        if (this.transportEnded) return;
        this.sendRecord(RECORD_TYPE.pong, record.body);
        // A peer that pings without reading gets no more answers until the transport drains.
        if (this.blocked) {
          this.pongHold = true;
          this.transport.pause();
        }
        return;
      case RECORD_TYPE.pong: {
        if (record.body.length !== 8) return;
        const id = record.body.readUInt32BE(4);
        const ping = this.pings.get(id);
        if (!ping) return;
        this.pings.delete(id);
        ping.resolve(performance.now() - ping.at);
        return;
      }
      default:
        return this.corrupt(`unexpected record of type ${record.type}`);
    }
  }

  private corrupt(message: string): void {
    this.destroy(new P2PError('tunnel_corrupt', message));
  }

  private checkTruncation(): void {
    if (this.reader.buffered > 0) {
      this.corrupt(`the connection ended inside a record (${this.reader.buffered} bytes of it)`);
    } else if (!this.peerEnded && !this.closeReceived) {
      this.destroy(
        new P2PError(
          'tunnel_lost',
          'the connection ended without the end-of-stream record: the stream is truncated',
        ),
      );
    }
  }

  private readonly onEnd = (): void => {
    this.transportReadEnded = true;
    if (!this.consumerFull && !this.pongHold) this.drainFrames();
  };

  private readonly onError = (error: Error): void => {
    this.destroy(
      new P2PError('tunnel_lost', `the connection under the tunnel failed: ${error.message}`),
    );
  };

  private readonly onClose = (): void => {
    if (this.destroyed) return;
    // Records still in the reader are used first when the consumer is only slow.
    if (this.transportReadEnded && this.reader.buffered > 0 && !this.peerEnded) return;
    if (this.peerEnded && this.endSent) return;
    if (this.peerEnded && this.transportReadEnded && this.writableFinished) return;
    this.destroy(new P2PError('tunnel_lost', 'the connection under the tunnel closed'));
  };

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const ping of this.pings.values()) {
      ping.reject(error ?? new P2PError('tunnel_lost', 'the tunnel is closed'));
    }
    this.pings.clear();
    this.pending = [];
    this.pendingBytes = 0;
    const transport = this.transport;
    transport.off('data', this.onData);
    transport.off('end', this.onEnd);
    transport.off('close', this.onClose);
    transport.off('drain', this.onDrain);
    const graceful = this.peerEnded && this.endSent;
    if (graceful) {
      // Both ends said they are done; a peer that keeps its side of the transport open
      // anyway does not keep the socket here.
      if (!transport.destroyed) lingerThenDestroy(transport);
      callback(error);
      return;
    }
    if (!this.closeReceived && !this.transportEnded && !transport.destroyed) {
      // Tell the other end why, authenticated, then give the record a moment to leave.
      const code = error instanceof P2PError ? error.code : '';
      try {
        this.sendRecord(RECORD_TYPE.close, closeBody(code, error ? error.message : 'closed'));
      } catch {
        // The counter or the transport is gone: the other end sees the transport end.
      }
      this.transportEnded = true;
      transport.end();
      lingerThenDestroy(transport);
    } else {
      transport.destroy();
    }
    callback(error);
  }
}

/** Destroys a transport that has not closed CLOSE_LINGER_MS from now. */
function lingerThenDestroy(transport: Duplex): void {
  const timer = setTimeout(() => transport.destroy(), CLOSE_LINGER_MS);
  timer.unref();
  transport.once('close', () => clearTimeout(timer));
}
