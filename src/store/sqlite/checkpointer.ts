import { Worker } from 'node:worker_threads';
import { HELPER_THREAD_LIMITS } from '../../worker-limits.js';

/** SQLite's `synchronous` levels, by the number the pragma reads back. */
export const SYNCHRONOUS_NAMES = ['off', 'normal', 'full', 'extra'] as const;
export type SynchronousName = (typeof SYNCHRONOUS_NAMES)[number];

/** Runs checkpoint-worker.ts for one database file; stop() waits for it to close its handle. */
export class Checkpointer {
  private readonly worker: Worker;
  private exited = false;

  /**
   * `synchronous` is the writer's level: a checkpoint writes the database file too, and must
   * sync it as carefully as the writer syncs its commits.
   */
  constructor(
    path: string,
    synchronous: SynchronousName,
    intervalMs = 250,
    restartBytes = 64 * 1024 * 1024,
  ) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      resourceLimits: HELPER_THREAD_LIMITS,
      workerData: { path, synchronous, intervalMs, restartBytes },
    });
    this.worker.unref();
    // Checkpoints are an optimisation: a failing worker must never take the node down.
    this.worker.on('error', () => undefined);
    this.worker.once('exit', () => {
      this.exited = true;
    });
  }

  /** The `synchronous` level of the worker's connection (undefined if it has none). */
  async synchronous(): Promise<SynchronousName | undefined> {
    if (this.exited) return undefined;
    const answer = await this.ask('synchronous', (m) => typeof m === 'object' && m !== null);
    const level = (answer as { synchronous?: unknown } | undefined)?.synchronous;
    return typeof level === 'number' ? SYNCHRONOUS_NAMES[level] : undefined;
  }

  async stop(): Promise<void> {
    if (!this.exited) await this.ask('stop', (m) => m === 'stopped');
    await this.worker.terminate();
  }

  /** Sends a request and waits (at most 5 s) for the answer `isAnswer` recognises. */
  private ask(request: string, isAnswer: (message: unknown) => boolean): Promise<unknown> {
    return new Promise((resolve) => {
      const done = (value: unknown): void => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        this.worker.off('exit', onExit);
        resolve(value);
      };
      const onMessage = (message: unknown): void => {
        if (isAnswer(message)) done(message);
      };
      const onExit = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), 5000);
      this.worker.on('message', onMessage);
      this.worker.once('exit', onExit);
      this.worker.postMessage(request);
    });
  }
}
