// The word table: every distinct word once, with how often it occurs. A word is a record (u64
// count, u32 length, u32 hash, the bytes, padded to 8 bytes) in a chunk of 64 KiB (larger for a
// longer word); records never move, so growing the table never copies the words. An open
// addressing hash table of u32 slots, kept at most half full, holds each record's address
// (0 = empty). That is about 30 to 40 bytes per distinct word of 6 letters.
import { alloc, release } from "../../lib/memory";

const RECORD_HEADER: usize = 16;
// A chunk: u32 next chunk, u32 bytes used, u32 capacity, then records from CHUNK_HEADER on.
const CHUNK_HEADER: usize = 16;
const CHUNK: usize = 65536;

let slots: usize = 0;
let slotCount: usize = 0;
let used: usize = 0;
let firstChunk: usize = 0;
let lastChunk: usize = 0;

// Words are hashed with FNV-1a (32 bits), a byte at a time as they are read: hash = HASH_START,
// then hash = hashStep(hash, byte) for each byte.
export const HASH_START: u32 = 0x811c9dc5;

@inline
export function hashStep(hash: u32, byte: u32): u32 {
  return (hash ^ byte) * 0x01000193;
}

/** Whether the `length` bytes at `a` and at `b` are the same, 8 at a time while they last. */
function sameBytes(a: usize, b: usize, length: usize): bool {
  let i: usize = 0;
  for (; i + 8 <= length; i += 8) {
    if (load<u64>(a + i) != load<u64>(b + i)) return false;
  }
  for (; i < length; i++) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
  }
  return true;
}

function recordSize(length: usize): usize {
  return (RECORD_HEADER + length + 7) & ~7;
}

/** Room for a record of `size` bytes at the end of the last chunk, or in a new chunk. */
function place(size: usize): usize {
  if (lastChunk != 0) {
    const end = <usize>load<u32>(lastChunk, 4);
    if (end + size <= <usize>load<u32>(lastChunk, 8)) {
      store<u32>(lastChunk, <u32>(end + size), 4);
      return lastChunk + end;
    }
  }
  const capacity = CHUNK_HEADER + size > CHUNK ? CHUNK_HEADER + size : CHUNK;
  const chunk = alloc(capacity);
  store<u32>(chunk, 0);
  store<u32>(chunk, <u32>(CHUNK_HEADER + size), 4);
  store<u32>(chunk, <u32>capacity, 8);
  if (lastChunk != 0) store<u32>(lastChunk, <u32>chunk);
  else firstChunk = chunk;
  lastChunk = chunk;
  return chunk + CHUNK_HEADER;
}

/** Doubles the slot array and places every record again. */
function rehash(): void {
  release(slots, slotCount * 4);
  slotCount *= 2;
  slots = alloc(slotCount * 4);
  const mask = slotCount - 1;
  for (let record = firstWord(); record != 0; record = nextWord(record)) {
    let j = <usize>load<u32>(record, 12) & mask;
    while (load<u32>(slots + j * 4) != 0) j = (j + 1) & mask;
    store<u32>(slots + j * 4, <u32>record);
  }
}

/** Adds one occurrence of the `length` bytes at `word`, whose hash is `hash`. */
export function countWord(word: usize, length: usize, hash: u32): void {
  if (slots == 0) {
    slotCount = 1024;
    slots = alloc(slotCount * 4);
  }
  const mask = slotCount - 1;
  let j = <usize>hash & mask;
  while (true) {
    const record = <usize>load<u32>(slots + j * 4);
    if (record == 0) break;
    if (
      load<u32>(record, 12) == hash &&
      lengthAt(record) == length &&
      sameBytes(wordAt(record), word, length)
    ) {
      store<u64>(record, load<u64>(record) + 1);
      return;
    }
    j = (j + 1) & mask;
  }
  // A new word: a new record, in the empty slot found above.
  const record = place(recordSize(length));
  store<u64>(record, 1);
  store<u32>(record, <u32>length, 8);
  store<u32>(record, hash, 12);
  memory.copy(record + RECORD_HEADER, word, length);
  store<u32>(slots + j * 4, <u32>record);
  used++;
  if (used * 2 > slotCount) rehash();
}

/** How many distinct words were counted. */
export function distinctWords(): usize {
  return used;
}

// Going through the words in the order they were first seen: firstWord(), then nextWord()
// until it gives 0. One walk at a time: the chunk being walked is kept here.
let walking: usize = 0;

export function firstWord(): usize {
  walking = firstChunk;
  return walking == 0 ? 0 : walking + CHUNK_HEADER;
}

export function nextWord(record: usize): usize {
  const next = record + recordSize(lengthAt(record));
  if (next < walking + <usize>load<u32>(walking, 4)) return next;
  walking = <usize>load<u32>(walking);
  return walking == 0 ? 0 : walking + CHUNK_HEADER;
}

/** Where the bytes of the word whose record is at `record` start. */
export function wordAt(record: usize): usize {
  return record + RECORD_HEADER;
}

export function lengthAt(record: usize): usize {
  return <usize>load<u32>(record, 8);
}

export function countAt(record: usize): u64 {
  return load<u64>(record);
}
