/**
 * The tree's record writes of one space, gathered: the puts that finish in one turn of the
 * event loop are written as one key-value write (one signed batch, one transaction, one entry
 * to send) instead of one each, which is what lets many small files go in quickly. Each write
 * sees the writes queued before it, so two puts of one name in one turn keep both versions.
 */
import type { FileRecord } from '../../files/record.js';
import { encodeRecord, treeKey } from '../../files/record.js';
import type { KvReplica } from '../kv/replica.js';

/** Builds the record to write from the one there now; undefined to write nothing. */
export type RecordChange = (existing: FileRecord | undefined) => FileRecord | undefined;

interface Pending {
  readonly path: string;
  readonly change: RecordChange;
  readonly resolve: (record: FileRecord | undefined) => void;
  readonly reject: (error: unknown) => void;
}

export class RecordQueue {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly replica: KvReplica,
    /** The record at a path now, as the replica holds it. */
    private readonly read: (path: string) => FileRecord | undefined,
  ) {}

  /** Queues a change of the record at `path`; resolves with the record there after it. */
  write(path: string, change: RecordChange): Promise<FileRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ path, change, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Writes what is queued now (before a move or a delete reads the tree). */
  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    if (queue.length === 0) return;
    const written = new Map<string, FileRecord | undefined>();
    const results: (FileRecord | undefined)[] = [];
    const ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
    try {
      for (const p of queue) {
        const key = treeKey(p.path);
        const existing = written.has(key) ? written.get(key) : this.read(p.path);
        const next = p.change(existing);
        if (next) {
          written.set(key, next);
          ops.push({ type: 'put', key: Buffer.from(key), value: Buffer.from(encodeRecord(next)) });
        }
        results.push(next ?? existing);
      }
      // Several puts of one key in one batch: the last one is the value.
      if (ops.length > 0) this.replica.replicate(ops);
    } catch (error) {
      for (const p of queue) p.reject(error);
      return;
    }
    queue.forEach((p, i) => p.resolve(results[i]));
  }
}
