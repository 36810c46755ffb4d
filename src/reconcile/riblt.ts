/**
 * Rateless invertible Bloom lookup table (Yang, Gilad and Alizadeh, "Practical Rateless Set
 * Reconciliation", SIGCOMM 2024) over 64-bit short ids. Pure maths, no I/O.
 *
 * Every element maps to an infinite, sparse sequence of coded-symbol indices: index 0, then
 * each next index i' = i + max(1, ceil((i + 1.5) * (1 / sqrt(u) - 1))) for a pseudo-random
 * u in (0, 1), so that index i is hit with probability ~1/(1 + i/2). The generator's state is
 * the full 64-bit hash of the element: with a 32-bit state, two of ten thousand differing
 * elements share a sequence about once in a hundred runs and can then never be peeled. A coded symbol holds the
 * XOR of its elements' keys, the XOR of their checksums and their count. A peer sends its first
 * m coded symbols; the receiver subtracts its own and peels "pure" symbols (count ±1, checksum
 * matching the key). About 1.35–1.5 symbols per differing element suffice, whatever the size
 * of the sets, and because the code is rateless more symbols can be asked for if m was short.
 *
 * Wire form of a coded symbol (13 bytes): key u64 BE | checksum u32 BE | count mod 256 (u8).
 */
import { fmix32, splitmix64 } from './mix.js';

export const SYMBOL_BYTES = 13;
const STEP_HI = 0x9e3779b9;
const STEP_LO = 0x7f4a7c15;
const TWO_32 = 4294967296;

/**
 * The hash of a short id, z = splitmix64(key): its low half is the checksum, and both halves
 * seed the element's index sequence.
 */
export function elementHash(
  hi: number,
  lo: number,
): { check: number; seedHi: number; seedLo: number } {
  const [zHi, zLo] = splitmix64(hi, lo);
  return { check: zLo, seedHi: zHi, seedLo: zLo };
}

/** The gap after index `index` given the step's 32 random bits. */
function gapAfter(index: number, random: number): number {
  const u = (random + 0.5) / TWO_32;
  const gap = Math.ceil((index + 1.5) * (1 / Math.sqrt(u) - 1));
  return gap < 1 ? 1 : gap;
}

/**
 * Calls `visit(i)` for every coded-symbol index below `limit` that the element maps to.
 * Step n adds constants to both state halves and draws fmix32(sHi ^ fmix32(sLo)).
 */
export function forEachIndex(
  seedHi: number,
  seedLo: number,
  limit: number,
  visit: (index: number) => void,
): void {
  let index = 0;
  let sHi = seedHi >>> 0;
  let sLo = seedLo >>> 0;
  while (index < limit) {
    visit(index);
    sHi = (sHi + STEP_HI) >>> 0;
    sLo = (sLo + STEP_LO) >>> 0;
    index += gapAfter(index, fmix32((sHi ^ fmix32(sLo)) >>> 0));
  }
}

/** The first `capacity` coded symbols of a set, updated in place as elements come and go. */
export class Sketch {
  readonly capacity: number;
  readonly keyHi: Uint32Array;
  readonly keyLo: Uint32Array;
  readonly check: Uint32Array;
  readonly count: Int32Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('sketch capacity must be a positive integer');
    this.capacity = capacity;
    this.keyHi = new Uint32Array(capacity);
    this.keyLo = new Uint32Array(capacity);
    this.check = new Uint32Array(capacity);
    this.count = new Int32Array(capacity);
  }

  /** A copy of the first `n` symbols (all by default), which later toggles do not change. */
  clone(n = this.capacity): Sketch {
    const copy = new Sketch(n);
    copy.keyHi.set(this.keyHi.subarray(0, n));
    copy.keyLo.set(this.keyLo.subarray(0, n));
    copy.check.set(this.check.subarray(0, n));
    copy.count.set(this.count.subarray(0, n));
    return copy;
  }

  /** Adds (sign 1) or removes (sign -1) the element with short id hi:lo. */
  toggle(hi: number, lo: number, sign: 1 | -1): void {
    const { check, seedHi, seedLo } = elementHash(hi, lo);
    let index = 0;
    let sHi = seedHi;
    let sLo = seedLo;
    const limit = this.capacity;
    // forEachIndex inlined: this runs on every stored and every deleted entry.
    while (index < limit) {
      this.keyHi[index]! ^= hi;
      this.keyLo[index]! ^= lo;
      this.check[index]! ^= check;
      this.count[index]! += sign;
      sHi = (sHi + STEP_HI) >>> 0;
      sLo = (sLo + STEP_LO) >>> 0;
      index += gapAfter(index, fmix32((sHi ^ fmix32(sLo)) >>> 0));
    }
  }

  /** Serialises symbols [from, to) in wire form. */
  encode(from: number, to: number): Buffer {
    const end = Math.min(to, this.capacity);
    const out = Buffer.allocUnsafe(Math.max(0, end - from) * SYMBOL_BYTES);
    let offset = 0;
    for (let i = from; i < end; i++) {
      out.writeUInt32BE(this.keyHi[i]!, offset);
      out.writeUInt32BE(this.keyLo[i]!, offset + 4);
      out.writeUInt32BE(this.check[i]!, offset + 8);
      out[offset + 12] = this.count[i]! & 0xff;
      offset += SYMBOL_BYTES;
    }
    return out;
  }

  /** this += other, symbol by symbol (sketches are linear: the sketch of a union of disjoint sets). */
  add(other: Sketch): void {
    const n = Math.min(this.capacity, other.capacity);
    for (let i = 0; i < n; i++) {
      this.keyHi[i]! ^= other.keyHi[i]!;
      this.keyLo[i]! ^= other.keyLo[i]!;
      this.check[i]! ^= other.check[i]!;
      this.count[i]! += other.count[i]!;
    }
  }
}

export interface DecodeResult {
  /** True when every received symbol was explained: the difference is complete. */
  readonly complete: boolean;
  /** Short ids the remote side has and the local side lacks. */
  readonly remoteOnly: readonly [number, number][];
  /** Short ids the local side has and the remote side lacks. */
  readonly localOnly: readonly [number, number][];
  /** Symbols received so far. */
  readonly symbols: number;
}

/**
 * Decodes the difference between a remote set (whose coded symbols arrive in order, possibly
 * in several parts) and the local set (whose sketch is at hand). Malformed or hostile input
 * can make decoding fail, never loop without end: the number of peeled elements is bounded.
 */
export class SketchDecoder {
  private keyHi = new Uint32Array(0);
  private keyLo = new Uint32Array(0);
  private check = new Uint32Array(0);
  private count = new Uint8Array(0);
  private size = 0;
  private readonly remote: [number, number][] = [];
  private readonly local: [number, number][] = [];
  private readonly seen = new Set<string>();
  private broken = false;

  /** True when hostile or inconsistent input made peeling stop for good. */
  get failed(): boolean {
    return this.broken;
  }

  constructor(private readonly localSketch: Sketch) {}

  get received(): number {
    return this.size;
  }

  /** Appends remote symbols [from, from + n) given in wire form; `from` must equal `received`. */
  addRemote(data: Uint8Array, from: number): void {
    if (from !== this.size) throw new RangeError(`expected symbols from ${this.size}, got ${from}`);
    if (data.length % SYMBOL_BYTES !== 0)
      throw new RangeError('coded symbols must be 13 bytes each');
    const n = data.length / SYMBOL_BYTES;
    const end = from + n;
    if (end > this.localSketch.capacity)
      throw new RangeError('more symbols than the local sketch holds');
    this.grow(end);
    const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const local = this.localSketch;
    for (let j = 0; j < n; j++) {
      const i = from + j;
      const o = j * SYMBOL_BYTES;
      this.keyHi[i] = (view.readUInt32BE(o) ^ local.keyHi[i]!) >>> 0;
      this.keyLo[i] = (view.readUInt32BE(o + 4) ^ local.keyLo[i]!) >>> 0;
      this.check[i] = (view.readUInt32BE(o + 8) ^ local.check[i]!) >>> 0;
      this.count[i] = (view[o + 12]! - local.count[i]!) & 0xff;
    }
    // Elements peeled earlier also live in the new symbols: take them out there too.
    for (const [hi, lo] of this.remote) this.removeFrom(hi, lo, 1, from, end);
    for (const [hi, lo] of this.local) this.removeFrom(hi, lo, -1, from, end);
    this.size = end;
  }

  private grow(end: number): void {
    if (end <= this.keyHi.length) return;
    const capacity = Math.max(end, this.keyHi.length * 2);
    const resize = <T extends Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.keyHi = resize(this.keyHi, (n) => new Uint32Array(n));
    this.keyLo = resize(this.keyLo, (n) => new Uint32Array(n));
    this.check = resize(this.check, (n) => new Uint32Array(n));
    this.count = resize(this.count, (n) => new Uint8Array(n));
  }

  /** Subtracts an element (sign 1: counted as remote) from symbols in [from, to). */
  private removeFrom(
    hi: number,
    lo: number,
    sign: 1 | -1,
    from: number,
    to: number,
    queue?: number[],
  ): void {
    const { check, seedHi, seedLo } = elementHash(hi, lo);
    forEachIndex(seedHi, seedLo, to, (i) => {
      if (i < from) return;
      this.keyHi[i]! ^= hi;
      this.keyLo[i]! ^= lo;
      this.check[i]! ^= check;
      this.count[i] = (this.count[i]! - sign) & 0xff;
      queue?.push(i);
    });
  }

  private isPure(i: number): 0 | 1 | -1 {
    const count = this.count[i]!;
    if (count !== 1 && count !== 0xff) return 0;
    if (elementHash(this.keyHi[i]!, this.keyLo[i]!).check !== this.check[i]) return 0;
    return count === 1 ? 1 : -1;
  }

  /** Peels as far as the symbols received so far allow. */
  decode(): DecodeResult {
    if (!this.broken) {
      const queue: number[] = [];
      for (let i = 0; i < this.size; i++) queue.push(i);
      // Each symbol can release at most one new element per visit; 2x the symbols is a safe cap.
      const maxElements = 2 * this.size + 16;
      while (queue.length > 0) {
        const i = queue.pop()!;
        const sign = this.isPure(i);
        if (sign === 0) continue;
        const hi = this.keyHi[i]!;
        const lo = this.keyLo[i]!;
        const name = `${hi}:${lo}`;
        if (this.seen.has(name) || this.remote.length + this.local.length >= maxElements) {
          this.broken = true;
          break;
        }
        this.seen.add(name);
        (sign === 1 ? this.remote : this.local).push([hi, lo]);
        this.removeFrom(hi, lo, sign, 0, this.size, queue);
      }
    }
    // With no symbol at all nothing is known yet, even though nothing is left to explain.
    let complete = !this.broken && this.size > 0;
    for (let i = 0; complete && i < this.size; i++) {
      if (this.keyHi[i] !== 0 || this.keyLo[i] !== 0 || this.check[i] !== 0 || this.count[i] !== 0)
        complete = false;
    }
    return { complete, remoteOnly: this.remote, localOnly: this.local, symbols: this.size };
  }
}
