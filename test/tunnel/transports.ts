/**
 * Transports for the secure channel tests: a real TCP connection on 127.0.0.1, an in-memory
 * Duplex pair with back-pressure, and a man in the middle that forwards length-prefixed frames
 * between two transports and may drop, hold back, repeat or alter them, as a hostile relay can.
 */
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { after } from 'node:test';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';

export interface Device {
  readonly identity: Identity;
  readonly text: string;
}

export function device(): Device {
  const identity = generateIdentity();
  return { identity, text: identityText(identity) };
}

/** Both ends of one TCP connection on 127.0.0.1 (client first); closed when the file ends. */
export async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  const [[socket]] = await Promise.all([accepted, once(client, 'connect')]);
  server.close();
  after(() => {
    client.destroy();
    socket.destroy();
  });
  return [client, socket];
}

/** One side of an in-memory pair: a write completes when the other side's reader takes it. */
class PairEnd extends Duplex {
  other!: PairEnd;
  private waiting: (() => void) | undefined;

  constructor() {
    super({ allowHalfOpen: true, highWaterMark: 64 * 1024 });
  }

  override _write(chunk: Buffer, _e: BufferEncoding, callback: (error?: Error | null) => void) {
    if (this.other.destroyed) return callback(new Error('the other end is closed'));
    if (this.other.push(chunk)) callback();
    else this.other.waiting = () => callback();
  }

  override _final(callback: (error?: Error | null) => void) {
    this.other.push(null);
    callback();
  }

  override _read() {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void) {
    if (!this.other.destroyed) this.other.destroy();
    callback(error);
  }
}

export function streamPair(): [Duplex, Duplex] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.other = b;
  b.other = a;
  return [a, b];
}

/** A frame as it passed: its index in its direction (0: the first handshake message). */
export type FrameHook = (index: number, frame: Buffer) => Buffer[];

/** Splits a byte stream into length-prefixed frames (length included), as a relay could. */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let held = Buffer.alloc(0);
  return (chunk) => {
    held = Buffer.concat([held, chunk]);
    while (held.length >= 4 && held.length >= 4 + held.readUInt32BE(0)) {
      const end = 4 + held.readUInt32BE(0);
      // A copy: the receiver decrypts in place, and a hook may keep the frame to send again.
      onFrame(Buffer.from(held.subarray(0, end)));
      held = held.subarray(end);
    }
  };
}

/**
 * Connects `a` (the initiator's side) to `b` (the responder's side) through hooks: each
 * direction's frames go through its hook, which returns what to forward instead. Ends are
 * passed on, so a test can also cut a stream short.
 */
export function middle(
  a: Duplex,
  b: Duplex,
  hooks: { toResponder?: FrameHook; toInitiator?: FrameHook } = {},
): void {
  const wire = (from: Duplex, to: Duplex, hook: FrameHook | undefined) => {
    let index = 0;
    from.on(
      'data',
      framer((frame) => {
        for (const out of hook ? hook(index, frame) : [frame]) to.write(out);
        index += 1;
      }),
    );
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
    to.on('error', () => from.destroy());
  };
  wire(a, b, hooks.toResponder);
  wire(b, a, hooks.toInitiator);
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error a stream is destroyed with (rejects if it closes without one). */
export function errorOf(stream: Duplex): Promise<Error> {
  return new Promise((resolve, reject) => {
    stream.once('error', resolve);
    stream.once('close', () => {
      if (!stream.errored) reject(new Error('the stream closed without an error'));
    });
  });
}

/** Resolves when the stream has closed (at once if it has already). */
export async function closed(stream: Duplex): Promise<void> {
  if (!stream.closed) await once(stream, 'close');
}
