import { Worker } from 'node:worker_threads';
import { HELPER_THREAD_LIMITS } from '../../worker-limits.js';

/** Runs checkpoint-worker.ts for one database file; stop() waits for it to close its handle. */
export class Checkpointer {
  private readonly worker: Worker;
  private exited = false;

  constructor(path: string, intervalMs = 250, restartBytes = 64 * 1024 * 1024) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      resourceLimits: HELPER_THREAD_LIMITS,
      workerData: { path, intervalMs, restartBytes },
    });
    this.worker.unref();
    // Checkpoints are an optimisation: a failing worker must never take the node down.
    this.worker.on('error', () => undefined);
    this.worker.once('exit', () => {
      this.exited = true;
    });
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.worker.once('message', done);
        this.worker.once('exit', done);
        this.worker.postMessage('stop');
      });
    }
    await this.worker.terminate();
  }
}
