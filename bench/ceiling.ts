/**
 * The machine's ceilings, measured in the same run as everything else: Ed25519 verifications
 * per second on one core and on all cores (every stored entry needs one), and SHA-256 proof-of-
 * work hashes per second.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import sodium from 'sodium-native';

interface Task {
  readonly kind: 'verify' | 'sha256';
  readonly ms: number;
}

function run(task: Task): number {
  const deadline = performance.now() + task.ms;
  let n = 0;
  if (task.kind === 'verify') {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    sodium.crypto_sign_seed_keypair(pk, sk, Buffer.alloc(32, 7));
    const message = Buffer.alloc(720, 1);
    const signature = Buffer.alloc(64);
    sodium.crypto_sign_detached(signature, message, sk);
    while (performance.now() < deadline) {
      for (let i = 0; i < 100; i++) {
        if (!sodium.crypto_sign_verify_detached(signature, message, pk))
          throw new Error('verify failed');
      }
      n += 100;
    }
  } else {
    const input = Buffer.alloc(40);
    const out = Buffer.alloc(32);
    while (performance.now() < deadline) {
      for (let i = 0; i < 10_000; i++) {
        input.writeUInt32BE(n + i, 36);
        sodium.crypto_hash_sha256(out, input);
      }
      n += 10_000;
    }
  }
  return n / (task.ms / 1000);
}

if (!isMainThread && (workerData as { ceilingTask?: Task })?.ceilingTask) {
  parentPort!.postMessage(run((workerData as { ceilingTask: Task }).ceilingTask));
}

async function parallel(task: Task, threads: number): Promise<number> {
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), {
            workerData: { ceilingTask: task },
          });
          worker.once('message', (rate: number) => {
            void worker.terminate();
            resolve(rate);
          });
          worker.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

export interface Ceilings {
  readonly cores: number;
  readonly verifyPerCore: number;
  readonly verifyAllCores: number;
  readonly sha256PerCore: number;
  readonly sha256AllCores: number;
}

export async function measureCeilings(ms: number): Promise<Ceilings> {
  const cores = availableParallelism();
  return {
    cores,
    verifyPerCore: await parallel({ kind: 'verify', ms }, 1),
    verifyAllCores: await parallel({ kind: 'verify', ms }, cores),
    sha256PerCore: await parallel({ kind: 'sha256', ms }, 1),
    sha256AllCores: await parallel({ kind: 'sha256', ms }, cores),
  };
}
