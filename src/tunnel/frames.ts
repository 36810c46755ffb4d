/**
 * Splits the bytes read from a transport into length-prefixed frames (u32 big-endian length ||
 * that many bytes), the framing of both handshake messages and records. A length above the
 * caller's cap is refused as soon as its four bytes are in, before anything of the frame is
 * kept, so what a peer can make a reader hold is bounded by the cap, not by its claim.
 */
import { LENGTH_BYTES } from './records.js';

export class FrameTooLarge extends Error {
  constructor(
    readonly length: number,
    readonly max: number,
  ) {
    super(`a frame of ${length} bytes is longer than the ${max} allowed here`);
  }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private total = 0;

  /** Bytes held: received and not yet returned as frames. */
  get buffered(): number {
    return this.total;
  }

  /** Takes ownership of `chunk`: frames returned may be views into it. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /**
   * The next whole frame's body, or undefined until it is all in. The body may be a view into
   * a pushed chunk, which the caller may then modify (records are decrypted in place).
   */
  next(max: number): Buffer | undefined {
    if (this.total < LENGTH_BYTES) return undefined;
    const length = this.peekLength();
    if (length > max) throw new FrameTooLarge(length, max);
    if (this.total < LENGTH_BYTES + length) return undefined;
    this.skip(LENGTH_BYTES);
    return this.take(length);
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= LENGTH_BYTES) return first.readUInt32BE(0);
    const head = Buffer.alloc(LENGTH_BYTES);
    let at = 0;
    for (const chunk of this.chunks) {
      const n = Math.min(chunk.length, LENGTH_BYTES - at);
      chunk.copy(head, at, 0, n);
      at += n;
      if (at === LENGTH_BYTES) break;
    }
    return head.readUInt32BE(0);
  }

  private skip(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.total -= n;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first!.length >= n) {
      const frame = first!.subarray(0, n);
      if (first!.length === n) this.chunks.shift();
      else this.chunks[0] = first!.subarray(n);
      this.total -= n;
      return frame;
    }
    const frame = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length, n - at);
      chunk.copy(frame, at, 0, count);
      at += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.total -= n;
    return frame;
  }
}
