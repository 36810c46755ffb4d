/** Builds a Wasm binary: bytes, LEB128 integers, length-prefixed sections. */
export class ByteWriter {
  private chunks: Uint8Array[] = [];
  private pending: number[] = [];
  length = 0;

  byte(b: number): this {
    this.pending.push(b);
    this.length++;
    return this;
  }

  u32(value: number): this {
    let v = value >>> 0;
    do {
      const b = v & 0x7f;
      v >>>= 7;
      this.byte(v === 0 ? b : b | 0x80);
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a 64-bit integer. */
  s64(value: bigint): this {
    let v = BigInt.asIntN(64, value);
    while (true) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  bytes(data: Uint8Array): this {
    this.flush();
    this.chunks.push(data);
    this.length += data.length;
    return this;
  }

  name(text: string): this {
    const data = new TextEncoder().encode(text);
    return this.u32(data.length).bytes(data);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  private flush(): void {
    if (this.pending.length > 0) {
      this.chunks.push(Uint8Array.from(this.pending));
      this.pending = [];
    }
  }
}
