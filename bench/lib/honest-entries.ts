/**
 * Fresh honest entries with the default proof of work (16 bits, ~50 ms of hashing each), made
 * on a helper thread from the start of the section, so that neither the setup waits for them
 * nor the measuring thread's timers are held up by hashing during the attack.
 */
import { randomBytes } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createEntry } from '../../src/entry/create.js';
import { fixtureRecipient, fixtureTable, RECIPIENTS, TABLES } from '../fixtures.js';

interface Job {
  readonly count: number;
  readonly powBits: number;
}

if (!isMainThread && (workerData as { honestEntries?: Job })?.honestEntries) {
  const job = (workerData as { honestEntries: Job }).honestEntries;
  for (let i = 0; i < job.count; i++) {
    const { bytes } = createEntry({
      // Tables the victim already holds, so each entry is news to it and nothing else is.
      table: fixtureTable(i % TABLES),
      recipient: fixtureRecipient(i % RECIPIENTS).publicKey,
      plaintext: randomBytes(200),
      powBits: job.powBits,
    });
    parentPort!.postMessage(bytes);
  }
}

/** A queue of entries filled by a helper thread; take() answers undefined while it is empty. */
export class HonestEntries {
  private readonly ready: Buffer[] = [];
  private readonly worker: Worker;
  made = 0;

  constructor(count: number, powBits: number) {
    this.worker = new Worker(new URL(import.meta.url), {
      workerData: { honestEntries: { count, powBits } satisfies Job },
    });
    this.worker.on('message', (data: Uint8Array) => {
      this.ready.push(Buffer.from(data));
      this.made += 1;
    });
    this.worker.unref();
  }

  take(): Buffer | undefined {
    return this.ready.shift();
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
