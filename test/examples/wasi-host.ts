/**
 * A small host for the WASI subset the compute sandbox offers (wasi_snapshot_preview1 and
 * env.abort), written here on its own so that the examples are checked without the sandbox:
 * argv = [entry, ...args], no environment, fd 0 = the inputs one after the other, fd 3 + i =
 * input i, fd 1 = output, fd 2 = log. The functions of the subset the examples do not call
 * (stat, prestat, seek) are there so that a module importing them links, and answer EBADF or
 * ESPIPE. It meters nothing: runWasi bounds a run's time by running it in a worker thread that
 * is terminated when it takes too long.
 */
import { Worker } from 'node:worker_threads';

/** Every function of the sandbox's subset, as module.name. */
export const WASI_SUBSET: readonly string[] = [
  'wasi_snapshot_preview1.args_sizes_get',
  'wasi_snapshot_preview1.args_get',
  'wasi_snapshot_preview1.environ_sizes_get',
  'wasi_snapshot_preview1.environ_get',
  'wasi_snapshot_preview1.fd_read',
  'wasi_snapshot_preview1.fd_write',
  'wasi_snapshot_preview1.fd_close',
  'wasi_snapshot_preview1.fd_fdstat_get',
  'wasi_snapshot_preview1.fd_filestat_get',
  'wasi_snapshot_preview1.fd_prestat_get',
  'wasi_snapshot_preview1.fd_prestat_dir_name',
  'wasi_snapshot_preview1.fd_seek',
  'wasi_snapshot_preview1.proc_exit',
  'wasi_snapshot_preview1.sched_yield',
  'env.abort',
];

export interface WasiJob {
  readonly module: Uint8Array;
  readonly entry?: string;
  readonly args?: readonly string[];
  /**
   * The inputs. fd_read on fd 0 never returns bytes of two inputs at once, so a test can cut a
   * word in two by giving its halves as two inputs.
   */
  readonly inputs?: readonly Uint8Array[];
  /** The most bytes one fd_read returns (default: what the module asks for). */
  readonly maxRead?: number;
}

export interface WasiOutcome {
  readonly status: 'ok' | 'exit' | 'trap';
  readonly exitCode: number;
  readonly message: string;
  readonly output: Buffer;
  readonly log: Buffer;
  readonly bytesRead: number;
  /** Pages of linear memory at the end of the run. */
  readonly memoryPages: number;
}

/**
 * The part of the global WebAssembly API used here (the project's TypeScript libraries do not
 * declare it).
 */
interface WasmApi {
  Module: {
    new (bytes: Uint8Array): object;
    imports(module: object): { module: string; name: string; kind: string }[];
    exports(module: object): { name: string; kind: string }[];
  };
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
  RuntimeError: new (message?: string) => Error;
}
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const ESUCCESS = 0;
const EBADF = 8;
const ESPIPE = 70;

class ProcExit {
  constructor(readonly code: number) {}
}

/** Runs a job in this thread, to its end. */
export function runWasiHere(job: WasiJob): WasiOutcome {
  const inputs = job.inputs ?? [];
  const argv = [job.entry ?? '_start', ...(job.args ?? [])].map((a) => Buffer.from(`${a}\0`));
  const output: Buffer[] = [];
  const log: Buffer[] = [];
  // Read positions: fd 0 walks through every input, fd 3 + i through input i alone.
  const stream = { input: 0, offset: 0 };
  const single = inputs.map(() => 0);
  let bytesRead = 0;
  // The instance's memory, known once it is made; its buffer changes when the memory grows.
  const exported: { memory?: { buffer: ArrayBuffer } } = {};
  const view = (): DataView => new DataView(exported.memory!.buffer);
  const bytes = (): Uint8Array => new Uint8Array(exported.memory!.buffer);

  function readInto(fd: number, ptr: number, len: number): number {
    const limit = Math.min(len, job.maxRead ?? len);
    if (fd === 0) {
      while (stream.input < inputs.length && stream.offset === inputs[stream.input]!.length) {
        stream.input++;
        stream.offset = 0;
      }
      if (stream.input === inputs.length) return 0;
      const from = inputs[stream.input]!;
      const part = from.subarray(stream.offset, stream.offset + limit);
      bytes().set(part, ptr);
      stream.offset += part.length;
      return part.length;
    }
    const i = fd - 3;
    const part = inputs[i]!.subarray(single[i]!, single[i]! + limit);
    bytes().set(part, ptr);
    single[i]! += part.length;
    return part.length;
  }

  const wasi = {
    args_sizes_get(argc: number, size: number): number {
      view().setUint32(argc, argv.length, true);
      view().setUint32(size, Buffer.concat(argv).length, true);
      return ESUCCESS;
    },
    args_get(pointers: number, buffer: number): number {
      let at = buffer;
      argv.forEach((arg, i) => {
        view().setUint32(pointers + 4 * i, at, true);
        bytes().set(arg, at);
        at += arg.length;
      });
      return ESUCCESS;
    },
    environ_sizes_get(count: number, size: number): number {
      view().setUint32(count, 0, true);
      view().setUint32(size, 0, true);
      return ESUCCESS;
    },
    environ_get(): number {
      return ESUCCESS;
    },
    fd_read(fd: number, iovs: number, iovsLen: number, nread: number): number {
      if (fd !== 0 && !(fd >= 3 && fd < 3 + inputs.length)) return EBADF;
      let total = 0;
      for (let k = 0; k < iovsLen; k++) {
        const ptr = view().getUint32(iovs + 8 * k, true);
        const len = view().getUint32(iovs + 8 * k + 4, true);
        const n = readInto(fd, ptr, len);
        total += n;
        if (n < len) break;
      }
      bytesRead += total;
      view().setUint32(nread, total, true);
      return ESUCCESS;
    },
    fd_write(fd: number, iovs: number, iovsLen: number, nwritten: number): number {
      if (fd !== 1 && fd !== 2) return EBADF;
      let total = 0;
      for (let k = 0; k < iovsLen; k++) {
        const ptr = view().getUint32(iovs + 8 * k, true);
        const len = view().getUint32(iovs + 8 * k + 4, true);
        (fd === 1 ? output : log).push(Buffer.from(bytes().slice(ptr, ptr + len)));
        total += len;
      }
      view().setUint32(nwritten, total, true);
      return ESUCCESS;
    },
    fd_close: (): number => ESUCCESS,
    fd_fdstat_get: (): number => EBADF,
    fd_filestat_get: (): number => EBADF,
    fd_prestat_get: (): number => EBADF,
    fd_prestat_dir_name: (): number => EBADF,
    fd_seek: (): number => ESPIPE,
    sched_yield: (): number => ESUCCESS,
    proc_exit(code: number): never {
      throw new ProcExit(code);
    },
  };
  const env = {
    abort(): never {
      throw new wasm.RuntimeError('abort');
    },
  };

  const module = new wasm.Module(job.module);
  const instance = new wasm.Instance(module, { wasi_snapshot_preview1: wasi, env });
  exported.memory = instance.exports.memory as { buffer: ArrayBuffer };
  const start = instance.exports[job.entry ?? '_start'] as () => void;
  let status: WasiOutcome['status'] = 'ok';
  let exitCode = 0;
  let message = '';
  try {
    start();
  } catch (error) {
    if (error instanceof ProcExit) {
      exitCode = error.code;
      status = error.code === 0 ? 'ok' : 'exit';
    } else if (error instanceof wasm.RuntimeError) {
      status = 'trap';
      message = error.message;
    } else {
      throw error;
    }
  }
  return {
    status,
    exitCode,
    message,
    output: Buffer.concat(output),
    log: Buffer.concat(log),
    bytesRead,
    memoryPages: exported.memory.buffer.byteLength / 65536,
  };
}

/** Runs a job in a worker thread, terminated after `timeoutMs` (the run then rejects). */
export function runWasi(job: WasiJob, timeoutMs = 60_000): Promise<WasiOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./wasi-worker.js', import.meta.url), { workerData: job });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`the module ran for more than ${timeoutMs} ms`));
    }, timeoutMs);
    worker.once('message', (outcome: WasiOutcome) => {
      clearTimeout(timer);
      void worker.terminate();
      // Buffers come back from the worker as plain Uint8Arrays.
      resolve({ ...outcome, output: Buffer.from(outcome.output), log: Buffer.from(outcome.log) });
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
