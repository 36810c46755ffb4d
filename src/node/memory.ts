/**
 * Keeps a busy node's memory near what it really holds. Ingest and sync allocate a buffer per
 * request and per page; they die young in principle, but many live across an await or two,
 * reach the old generation, and V8 collects those only when the heap grows, not when buffers
 * outside the heap do, so a node taking 15,000 entries a second carries a hundred megabytes of
 * dead buffers. After every 64 MB of entries handled, at most once a second, this asks for a
 * full collection (about 20 ms), which keeps the node within its memory budget.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const EVERY_BYTES = 64 * 1024 * 1024;
const AT_MOST_EVERY_MS = 1000;

let collect: (() => void) | undefined;
let handled = 0;
let last = 0;

/** Makes full collections available to this process (once, when a node starts). */
export function enableCollections(): void {
  if (collect) return;
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc') as () => void;
}

/** Counts bytes of entries handled, collecting when enough have gone through. */
export function noteHandled(bytes: number): void {
  if (!collect) return;
  handled += bytes;
  if (handled < EVERY_BYTES) return;
  const now = Date.now();
  if (now - last < AT_MOST_EVERY_MS) return;
  handled = 0;
  last = now;
  collect();
}
