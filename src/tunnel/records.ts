/**
 * Tunnel records (docs/tunnel-channel.md §3), pure: one direction's key and counter, sealing
 * and opening. A record on the wire is u32 length || ChaCha20-Poly1305(key, nonce = 4 zero
 * bytes || u64 counter, plaintext), plaintext = type || u32 body length || body || zero padding.
 *
 * Sealing writes header and body into the output buffer and encrypts it in place, and opening
 * decrypts in place, so a record costs one copy and one allocation of its own size at most.
 */
import sodium from 'sodium-native';
import { bucketSize } from '../encoding/size-buckets.js';

export const RECORD_TYPE = {
  /** The initiator's first record: proves it holds the keys (§2.4). */
  confirm: 0,
  data: 1,
  /** Half-close: the sender sends no more data. */
  end: 2,
  /** Abort, with a reason: u8 code length || code || UTF-8 message. */
  close: 3,
  ping: 4,
  pong: 5,
} as const;
export type RecordType = (typeof RECORD_TYPE)[keyof typeof RECORD_TYPE];

export const LENGTH_BYTES = 4;
export const TAG_BYTES = 16;
export const PLAINTEXT_HEADER_BYTES = 5;
/** Largest plaintext (header, body and padding) of a record. */
export const MAX_PLAINTEXT_BYTES = 65_536;
/** Most data one record carries: a full record's plaintext is exactly one bucket. */
export const MAX_BODY_BYTES = MAX_PLAINTEXT_BYTES - PLAINTEXT_HEADER_BYTES;
export const MAX_CIPHERTEXT_BYTES = MAX_PLAINTEXT_BYTES + TAG_BYTES;
/** Smallest padded plaintext: records are small (keystrokes), so below the entries' 256. */
export const MIN_PADDED_BYTES = 64;
/** Most bytes of a ping or pong body, and of a close record's message. */
export const MAX_CONTROL_BODY_BYTES = 1024;

const NONCE_BYTES = 12;
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The plaintext length of a record with `bodyLength` bytes of body. */
export function plaintextLength(bodyLength: number, pad: boolean): number {
  const length = PLAINTEXT_HEADER_BYTES + bodyLength;
  return pad ? bucketSize(length, MIN_PADDED_BYTES) : length;
}

/** Bytes on the wire of a record with `bodyLength` bytes of body. */
export function recordLength(bodyLength: number, pad: boolean): number {
  return LENGTH_BYTES + plaintextLength(bodyLength, pad) + TAG_BYTES;
}

function nonceOf(nonce: Buffer, counter: number): Buffer {
  nonce.writeUInt32BE(Math.floor(counter / 2 ** 32), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
  return nonce;
}

/** One direction's sender: a key and the counter of the next record. */
export class RecordSealer {
  private counter = 0;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);

  constructor(
    private readonly key: Uint8Array,
    readonly pad: boolean,
  ) {}

  get sent(): number {
    return this.counter;
  }

  /**
   * Seals one record of `type` whose body is the concatenation of `parts` (bodyLength bytes in
   * all, at most MAX_BODY_BYTES) into `out` at `offset`; returns the offset after it.
   */
  sealInto(
    out: Buffer,
    offset: number,
    type: RecordType,
    parts: readonly Uint8Array[],
    bodyLength: number,
  ): number {
    if (bodyLength > MAX_BODY_BYTES) throw new RangeError('a record body is at most 65531 bytes');
    if (this.counter >= MAX_COUNTER) throw new RangeError('tunnel record counter exhausted');
    const length = plaintextLength(bodyLength, this.pad);
    out.writeUInt32BE(length + TAG_BYTES, offset);
    const start = offset + LENGTH_BYTES;
    out[start] = type;
    out.writeUInt32BE(bodyLength, start + 1);
    let at = start + PLAINTEXT_HEADER_BYTES;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    out.fill(0, at, start + length);
    const plaintext = out.subarray(start, start + length);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
      out.subarray(start, start + length + TAG_BYTES),
      plaintext,
      null,
      null,
      nonceOf(this.nonce, this.counter),
      this.key,
    );
    this.counter += 1;
    return start + length + TAG_BYTES;
  }

  /** One record in a buffer of its own. */
  seal(type: RecordType, body: Uint8Array = Buffer.alloc(0)): Buffer {
    const out = Buffer.allocUnsafe(recordLength(body.length, this.pad));
    this.sealInto(out, 0, type, [body], body.length);
    return out;
  }
}

export interface OpenedRecord {
  readonly type: number;
  /** A view into the ciphertext buffer, which was decrypted in place. */
  readonly body: Buffer;
}

/** One direction's receiver: records must arrive in order, each exactly once. */
export class RecordOpener {
  private counter = 0;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);

  constructor(private readonly key: Uint8Array) {}

  get received(): number {
    return this.counter;
  }

  /**
   * Opens a record's ciphertext (the frame without its length), decrypting it in place.
   * Returns undefined when it does not authenticate as the next record or its plaintext is
   * malformed; the counter then stays, so nothing after it opens either.
   */
  open(ciphertext: Buffer): OpenedRecord | undefined {
    if (ciphertext.length < PLAINTEXT_HEADER_BYTES + TAG_BYTES) return undefined;
    if (ciphertext.length > MAX_CIPHERTEXT_BYTES) return undefined;
    const plaintext = ciphertext.subarray(0, ciphertext.length - TAG_BYTES);
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
        plaintext,
        null,
        ciphertext,
        null,
        nonceOf(this.nonce, this.counter),
        this.key,
      );
    } catch {
      return undefined;
    }
    const bodyLength = plaintext.readUInt32BE(1);
    if (bodyLength > plaintext.length - PLAINTEXT_HEADER_BYTES) return undefined;
    this.counter += 1;
    return {
      type: plaintext[0]!,
      body: plaintext.subarray(PLAINTEXT_HEADER_BYTES, PLAINTEXT_HEADER_BYTES + bodyLength),
    };
  }
}

/** A close record's body: u8 code length || ASCII code || UTF-8 message, cut to fit. */
export function closeBody(code: string, message: string): Buffer {
  const codeBytes = Buffer.from(/^[a-z0-9_]{1,64}$/.test(code) ? code : '', 'ascii');
  let text = Buffer.from(message, 'utf8');
  const room = MAX_CONTROL_BODY_BYTES - 1 - codeBytes.length;
  if (text.length > room) {
    text = Buffer.from(
      text
        .subarray(0, room)
        .toString('utf8')
        .replace(/\uFFFD+$/, ''),
      'utf8',
    );
  }
  return Buffer.concat([Uint8Array.of(codeBytes.length), codeBytes, text]);
}

export function parseCloseBody(body: Uint8Array): { code: string; message: string } | undefined {
  if (body.length < 1 || body.length > MAX_CONTROL_BODY_BYTES) return undefined;
  const length = body[0]!;
  if (body.length < 1 + length) return undefined;
  const code = Buffer.from(body.subarray(1, 1 + length)).toString('latin1');
  if (length > 0 && !/^[a-z0-9_]{1,64}$/.test(code)) return undefined;
  try {
    const message = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(1 + length));
    return { code, message };
  } catch {
    return undefined;
  }
}
