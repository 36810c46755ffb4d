// Word count over a person's notes: reads every input from fd 0 and writes to fd 1
//   {"words":N,"lines":N,"bytes":N,"top":[["word",count],…]}
// followed by a newline. A word is a maximal run of ASCII letters and digits and of bytes from
// 0x80 up (so UTF-8 words stay whole), with ASCII letters lowercased; "top" holds the ten most
// frequent words, by count (highest first) then by their bytes. The input is read in blocks, so
// its size is not limited by memory: only the table of distinct words grows.
import { inputBuffer, readBlock, stdout } from "../../lib/io";
import { alloc, grow } from "../../lib/memory";
import {
  countAt,
  countWord,
  distinctWords,
  HASH_START,
  hashStep,
  lengthAt,
  wordAt,
} from "./table";
import { topWords } from "./rank";
import { writeWellFormed } from "./utf8";

const TOP: usize = 10;
const NEWLINE: u32 = 10;

/**
 * For each byte, what it is in a word, or 0 when it separates words: ASCII letters lowercased,
 * digits and bytes from 0x80 up as they are. One load per input byte instead of comparisons.
 */
function byteClasses(): usize {
  const table = alloc(256);
  for (let b: u32 = 0; b < 256; b++) {
    let c: u32 = 0;
    if (b >= 0x80 || b - 48 < 10 || b - 97 < 26) c = b;
    else if (b - 65 < 26) c = b | 0x20;
    store<u8>(table + b, <u8>c);
  }
  return table;
}

// A word that goes on from one block into the next is gathered here; words within a block are
// counted where they are, lowercased in place.
let carry: usize = 0;
let carryLength: usize = 0;
let carryCapacity: usize = 0;

function keep(from: usize, length: usize): void {
  if (carryLength + length > carryCapacity) {
    let capacity = carryCapacity * 2;
    while (carryLength + length > capacity) capacity *= 2;
    carry = grow(carry, carryCapacity, capacity);
    carryCapacity = capacity;
  }
  memory.copy(carry + carryLength, from, length);
  carryLength += length;
}

export function _start(): void {
  const classes = byteClasses();
  carryCapacity = 256;
  carry = alloc(carryCapacity);
  let words: u64 = 0;
  let newlines: u64 = 0;
  let bytes: u64 = 0;
  let last: u32 = NEWLINE;
  let inWord = false;
  let hash: u32 = 0;
  while (true) {
    const n = readBlock();
    if (n == 0) break;
    const block = inputBuffer();
    // Where the current word starts in this block (0 when it began in an earlier one).
    let start: usize = 0;
    for (let i: usize = 0; i < n; i++) {
      const b = <u32>load<u8>(block + i);
      const c = <u32>load<u8>(classes + b);
      if (c != 0) {
        if (!inWord) {
          inWord = true;
          start = i;
          hash = HASH_START;
        }
        store<u8>(block + i, <u8>c);
        hash = hashStep(hash, c);
        continue;
      }
      if (b == NEWLINE) newlines++;
      if (inWord) {
        inWord = false;
        words++;
        if (carryLength == 0) {
          countWord(block + start, i - start, hash);
        } else {
          keep(block + start, i - start);
          countWord(carry, carryLength, hash);
          carryLength = 0;
        }
      }
    }
    if (inWord) keep(block + start, n - start);
    bytes += n;
    last = <u32>load<u8>(block + n - 1);
  }
  if (inWord) {
    words++;
    countWord(carry, carryLength, hash);
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
  const top = topWords(TOP);
  const shown = distinctWords() < TOP ? distinctWords() : TOP;
  for (let i: usize = 0; i < shown; i++) {
    const at = <usize>load<u32>(top + i * 4);
    if (i > 0) out.byte(0x2c);
    out.text('["');
    writeWellFormed(out, wordAt(at), lengthAt(at));
    out.text('",');
    out.decimal(countAt(at));
    out.byte(0x5d);
  }
  out.text("]}\n");
  out.flush();
}
