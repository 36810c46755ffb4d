// Word count over a person's notes: reads every input from fd 0 and writes to fd 1
//   {"words":N,"lines":N,"bytes":N,"top":[["word",count],…]}
// followed by a newline. A word is a maximal run of ASCII letters and digits and of bytes from
// 0x80 up (so UTF-8 words stay whole), with ASCII letters lowercased; "top" holds the ten most
// frequent words, by count (highest first) then by their bytes. The input is read in blocks, so
// its size is not limited by memory: only the table of distinct words grows.
import { inputBuffer, readBlock, stdout } from "../../lib/io";
import { alloc, grow } from "../../lib/memory";
import { countAt, distinctWords, lengthAt, wordAt, countWord } from "./table";
import { topEntries } from "./rank";
import { writeWellFormed } from "./utf8";

const TOP: usize = 10;
const NEWLINE: u32 = 10;

// The word being read: it may go on in the next block.
let word: usize = 0;
let wordLength: usize = 0;
let wordCapacity: usize = 0;

function isWordByte(b: u32): bool {
  return b >= 0x80 || b - 48 < 10 || (b | 0x20) - 97 < 26;
}

function append(b: u32): void {
  if (wordLength == wordCapacity) {
    word = grow(word, wordCapacity, wordCapacity * 2);
    wordCapacity *= 2;
  }
  store<u8>(word + wordLength, <u8>b);
  wordLength++;
}

export function _start(): void {
  wordCapacity = 256;
  word = alloc(wordCapacity);
  let words: u64 = 0;
  let newlines: u64 = 0;
  let bytes: u64 = 0;
  let last: u32 = NEWLINE;
  while (true) {
    const n = readBlock();
    if (n == 0) break;
    const block = inputBuffer();
    for (let i: usize = 0; i < n; i++) {
      const b = <u32>load<u8>(block + i);
      if (isWordByte(b)) {
        // ASCII upper case to lower case; bytes from 0x80 up are left as they are.
        append(b - 65 < 26 ? b | 0x20 : b);
        continue;
      }
      if (b == NEWLINE) newlines++;
      if (wordLength > 0) {
        countWord(word, wordLength);
        words++;
        wordLength = 0;
      }
    }
    bytes += n;
    last = <u32>load<u8>(block + n - 1);
  }
  if (wordLength > 0) {
    countWord(word, wordLength);
    words++;
  }
  // A last line without a newline at its end is a line too.
  const lines = newlines + (last != NEWLINE ? 1 : 0);

  const out = stdout();
  out.text('{"words":');
  out.decimal(words);
  out.text(',"lines":');
  out.decimal(lines);
  out.text(',"bytes":');
  out.decimal(bytes);
  out.text(',"top":[');
  const top = topEntries(TOP);
  const shown = distinctWords() < TOP ? distinctWords() : TOP;
  for (let i: usize = 0; i < shown; i++) {
    const entry = <usize>load<u32>(top + i * 4);
    if (i > 0) out.byte(0x2c);
    out.text('["');
    writeWellFormed(out, wordAt(entry), lengthAt(entry));
    out.text('",');
    out.decimal(countAt(entry));
    out.byte(0x5d);
  }
  out.text("]}\n");
  out.flush();
}
