/**
 * Runs prepareBytes on a thread of its own, one module at a time, each within a time limit:
 * past it the thread is terminated and the module refused. A thread that dies (its heap limit)
 * refuses the module it was checking; the next module gets a new thread.
 */
import { Worker } from 'node:worker_threads';
import { SandboxError } from './errors.js';
import type { PrepareReply, PrepareRequest } from './prepare-worker.js';

const PREPARE_LIMITS = { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 32 };

interface Pending {
  readonly request: PrepareRequest;
  readonly resolve: (bytes: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

export class Preparer {
  private worker: Worker | undefined;
  private readonly queue: Pending[] = [];
  private current: { pending: Pending; timer?: NodeJS.Timeout } | undefined;
  private online = false;
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly maxModuleBytes: number,
    /** How long checking and instrumenting one module may take. */
    private readonly timeMs: number,
  ) {}

  /** The instrumented bytes of a module; rejects with SandboxError when it is refused. */
  prepare(bytes: Uint8Array, memoryPages: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('the sandbox is closed'));
    return new Promise((resolve, reject) => {
      const request = {
        id: this.nextId++,
        bytes,
        maxModuleBytes: this.maxModuleBytes,
        memoryPages,
      };
      this.queue.push({ request, resolve, reject });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('the sandbox is closed'));
    if (this.current) {
      clearTimeout(this.current.timer);
      this.current.pending.reject(new Error('the sandbox is closed'));
      this.current = undefined;
    }
    await this.stop();
  }

  private next(): void {
    if (this.current || this.closed) return;
    const pending = this.queue.shift();
    if (!pending) {
      this.worker?.unref();
      return;
    }
    const worker = this.worker ?? this.spawn();
    worker.ref();
    this.current = { pending };
    if (this.online) this.startClock();
    worker.postMessage(pending.request);
  }

  /** The time limit counts from when a started thread has the module, not its start-up. */
  private startClock(): void {
    const current = this.current;
    if (!current || current.timer) return;
    current.timer = setTimeout(() => {
      this.fail(
        new SandboxError(
          'module_unsupported',
          `checking and instrumenting the module took longer than the limit of ${this.timeMs} ms`,
        ),
      );
    }, this.timeMs);
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./prepare-worker.js', import.meta.url), {
      resourceLimits: PREPARE_LIMITS,
    });
    this.online = false;
    worker.on('message', (reply: PrepareReply) => {
      if ('ready' in reply) {
        if (this.worker !== worker) return;
        this.online = true;
        this.startClock();
        return;
      }
      const current = this.current;
      if (!current || current.pending.request.id !== reply.id) return;
      clearTimeout(current.timer);
      this.current = undefined;
      if ('bytes' in reply) current.pending.resolve(reply.bytes);
      else current.pending.reject(new SandboxError(reply.code, reply.message));
      this.next();
    });
    const died = (): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.fail(
        new SandboxError(
          'module_too_large',
          'checking the module needed more memory than the sandbox gives it',
        ),
      );
    };
    worker.on('error', died);
    worker.on('exit', died);
    this.worker = worker;
    return worker;
  }

  /** Refuses the module being checked and stops its thread; the next module gets a new one. */
  private fail(error: SandboxError): void {
    const current = this.current;
    this.current = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.pending.reject(error);
    }
    void this.stop();
    this.next();
  }

  private stop(): Promise<unknown> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return Promise.resolve();
    worker.removeAllListeners('exit');
    worker.removeAllListeners('error');
    worker.on('error', () => undefined);
    return worker.terminate();
  }
}
