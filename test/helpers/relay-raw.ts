/**
 * Relay legs over a bare TCP socket, for what the relay client never sends: garbage after the
 * upgrade, replayed or forged answers, listeners that ignore pings. Frames are built with the
 * wire module, so a test states the bytes it means.
 */
import { connect, type Socket } from 'node:net';
import {
  FrameReader,
  MAX_RELAY_FRAME_BYTES,
  RELAY_PATH,
  RELAY_PROTOCOL,
} from '../../src/relay/wire.js';

export interface RawLeg {
  readonly socket: Socket;
  /** The HTTP status of the upgrade answer (101 when upgraded). */
  readonly status: number;
  /** The body of a refused upgrade. */
  readonly body: string;
  /** The next control frame's JSON value (rejects if the connection closes first). */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the relay has closed the connection. */
  readonly closed: Promise<void>;
  write(bytes: Uint8Array | string): void;
}

/** Opens a connection to `base`, sends the upgrade request and reads its answer. */
export function rawLeg(
  base: string,
  request = `GET ${RELAY_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${RELAY_PROTOCOL}\r\n\r\n`,
): Promise<RawLeg> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let head = Buffer.alloc(0);
    const reader = new FrameReader(MAX_RELAY_FRAME_BYTES);
    const values: Record<string, unknown>[] = [];
    let waiter: ((value: Record<string, unknown> | undefined) => void) | undefined;
    let ended = false;
    const deliver = () => {
      for (let v = reader.next(); v !== undefined; v = reader.next()) {
        values.push(v as Record<string, unknown>);
      }
      if (waiter && (values.length > 0 || ended)) {
        const w = waiter;
        waiter = undefined;
        w(values.shift());
      }
    };
    let upgraded = false;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      ended = true;
      if (!upgraded) {
        const text = head.toString('utf8');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        if (status === 0)
          reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
        else
          resolve({
            socket,
            status,
            body: text.slice(text.indexOf('\r\n\r\n') + 4),
            next,
            closed,
            write,
          });
        return;
      }
      deliver();
    });
    const next = (timeoutMs = 10_000) =>
      new Promise<Record<string, unknown>>((done, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`no frame within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiter = (value) => {
          clearTimeout(timer);
          if (value) done(value);
          else fail(new Error('the relay closed the connection'));
        };
        deliver();
      });
    const write = (bytes: Uint8Array | string) => {
      if (socket.writable) socket.write(bytes);
    };
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) {
        reader.push(chunk);
        deliver();
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return; // refusal: read to close
      upgraded = true;
      const rest = head.subarray(end + 4);
      if (rest.length > 0) reader.push(rest);
      resolve({ socket, status: 101, body: '', next, closed, write });
      deliver();
    });
    socket.write(request);
  });
}
