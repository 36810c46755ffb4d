/**
 * Relay legs over a bare TCP socket, for what the relay client never sends: garbage after the
 * upgrade, replayed or forged answers, listeners that ignore pings. Frames are built with the
 * wire module, so a test states the bytes it means; the answers to a challenge are signed here.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { sign, type SigningKeyPair } from '../../src/crypto/ed25519.js';
import { identityText, type Identity } from '../../src/keys/keys.js';
import {
  authMessage,
  encodeFrame,
  FrameReader,
  MAX_RELAY_FRAME_BYTES,
  RELAY_PATH,
  RELAY_PROTOCOL,
  type Role,
} from '../../src/relay/wire.js';

/** An upgrade to another protocol than the relay's: refused before any frame. */
export const WEBSOCKET_UPGRADE =
  'GET /relay/v1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';

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

/** The code of a refused upgrade's JSON error body. */
export function refusalCode(leg: RawLeg): string {
  return (JSON.parse(leg.body) as { error: { code: string } }).error.code;
}

/** The hex signature of `signing` over a relay challenge frame for `role`. */
export function signChallenge(
  challenge: Record<string, unknown>,
  role: Role,
  signing: SigningKeyPair,
): string {
  return sign(
    authMessage(String(challenge.relay), Buffer.from(String(challenge.nonce), 'hex'), role),
    signing,
  ).toString('hex');
}

/** Answers a raw leg's challenge with `self`'s signature for `role`. */
export async function answer(
  leg: RawLeg,
  self: Identity,
  role: Role,
  fields: Record<string, unknown>,
): Promise<{ signature: string }> {
  const challenge = await leg.next();
  assert.equal(challenge.type, 'challenge');
  const signature = signChallenge(challenge, role, self.signing);
  leg.write(
    encodeFrame({ type: role, identity: identityText(self), signature, ...fields } as never),
  );
  return { signature };
}

/** A raw leg of `self` registered as a listener for `service`, with no direct addresses. */
export async function rawListener(
  base: string,
  self: Identity,
  service: Uint8Array,
): Promise<RawLeg> {
  const leg = await rawLeg(base);
  await answer(leg, self, 'listen', { service: Buffer.from(service).toString('hex'), direct: [] });
  assert.equal((await leg.next()).type, 'registered');
  return leg;
}
