/**
 * STAND-IN (endpoints branch only, replaced by the secure channel when it lands): the
 * contract's signatures over an unauthenticated, unencrypted exchange of one JSON line each
 * way. It exists so that the tunnel endpoints build and their plumbing runs; it protects
 * nothing.
 */
import { Duplex } from 'node:stream';
import { P2PError, isErrorCode } from '../errors.js';
import { identityText, type Identity } from '../keys/keys.js';

export interface SecureStream extends Duplex {
  readonly peer: string;
  readonly service: string;
  readonly padded: boolean;
}

class Wrapped extends Duplex implements SecureStream {
  constructor(
    private readonly inner: Duplex,
    readonly peer: string,
    readonly service: string,
    readonly padded: boolean,
    rest: Buffer,
  ) {
    super({ allowHalfOpen: true });
    if (rest.length > 0) this.push(rest);
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (error) => this.destroy(error));
    inner.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }
  override _read(): void {
    this.inner.resume();
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.inner.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.inner.end(cb);
  }
  override _destroy(error: Error | null, cb: (e?: Error | null) => void): void {
    this.inner.destroy();
    cb(error);
  }
}

function readLine(stream: Duplex, timeoutMs: number): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new P2PError('tunnel_unreachable', 'handshake timed out')),
      timeoutMs,
    );
    const finish = (error?: Error, value?: { line: string; rest: Buffer }): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('close', onClose);
      stream.pause();
      if (error) reject(error);
      else resolve(value!);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(10);
      if (end >= 0)
        finish(undefined, {
          line: buffered.subarray(0, end).toString(),
          rest: buffered.subarray(end + 1),
        });
      else if (buffered.length > 4096)
        finish(new P2PError('tunnel_unreachable', 'handshake too long'));
    };
    const onClose = (): void =>
      finish(new P2PError('tunnel_unreachable', 'the stream closed during the handshake'));
    stream.on('data', onData);
    stream.once('close', onClose);
    stream.resume();
  });
}

export async function openInitiator(
  stream: Duplex,
  options: {
    self: Identity;
    responder: string;
    service: string;
    pad?: boolean;
    timeoutMs?: number;
  },
): Promise<SecureStream> {
  stream.write(
    `${JSON.stringify({ from: identityText(options.self), to: options.responder, service: options.service })}\n`,
  );
  const { line, rest } = await readLine(stream, options.timeoutMs ?? 10_000);
  const answer = JSON.parse(line) as {
    ok?: boolean;
    code?: string;
    message?: string;
    from?: string;
  };
  if (!answer.ok) {
    stream.destroy();
    throw new P2PError(isErrorCode(answer.code) ? answer.code : 'tunnel_forbidden', answer.message);
  }
  if (answer.from !== options.responder) {
    stream.destroy();
    throw new P2PError('tunnel_forbidden', 'another device answered');
  }
  return new Wrapped(stream, options.responder, options.service, options.pad === true, rest);
}

export async function openResponder(
  stream: Duplex,
  options: {
    self: Identity;
    authorize(initiator: string, service: string): void | Promise<void>;
    timeoutMs?: number;
  },
): Promise<SecureStream> {
  const { line, rest } = await readLine(stream, options.timeoutMs ?? 10_000);
  const hello = JSON.parse(line) as { from: string; to: string; service: string };
  try {
    if (hello.to !== identityText(options.self))
      throw new P2PError('tunnel_forbidden', 'wrong device');
    await options.authorize(hello.from, hello.service);
  } catch (error) {
    const e = error instanceof P2PError ? error : new P2PError('tunnel_forbidden', String(error));
    stream.end(`${JSON.stringify({ ok: false, code: e.code, message: e.message })}\n`);
    throw e;
  }
  stream.write(`${JSON.stringify({ ok: true, from: identityText(options.self) })}\n`);
  return new Wrapped(stream, hello.from, hello.service, false, rest);
}
