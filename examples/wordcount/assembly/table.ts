// The word table: every distinct word once, with how often it occurs. Open addressing over a
// power-of-two slot array; the words' bytes are kept one after the other in an arena.
import { alloc, grow } from "../../lib/memory";

// A slot: u32 hash, u32 entry number + 1 (0 = empty).
const SLOT: usize = 8;
// An entry: u32 offset of the word in the arena, u32 length, u64 count.
const ENTRY: usize = 16;

let slots: usize = 0;
let slotCount: usize = 0;
let entries: usize = 0;
let entryCount: usize = 0;
let entryCapacity: usize = 0;
let arena: usize = 0;
let arenaLength: usize = 0;
let arenaCapacity: usize = 0;

function hash(word: usize, length: usize): u32 {
  // FNV-1a, 32 bits.
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < length; i++) {
    h ^= <u32>load<u8>(word + i);
    h *= 0x01000193;
  }
  return h;
}

function init(): void {
  slotCount = 1024;
  slots = alloc(slotCount * SLOT);
  entryCapacity = 256;
  entries = alloc(entryCapacity * ENTRY);
  arenaCapacity = 4096;
  arena = alloc(arenaCapacity);
}

/** Doubles the slot array and places every entry again (kept at most half full). */
function rehash(): void {
  const old = slots;
  const oldCount = slotCount;
  slotCount = oldCount * 2;
  slots = alloc(slotCount * SLOT);
  const mask = slotCount - 1;
  for (let i: usize = 0; i < oldCount; i++) {
    const slot = old + i * SLOT;
    const number = load<u32>(slot, 4);
    if (number == 0) continue;
    const h = load<u32>(slot);
    let j = <usize>h & mask;
    while (load<u32>(slots + j * SLOT, 4) != 0) j = (j + 1) & mask;
    store<u32>(slots + j * SLOT, h);
    store<u32>(slots + j * SLOT, number, 4);
  }
}

/** Adds one occurrence of the `length` bytes at `word`. */
export function countWord(word: usize, length: usize): void {
  if (slots == 0) init();
  const h = hash(word, length);
  const mask = slotCount - 1;
  let j = <usize>h & mask;
  while (true) {
    const slot = slots + j * SLOT;
    const number = load<u32>(slot, 4);
    if (number == 0) break;
    if (load<u32>(slot) == h) {
      const entry = entries + (<usize>number - 1) * ENTRY;
      if (
        <usize>load<u32>(entry, 4) == length &&
        memory.compare(arena + <usize>load<u32>(entry), word, length) == 0
      ) {
        store<u64>(entry, load<u64>(entry, 8) + 1, 8);
        return;
      }
    }
    j = (j + 1) & mask;
  }
  // A new word: its bytes into the arena, an entry, and the empty slot found above.
  if (arenaLength + length > arenaCapacity) {
    let capacity = arenaCapacity * 2;
    while (arenaLength + length > capacity) capacity *= 2;
    arena = grow(arena, arenaLength, capacity);
    arenaCapacity = capacity;
  }
  memory.copy(arena + arenaLength, word, length);
  if (entryCount == entryCapacity) {
    entries = grow(entries, entryCapacity * ENTRY, entryCapacity * 2 * ENTRY);
    entryCapacity *= 2;
  }
  const entry = entries + entryCount * ENTRY;
  store<u32>(entry, <u32>arenaLength);
  store<u32>(entry, <u32>length, 4);
  store<u64>(entry, 1, 8);
  arenaLength += length;
  entryCount++;
  store<u32>(slots + j * SLOT, h);
  store<u32>(slots + j * SLOT, <u32>entryCount, 4);
  if (entryCount * 2 > slotCount) rehash();
}

/** How many distinct words were counted; entries are numbered 0 … wordCount() - 1. */
export function distinctWords(): usize {
  return entryCount;
}

export function wordAt(i: usize): usize {
  return arena + <usize>load<u32>(entries + i * ENTRY);
}

export function lengthAt(i: usize): usize {
  return <usize>load<u32>(entries + i * ENTRY, 4);
}

export function countAt(i: usize): u64 {
  return load<u64>(entries + i * ENTRY, 8);
}
