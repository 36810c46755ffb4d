/**
 * The host side of the WASI subset (docs/compute-sandbox.md, "WASI subset"): arguments, the
 * inputs as read-only streams, output and log, proc_exit. Every call is bounded by the module's
 * own memory and the run's limits; a bad pointer is EFAULT, never an exception.
 */
import { ALLOWED_IMPORTS, WASI_MODULE } from './wasi-imports.js';

export const ERRNO = { success: 0, badf: 8, fault: 21, inval: 28, spipe: 70 } as const;
/** How much of fd 2 a run keeps. */
export const LOG_BYTES = 4096;

const FILETYPE_CHARACTER_DEVICE = 2;
const FILETYPE_REGULAR_FILE = 4;
const RIGHT_FD_READ = 1n << 1n;
const RIGHT_FD_WRITE = 1n << 6n;
const RIGHT_FD_FILESTAT_GET = 1n << 21n;

/** Thrown through the module by proc_exit. */
export class ExitSignal {
  constructor(readonly code: number) {}
}
/** Thrown through the module when fd 1 passes the output limit. */
export class OutputLimitSignal {}
/** Thrown through the module when a host call's charge takes the fuel below 0. */
export class OutOfFuelSignal {}
/** Most iovecs one fd_read or fd_write takes, like IOV_MAX; more is EINVAL. */
export const MAX_IOVECS = 1024;
/** fd_read and fd_write are charged 1 fuel per iovec and 1 per 8 bytes (rounded up). */
const BYTES_PER_FUEL = 8;

/** Thrown through the module by env.abort (AssemblyScript's abort). */
export class AbortCall {
  constructor(readonly message: string) {}
}

interface Stream {
  readonly data: Uint8Array;
  offset: number;
  open: boolean;
}

export class WasiHost {
  memory: WebAssembly.Memory | undefined;
  /** The module's remaining fuel, charged by the calls that walk buffers (fuel v1, §4.2). */
  fuel: WebAssembly.Global | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  /** Kept as one growing buffer each, so that many small writes cost no allocation each. */
  private readonly output = new Collected();
  private readonly log = new Collected();
  private readonly argv: Uint8Array[];
  /** fd 0, then fd 3+i; fds 1 and 2 are the output and the log. */
  private readonly streams = new Map<number, Stream>();
  private readonly writable = new Set([1, 2]);

  constructor(
    argv: readonly string[],
    inputs: readonly Uint8Array[],
    private readonly outputBytes: number,
  ) {
    const encoder = new TextEncoder();
    this.argv = argv.map((a) => encoder.encode(a));
    this.streams.set(0, { data: concat(inputs), offset: 0, open: true });
    inputs.forEach((data, i) => this.streams.set(3 + i, { data, offset: 0, open: true }));
  }

  outputBuffer(): Uint8Array {
    return this.output.bytes();
  }

  logBuffer(): Uint8Array {
    return this.log.bytes();
  }

  /** The import object: every allowed function, whether the module imports it or not. */
  imports(): Record<string, Record<string, unknown>> {
    const wasi: Record<string, unknown> = {
      args_sizes_get: (argc: number, size: number) =>
        this.store(argc, [this.argv.length], size, [
          this.argv.reduce((n, a) => n + a.length + 1, 0),
        ]),
      args_get: (argv: number, buf: number) => this.strings(this.argv, argv, buf),
      environ_sizes_get: (count: number, size: number) => this.store(count, [0], size, [0]),
      environ_get: () => ERRNO.success,
      fd_read: (fd: number, iovs: number, count: number, nread: number) =>
        this.read(fd, iovs, count, nread),
      fd_write: (fd: number, iovs: number, count: number, nwritten: number) =>
        this.write(fd, iovs, count, nwritten),
      fd_close: (fd: number) => this.close(fd),
      fd_fdstat_get: (fd: number, buf: number) => this.fdstat(fd, buf),
      fd_filestat_get: (fd: number, buf: number) => this.filestat(fd, buf),
      fd_prestat_get: () => ERRNO.badf,
      fd_prestat_dir_name: () => ERRNO.badf,
      fd_seek: () => ERRNO.spipe,
      proc_exit: (code: number) => {
        throw new ExitSignal(code >>> 0);
      },
      sched_yield: () => ERRNO.success,
    };
    const env = {
      abort: (message: number, file: number, line: number, column: number) => {
        const text = this.ascriptString(message) ?? 'abort';
        const where = this.ascriptString(file);
        throw new AbortCall(`${text}${where ? ` at ${where}:${line >>> 0}:${column >>> 0}` : ''}`);
      },
    };
    for (const name of ALLOWED_IMPORTS.keys()) {
      if (name.startsWith(`${WASI_MODULE}.`) && !(name.slice(WASI_MODULE.length + 1) in wasi)) {
        throw new Error(`the WASI host lacks ${name}`);
      }
    }
    return { [WASI_MODULE]: wasi, env };
  }

  private view(): DataView | undefined {
    return this.memory ? new DataView(this.memory.buffer) : undefined;
  }

  private inBounds(view: DataView, ptr: number, length: number): boolean {
    return ptr >>> 0 === ptr && length >= 0 && ptr + length <= view.byteLength;
  }

  private store(a: number, av: number[], b: number, bv: number[]): number {
    const view = this.view();
    if (!view || !this.inBounds(view, a, 4) || !this.inBounds(view, b, 4)) return ERRNO.fault;
    view.setUint32(a, av[0]!, true);
    view.setUint32(b, bv[0]!, true);
    return ERRNO.success;
  }

  private strings(list: readonly Uint8Array[], pointers: number, buf: number): number {
    const view = this.view();
    const total = list.reduce((n, a) => n + a.length + 1, 0);
    if (
      !view ||
      !this.inBounds(view, pointers, 4 * list.length) ||
      !this.inBounds(view, buf, total)
    ) {
      return ERRNO.fault;
    }
    const bytes = new Uint8Array(view.buffer);
    let at = buf;
    list.forEach((item, i) => {
      view.setUint32(pointers + 4 * i, at, true);
      bytes.set(item, at);
      bytes[at + item.length] = 0;
      at += item.length + 1;
    });
    return ERRNO.success;
  }

  /** The (pointer, length) pairs of an iovec array, or undefined if any lies outside memory. */
  private iovecs(view: DataView, iovs: number, count: number): [number, number][] | undefined {
    if (!this.inBounds(view, iovs, (count >>> 0) * 8)) return undefined;
    const list: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const ptr = view.getUint32(iovs + 8 * i, true);
      const len = view.getUint32(iovs + 8 * i + 4, true);
      if (!this.inBounds(view, ptr, len)) return undefined;
      list.push([ptr, len]);
    }
    return list;
  }

  private read(fd: number, iovs: number, count: number, nread: number): number {
    const stream = this.streams.get(fd);
    if (!stream?.open) return ERRNO.badf;
    const view = this.view();
    if (!view || !this.inBounds(view, nread, 4)) return ERRNO.fault;
    if (count >>> 0 > MAX_IOVECS) return ERRNO.inval;
    const list = this.iovecs(view, iovs, count);
    if (!list) return ERRNO.fault;
    const wanted = list.reduce((n, [, len]) => n + len, 0);
    this.charge(list.length, Math.min(wanted, stream.data.length - stream.offset));
    const bytes = new Uint8Array(view.buffer);
    let total = 0;
    for (const [ptr, len] of list) {
      const n = Math.min(len, stream.data.length - stream.offset);
      bytes.set(stream.data.subarray(stream.offset, stream.offset + n), ptr);
      stream.offset += n;
      total += n;
      if (n < len) break;
    }
    this.bytesRead += total;
    view.setUint32(nread, total, true);
    return ERRNO.success;
  }

  private write(fd: number, iovs: number, count: number, nwritten: number): number {
    if (!this.writable.has(fd)) return ERRNO.badf;
    const view = this.view();
    if (!view || !this.inBounds(view, nwritten, 4)) return ERRNO.fault;
    if (count >>> 0 > MAX_IOVECS) return ERRNO.inval;
    const list = this.iovecs(view, iovs, count);
    if (!list) return ERRNO.fault;
    this.charge(
      list.length,
      list.reduce((n, [, len]) => n + len, 0),
    );
    let total = 0;
    const memory = new Uint8Array(view.buffer);
    for (const [ptr, len] of list) {
      if (fd === 1) {
        if (this.bytesWritten + len > this.outputBytes) throw new OutputLimitSignal();
        this.output.append(memory, ptr, len);
        this.bytesWritten += len;
      } else {
        this.log.append(memory, ptr, Math.min(len, LOG_BYTES - this.log.length));
      }
      total += len;
    }
    view.setUint32(nwritten, total, true);
    return ERRNO.success;
  }

  /**
   * Charges a transfer before it is made: 1 per iovec and ⌈bytes / 8⌉, so that a call's work is
   * paid for by the call. Past the limit the run stops here, nothing transferred.
   */
  private charge(iovecs: number, bytes: number): void {
    if (!this.fuel) return;
    const cost = iovecs + Math.ceil(bytes / BYTES_PER_FUEL);
    const remaining = (this.fuel.value as bigint) - BigInt(cost);
    this.fuel.value = remaining;
    if (remaining < 0n) throw new OutOfFuelSignal();
  }

  private close(fd: number): number {
    const stream = this.streams.get(fd);
    if (stream?.open) {
      stream.open = false;
      return ERRNO.success;
    }
    if (this.writable.delete(fd)) return ERRNO.success;
    return ERRNO.badf;
  }

  private fdstat(fd: number, buf: number): number {
    const stream = this.streams.get(fd);
    const isOutput = this.writable.has(fd);
    if (!stream?.open && !isOutput) return ERRNO.badf;
    const view = this.view();
    if (!view || !this.inBounds(view, buf, 24)) return ERRNO.fault;
    new Uint8Array(view.buffer, buf, 24).fill(0);
    view.setUint8(buf, fd >= 3 ? FILETYPE_REGULAR_FILE : FILETYPE_CHARACTER_DEVICE);
    const rights = isOutput ? RIGHT_FD_WRITE : RIGHT_FD_READ | RIGHT_FD_FILESTAT_GET;
    view.setBigUint64(buf + 8, rights, true);
    return ERRNO.success;
  }

  private filestat(fd: number, buf: number): number {
    const stream = this.streams.get(fd);
    const isOutput = this.writable.has(fd);
    if (!stream?.open && !isOutput) return ERRNO.badf;
    const view = this.view();
    if (!view || !this.inBounds(view, buf, 64)) return ERRNO.fault;
    new Uint8Array(view.buffer, buf, 64).fill(0);
    view.setUint8(buf + 16, fd >= 3 ? FILETYPE_REGULAR_FILE : FILETYPE_CHARACTER_DEVICE);
    view.setBigUint64(buf + 24, 1n, true);
    view.setBigUint64(buf + 32, BigInt(stream?.data.length ?? 0), true);
    return ERRNO.success;
  }

  /** An AssemblyScript string (UTF-16, its byte length at ptr - 4), cut to 200 characters. */
  private ascriptString(ptr: number): string | undefined {
    const view = this.view();
    if (!view || ptr < 4 || !this.inBounds(view, ptr - 4, 4)) return undefined;
    const length = Math.min(view.getUint32(ptr - 4, true), 400) & ~1;
    if (!this.inBounds(view, ptr, length)) return undefined;
    return Buffer.from(view.buffer, ptr, length).toString('utf16le');
  }
}

/** Bytes appended in pieces, kept in one buffer that doubles as it fills. */
class Collected {
  private data = new Uint8Array(0);
  length = 0;

  append(from: Uint8Array, at: number, length: number): void {
    if (length <= 0) return;
    if (this.length + length > this.data.length) {
      const grown = new Uint8Array(Math.max(this.length + length, 2 * this.data.length, 256));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(from.subarray(at, at + length), this.length);
    this.length += length;
  }

  /** A copy of exactly the bytes kept, so that posting it copies no more. */
  bytes(): Uint8Array {
    return this.data.slice(0, this.length);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}
