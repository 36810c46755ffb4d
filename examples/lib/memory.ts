// An allocator over the module's linear memory, for programs that run once and exit: memory is
// taken from the top, a buffer that grows is extended in place when it is the last one and moved
// otherwise, and the blocks given back (a moved buffer's old place) are kept in a list and used
// again for later allocations they can hold, first fit.
import { fd_write } from "./wasi";

const ALIGN: usize = 16;
// The largest single allocation: well under 4 GiB so that rounding up cannot wrap around.
const MAX_SIZE: usize = 0x7fff0000;

let top: usize = 0;
// The blocks given back: a list through their first 8 bytes (u32 next block, u32 size).
let free: usize = 0;

function roundUp(size: usize): usize {
  return (size + ALIGN - 1) & ~(ALIGN - 1);
}

/** Makes sure memory reaches `end`, growing it by whole pages; stops the module when it cannot. */
function reach(end: usize): void {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return;
  const pages = <i32>((end - have + 0xffff) >>> 16);
  if (memory.grow(pages) < 0) outOfMemory();
}

/** A block of at least `size` bytes from the list, or 0. */
function reuse(size: usize): usize {
  let previous: usize = 0;
  let block = free;
  while (block != 0) {
    const next = <usize>load<u32>(block);
    const blockSize = <usize>load<u32>(block, 4);
    if (blockSize >= size) {
      if (previous == 0) free = next;
      else store<u32>(previous, <u32>next);
      // What the allocation does not need goes back on the list.
      if (blockSize - size >= ALIGN) release(block + size, blockSize - size);
      memory.fill(block, 0, size);
      return block;
    }
    previous = block;
    block = next;
  }
  return 0;
}

/** `size` zeroed bytes, 16-byte aligned. */
export function alloc(size: usize): usize {
  if (size > MAX_SIZE) outOfMemory();
  if (top == 0) top = roundUp(__heap_base);
  const rounded = roundUp(size);
  if (rounded == 0) return top;
  const reused = reuse(rounded);
  if (reused != 0) return reused;
  const ptr = top;
  const end = ptr + rounded;
  if (end < ptr) outOfMemory();
  reach(end);
  top = end;
  return ptr;
}

/** Gives back the `size` bytes at `ptr` (from alloc or grow) for later allocations. */
export function release(ptr: usize, size: usize): void {
  const rounded = roundUp(size);
  if (rounded == 0) return;
  if (ptr + rounded == top) {
    top = ptr;
    return;
  }
  store<u32>(ptr, <u32>free);
  store<u32>(ptr, <u32>rounded, 4);
  free = ptr;
}

/** Grows the buffer at `ptr` from `oldSize` to `newSize` bytes, keeping its contents. */
export function grow(ptr: usize, oldSize: usize, newSize: usize): usize {
  if (newSize > MAX_SIZE) outOfMemory();
  if (ptr + roundUp(oldSize) == top) {
    const end = ptr + roundUp(newSize);
    if (end < ptr) outOfMemory();
    reach(end);
    top = end;
    return ptr;
  }
  const moved = alloc(newSize);
  memory.copy(moved, ptr, oldSize);
  release(ptr, oldSize);
  return moved;
}

/**
 * The job's memory_pages limit is reached. The message goes to fd 2 from static memory (nothing
 * can be allocated any more), then the module traps: there is no result to give.
 */
function outOfMemory(): void {
  const text = "out of memory\n";
  const bytes = memory.data(16, 16);
  const iov = memory.data(16, 16);
  for (let i = 0; i < text.length; i++) store<u8>(bytes + <usize>i, <u8>text.charCodeAt(i));
  store<u32>(iov, bytes);
  store<u32>(iov, <u32>text.length, 4);
  fd_write(2, iov, 1, iov + 8);
  unreachable();
}
