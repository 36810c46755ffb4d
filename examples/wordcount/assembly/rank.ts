// The most frequent words: by count, highest first, then by their bytes in ascending order
// (for UTF-8 that is the order of code points), so the ranking is the same on every run.
import { countAt, firstWord, lengthAt, nextWord, wordAt } from "./table";
import { alloc } from "../../lib/memory";

/** Whether word `a` ranks before word `b`. */
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
 * The first `k` words in rank order, as u32 record addresses at the returned pointer; there are
 * min(k, distinctWords()) of them. One pass with insertion into a list of k: O(n·k).
 */
export function topWords(k: usize): usize {
  const list = alloc(k * 4 + 4);
  let size: usize = 0;
  for (let i = firstWord(); i != 0; i = nextWord(i)) {
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
