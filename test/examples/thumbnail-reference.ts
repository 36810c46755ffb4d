/**
 * Images for examples/thumbnail, and the thumbnails it should make, computed here from the
 * definition of the box filter.
 */
import assert from 'node:assert/strict';

export interface Image {
  width: number;
  height: number;
  channels: 1 | 3;
  samples: Uint8Array;
}

/** The image as a PPM or PGM file: the usual header, or the one given. */
export function encode(image: Image, header?: string): Buffer {
  const magic = image.channels === 3 ? 'P6' : 'P5';
  return Buffer.concat([
    Buffer.from(header ?? `${magic}\n${image.width} ${image.height}\n255\n`),
    image.samples,
  ]);
}

/** The image in a PPM or PGM file with the header the module writes. */
export function decode(bytes: Buffer): Image {
  const match = /^(P[56])\n(\d+) (\d+)\n255\n/.exec(bytes.toString('latin1'));
  assert.ok(
    match,
    `not the expected header: ${JSON.stringify(bytes.subarray(0, 20).toString('latin1'))}`,
  );
  return {
    channels: match[1] === 'P6' ? 3 : 1,
    width: Number(match[2]),
    height: Number(match[3]),
    samples: bytes.subarray(match[0].length),
  };
}

/** A gradient: red across, green down, blue diagonal (grey: across and down). */
export function gradient(width: number, height: number, channels: 1 | 3): Image {
  const samples = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * channels;
      const across = width > 1 ? Math.round((255 * x) / (width - 1)) : 0;
      const down = height > 1 ? Math.round((255 * y) / (height - 1)) : 0;
      if (channels === 1) {
        samples[at] = (across + down) >> 1;
      } else {
        samples[at] = across;
        samples[at + 1] = down;
        samples[at + 2] = (x * 7 + y * 13) % 256;
      }
    }
  }
  return { width, height, channels, samples };
}

/** The thumbnail's size: the longer side `longest`, the other in proportion, at least 1. */
export function fit(width: number, height: number, longest: number): [number, number] {
  if (width <= longest && height <= longest) return [width, height];
  if (width >= height) return [longest, Math.max(1, Math.round((height * longest) / width))];
  return [Math.max(1, Math.round((width * longest) / height)), longest];
}

/**
 * The box filter from its definition: source pixel (x, y) covers [x/w, (x+1)/w) × [y/h, (y+1)/h)
 * of the unit square, output pixel (X, Y) covers [X/tw, (X+1)/tw) × [Y/th, (Y+1)/th); the output
 * is the mean of the source weighted by the overlaps, rounded half up. In units of 1/(w·tw) the
 * overlaps are integers, so the sums are exact.
 */
export function boxFilter(image: Image, tw: number, th: number): Image {
  const { width: w, height: h, channels: c } = image;
  const overlap = (a0: number, a1: number, b0: number, b1: number): number =>
    Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  const samples = new Uint8Array(tw * th * c);
  for (let Y = 0; Y < th; Y++) {
    for (let X = 0; X < tw; X++) {
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let y = 0; y < h; y++) {
          const wy = overlap(y * th, (y + 1) * th, Y * h, (Y + 1) * h);
          if (wy === 0) continue;
          for (let x = 0; x < w; x++) {
            const wx = overlap(x * tw, (x + 1) * tw, X * w, (X + 1) * w);
            if (wx !== 0) sum += image.samples[(y * w + x) * c + k]! * wx * wy;
          }
        }
        samples[(Y * tw + X) * c + k] = Math.floor((2 * sum + w * h) / (2 * w * h));
      }
    }
  }
  return { width: tw, height: th, channels: c, samples };
}

/** Fails on the first sample that differs, naming its pixel. */
export function assertSameImage(actual: Image, expected: Image, what: string): void {
  assert.deepEqual(
    [actual.width, actual.height, actual.channels],
    [expected.width, expected.height, expected.channels],
    `${what}: size`,
  );
  for (let i = 0; i < expected.samples.length; i++) {
    if (actual.samples[i] !== expected.samples[i]) {
      const pixel = Math.floor(i / expected.channels);
      assert.fail(
        `${what}: pixel (${pixel % expected.width}, ${Math.floor(pixel / expected.width)}) ` +
          `sample ${i % expected.channels} is ${actual.samples[i]}, expected ${expected.samples[i]}`,
      );
    }
  }
  assert.equal(actual.samples.length, expected.samples.length, `${what}: sample count`);
}
