/**
 * The erasure code of docs/spread.md §3 written from the document alone, with the parameter
 * table read from the document too: the vectors test compares it with the library, so a
 * document that does not say exactly what the library does is caught.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface CodeParameters {
  readonly w: number;
  readonly p: number;
  readonly x: number | undefined;
  readonly y: number | undefined;
}

/** The `w p x y` table of docs/spread.md §3, by "k/m". */
export function documentedParameters(): Map<string, CodeParameters> {
  const text = readFileSync(join(repoRoot, 'docs', 'spread.md'), 'utf8');
  const table = new Map<string, CodeParameters>();
  for (const line of text.split('\n')) {
    const cells = /^\|\s*(\d+)\s*\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    const k = Number(cells[1]);
    const columns = cells[2]!.split('|').map((c) => c.trim());
    if (columns.length !== 6) continue;
    columns.forEach((cell, i) => {
      const [w, p, x, y] = cell.split(/\s+/);
      table.set(`${k}/${i + 1}`, {
        w: Number(w),
        p: Number(p),
        x: x === '–' ? undefined : Number(x),
        y: y === '–' ? undefined : Number(y),
      });
    });
  }
  return table;
}

class Field {
  readonly size: number;
  private readonly log: number[];
  private readonly exp: number[];

  constructor(
    readonly w: number,
    p: number,
  ) {
    this.size = 1 << w;
    this.log = new Array<number>(this.size).fill(-1);
    this.exp = new Array<number>(this.size).fill(0);
    let b = 1;
    for (let a = 0; a < this.size - 1; a++) {
      this.log[b] = a;
      this.exp[a] = b;
      b <<= 1;
      if (b & this.size) b = (b ^ p) & (this.size - 1);
    }
  }

  mul(a: number, b: number): number {
    if (a === 0 || b === 0) return 0;
    return this.exp[(this.log[a]! + this.log[b]!) % (this.size - 1)]!;
  }

  div(a: number, b: number): number {
    if (a === 0) return 0;
    const q = this.size - 1;
    return this.exp[(((this.log[a]! - this.log[b]!) % q) + q) % q]!;
  }

  bits(e: number): number {
    let count = 0;
    let v = e;
    for (let r = 0; r < this.w; r++) {
      for (let i = 0; i < this.w; i++) if (v & (1 << i)) count++;
      v = this.mul(v, 2);
    }
    return count;
  }
}

function codingMatrix(f: Field, k: number, m: number, params: CodeParameters): number[][] {
  const M = Array.from({ length: m }, () => new Array<number>(k).fill(1));
  if (m === 1) return M;
  if (m === 2) {
    const order = Array.from({ length: f.size - 1 }, (_, i) => i + 1).sort(
      (a, b) => f.bits(a) - f.bits(b) || a - b,
    );
    for (let c = 0; c < k; c++) M[1]![c] = order[c]!;
    return M;
  }
  const { x, y } = params as { x: number; y: number };
  for (let r = 0; r < m; r++) for (let c = 0; c < k; c++) M[r]![c] = f.div(1, (y + r) ^ (x + c));
  for (let r = 1; r < m; r++) for (let c = 0; c < k; c++) M[r]![c] = f.div(M[r]![c]!, M[0]![c]!);
  for (let c = 0; c < k; c++) M[0]![c] = 1;
  for (let r = 1; r < m; r++) {
    const row = M[r]!;
    const total = row.reduce((s, e) => s + f.bits(e), 0);
    let best = total;
    let by: number | undefined;
    for (let c = 0; c < k; c++) {
      const t = row.reduce((s, e) => s + f.bits(f.div(e, row[c]!)), 0);
      if (t < best) {
        best = t;
        by = row[c]!;
      }
    }
    if (by !== undefined) M[r] = row.map((e) => f.div(e, by));
  }
  return M;
}

/** The parity shards of §3 for `data` (k shards of equal length). */
export function referenceParity(
  params: CodeParameters,
  k: number,
  m: number,
  data: readonly Buffer[],
): Buffer[] {
  const f = new Field(params.w, params.p);
  const w = params.w;
  const M = codingMatrix(f, k, m, params);
  const shardBytes = data[0]!.length;
  let P = shardBytes / w;
  while (P > 64 && P % 2 === 0 && (1 + k * w) * P > 1_048_576) P /= 2;
  const parity = Array.from({ length: m }, () => Buffer.alloc(shardBytes));
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < k; c++) {
      for (let a = 0; a < w; a++) {
        const e = f.mul(M[r]![c]!, pow2(f, a));
        for (let t = 0; t < w; t++) {
          if (((e >> t) & 1) === 0) continue;
          for (let o = 0; o < shardBytes; o += w * P) {
            const target = parity[r]!;
            const source = data[c]!;
            for (let i = 0; i < P; i++) target[o + t * P + i]! ^= source[o + a * P + i]!;
          }
        }
      }
    }
  }
  return parity;
}

function pow2(f: Field, a: number): number {
  let v = 1;
  for (let i = 0; i < a; i++) v = f.mul(v, 2);
  return v;
}
