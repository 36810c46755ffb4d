/**
 * Reads a byte stream into buffers the caller owns, exactly so many bytes at a time, so that a
 * file is read stripe by stripe and never held whole.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | undefined;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Fills target[offset, offset + length) as far as the stream goes; returns bytes read. */
  async readInto(target: Buffer, offset: number, length: number): Promise<number> {
    let read = 0;
    while (read < length) {
      if (!this.pending || this.pending.length === 0) {
        if (this.ended) break;
        const next = await this.iterator.next();
        if (next.done) {
          this.ended = true;
          break;
        }
        this.pending = next.value;
        continue;
      }
      const take = Math.min(length - read, this.pending.length);
      target.set(this.pending.subarray(0, take), offset + read);
      this.pending = this.pending.subarray(take);
      read += take;
    }
    return read;
  }

  /** Whether the stream has bytes left (reads ahead at most one chunk). */
  async hasMore(): Promise<boolean> {
    while (!this.pending || this.pending.length === 0) {
      if (this.ended) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.pending = next.value;
    }
    return true;
  }
}
