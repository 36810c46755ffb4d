/**
 * examples/wordcount run on the test's own WASI host, against counts computed here in another
 * way (a regular expression over the bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleModule } from './modules.js';
import { expectedResult, notes, random } from './wordcount-reference.js';
import { runWasi, type WasiOutcome } from './wasi-host.js';

const module = exampleModule('wordcount');

async function count(inputs: Buffer[], maxRead?: number): Promise<WasiOutcome> {
  const outcome = await runWasi({ module, inputs, ...(maxRead ? { maxRead } : {}) });
  assert.equal(outcome.status, 'ok', `${outcome.message} ${outcome.log.toString()}`);
  assert.equal(outcome.log.length, 0);
  return outcome;
}

test('word count of a small text, checked by hand', async () => {
  const input = Buffer.from('The cat; the CAT, the dog.\nÉté été');
  const { output } = await count([input]);
  // É is not ASCII: it is kept as it is, and "Été" (C3 89 …) sorts before "été" (C3 A9 …).
  assert.equal(
    output.toString(),
    `{"words":8,"lines":2,"bytes":${input.length},"top":[["the",3],["cat",2],["dog",1],["Été",1],["été",1]]}\n`,
  );
});

test('word count of generated notes with UTF-8 and punctuation, over several input blocks', async () => {
  for (const [seed, size] of [
    [1, 1000],
    [2, 200_000],
  ] as const) {
    const input = notes(seed, size);
    const { output, bytesRead } = await count([input]);
    assert.equal(output.toString(), expectedResult(input), `seed ${seed}`);
    assert.equal(bytesRead, input.length);
    JSON.parse(output.toString());
  }
});

test('the same result whatever the sizes of the blocks fd_read returns', async () => {
  const input = notes(3, 20_000);
  const expected = expectedResult(input);
  for (const maxRead of [1, 7, 4096]) {
    const { output } = await count([input], maxRead);
    assert.equal(output.toString(), expected, `reads of at most ${maxRead} bytes`);
  }
});

test('a word cut in two by the end of an fd_read block is one word', async () => {
  // The host never returns bytes of two inputs in one fd_read: "hel" and "lo" come apart.
  const { output } = await count([Buffer.from('say hel'), Buffer.from('lo, hello\n')]);
  assert.equal(
    output.toString(),
    '{"words":3,"lines":1,"bytes":17,"top":[["hello",2],["say",1]]}\n',
  );
  // A UTF-8 character cut between its bytes stays whole too.
  const cafe = Buffer.from('café café');
  const { output: split } = await count([cafe.subarray(0, 4), cafe.subarray(4)]);
  assert.equal(split.toString(), '{"words":2,"lines":1,"bytes":11,"top":[["café",2]]}\n');
  // And a word across the module's own 64 KiB blocks.
  const long = Buffer.concat([Buffer.alloc(65_530, ' '), Buffer.from('boundary boundary')]);
  const { output: across } = await count([long]);
  assert.equal(across.toString(), expectedResult(long));
  assert.match(across.toString(), /"top":\[\["boundary",2\]\]/);
});

test('empty input and lines with and without a final newline', async () => {
  const cases: [string, number][] = [
    ['', 0],
    ['a', 1],
    ['a\n', 1],
    ['a\nb', 2],
    ['\n\n', 2],
    ['x\r\ny\r\n', 2],
  ];
  for (const [text, lines] of cases) {
    const input = Buffer.from(text);
    const { output } = await count(text === '' ? [] : [input]);
    assert.equal(output.toString(), expectedResult(input), JSON.stringify(text));
    assert.equal(JSON.parse(output.toString()).lines, lines, JSON.stringify(text));
  }
  const { output } = await count([]);
  assert.equal(output.toString(), '{"words":0,"lines":0,"bytes":0,"top":[]}\n');
});

test('the ten most frequent words, ties by their bytes', async () => {
  // 12 words, counts 12 down to 1, given in a shuffled order, and a tie at 5.
  const words = ['kilo', 'alpha', 'lima', 'bravo', 'juliet', 'charlie', 'india', 'delta'];
  const parts: string[] = [];
  words.forEach((word, i) => parts.push(...Array<string>(12 - i).fill(word)));
  parts.push(...Array<string>(5).fill('echo'), 'zulu', 'yankee', 'xray');
  const input = Buffer.from(parts.reverse().join(' '));
  const { output } = await count([input]);
  const result = JSON.parse(output.toString()) as { top: [string, number][] };
  assert.deepEqual(result.top, [
    ['kilo', 12],
    ['alpha', 11],
    ['lima', 10],
    ['bravo', 9],
    ['juliet', 8],
    ['charlie', 7],
    ['india', 6],
    ['delta', 5],
    ['echo', 5],
    ['xray', 1],
  ]);
  assert.equal(output.toString(), expectedResult(input));
});

test('ill-formed UTF-8 is written as U+FFFD, so the result is always valid UTF-8 JSON', async () => {
  const input = Buffer.from([
    ...Buffer.from('bad '),
    0xff,
    0x61,
    0x20, // a lone byte that never starts a character, then "a"
    0xe2,
    0x82,
    0x20, // a character cut short
    0xc0,
    0xaf,
    0x20, // an overlong "/"
    0xed,
    0xa0,
    0x80,
    0x20, // a surrogate
    0xf4,
    0x90,
    0x80,
    0x80,
    0x20, // past U+10FFFF
    0xe2,
    0x82,
    0xac,
    0x0a, // "€", well formed
    0xf0,
    0x9f,
    0x8e, // the last word cut short
  ]);
  const { output } = await count([input]);
  new TextDecoder('utf-8', { fatal: true }).decode(output);
  assert.equal(output.toString(), expectedResult(input));
  const { top } = JSON.parse(output.toString()) as { top: [string, number][] };
  assert.ok(top.some(([word]) => word === '€'));
  assert.ok(top.some(([word]) => word === '\ufffda'));
});

test('long words and many distinct words', async () => {
  const long = Buffer.from(`${'Lorem'.repeat(60_000)} tail ${'lorem'.repeat(60_000)}`);
  const { output } = await count([long]);
  assert.equal(output.toString(), expectedResult(long));
  assert.match(
    output.toString(),
    /^\{"words":3,"lines":1,"bytes":600006,"top":\[\["(lorem){60000}",2\],\["tail",1\]\]\}\n$/,
  );

  const next = random(4);
  const distinct = Buffer.from(
    Array.from({ length: 60_000 }, () => Math.floor(next() * 40_000).toString(36)).join(' '),
  );
  const { output: many } = await count([distinct]);
  assert.equal(many.toString(), expectedResult(distinct));
});

test('memory: a few pages for repeated words however long the input, ~40 bytes a distinct word', async () => {
  const input = notes(5, 3_000_000);
  const outcome = await count([input]);
  assert.equal(outcome.output.toString(), expectedResult(input));
  // The 64 KiB input block, the word table and a few buffers: a few pages, not the input's 46.
  assert.ok(outcome.memoryPages <= 4, `${outcome.memoryPages} pages`);

  // 100,000 distinct words of 5 to 7 bytes: records of 24 bytes in 64 KiB chunks, a slot table
  // of 256 Ki × 4 bytes, and what rehashing left behind.
  const distinct = Buffer.from(
    Array.from({ length: 100_000 }, (_, i) => `w${(i * 7919).toString(36)}`).join(' '),
  );
  const many = await count([distinct]);
  assert.equal(JSON.parse(many.output.toString()).words, 100_000);
  assert.ok(many.memoryPages <= 64, `${many.memoryPages} pages for 100,000 distinct words`);
});
