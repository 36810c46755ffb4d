/** What examples/wordcount should write, computed here in another way, and inputs for it. */

/** The result the module should write for `input`, computed independently. */
export function expectedResult(input: Buffer): string {
  // latin1 maps each byte to one character, so a regular expression can work on bytes.
  const text = input.toString('latin1');
  const words = (text.match(/[A-Za-z0-9\x80-\xff]+/g) ?? []).map((w) =>
    w.replace(/[A-Z]/g, (c) => c.toLowerCase()),
  );
  const counts = new Map<string, number>();
  for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  const top = [...counts]
    .sort(
      ([a, ca], [b, cb]) =>
        cb - ca || Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')),
    )
    .slice(0, 10)
    .map(([word, count]) => [new TextDecoder().decode(Buffer.from(word, 'latin1')), count]);
  const newlines = text.split('\n').length - 1;
  const lines = newlines + (text.length > 0 && !text.endsWith('\n') ? 1 : 0);
  return `${JSON.stringify({ words: words.length, lines, bytes: input.length, top })}\n`;
}

/** A deterministic pseudo-random source (mulberry32), so a failure can be replayed. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCABULARY = [
  'the',
  'The',
  'THE',
  'notes',
  'Notes',
  'meeting',
  'Straße',
  'straße',
  'café',
  'Café',
  'naïve',
  '日本語',
  'данные',
  'über',
  'Über',
  '🎉',
  'x86',
  '2026',
  'a',
  'I',
  'ok',
  'self—contained',
  'don’t',
  'e-mail',
  "it's",
  'C++',
  'foo_bar',
];
const SEPARATORS = [
  ' ',
  ' ',
  ' ',
  ', ',
  '. ',
  '\n',
  '\r\n',
  '\t',
  '; ',
  '!',
  '?',
  ' (',
  ') ',
  '"',
  '\n\n',
];

/** About `size` bytes of notes-like text. */
export function notes(seed: number, size: number): Buffer {
  const next = random(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = VOCABULARY[Math.floor(next() ** 2 * VOCABULARY.length)]!;
    const separator = SEPARATORS[Math.floor(next() * SEPARATORS.length)]!;
    parts.push(word, separator);
    length += Buffer.byteLength(word) + Buffer.byteLength(separator);
  }
  return Buffer.from(parts.join(''));
}
