/**
 * One epoch's entries on their way to the nodes, from every upload of a space at once: the
 * entries of concurrent uploads share put requests, so many small files cost a few requests and
 * not one each. As in Nagle's algorithm, a batch that is not full leaves only when few requests
 * are out (fewer than PARTIAL_IN_FLIGHT), and fills meanwhile; full batches leave while fewer
 * than IN_FLIGHT requests are out. A writer waits (admit)
 * while a full batch waits for a request slot, which bounds what is held in memory.
 *
 * An object being sent is known by its key until a node took it, so two uploads of the same
 * chunk seal it once; once taken it is in the object index (object-index.ts).
 */
import type { Client } from '../../client/client.js';
import { sendSealed, type Sealed } from '../publish.js';
import type { ObjectIndex, ObjectKind } from './object-index.js';

/** Entries per put request, and bytes: a node takes 32 MiB bodies by default. */
const BATCH_ENTRIES = 64;
const BATCH_BYTES = 2 * 1024 * 1024;
/** Put requests in flight at once: enough to keep a node's verifying threads busy. */
const IN_FLIGHT = 3;
/** Requests out below which a batch that is not full leaves too. */
const PARTIAL_IN_FLIGHT = 2;

interface Queued {
  readonly kind: ObjectKind;
  readonly key: Buffer;
  readonly memo: string;
  readonly sealed: Sealed;
  readonly settle: { resolve: () => void; reject: (error: unknown) => void };
}

export class EntryBatcher {
  private batch: Queued[] = [];
  private batchBytes = 0;
  private flying = 0;
  private waiting: (() => void)[] = [];
  /** Objects queued or in flight, by kind and key: their entry ids and acknowledgements. */
  private readonly sending = new Map<string, { id: string; done: Promise<void> }>();

  constructor(
    private readonly client: Client,
    private readonly index: ObjectIndex,
    readonly epoch: string,
  ) {}

  /** The entry of an object some upload is sending now, if any, and when a node took it. */
  sendingNow(kind: ObjectKind, key: Buffer): { id: string; done: Promise<void> } | undefined {
    return this.sending.get(`${kind}:${key.toString('hex')}`);
  }

  private get full(): boolean {
    return this.batch.length >= BATCH_ENTRIES || this.batchBytes >= BATCH_BYTES;
  }

  /** Resolves when one more entry may be queued. */
  async admit(): Promise<void> {
    while (this.full && this.flying >= IN_FLIGHT) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** Queues a sealed entry; the promise settles when a node took it (or none did). */
  enqueue(kind: ObjectKind, key: Buffer, sealed: Sealed): Promise<void> {
    const memo = `${kind}:${key.toString('hex')}`;
    const done = new Promise<void>((resolve, reject) => {
      this.batch.push({ kind, key, memo, sealed, settle: { resolve, reject } });
    });
    this.sending.set(memo, { id: sealed.id, done });
    this.batchBytes += sealed.bytes.length;
    this.pump();
    return done;
  }

  /** Sends what may leave now. */
  private pump(): void {
    while (
      this.batch.length > 0 &&
      this.flying < IN_FLIGHT &&
      (this.full || this.flying < PARTIAL_IN_FLIGHT)
    ) {
      const batch = this.batch.splice(0, BATCH_ENTRIES);
      this.batchBytes = this.batch.reduce((n, q) => n + q.sealed.bytes.length, 0);
      this.flying += 1;
      void this.send(batch).finally(() => {
        this.flying -= 1;
        this.pump();
        const waiting = this.waiting;
        this.waiting = [];
        for (const wake of waiting) wake();
      });
    }
  }

  private async send(batch: readonly Queued[]): Promise<void> {
    try {
      await sendSealed(
        this.client,
        batch.map((q) => q.sealed),
      );
      // Noted only once a node holds them: a later upload may then point at them.
      this.index.add(
        batch.map((q) => ({ epoch: this.epoch, kind: q.kind, key: q.key, entry: q.sealed.id })),
      );
      for (const q of batch) q.settle.resolve();
    } catch (error) {
      for (const q of batch) q.settle.reject(error);
    } finally {
      for (const q of batch) {
        if (this.sending.get(q.memo)?.id === q.sealed.id) this.sending.delete(q.memo);
      }
    }
  }
}
