/**
 * The handshake over a transport Duplex (docs/tunnel-channel.md §2): openInitiator and
 * openResponder move the messages of handshake.ts, enforce the size caps and the deadline, and
 * hand the transport to a SecureStream once the keys are agreed.
 */
import type { Duplex } from 'node:stream';
import { P2PError } from '../errors.js';
import type { Identity } from '../keys/keys.js';
import { FrameReader, FrameTooLarge } from './frames.js';
import {
  buildM1,
  buildM2,
  buildPlainRefusal,
  checkServiceName,
  deriveRecordKeys,
  ephemeralAgreement,
  identityBytesOfText,
  identityTextOfBytes,
  M1_MAX_BYTES,
  M2_MAX_BYTES,
  PlainRefusal,
  readM1,
  readM2,
} from './handshake.js';
import {
  LENGTH_BYTES,
  MAX_CIPHERTEXT_BYTES,
  RECORD_TYPE,
  RecordOpener,
  RecordSealer,
} from './records.js';
import { SecureStream } from './secure-stream.js';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Erases the ephemeral secret and the X25519 result: forward secrecy rests on them going. */
function forget(...secrets: Uint8Array[]): void {
  for (const secret of secrets) secret.fill(0);
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(LENGTH_BYTES + message.length);
  out.writeUInt32BE(message.length, 0);
  out.set(message, LENGTH_BYTES);
  return out;
}

/**
 * Reads handshake frames from a transport until released, failing on the deadline, on the
 * transport's end or error, and on a frame above the cap asked for.
 */
class HandshakeIo {
  readonly reader = new FrameReader();
  private waiter:
    | { max: number; what: string; resolve(frame: Buffer): void; reject(error: Error): void }
    | undefined;
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private rejectFailed!: (error: Error) => void;
  /** Rejects with the first failure: what the caller awaits besides frames races it. */
  private readonly failed = new Promise<never>((_, reject) => {
    this.rejectFailed = reject;
  });

  constructor(
    private readonly transport: Duplex,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(
      () =>
        this.fail(
          new P2PError(
            'tunnel_timeout',
            `the tunnel handshake did not complete in ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    this.failed.catch(() => {});
    transport.on('data', this.onData);
    transport.on('end', this.onEnd);
    transport.on('error', this.onError);
    transport.on('close', this.onEnd);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    this.check();
  };

  private readonly onEnd = (): void => {
    this.fail(
      new P2PError('tunnel_lost', 'the connection ended before the tunnel handshake completed'),
    );
  };

  private readonly onError = (error: Error): void => {
    this.fail(new P2PError('tunnel_lost', `the connection failed: ${error.message}`));
  };

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.rejectFailed(error);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  private check(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    let message: Buffer | undefined;
    try {
      message = this.reader.next(waiter.max);
    } catch (error) {
      if (!(error instanceof FrameTooLarge)) throw error;
      return this.fail(
        new P2PError(
          'tunnel_bad_handshake',
          `${waiter.what} claims ${error.length} bytes, more than the ${waiter.max} allowed`,
        ),
      );
    }
    if (!message) return;
    this.waiter = undefined;
    // Nothing more is due until the caller asks for the next frame: a peer that sends ahead
    // is held back by the transport's flow control instead of filling this reader.
    this.transport.pause();
    waiter.resolve(message);
  }

  /** The next frame, at most `max` bytes long. */
  next(max: number, what: string): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { max, what, resolve, reject };
      this.check();
      if (this.waiter) this.transport.resume();
    });
  }

  /** `work`, unless the deadline passes or the transport fails first. */
  race<T>(work: T | Promise<T>): Promise<T> {
    return Promise.race([Promise.resolve(work), this.failed]);
  }

  get hasFailed(): boolean {
    return this.failure !== undefined;
  }

  write(message: Uint8Array): void {
    this.transport.write(frame(message));
  }

  /** Stops reading: the SecureStream takes the transport and the bytes read ahead. */
  release(): FrameReader {
    clearTimeout(this.timer);
    this.transport.pause();
    this.transport.off('data', this.onData);
    this.transport.off('end', this.onEnd);
    this.transport.off('error', this.onError);
    this.transport.off('close', this.onEnd);
    return this.reader;
  }

  /** Gives up: the transport is closed, after `last` is written if there is one. */
  abandon(last?: Uint8Array): void {
    this.release();
    // Errors after this point have nobody to report to.
    this.transport.on('error', () => {});
    if (last && !this.transport.destroyed && !this.transport.writableEnded) {
      this.transport.end(frame(last));
      const timer = setTimeout(() => this.transport.destroy(), 2000);
      timer.unref();
      this.transport.once('close', () => clearTimeout(timer));
    } else {
      this.transport.destroy();
    }
  }
}

export interface InitiatorOptions {
  /** This device. */
  readonly self: Identity;
  /** The identity text (p2pid1…) of the device it expects to reach. */
  readonly responder: string;
  /** The service name asked for. */
  readonly service: string;
  /** Pad records to size buckets. */
  readonly pad?: boolean;
  /** Handshake deadline (default 10 s). */
  readonly timeoutMs?: number;
}

/** Opens a tunnel to `responder` over `stream`, as the initiator. */
export async function openInitiator(
  stream: Duplex,
  options: InitiatorOptions,
): Promise<SecureStream> {
  const responder = identityBytesOfText(options.responder);
  checkServiceName(options.service);
  const pad = options.pad ?? false;
  const io = new HandshakeIo(stream, options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
  try {
    const hello = buildM1({ self: options.self, responder, service: options.service, pad });
    io.write(hello.m1);
    const m2 = await io.next(M2_MAX_BYTES, 'the answer');
    const { ctx2, enc2 } = readM2(options.self, hello, m2);
    const dh = ephemeralAgreement(hello.ephemeral.secretKey, enc2);
    const keys = deriveRecordKeys(hello.m1, m2, hello.ctx1, ctx2, dh);
    forget(hello.ephemeral.secretKey, dh);
    const reader = io.release();
    return new SecureStream({
      transport: stream,
      sealer: new RecordSealer(keys.i2r, pad),
      opener: new RecordOpener(keys.r2i),
      reader,
      peer: identityTextOfBytes(responder),
      service: options.service,
      confirm: true,
    });
  } catch (error) {
    io.abandon();
    throw error;
  }
}

export interface ResponderOptions {
  readonly self: Identity;
  /**
   * Called with the initiator's identity text and the service once the first message is
   * authenticated; throw a P2PError to refuse: the initiator gets that code and message. It
   * runs before the initiator has proven it is live (a replayed first message reaches it too),
   * so it must decide without costly work; the tunnel is confirmed when openResponder resolves.
   */
  authorize(initiator: string, service: string): void | Promise<void>;
  /** Handshake deadline (default 10 s), authorize included. */
  readonly timeoutMs?: number;
}

/** Answers a tunnel handshake on `stream`, as the responder. */
export async function openResponder(
  stream: Duplex,
  options: ResponderOptions,
): Promise<SecureStream> {
  const io = new HandshakeIo(stream, options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
  let refusal: Uint8Array | undefined;
  try {
    const m1 = await io.next(M1_MAX_BYTES, 'the first message');
    let hello;
    try {
      hello = readM1(options.self, m1);
    } catch (error) {
      if (error instanceof PlainRefusal) refusal = buildPlainRefusal(error.code, error.message);
      throw error;
    }
    const initiator = identityTextOfBytes(hello.initiator);
    try {
      await io.race(options.authorize(initiator, hello.service));
    } catch (error) {
      if (!io.hasFailed) {
        // A P2PError is a refusal the caller means the initiator to read; anything else only
        // says that it failed, without the details of a local fault.
        const answer =
          error instanceof P2PError
            ? { accept: false as const, code: error.code, message: error.message }
            : {
                accept: false as const,
                code: 'tunnel_refused',
                message: 'the device cannot serve this tunnel',
              };
        refusal = buildM2({ self: options.self, hello, answer }).m2;
      }
      throw error;
    }
    const answer = buildM2({ self: options.self, hello, answer: { accept: true } });
    io.write(answer.m2);
    const dh = ephemeralAgreement(answer.ephemeral.secretKey, hello.enc1);
    const keys = deriveRecordKeys(hello.m1, answer.m2, hello.ctx1, answer.ctx2, dh);
    forget(answer.ephemeral.secretKey, dh);
    const opener = new RecordOpener(keys.i2r);
    const confirmation = await io.next(MAX_CIPHERTEXT_BYTES, 'the key confirmation');
    const record = opener.open(confirmation);
    if (!record || record.type !== RECORD_TYPE.confirm) {
      throw new P2PError(
        'tunnel_bad_handshake',
        `the key confirmation of ${initiator} does not authenticate: a replayed first message?`,
      );
    }
    const reader = io.release();
    return new SecureStream({
      transport: stream,
      sealer: new RecordSealer(keys.r2i, hello.pad),
      opener,
      reader,
      peer: initiator,
      service: hello.service,
      confirm: false,
    });
  } catch (error) {
    io.abandon(refusal);
    throw error;
  }
}
