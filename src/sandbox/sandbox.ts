/**
 * Runs untrusted Wasm modules: prepares them once (checked, instrumented with fuel v1, compiled,
 * cached by SHA-256), then runs each job in a fresh instance on a pool of worker threads. A run
 * past its wall-clock limit has its worker terminated and replaced; the other runs go on.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { SandboxError, type RunStatus } from './errors.js';
import { STACK_BYTES } from './fuel-pass.js';
import { checkSize } from './prepare.js';
import { Preparer } from './preparer.js';
import type { InstanceOutcome, RunRequest } from './run-instance.js';
import type { ToWorker } from './worker.js';

export interface SandboxLimits {
  /** 64 KiB Wasm pages the module may have at most (initial and grown). */
  memoryPages: number;
  /** An integer ≤ 2^53-1; see "Fuel v1" in docs/compute-sandbox.md. */
  fuel: number;
  /** Wall-clock limit of one run. */
  wallMs: number;
  /** Most bytes the module may write to fd 1. */
  outputBytes: number;
}

export interface RunOutcome {
  status: RunStatus;
  /** One human line for every status but ok. */
  message?: string;
  exitCode?: number;
  /** Fuel used (= the limit when out_of_fuel or wall_limit); 0 if it never started. */
  fuel: number;
  wallMs: number;
  bytesRead: number;
  bytesWritten: number;
  /** fd 1, empty unless ok or exit. */
  output: Buffer;
  /** fd 2, its first 4 KiB. */
  log: Buffer;
}

export interface SandboxOptions {
  workers: number;
  maxModuleBytes: number;
  /** Bytes of instrumented modules kept compiled (default 256 MiB). */
  cacheBytes?: number;
  /** How long checking and instrumenting one module may take (default 10 s). */
  prepareMs?: number;
}

export interface PreparedModule {
  readonly sha256: string;
  readonly size: number;
}

export interface RunJob {
  module: PreparedModule;
  entry: string;
  args: readonly string[];
  inputs: readonly Uint8Array[];
  limits: SandboxLimits;
}

/** Resource limits of a worker's JavaScript heap; Wasm memory is bounded by memoryPages. */
const WORKER_LIMITS = {
  maxOldGenerationSizeMb: 128,
  maxYoungGenerationSizeMb: 16,
  stackSizeMb: STACK_BYTES / (1024 * 1024),
};
const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
const DEFAULT_PREPARE_MS = 10_000;

interface Compiled {
  readonly key: string;
  readonly module: WebAssembly.Module;
  readonly bytes: number;
}

class Handle implements PreparedModule {
  constructor(
    readonly sha256: string,
    readonly size: number,
    readonly original: Uint8Array,
    readonly memoryPages: number,
  ) {}
}

interface Queued {
  readonly compiled: Compiled;
  readonly request: RunRequest;
  readonly wallMs: number;
  readonly resolve: (outcome: RunOutcome) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  /** Keys of the modules this worker holds compiled. */
  readonly loaded: Set<string>;
  /** Whether the thread has started: a run's wall clock starts when a started worker takes it. */
  online: boolean;
  running?: { id: number; job: Queued; started: number; timer: NodeJS.Timeout };
}

export class Sandbox {
  private readonly cache = new Map<string, Promise<Compiled>>();
  private readonly cacheSizes = new Map<string, number>();
  private cachedBytes = 0;
  private readonly cacheBytes: number;
  private readonly slots: Slot[] = [];
  private readonly preparer: Preparer;
  private readonly queue: Queued[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: SandboxOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new RangeError('a sandbox needs 1 or more workers');
    }
    if (!Number.isSafeInteger(options.maxModuleBytes) || options.maxModuleBytes < 8) {
      throw new RangeError('maxModuleBytes must be an integer of at least 8');
    }
    this.cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.preparer = new Preparer(options.maxModuleBytes, options.prepareMs ?? DEFAULT_PREPARE_MS);
    for (let i = 0; i < options.workers; i++) this.slots.push(this.spawn());
  }

  /** Checks and instruments a module once; throws SandboxError with the reason it is refused. */
  async prepare(bytes: Uint8Array, memoryPages: number): Promise<PreparedModule> {
    checkSize(bytes, this.options.maxModuleBytes);
    if (!Number.isInteger(memoryPages) || memoryPages < 0 || memoryPages > 65536) {
      throw new RangeError('memoryPages must be an integer from 0 to 65536');
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const original = Uint8Array.from(bytes);
    await this.compiled(sha256, original, memoryPages);
    return new Handle(sha256, bytes.length, original, memoryPages);
  }

  async run(job: RunJob): Promise<RunOutcome> {
    if (this.closed) throw new Error('the sandbox is closed');
    const { module, limits } = job;
    if (!(module instanceof Handle))
      throw new TypeError('the module was not prepared by a sandbox');
    checkLimits(limits);
    let compiled: Compiled;
    try {
      compiled = await this.compiled(module.sha256, module.original, limits.memoryPages);
    } catch (error) {
      if (error instanceof SandboxError) return refused(error);
      throw error;
    }
    const request: RunRequest = {
      entry: job.entry,
      args: [...job.args],
      inputs: job.inputs.map((input) => Uint8Array.from(input)),
      fuel: limits.fuel,
      outputBytes: limits.outputBytes,
    };
    return new Promise<RunOutcome>((resolve, reject) => {
      this.queue.push({ compiled, request, wallMs: limits.wallMs, resolve, reject });
      this.dispatch();
    });
  }

  stats(): { workers: number; busy: number; queued: number } {
    return {
      workers: this.slots.length,
      busy: this.slots.filter((s) => s.running).length,
      queued: this.queue.length,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the sandbox is closed'));
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      if (slot.running) {
        clearTimeout(slot.running.timer);
        slot.running.job.reject(new Error('the sandbox is closed'));
      }
    }
    await Promise.all([this.preparer.close(), ...slots.map((s) => s.worker.terminate())]);
  }

  private compiled(sha256: string, original: Uint8Array, memoryPages: number): Promise<Compiled> {
    const key = `${sha256}/${memoryPages}`;
    const hit = this.cache.get(key);
    if (hit) {
      // Most recently used last, so that eviction takes the oldest.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const promise = (async (): Promise<Compiled> => {
      // Off the main thread: reading a hostile module can take long (docs §1).
      const instrumented = await this.preparer.prepare(original, memoryPages);
      let module: WebAssembly.Module;
      try {
        module = await WebAssembly.compile(instrumented);
      } catch (error) {
        throw new SandboxError(
          'module_invalid',
          `the module does not compile: ${(error as Error).message}`,
        );
      }
      return { key, module, bytes: instrumented.length };
    })();
    this.cache.set(key, promise);
    promise.then(
      (c) => this.account(key, c.bytes),
      () => this.cache.delete(key),
    );
    return promise;
  }

  private account(key: string, bytes: number): void {
    if (!this.cache.has(key)) return;
    this.cacheSizes.set(key, bytes);
    this.cachedBytes += bytes;
    for (const old of this.cache.keys()) {
      if (this.cachedBytes <= this.cacheBytes || old === key) break;
      this.evict(old);
    }
  }

  private evict(key: string): void {
    this.cache.delete(key);
    this.cachedBytes -= this.cacheSizes.get(key) ?? 0;
    this.cacheSizes.delete(key);
    for (const slot of this.slots) {
      if (slot.loaded.delete(key))
        slot.worker.postMessage({ type: 'evict', key } satisfies ToWorker);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      resourceLimits: WORKER_LIMITS,
    });
    const slot: Slot = { worker, loaded: new Set(), online: false };
    worker.once('online', () => {
      slot.online = true;
      this.dispatch();
    });
    worker.unref();
    worker.on('message', (message: { id: number; outcome?: InstanceOutcome; missing?: true }) => {
      const running = slot.running;
      if (!running || running.id !== message.id) return;
      if (message.missing) {
        slot.loaded.delete(running.job.compiled.key);
        this.post(slot, running.id, running.job);
        return;
      }
      this.finish(slot, toOutcome(message.outcome!, performance.now() - running.started));
    });
    worker.on('error', (error) => this.lost(slot, `the sandbox worker failed: ${error.message}`));
    worker.on('exit', () => this.lost(slot, 'the sandbox worker stopped'));
    return slot;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.online && !s.running);
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.worker.ref();
      const wallMs = job.wallMs;
      const started = performance.now();
      const id = this.nextId++;
      const timer = setTimeout(() => this.wallLimit(slot, wallMs), wallMs);
      slot.running = { id, job, started, timer };
      this.post(slot, id, job);
    }
  }

  private post(slot: Slot, id: number, job: Queued): void {
    const { key, module } = job.compiled;
    const { request } = job;
    const message: ToWorker = slot.loaded.has(key)
      ? { type: 'run', id, key, request }
      : { type: 'run', id, key, module, request };
    slot.loaded.add(key);
    slot.worker.postMessage(message);
  }

  private finish(slot: Slot, outcome: RunOutcome): void {
    const running = slot.running!;
    clearTimeout(running.timer);
    slot.running = undefined;
    slot.worker.unref();
    running.job.resolve(outcome);
    this.dispatch();
  }

  /** Past its wall-clock limit: the worker is terminated, a new one takes its place. */
  private wallLimit(slot: Slot, wallMs: number): void {
    const running = slot.running;
    if (!running) return;
    // The outcome is given once the thread has really stopped, so wallMs includes the stop.
    void this.replace(slot).then(() => {
      running.job.resolve({
        status: 'wall_limit',
        message: `the module ran past the wall-clock limit of ${wallMs} ms`,
        fuel: running.job.request.fuel,
        wallMs: performance.now() - running.started,
        bytesRead: 0,
        bytesWritten: 0,
        output: Buffer.alloc(0),
        log: Buffer.alloc(0),
      });
    });
    this.dispatch();
  }

  /**
   * A worker that died on its own (its heap limit, say): its run is a trap, the worker replaced.
   * The fuel it used is unknown, so it counts as the limit: dying must not be cheaper than running.
   */
  private lost(slot: Slot, message: string): void {
    if (this.closed || !this.slots.includes(slot)) return;
    const running = slot.running;
    void this.replace(slot);
    if (running) {
      clearTimeout(running.timer);
      running.job.resolve({
        status: 'trap',
        message,
        fuel: running.job.request.fuel,
        wallMs: performance.now() - running.started,
        bytesRead: 0,
        bytesWritten: 0,
        output: Buffer.alloc(0),
        log: Buffer.alloc(0),
      });
    }
    this.dispatch();
  }

  /** Terminates a slot's worker and puts a new one in its place; resolves once the old one stopped. */
  private replace(slot: Slot): Promise<unknown> {
    const index = this.slots.indexOf(slot);
    slot.worker.removeAllListeners('exit');
    slot.worker.removeAllListeners('error');
    slot.worker.on('error', () => undefined);
    const stopped = slot.worker.terminate();
    slot.running = undefined;
    if (index >= 0) this.slots[index] = this.spawn();
    return stopped;
  }
}

function checkLimits(limits: SandboxLimits): void {
  const { memoryPages, fuel, wallMs, outputBytes } = limits;
  if (!Number.isSafeInteger(fuel) || fuel < 0)
    throw new RangeError('fuel must be an integer from 0 to 2^53-1');
  if (!Number.isInteger(memoryPages) || memoryPages < 0 || memoryPages > 65536) {
    throw new RangeError('memoryPages must be an integer from 0 to 65536');
  }
  if (!Number.isFinite(wallMs) || wallMs <= 0) throw new RangeError('wallMs must be positive');
  if (!Number.isSafeInteger(outputBytes) || outputBytes < 0)
    throw new RangeError('outputBytes must be an integer ≥ 0');
}

function refused(error: SandboxError): RunOutcome {
  return {
    status: error.code,
    message: error.message,
    fuel: 0,
    wallMs: 0,
    bytesRead: 0,
    bytesWritten: 0,
    output: Buffer.alloc(0),
    log: Buffer.alloc(0),
  };
}

function toOutcome(o: InstanceOutcome, wallMs: number): RunOutcome {
  const outcome: RunOutcome = {
    status: o.status,
    fuel: o.fuel,
    wallMs,
    bytesRead: o.bytesRead,
    bytesWritten: o.bytesWritten,
    output: Buffer.from(o.output.buffer, o.output.byteOffset, o.output.byteLength),
    log: Buffer.from(o.log.buffer, o.log.byteOffset, o.log.byteLength),
  };
  if (o.message !== undefined) outcome.message = o.message;
  if (o.exitCode !== undefined) outcome.exitCode = o.exitCode;
  return outcome;
}
