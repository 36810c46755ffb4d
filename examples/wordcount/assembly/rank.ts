// The most frequent words: by count, highest first, then by their bytes in ascending order
// (for UTF-8 that is the order of code points), so the ranking is the same on every run.
import { countAt, distinctWords, lengthAt, wordAt } from "./table";
import { alloc } from "../../lib/memory";

/** Whether entry `a` ranks before entry `b`. */
function before(a: usize, b: usize): bool {
  const ca = countAt(a);
  const cb = countAt(b);
  if (ca != cb) return ca > cb;
  const la = lengthAt(a);
  const lb = lengthAt(b);
  const order = memory.compare(wordAt(a), wordAt(b), la < lb ? la : lb);
  if (order != 0) return order < 0;
  return la < lb;
}

/**
 * The first `k` entries in rank order, as u32 entry numbers at the returned pointer; their
 * number is min(k, distinctWords()). One pass with insertion into a list of k: O(n·k).
 */
export function topEntries(k: usize): usize {
  const list = alloc(k * 4 + 4);
  let size: usize = 0;
  const n = distinctWords();
  for (let i: usize = 0; i < n; i++) {
    if (size == k && !before(i, <usize>load<u32>(list + (k - 1) * 4))) continue;
    let j = size < k ? size : k - 1;
    while (j > 0 && before(i, <usize>load<u32>(list + (j - 1) * 4))) {
      store<u32>(list + j * 4, load<u32>(list + (j - 1) * 4));
      j--;
    }
    store<u32>(list + j * 4, <u32>i);
    if (size < k) size++;
  }
  return list;
}
