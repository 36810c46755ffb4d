/**
 * A sandbox worker thread: keeps the compiled modules it was sent and runs one job at a time,
 * each in a fresh instance. The pool terminates it when a run passes its wall-clock limit.
 */
import { parentPort } from 'node:worker_threads';
import { runInstance, type RunRequest } from './run-instance.js';

export type ToWorker =
  | { type: 'run'; id: number; key: string; module?: WebAssembly.Module; request: RunRequest }
  | { type: 'evict'; key: string };

const modules = new Map<string, WebAssembly.Module>();

parentPort!.on('message', (message: ToWorker) => {
  if (message.type === 'evict') {
    modules.delete(message.key);
    return;
  }
  if (message.module) modules.set(message.key, message.module);
  const module = modules.get(message.key);
  if (!module) {
    parentPort!.postMessage({ id: message.id, missing: true });
    return;
  }
  // Copied, not transferred: small buffers share Node's allocation pool.
  parentPort!.postMessage({ id: message.id, outcome: runInstance(module, message.request) });
});
