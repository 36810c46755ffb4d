// Streams over the WASI file descriptors: fd 0 read in blocks, fd 1 and fd 2 written through
// buffers, the job's arguments, and exit codes.
import { args_get, args_sizes_get, fd_read, fd_write, proc_exit } from "./wasi";
import { alloc } from "./memory";

/** The most input bytes one fd_read asks for: the input held in memory at any time. */
export const BLOCK: usize = 65536;

/** Exit code for input the module refuses (the message is on fd 2). */
export const EXIT_BAD_INPUT: u32 = 2;
/** Exit code for a host call that failed. */
export const EXIT_IO: u32 = 1;

// One iovec (pointer, length) and the byte count the host writes back.
const iov = memory.data(16, 16);

let inputBlock: usize = 0;
let inputPos: usize = 0;
let inputEnd: usize = 0;

/** The buffer readBlock fills. */
export function inputBuffer(): usize {
  if (inputBlock == 0) inputBlock = alloc(BLOCK);
  return inputBlock;
}

/**
 * Reads the next bytes of fd 0 (all the job's inputs, one after the other) into inputBuffer();
 * returns how many, 0 at the end. A block may be shorter than BLOCK before the end. A program
 * reads fd 0 either in whole blocks with this or through buffered() and readByte(), not both.
 */
export function readBlock(): usize {
  const buffer = inputBuffer();
  store<u32>(iov, buffer);
  store<u32>(iov, <u32>BLOCK, 4);
  const errno = fd_read(0, iov, 1, iov + 8);
  if (errno != 0) hostFailure("fd_read", errno);
  const n = <usize>load<u32>(iov, 8);
  return n < BLOCK ? n : BLOCK;
}

/**
 * How many bytes of fd 0 are read and not yet taken, reading the next block when there are
 * none; 0 at the end of the input. They start at bufferedAt(); take them with skip().
 */
export function buffered(): usize {
  if (inputPos == inputEnd) {
    inputEnd = readBlock();
    inputPos = 0;
  }
  return inputEnd - inputPos;
}

export function bufferedAt(): usize {
  return inputBlock + inputPos;
}

/** Takes `n` of the buffered bytes (at most buffered()). */
export function skip(n: usize): void {
  inputPos += n;
}

/** The next byte of fd 0, or -1 at the end of the input. */
export function readByte(): i32 {
  const b = peekByte();
  if (b >= 0) inputPos++;
  return b;
}

/** The next byte readByte will return, without taking it. */
export function peekByte(): i32 {
  return buffered() == 0 ? -1 : <i32>load<u8>(inputBlock + inputPos);
}

/** Writes all `len` bytes at `ptr` to `fd`, however many calls the host needs. */
function writeAll(fd: u32, ptr: usize, len: usize): void {
  while (len > 0) {
    store<u32>(iov, ptr);
    store<u32>(iov, <u32>len, 4);
    const errno = fd_write(fd, iov, 1, iov + 8);
    // A host that takes nothing would loop forever: give up instead.
    if (errno != 0 || load<u32>(iov, 8) == 0) {
      proc_exit(EXIT_IO);
      unreachable();
    }
    const written = <usize>load<u32>(iov, 8);
    ptr += written;
    len -= written;
  }
}

/** Bytes bound for one file descriptor, gathered in a buffer and written when it fills. */
@unmanaged
export class Sink {
  fd: u32;
  buffer: usize;
  length: usize;
  capacity: usize;

  byte(b: u32): void {
    if (this.length == this.capacity) this.flush();
    store<u8>(this.buffer + this.length, <u8>b);
    this.length++;
  }

  bytes(ptr: usize, len: usize): void {
    while (len > 0) {
      if (this.length == this.capacity) this.flush();
      const room = this.capacity - this.length;
      const n = len < room ? len : room;
      memory.copy(this.buffer + this.length, ptr, n);
      this.length += n;
      ptr += n;
      len -= n;
    }
  }

  /** An ASCII text (the examples' fixed texts are all ASCII). */
  text(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(<u32>s.charCodeAt(i));
  }

  decimal(n: u64): void {
    const digits = memory.data(24, 8);
    let i: usize = 24;
    do {
      i--;
      store<u8>(digits + i, <u8>(48 + n % 10));
      n /= 10;
    } while (n != 0);
    this.bytes(digits + i, 24 - i);
  }

  flush(): void {
    writeAll(this.fd, this.buffer, this.length);
    this.length = 0;
  }
}

function sink(fd: u32, capacity: usize): Sink {
  const s = changetype<Sink>(alloc(offsetof<Sink>()));
  s.fd = fd;
  s.buffer = alloc(capacity);
  s.length = 0;
  s.capacity = capacity;
  return s;
}

let out: Sink | null = null;
let log: Sink | null = null;

/** fd 1: the job's output. Flush it before returning from the entry point. */
export function stdout(): Sink {
  if (out == null) out = sink(1, BLOCK);
  return changetype<Sink>(out);
}

/** fd 2: the job's log. */
export function stderr(): Sink {
  if (log == null) log = sink(2, 1024);
  return changetype<Sink>(log);
}

/** Ends the run with `code` once what the log holds is written. */
export function exit(code: u32): void {
  if (log != null) changetype<Sink>(log).flush();
  proc_exit(code);
  unreachable();
}

function hostFailure(call: string, errno: u32): void {
  const e = stderr();
  e.text(call);
  e.text(" failed with WASI errno ");
  e.decimal(errno);
  e.byte(10);
  exit(EXIT_IO);
}

let argc: usize = 0;
let argv: usize = 0;

function loadArgs(): void {
  if (argv != 0) return;
  const sizes = memory.data(8, 8);
  let errno = args_sizes_get(sizes, sizes + 4);
  if (errno != 0) hostFailure("args_sizes_get", errno);
  argc = <usize>load<u32>(sizes);
  argv = alloc(argc * 4 + 4);
  errno = args_get(argv, alloc(<usize>load<u32>(sizes, 4) + 1));
  if (errno != 0) hostFailure("args_get", errno);
}

/** How many arguments the job has: argv[0] is the entry point's name, the job's own follow. */
export function argCount(): usize {
  loadArgs();
  return argc;
}

/** Where argument `i` starts (its bytes end at a NUL). */
export function argPointer(i: usize): usize {
  loadArgs();
  return <usize>load<u32>(argv + i * 4);
}

/** The length in bytes of argument `i`. */
export function argLength(i: usize): usize {
  const start = argPointer(i);
  let end = start;
  while (load<u8>(end) != 0) end++;
  return end - start;
}
