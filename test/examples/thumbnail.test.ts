/**
 * examples/thumbnail run on the test's own WASI host: thumbnails compared pixel by pixel with a
 * box filter computed here directly from its definition (each output pixel the area-weighted
 * mean of the source under it), and malformed input refused with exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleModule } from './modules.js';
import {
  assertSameImage,
  boxFilter,
  decode,
  encode,
  fit,
  gradient,
  type Image,
} from './thumbnail-reference.js';
import { runWasi, type WasiOutcome } from './wasi-host.js';

const module = exampleModule('thumbnail');

async function thumbnail(input: Buffer, args: string[] = [], maxRead?: number): Promise<Image> {
  const outcome = await runWasi({ module, inputs: [input], args, ...(maxRead ? { maxRead } : {}) });
  assert.equal(
    outcome.status,
    'ok',
    `${outcome.status} ${outcome.exitCode} ${outcome.log.toString()}`,
  );
  assert.equal(outcome.log.length, 0);
  return decode(outcome.output);
}

test('a thumbnail checked by hand: 2×2 blocks averaged, halves rounded up', async () => {
  const grey = {
    width: 4,
    height: 2,
    channels: 1,
    samples: Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 72]),
  } as const;
  const half = await thumbnail(encode(grey), ['2']);
  assert.deepEqual([half.width, half.height, [...half.samples]], [2, 1, [25, 46]]);
  const pair = {
    width: 2,
    height: 1,
    channels: 3,
    samples: Uint8Array.from([0, 255, 7, 1, 255, 8]),
  } as const;
  const one = await thumbnail(encode(pair), ['1']);
  assert.deepEqual([one.width, one.height, [...one.samples]], [1, 1, [1, 255, 8]]);
});

test('a 300×200 colour gradient to the default 128 pixels, pixel by pixel', async () => {
  const image = gradient(300, 200, 3);
  const thumb = await thumbnail(encode(image));
  assertSameImage(thumb, boxFilter(image, 128, 85), 'P6 300×200 → 128');
  // And the same whatever the sizes of the blocks fd_read returns.
  assertSameImage(await thumbnail(encode(image), [], 1000), thumb, 'reads of 1000 bytes');
});

test('odd sizes, tall and wide, grey and colour', async () => {
  const cases: [number, number, 1 | 3, number][] = [
    [37, 23, 1, 10],
    [23, 37, 3, 10],
    [101, 7, 3, 16],
    [5, 99, 1, 7],
    [99, 5, 3, 98],
    [64, 64, 1, 63],
    [17, 13, 3, 13],
  ];
  for (const [width, height, channels, longest] of cases) {
    const image = gradient(width, height, channels);
    const [tw, th] = fit(width, height, longest);
    const what = `P${channels === 3 ? 6 : 5} ${width}×${height} → ${longest}`;
    assertSameImage(
      await thumbnail(encode(image), [String(longest)]),
      boxFilter(image, tw, th),
      what,
    );
  }
});

test('a 1×1 image, and an image no larger than asked, come out unchanged', async () => {
  for (const image of [
    gradient(1, 1, 3),
    gradient(1, 1, 1),
    gradient(40, 30, 3),
    gradient(3, 128, 1),
  ]) {
    const same = await thumbnail(encode(image));
    assertSameImage(same, image, `${image.width}×${image.height}`);
  }
  const dot = { width: 1, height: 1, channels: 3, samples: Uint8Array.from([9, 99, 199]) } as const;
  assertSameImage(await thumbnail(encode(dot), ['1']), dot, '1×1 → 1');
});

test('headers with comments and any whitespace are read', async () => {
  const image = gradient(6, 4, 1);
  const expected = boxFilter(image, 3, 2);
  for (const header of [
    'P5 6 4 255\n',
    'P5\t6\r\n4\n255\t',
    'P5\n# a comment\n6 # the width\n4\n# the maximum value:\n255\n',
    'P5\x0b6\x0c4\r255\r',
    // A comment right after the maximum value: its newline is the byte that ends the header.
    'P5\n6\n4\n255# the samples follow\n',
  ]) {
    assertSameImage(
      await thumbnail(encode(image, header), ['3']),
      expected,
      JSON.stringify(header),
    );
  }
});

/** Runs the module on input it must refuse; returns its log line. */
async function refused(input: Buffer, args: string[] = []): Promise<string> {
  const outcome: WasiOutcome = await runWasi({ module, inputs: [input], args });
  assert.equal(
    outcome.status,
    'exit',
    `${JSON.stringify(input.subarray(0, 30).toString('latin1'))}`,
  );
  assert.equal(outcome.exitCode, 2);
  const log = outcome.log.toString();
  assert.match(log, /^thumbnail: [^\n]+\n$/);
  return log;
}

test('malformed headers and bad arguments: one line on fd 2 and exit code 2', async () => {
  const cases: [string, RegExp][] = [
    ['', /not a binary PPM \(P6\) or PGM \(P5\) image/],
    ['P3\n1 1\n255\n0 0 0\n', /not a binary PPM/],
    ['P7\nWIDTH 1\n', /not a binary PPM/],
    ['\x89PNG\r\n\x1a\n', /not a binary PPM/],
    ['P6', /expected whitespace before the width/],
    ['P6\n', /expected a decimal number for the width/],
    ['P6\n-4 2\n255\n', /expected a decimal number for the width/],
    ['P6\n4x 2\n255\n', /unexpected byte after the width/],
    ['P6\n4 2\n', /expected a decimal number for the maximum value/],
    ['P6\n4 2\n255', /the input ends after the maximum value/],
    ['P6\n4 2\n255x', /unexpected byte after the maximum value/],
    ['P6\n4 2\n65535\n', /the maximum value must be 255/],
    ['P6\n4 2\n15\n', /the maximum value must be 255/],
    ['P6\n0 2\n255\n', /at least 1/],
    ['P5\n2 0\n255\n', /at least 1/],
    ['P6\n70000 1\n255\n', /at most 65535/],
    ['P6\n123456 1\n255\n', /the width is too large/],
    ['P5\n4 2\n255\n\x01\x02\x03', /the image data ends early: 3 of 8 bytes/],
    ['P6\n2 2\n255\n', /the image data ends early: 0 of 12 bytes/],
  ];
  for (const [input, message] of cases) {
    assert.match(await refused(Buffer.from(input, 'latin1')), message, JSON.stringify(input));
  }
  const image = encode(gradient(4, 4, 1));
  for (const args of [['0'], ['abc'], ['70000'], ['123456'], [''], ['-5'], ['12', '34']]) {
    assert.match(await refused(image, args), /argument/, JSON.stringify(args));
  }
});

test('memory depends on the width, not on the height', async () => {
  const tall = gradient(16, 40_000, 1);
  const outcome = await runWasi({ module, inputs: [encode(tall)], args: ['100'] });
  assert.equal(outcome.status, 'ok');
  assertSameImage(decode(outcome.output), boxFilter(tall, 1, 100), '16×40000 → 100');
  assert.ok(outcome.memoryPages <= 3, `${outcome.memoryPages} pages for a 640 KB image`);
});
