/**
 * Deterministic file contents for the files benchmark: the AES-256-CTR keystream of a seed
 * (key = SHA-256 of the seed text, counter from zero), produced a piece at a time so that a
 * file of any length is never held in memory. Not zeros and not compressible, and several GB/s
 * on a core with AES instructions, so the generator is not what the figures measure.
 * `flip` changes one byte (XOR 0x01) at that offset: the "one byte changed" version of a file.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export interface SeededBytes {
  readonly seed: string;
  readonly length: number;
  /** Offset of the one byte that differs from the seed's stream, if any. */
  readonly flip?: number;
}

const PIECE = 1024 * 1024;

/** The bytes, `piece` at a time (each piece a new buffer the caller may keep). */
export function* seededPieces(bytes: SeededBytes, piece = PIECE): Generator<Buffer> {
  const key = createHash('sha256').update(bytes.seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(piece);
  for (let at = 0; at < bytes.length; at += piece) {
    const size = Math.min(piece, bytes.length - at);
    const out = cipher.update(size === piece ? zeros : zeros.subarray(0, size));
    if (bytes.flip !== undefined && bytes.flip >= at && bytes.flip < at + size) {
      out[bytes.flip - at]! ^= 0x01;
    }
    yield out;
  }
}

/** The bytes as a Node stream, for an HTTP body or a pipe. */
export function seededStream(bytes: SeededBytes, piece = PIECE): Readable {
  return Readable.from(seededPieces(bytes, piece), { objectMode: false });
}

/** SHA-256 of the bytes, hex (what a download must hash to). */
export function seededSha256(bytes: SeededBytes): string {
  const hash = createHash('sha256');
  for (const piece of seededPieces(bytes)) hash.update(piece);
  return hash.digest('hex');
}

/** SHA-256 (hex) and length of whatever a stream yields. */
export async function streamSha256(
  stream: AsyncIterable<Uint8Array>,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of stream) {
    hash.update(piece);
    bytes += piece.byteLength;
  }
  return { sha256: hash.digest('hex'), bytes };
}
