// The header of a binary Netpbm image: "P6" (PPM, RGB) or "P5" (PGM, grey), then the width,
// height and maximum sample value as ASCII decimals separated by whitespace (space, tab, CR, LF,
// VT, FF) and comments ("#" to the end of the line), then one whitespace byte before the samples.
// Only 8-bit samples (maximum value 255) are accepted.
import { peekByte, readByte } from "../../lib/io";
import { refuse, refuseText } from "./refuse";

/** The largest width or height accepted. */
export const MAX_SIDE: u32 = 65535;

let width: u32 = 0;
let height: u32 = 0;
let channels: u32 = 0;

export function imageWidth(): u32 {
  return width;
}

export function imageHeight(): u32 {
  return height;
}

/** 3 for a PPM (P6), 1 for a PGM (P5). */
export function imageChannels(): u32 {
  return channels;
}

function isSpace(b: i32): bool {
  return b == 32 || (b >= 9 && b <= 13);
}

/** Skips whitespace and comments; whether there was any. */
function skipSeparators(): bool {
  let any = false;
  while (true) {
    const b = peekByte();
    if (isSpace(b)) {
      readByte();
    } else if (b == 35) {
      skipComment();
    } else {
      return any;
    }
    any = true;
  }
}

/** Skips a comment up to and including the CR or LF that ends it. */
function skipComment(): void {
  while (true) {
    const b = readByte();
    if (b < 0 || b == 10 || b == 13) return;
  }
}

/** A decimal field after its separator; more than 5 digits is refused (the limits are below). */
function field(name: string): u32 {
  if (!skipSeparators()) refuse("bad header: expected whitespace before the ", name, "");
  let value: u32 = 0;
  let digits = 0;
  while (true) {
    const b = peekByte();
    if (b < 48 || b > 57) break;
    readByte();
    digits++;
    if (digits > 5) refuse("bad header: the ", name, " is too large");
    value = value * 10 + <u32>(b - 48);
  }
  if (digits == 0) refuse("bad header: expected a decimal number for the ", name, "");
  const next = peekByte();
  if (next < 0) refuse("bad header: the input ends after the ", name, "");
  if (!isSpace(next) && next != 35) refuse("bad header: unexpected byte after the ", name, "");
  return value;
}

/** Reads the header and leaves fd 0 at the first sample; refuses anything else. */
export function readHeader(): void {
  const p = readByte();
  const kind = readByte();
  if (p != 80 || (kind != 54 && kind != 53)) {
    refuseText("not a binary PPM (P6) or PGM (P5) image");
  }
  channels = kind == 54 ? 3 : 1;
  width = field("width");
  height = field("height");
  const maxval = field("maximum value");
  if (width == 0 || height == 0) refuseText("bad header: the width and height must be at least 1");
  if (width > MAX_SIDE || height > MAX_SIDE) {
    refuseText("bad header: the width and height must be at most 65535");
  }
  if (maxval != 255) refuseText("unsupported: the maximum value must be 255 (8-bit samples)");
  // One whitespace byte ends the header (a comment before it ends at its CR or LF).
  const end = readByte();
  if (end == 35) {
    skipComment();
  } else if (!isSpace(end)) {
    refuseText("bad header: expected whitespace after the maximum value");
  }
}
