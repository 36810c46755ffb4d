/** Byte helpers shared by the pure layers. Buffers are Uint8Arrays, so both are accepted. */

export function concatBytes(...parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/i;

/** Strict hex decoding: Buffer.from(…, 'hex') silently stops at the first bad character. */
export function fromHex(text: string, expectedLength?: number): Buffer | undefined {
  if (typeof text !== 'string' || !HEX_RE.test(text)) return undefined;
  const out = Buffer.from(text, 'hex');
  if (expectedLength !== undefined && out.length !== expectedLength) return undefined;
  return out;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64 decoding (standard alphabet with padding, or base64url without): Node's decoder
 * skips invalid characters, which would let two different texts name the same bytes.
 */
export function fromBase64(text: string): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  if (BASE64_RE.test(text)) return Buffer.from(text, 'base64');
  if (BASE64URL_RE.test(text) && text.length % 4 !== 1) return Buffer.from(text, 'base64url');
  return undefined;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Big-endian I2OSP for values that fit in a double without loss (≤ 2^53). */
export function u64be(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(value));
  return out;
}

export function u32be(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

export function u16be(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}
