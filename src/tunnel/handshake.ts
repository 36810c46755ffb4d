/**
 * The tunnel handshake of docs/tunnel-channel.md §2, as pure functions over byte strings: build
 * and read the two messages, and derive the record keys. No I/O: open.ts moves the bytes.
 *
 * M1 (initiator → responder) and M2 (responder → initiator) are each one HPKE auth-mode
 * context (RFC 9180 §5.1.3) from a fresh ephemeral key and the sender's device box key, so
 * opening either authenticates its sender; the record keys also mix in the two ephemerals'
 * X25519, which no static key recovers (forward secrecy).
 */
import { fail, isErrorCode, P2PError, type ErrorCode } from '../errors.js';
import {
  deriveKeyPair,
  HPKE_ENC_BYTES,
  HPKE_MODE,
  HPKE_TAG_BYTES,
  setupRecipient,
  setupSender,
  type HpkeContext,
} from '../crypto/hpke.js';
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { randomBytes } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import { x25519 } from '../crypto/x25519.js';
import { bytesEqual, utf8 } from '../encoding/bytes.js';
import { decodeKeyText, encodeKeyText } from '../encoding/key-text.js';
import type { Identity } from '../keys/keys.js';

/** "p2pt": the first four bytes of both handshake messages. */
export const TUNNEL_MAGIC = Buffer.from('p2pt', 'ascii');
export const TUNNEL_VERSION = 1;
export const IDENTITY_BYTES = 64;
export const MAX_SERVICE_BYTES = 128;
export const MAX_REFUSAL_MESSAGE_BYTES = 512;
/** Size caps of the two messages (without their 4-byte length frame). */
export const M1_MAX_BYTES = 512;
export const M2_MAX_BYTES = 1024;

const M1_INFO = utf8('p2pcloud/v1/tunnel/m1');
const M2_INFO = utf8('p2pcloud/v1/tunnel/m2');
const EXPORT_LABEL = utf8('p2pcloud/v1/tunnel/keys');
const I2R_LABEL = utf8('p2pcloud/v1/tunnel/i2r');
const R2I_LABEL = utf8('p2pcloud/v1/tunnel/r2i');

/** M2's kind byte: a sealed answer, or a refusal in the clear (when M1 could not be opened). */
const M2_SEALED = 0;
const M2_PLAIN_REFUSAL = 1;
const FLAG_PAD = 0x01;
const ANSWER_ACCEPT = 0;
const ANSWER_REFUSE = 1;
const M1_HEADER_BYTES = TUNNEL_MAGIC.length + 1 + 2 * IDENTITY_BYTES + HPKE_ENC_BYTES;
const M2_HEADER_BYTES = TUNNEL_MAGIC.length + 2;
const CODE_RE = /^[a-z0-9_]{1,64}$/;

/** Codes a refusal sent in the clear may carry: anything else is reported as tunnel_refused. */
const PLAIN_REFUSAL_CODES: readonly ErrorCode[] = [
  'tunnel_bad_handshake',
  'tunnel_version',
  'tunnel_wrong_device',
];

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function freshEphemeral(): KeyPair {
  return deriveKeyPair(randomBytes(32));
}

/** An identity's 64 bytes: Ed25519 signing key || X25519 box key. */
export function identityBytes(identity: Identity): Buffer {
  return Buffer.concat([identity.signing.publicKey, identity.box.publicKey]);
}

export function identityBytesOfText(text: string): Buffer {
  return decodeKeyText(text, ['identity']).bytes;
}

export function identityTextOfBytes(bytes: Uint8Array): string {
  return encodeKeyText('identity', bytes);
}

/** Checks a service name: 1 to 128 bytes of UTF-8 without control characters. */
export function checkServiceName(service: string): Buffer {
  const bytes = utf8(service);
  if (typeof service !== 'string' || bytes.length === 0 || bytes.length > MAX_SERVICE_BYTES) {
    fail('bad_argument', `a tunnel service name is 1 to ${MAX_SERVICE_BYTES} bytes of UTF-8`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(service) || bytes.toString('utf8') !== service) {
    fail('bad_argument', 'a tunnel service name holds no control characters');
  }
  return bytes;
}

function handshakeError(message: string): P2PError {
  return new P2PError('tunnel_bad_handshake', message);
}

/** HPKE setup turns a small-order key into a RangeError: it is the peer's fault here. */
function hpke<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof RangeError) throw handshakeError(`${what}: ${error.message}`);
    throw error;
  }
}

function m1Info(responder: Uint8Array, initiator: Uint8Array): Buffer {
  return Buffer.concat([M1_INFO, responder, initiator]);
}

function m2Info(m1: Uint8Array): Buffer {
  return Buffer.concat([M2_INFO, sha256(m1)]);
}

export interface InitiatorHello {
  readonly m1: Buffer;
  readonly ctx1: HpkeContext;
  readonly ephemeral: KeyPair;
  readonly responder: Buffer;
}

/** M1 = magic || version || I || R || enc1 || ct1, ct1 sealing flags || service (§2.1). */
export function buildM1(options: {
  self: Identity;
  responder: Uint8Array;
  service: string;
  pad: boolean;
  ephemeral?: KeyPair;
}): InitiatorHello {
  const service = checkServiceName(options.service);
  if (options.responder.length !== IDENTITY_BYTES) {
    throw new RangeError('a responder identity is 64 bytes');
  }
  const initiator = identityBytes(options.self);
  const ephemeral = options.ephemeral ?? freshEphemeral();
  const { enc, context } = hpke('the responder box key', () =>
    setupSender(options.responder.subarray(32, 64), {
      mode: HPKE_MODE.auth,
      info: m1Info(options.responder, initiator),
      sender: options.self.box,
      ephemeral,
    }),
  );
  const head = Buffer.concat([
    TUNNEL_MAGIC,
    Uint8Array.of(TUNNEL_VERSION),
    initiator,
    options.responder,
    enc,
  ]);
  const plaintext = Buffer.concat([Uint8Array.of(options.pad ? FLAG_PAD : 0), service]);
  const m1 = Buffer.concat([head, context.seal(head, plaintext)]);
  return { m1, ctx1: context, ephemeral, responder: Buffer.from(options.responder) };
}

/**
 * A refusal the responder answers in the clear because it could not open M1 (another version,
 * another device, bytes that do not authenticate): the initiator cannot authenticate it, so it
 * only ever turns into a failure, never into a success.
 */
export class PlainRefusal extends P2PError {}

export interface ResponderHello {
  readonly m1: Buffer;
  readonly ctx1: HpkeContext;
  readonly initiator: Buffer;
  /** The initiator's ephemeral public key. */
  readonly enc1: Buffer;
  readonly service: string;
  readonly pad: boolean;
}

/**
 * Reads M1 as `self`. Throws a PlainRefusal when the answer should say why in the clear, a
 * P2PError('tunnel_bad_handshake') when the bytes are not a tunnel handshake at all.
 */
export function readM1(self: Identity, m1: Uint8Array): ResponderHello {
  const bytes = Buffer.from(m1.buffer, m1.byteOffset, m1.byteLength);
  if (bytes.length < TUNNEL_MAGIC.length + 1 || !bytes.subarray(0, 4).equals(TUNNEL_MAGIC)) {
    throw handshakeError('the first message is not a tunnel handshake');
  }
  const version = bytes[4]!;
  if (version !== TUNNEL_VERSION) {
    throw new PlainRefusal(
      'tunnel_version',
      `tunnel version ${version} is not supported: this device speaks version ${TUNNEL_VERSION}`,
    );
  }
  if (bytes.length > M1_MAX_BYTES) {
    throw handshakeError(`the first message is longer than ${M1_MAX_BYTES} bytes`);
  }
  if (bytes.length < M1_HEADER_BYTES + HPKE_TAG_BYTES + 2) {
    throw new PlainRefusal('tunnel_bad_handshake', 'the first message is too short');
  }
  const initiator = bytes.subarray(5, 5 + IDENTITY_BYTES);
  const responder = bytes.subarray(5 + IDENTITY_BYTES, 5 + 2 * IDENTITY_BYTES);
  const enc = bytes.subarray(5 + 2 * IDENTITY_BYTES, M1_HEADER_BYTES);
  const self64 = identityBytes(self);
  if (!bytesEqual(responder, self64)) {
    throw new PlainRefusal(
      'tunnel_wrong_device',
      `this device is ${identityTextOfBytes(self64)}, not the device the tunnel was meant for`,
    );
  }
  const ctx1 = hpke('the first message', () =>
    setupRecipient(enc, self.box, {
      mode: HPKE_MODE.auth,
      info: m1Info(self64, initiator),
      senderPublicKey: initiator.subarray(32, 64),
    }),
  );
  const plaintext = ctx1.open(bytes.subarray(0, M1_HEADER_BYTES), bytes.subarray(M1_HEADER_BYTES));
  if (!plaintext) {
    throw new PlainRefusal(
      'tunnel_bad_handshake',
      'the first message does not authenticate as sent by the device it names',
    );
  }
  const flags = plaintext[0]!;
  if ((flags & ~FLAG_PAD) !== 0) {
    throw new PlainRefusal('tunnel_bad_handshake', `unknown handshake flags ${flags}`);
  }
  let service: string;
  try {
    service = new TextDecoder('utf-8', { fatal: true }).decode(plaintext.subarray(1));
    checkServiceName(service);
  } catch {
    throw new PlainRefusal('tunnel_bad_handshake', 'the service name asked for is not valid');
  }
  return {
    m1: Buffer.from(bytes),
    ctx1,
    initiator: Buffer.from(initiator),
    enc1: Buffer.from(enc),
    service,
    pad: (flags & FLAG_PAD) !== 0,
  };
}

export type Answer = { accept: true } | { accept: false; code: string; message: string };

function refusalBody(code: string, message: string): Buffer {
  const safeCode = CODE_RE.test(code) ? code : 'tunnel_refused';
  let text = utf8(message);
  if (text.length > MAX_REFUSAL_MESSAGE_BYTES) {
    // Cut on a character boundary so the message stays valid UTF-8.
    text = utf8(
      text
        .subarray(0, MAX_REFUSAL_MESSAGE_BYTES)
        .toString('utf8')
        .replace(/\uFFFD+$/, ''),
    );
  }
  return Buffer.concat([Uint8Array.of(safeCode.length), Buffer.from(safeCode, 'ascii'), text]);
}

function parseRefusalBody(body: Uint8Array): { code: string; message: string } | undefined {
  if (body.length < 1) return undefined;
  const length = body[0]!;
  if (body.length < 1 + length || body.length - 1 - length > MAX_REFUSAL_MESSAGE_BYTES) {
    return undefined;
  }
  const code = Buffer.from(body.subarray(1, 1 + length)).toString('latin1');
  if (!CODE_RE.test(code)) return undefined;
  try {
    const message = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(1 + length));
    return { code, message };
  } catch {
    return undefined;
  }
}

/** M2 in the clear: magic || version || 1 || refusal. */
export function buildPlainRefusal(code: string, message: string): Buffer {
  return Buffer.concat([
    TUNNEL_MAGIC,
    Uint8Array.of(TUNNEL_VERSION, M2_PLAIN_REFUSAL),
    refusalBody(code, message),
  ]);
}

export interface ResponderAnswer {
  readonly m2: Buffer;
  readonly ctx2: HpkeContext;
  readonly ephemeral: KeyPair;
}

/** M2 = magic || version || 0 || enc2 || ct2, ct2 sealing the answer (§2.2). */
export function buildM2(options: {
  self: Identity;
  hello: ResponderHello;
  answer: Answer;
  ephemeral?: KeyPair;
}): ResponderAnswer {
  const ephemeral = options.ephemeral ?? freshEphemeral();
  const { enc, context } = hpke("the initiator's box key", () =>
    setupSender(options.hello.initiator.subarray(32, 64), {
      mode: HPKE_MODE.auth,
      info: m2Info(options.hello.m1),
      sender: options.self.box,
      ephemeral,
    }),
  );
  const head = Buffer.concat([TUNNEL_MAGIC, Uint8Array.of(TUNNEL_VERSION, M2_SEALED), enc]);
  const plaintext = options.answer.accept
    ? Uint8Array.of(ANSWER_ACCEPT)
    : Buffer.concat([
        Uint8Array.of(ANSWER_REFUSE),
        refusalBody(options.answer.code, options.answer.message),
      ]);
  return { m2: Buffer.concat([head, context.seal(head, plaintext)]), ctx2: context, ephemeral };
}

function refusalError(code: string, message: string, authenticated: boolean): P2PError {
  const allowed = authenticated
    ? isErrorCode(code)
    : (PLAIN_REFUSAL_CODES as readonly string[]).includes(code);
  if (allowed) return new P2PError(code as ErrorCode, message);
  return new P2PError(
    'tunnel_refused',
    `the other device refused the tunnel: ${message} (${code})`,
  );
}

/**
 * Reads M2 as the initiator. Returns the HPKE context and enc2 of an accepting answer; throws
 * the refusal's code and message for a refusal, tunnel_bad_handshake for anything else.
 */
export function readM2(
  self: Identity,
  hello: InitiatorHello,
  m2: Uint8Array,
): { ctx2: HpkeContext; enc2: Buffer } {
  const bytes = Buffer.from(m2.buffer, m2.byteOffset, m2.byteLength);
  if (bytes.length < M2_HEADER_BYTES || !bytes.subarray(0, 4).equals(TUNNEL_MAGIC)) {
    throw handshakeError('the answer is not a tunnel handshake');
  }
  if (bytes[4] !== TUNNEL_VERSION) {
    throw new P2PError('tunnel_version', `the answer is of tunnel version ${bytes[4]}`);
  }
  if (bytes.length > M2_MAX_BYTES) {
    throw handshakeError(`the answer is longer than ${M2_MAX_BYTES} bytes`);
  }
  const kind = bytes[5];
  if (kind === M2_PLAIN_REFUSAL) {
    const refusal = parseRefusalBody(bytes.subarray(M2_HEADER_BYTES));
    if (!refusal) throw handshakeError('the refusal received is malformed');
    throw refusalError(refusal.code, refusal.message, false);
  }
  if (kind !== M2_SEALED) throw handshakeError(`unknown answer kind ${kind}`);
  const headEnd = M2_HEADER_BYTES + HPKE_ENC_BYTES;
  if (bytes.length < headEnd + HPKE_TAG_BYTES + 1) throw handshakeError('the answer is too short');
  const enc2 = Buffer.from(bytes.subarray(M2_HEADER_BYTES, headEnd));
  const ctx2 = hpke('the answer', () =>
    setupRecipient(enc2, self.box, {
      mode: HPKE_MODE.auth,
      info: m2Info(hello.m1),
      senderPublicKey: hello.responder.subarray(32, 64),
    }),
  );
  const plaintext = ctx2.open(bytes.subarray(0, headEnd), bytes.subarray(headEnd));
  if (!plaintext) {
    throw handshakeError(
      `the answer does not authenticate as sent by ${identityTextOfBytes(hello.responder)} ` +
        'in reply to this handshake',
    );
  }
  if (plaintext.length === 1 && plaintext[0] === ANSWER_ACCEPT) return { ctx2, enc2 };
  if (plaintext[0] === ANSWER_REFUSE) {
    const refusal = parseRefusalBody(plaintext.subarray(1));
    if (refusal) throw refusalError(refusal.code, refusal.message, true);
  }
  throw handshakeError('the answer holds neither an acceptance nor a refusal');
}

export interface RecordKeys {
  /** The key of records from the initiator to the responder. */
  readonly i2r: Buffer;
  readonly r2i: Buffer;
}

/**
 * §2.3: HKDF-SHA256 with salt SHA-256(M1 || M2) over both contexts' exports and the
 * ephemeral–ephemeral X25519; `dh` is X25519(eI, eR) as either side computes it.
 */
export function deriveRecordKeys(
  m1: Uint8Array,
  m2: Uint8Array,
  ctx1: HpkeContext,
  ctx2: HpkeContext,
  dh: Uint8Array,
): RecordKeys {
  const prk = hkdfExtract(
    sha256(m1, m2),
    Buffer.concat([ctx1.export(EXPORT_LABEL, 32), ctx2.export(EXPORT_LABEL, 32), dh]),
  );
  return { i2r: hkdfExpand(prk, I2R_LABEL, 32), r2i: hkdfExpand(prk, R2I_LABEL, 32) };
}

/** X25519 of the two ephemerals, a small-order key being the peer's fault. */
export function ephemeralAgreement(secret: Uint8Array, peerPublic: Uint8Array): Buffer {
  return hpke("the other end's ephemeral key", () => x25519(secret, peerPublic));
}
