// Thumbnail of an image: reads a binary PPM (P6) or PGM (P5) image with 8-bit samples from fd 0
// and writes an image of the same kind to fd 1, scaled down by box filtering so that its longer
// side is the job's first argument (128 when there is none), the aspect ratio kept. A malformed
// header, a bad argument or missing samples: one line on fd 2 and exit code 2.
import { argCount, argLength, argPointer, stdout } from "../../lib/io";
import { imageChannels, imageHeight, imageWidth, MAX_SIDE, readHeader } from "./header";
import { boxFilter, fitSize, thumbnailHeight, thumbnailWidth } from "./box";
import { refuseText } from "./refuse";

const DEFAULT_SIDE: u32 = 128;

/** The longest side asked for: argv[1], a decimal from 1 to 65535, if given. */
function longestSide(): u32 {
  const count = argCount();
  if (count > 2) refuseText("expected at most one argument: the longest side in pixels");
  if (count < 2) return DEFAULT_SIDE;
  const start = argPointer(1);
  const length = argLength(1);
  let value: u32 = 0;
  for (let i: usize = 0; i < length; i++) {
    const digit = <u32>load<u8>(start + i) - 48;
    if (digit > 9 || i >= 5) {
      refuseText("the argument must be the longest side in pixels, from 1 to 65535");
    }
    value = value * 10 + digit;
  }
  if (length == 0 || value == 0 || value > MAX_SIDE) {
    refuseText("the argument must be the longest side in pixels, from 1 to 65535");
  }
  return value;
}

export function _start(): void {
  const longest = longestSide();
  readHeader();
  const w = imageWidth();
  const h = imageHeight();
  const c = imageChannels();
  fitSize(w, h, longest);
  const out = stdout();
  out.text(c == 3 ? "P6\n" : "P5\n");
  out.decimal(thumbnailWidth());
  out.byte(32);
  out.decimal(thumbnailHeight());
  out.text("\n255\n");
  boxFilter(w, h, c, out);
  out.flush();
}
