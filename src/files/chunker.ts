/**
 * Content-defined chunking (docs/files.md §2): a gear rolling hash with normalized chunking
 * (two masks, a stricter one before the average size and a looser one after it), as in FastCDC.
 * Streaming: bytes are pushed in pieces of any size and the chunks come out the same whatever
 * the split; at most one maximum chunk is held between pushes. No allocation per byte: the scan
 * runs over the caller's bytes and copies only what must wait for the next push.
 */

/** Sizes of format version 1. */
export const CHUNK_MIN_BYTES = 16 * 1024;
export const CHUNK_AVG_BYTES = 32 * 1024;
export const CHUNK_MAX_BYTES = 60 * 1024;

export interface ChunkSizes {
  readonly min: number;
  /** A power of two: the masks are derived from it. */
  readonly avg: number;
  readonly max: number;
}

export const DEFAULT_CHUNK_SIZES: ChunkSizes = {
  min: CHUNK_MIN_BYTES,
  avg: CHUNK_AVG_BYTES,
  max: CHUNK_MAX_BYTES,
};

export interface Chunk {
  /** Where the chunk starts in the whole input. */
  readonly offset: number;
  /** The chunk's bytes: a copy, never a view of what was pushed. */
  readonly bytes: Uint8Array;
}

/** The top `bits` bits of a 32-bit word, as the signed 32-bit integer the scan compares with. */
function topBits(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0;
}

/** The two masks for an average size: top log2(avg) + 2 bits, then top log2(avg) − 2 bits. */
export function chunkMasks(avg: number): { small: number; large: number } {
  const bits = Math.log2(avg);
  return { small: topBits(bits + 2), large: topBits(bits - 2) };
}

function checkSizes(sizes: ChunkSizes): void {
  const { min, avg, max } = sizes;
  const bits = Math.log2(avg);
  if (!Number.isInteger(bits) || bits < 6 || bits > 28) {
    throw new RangeError('the average chunk size is a power of two from 64 to 2^28');
  }
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || min >= avg || max <= avg) {
    throw new RangeError('chunk sizes must be integers with 1 ≤ min < avg < max');
  }
}

export class Chunker {
  private readonly gear: Uint32Array;
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly maskSmall: number;
  private readonly maskLarge: number;
  /** The current chunk's bytes seen so far (only those of earlier pushes are copied here). */
  private readonly held: Uint8Array;
  private heldLength = 0;
  private hash = 0;
  private offset = 0;

  constructor(gear: Uint32Array, sizes: ChunkSizes = DEFAULT_CHUNK_SIZES) {
    if (gear.length !== 256) throw new RangeError('a gear table has 256 words');
    checkSizes(sizes);
    this.gear = gear;
    this.min = sizes.min;
    this.avg = sizes.avg;
    this.max = sizes.max;
    const masks = chunkMasks(sizes.avg);
    this.maskSmall = masks.small;
    this.maskLarge = masks.large;
    this.held = new Uint8Array(sizes.max);
  }

  /** Adds bytes; returns the chunks they complete, in order. */
  push(input: Uint8Array): Chunk[] {
    const chunks: Chunk[] = [];
    let at = 0;
    while (at < input.length) {
      const take = Math.min(this.max - this.heldLength, input.length - at);
      const cut = this.scan(input, at, take);
      if (cut < 0) {
        this.held.set(input.subarray(at, at + take), this.heldLength);
        this.heldLength += take;
        at += take;
        if (this.heldLength === this.max) chunks.push(this.emit(this.held.slice(0, this.max)));
        continue;
      }
      const used = cut - this.heldLength;
      let bytes: Uint8Array;
      // A copy: Buffer's slice would be a view of the caller's bytes.
      if (this.heldLength === 0) bytes = Uint8Array.prototype.slice.call(input, at, at + used);
      else {
        bytes = new Uint8Array(cut);
        bytes.set(this.held.subarray(0, this.heldLength));
        bytes.set(input.subarray(at, at + used), this.heldLength);
      }
      at += used;
      chunks.push(this.emit(bytes));
    }
    return chunks;
  }

  /** Ends the input: returns the last chunk, if any bytes are left. The chunker can be reused. */
  end(): Chunk[] {
    const chunks = this.heldLength > 0 ? [this.emit(this.held.slice(0, this.heldLength))] : [];
    this.offset = 0;
    return chunks;
  }

  private emit(bytes: Uint8Array): Chunk {
    const chunk = { offset: this.offset, bytes };
    this.offset += bytes.length;
    this.heldLength = 0;
    this.hash = 0;
    return chunk;
  }

  /**
   * Runs the hash over input[at, at + take), which are bytes heldLength… of the current chunk.
   * Returns the chunk's length if a boundary falls among them, else −1 (the hash is kept).
   */
  private scan(input: Uint8Array, at: number, take: number): number {
    const gear = this.gear;
    const start = this.heldLength;
    const stop = start + take;
    // Byte i of the chunk is input[i + shift].
    const shift = at - start;
    let h = this.hash;
    let i = start > this.min ? start : this.min;
    const normal = stop < this.avg ? stop : this.avg;
    const mask = this.maskSmall;
    for (; i < normal; i++) {
      h = ((h << 1) + gear[input[i + shift]!]!) | 0;
      if ((h & mask) === 0) return i + 1;
    }
    const loose = this.maskLarge;
    for (; i < stop; i++) {
      h = ((h << 1) + gear[input[i + shift]!]!) | 0;
      if ((h & loose) === 0) return i + 1;
    }
    this.hash = h;
    return -1;
  }
}

/** Every chunk of a whole input at once (tests and vectors; streams use Chunker). */
export function chunkAll(gear: Uint32Array, input: Uint8Array, sizes?: ChunkSizes): Chunk[] {
  const chunker = new Chunker(gear, sizes);
  return [...chunker.push(input), ...chunker.end()];
}
