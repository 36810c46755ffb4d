/**
 * The thread that checks and instruments modules, so that a module built to be slow to read
 * costs this thread's time, not the node's main thread. The sandbox terminates it past its
 * time limit.
 */
import { parentPort } from 'node:worker_threads';
import { SandboxError } from './errors.js';
import { prepareBytes } from './prepare.js';

export interface PrepareRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly maxModuleBytes: number;
  readonly memoryPages: number;
}

export type PrepareReply =
  | { readonly ready: true }
  | { readonly id: number; readonly bytes: Uint8Array }
  | { readonly id: number; readonly code: SandboxError['code']; readonly message: string };

parentPort!.on('message', (request: PrepareRequest) => {
  let reply: PrepareReply;
  try {
    const bytes = prepareBytes(request.bytes, request.maxModuleBytes, request.memoryPages);
    parentPort!.postMessage({ id: request.id, bytes } satisfies PrepareReply, [
      bytes.buffer as ArrayBuffer,
    ]);
    return;
  } catch (error) {
    reply =
      error instanceof SandboxError
        ? { id: request.id, code: error.code, message: error.message }
        : {
            id: request.id,
            code: 'module_invalid',
            message: `the module cannot be checked: ${(error as Error).message}`,
          };
  }
  parentPort!.postMessage(reply);
});

// Loaded and listening: the sandbox starts a module's clock from here, not from the thread's start.
parentPort!.postMessage({ ready: true } satisfies PrepareReply);
