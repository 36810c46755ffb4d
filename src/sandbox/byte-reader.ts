/**
 * Reads the primitive values of the Wasm binary format (LEB128 integers, bytes, names) from a
 * byte range, refusing anything malformed or out of range with `module_invalid`.
 */
import { invalid } from './errors.js';

export class ByteReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  byte(): number {
    if (this.pos >= this.end) throw invalid(`unexpected end of the module at byte ${this.pos}`);
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.end) throw invalid(`unexpected end of the module at byte ${this.pos}`);
    return this.bytes[this.pos]!;
  }

  skip(count: number): void {
    if (count < 0 || this.pos + count > this.end) {
      throw invalid(`a length at byte ${this.pos} runs past its section`);
    }
    this.pos += count;
  }

  /** Unsigned LEB128 of at most 32 bits (5 bytes). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      if (i === 4 && b > 0x0f)
        throw invalid(`an unsigned 32-bit integer at byte ${this.pos - 1} is too large`);
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    throw invalid(`an unsigned 32-bit integer at byte ${this.pos} is too long`);
  }

  /**
   * Skips a signed LEB128 of `bits` bits (32 or 64). Its exact range is left to the engine's
   * validation, which every module passes before it runs.
   */
  skipSigned(bits: 32 | 64): void {
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) {
      if ((this.byte() & 0x80) === 0) return;
    }
    throw invalid(`a signed ${bits}-bit integer at byte ${this.pos} is too long`);
  }

  /** A signed 33-bit LEB128 as a number (block types). */
  s33(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        return b & 0x40 ? result - 2 ** shift : result;
      }
    }
    throw invalid(`a signed 33-bit integer at byte ${this.pos} is too long`);
  }

  name(): string {
    const length = this.u32();
    const start = this.pos;
    this.skip(length);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(
        this.bytes.subarray(start, start + length),
      );
    } catch {
      throw invalid(`a name at byte ${start} is not UTF-8`);
    }
  }
}
