// A bump allocator over the module's linear memory. An example runs once and exits, so nothing is
// ever given back; a buffer that grows is extended in place when it is the last one allocated and
// moved otherwise, so what is left behind is at most what the buffers hold at the end.
import { fd_write } from "./wasi";

const ALIGN: usize = 16;
// The largest single allocation: well under 4 GiB so that rounding up cannot wrap around.
const MAX_SIZE: usize = 0x7fff0000;

let top: usize = 0;

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

/** `size` fresh zeroed bytes, 16-byte aligned. */
export function alloc(size: usize): usize {
  if (size > MAX_SIZE) outOfMemory();
  if (top == 0) top = roundUp(__heap_base);
  const ptr = top;
  const end = ptr + roundUp(size);
  reach(end);
  top = end;
  return ptr;
}

/** Grows the buffer at `ptr` from `oldSize` to `newSize` bytes, keeping its contents. */
export function grow(ptr: usize, oldSize: usize, newSize: usize): usize {
  if (newSize > MAX_SIZE) outOfMemory();
  if (ptr + roundUp(oldSize) == top) {
    const end = ptr + roundUp(newSize);
    reach(end);
    top = end;
    return ptr;
  }
  const moved = alloc(newSize);
  memory.copy(moved, ptr, oldSize);
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
