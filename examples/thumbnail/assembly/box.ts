// Scaling down by box filtering. Each output pixel covers a rectangle of the source, and its
// value is the mean of the source samples under that rectangle, each weighted by the area of it
// the rectangle covers. Working in units of 1/tw source pixel across and 1/th down, source pixel
// x spans [x·tw, (x+1)·tw) and output column X spans [X·w, (X+1)·w): every overlap is a whole
// number, so the sums are exact integers and the result does not depend on floating point.
// The source is read once, row by row; memory holds one output row being summed and the next.
import { buffered, bufferedAt, skip, Sink } from "../../lib/io";
import { alloc } from "../../lib/memory";
import { refuseTruncated } from "./refuse";

let thumbWidth: u32 = 0;
let thumbHeight: u32 = 0;

export function thumbnailWidth(): u32 {
  return thumbWidth;
}

export function thumbnailHeight(): u32 {
  return thumbHeight;
}

/** round(a · b / c) for c > 0, halves up. */
function roundedRatio(a: u64, b: u64, c: u64): u64 {
  return (2 * a * b + c) / (2 * c);
}

/**
 * The thumbnail's size: the longer side becomes `longest` and the other keeps the aspect ratio
 * (rounded, at least 1); an image no larger than `longest` keeps its size.
 */
export function fitSize(w: u32, h: u32, longest: u32): void {
  if (w <= longest && h <= longest) {
    thumbWidth = w;
    thumbHeight = h;
  } else if (w >= h) {
    thumbWidth = longest;
    thumbHeight = <u32>max<u64>(1, roundedRatio(h, longest, w));
  } else {
    thumbHeight = longest;
    thumbWidth = <u32>max<u64>(1, roundedRatio(w, longest, h));
  }
}

/**
 * Reads the w × h × c samples from fd 0 and writes the tw × th thumbnail's samples to `out`
 * (fitSize first). Every sample sum is below 255 · w · h < 2^41.
 */
export function boxFilter(w: u32, h: u32, c: u32, out: Sink): void {
  const tw = thumbWidth;
  const th = thumbHeight;
  const rowSamples = <usize>tw * c;
  // Where each source column goes: its first output column and the weight it gives it; the
  // rest of its width (tw minus that weight) goes to the next column.
  const firstColumn = alloc(<usize>w * 4);
  const firstWeight = alloc(<usize>w * 4);
  for (let x: u32 = 0; x < w; x++) {
    const start = <u64>x * tw;
    const column = start / w;
    const boundary = (column + 1) * w;
    const weight = start + tw <= boundary ? tw : <u32>(boundary - start);
    store<u32>(firstColumn + <usize>x * 4, <u32>column);
    store<u32>(firstWeight + <usize>x * 4, weight);
  }
  // One source row summed across (below 255 · w each), and two output rows summed down.
  const across = alloc(rowSamples * 4);
  let current = alloc(rowSamples * 8);
  let next = alloc(rowSamples * 8);
  const area = <u64>w * h;
  const expected = <u64>w * h * c;
  let done: u64 = 0;
  for (let y: u32 = 0; y < h; y++) {
    memory.fill(across, 0, rowSamples * 4);
    // The row's samples, taken from the input buffer as far as it goes, block after block.
    let x: u32 = 0;
    let k: u32 = 0;
    let to = across + <usize>load<u32>(firstColumn) * c * 4;
    let weight = load<u32>(firstWeight);
    let rest = tw - weight;
    let left = <usize>w * c;
    while (left > 0) {
      const available = buffered();
      if (available == 0) refuseTruncated(done, expected);
      const from = bufferedAt();
      const n = available < left ? available : left;
      for (let i: usize = 0; i < n; i++) {
        const v = <u32>load<u8>(from + i);
        const at = to + <usize>k * 4;
        store<u32>(at, load<u32>(at) + v * weight);
        if (rest != 0) store<u32>(at + <usize>c * 4, load<u32>(at + <usize>c * 4) + v * rest);
        if (++k == c) {
          k = 0;
          if (++x < w) {
            to = across + <usize>load<u32>(firstColumn + <usize>x * 4) * c * 4;
            weight = load<u32>(firstWeight + <usize>x * 4);
            rest = tw - weight;
          }
        }
      }
      skip(n);
      left -= n;
      done += n;
    }
    // The same split down: this row's weight in the current output row, the rest in the next.
    const start = <u64>y * th;
    const boundary = (start / h + 1) * h;
    const share = start + th <= boundary ? th : <u32>(boundary - start);
    const spill = th - share;
    for (let i: usize = 0; i < rowSamples; i++) {
      const sum = <u64>load<u32>(across + i * 4);
      store<u64>(current + i * 8, load<u64>(current + i * 8) + sum * share);
      if (spill != 0) store<u64>(next + i * 8, load<u64>(next + i * 8) + sum * spill);
    }
    if (start + th >= boundary) {
      for (let i: usize = 0; i < rowSamples; i++) {
        out.byte(<u32>((2 * load<u64>(current + i * 8) + area) / (2 * area)));
      }
      const finished = current;
      current = next;
      next = finished;
      memory.fill(next, 0, rowSamples * 8);
    }
  }
}
