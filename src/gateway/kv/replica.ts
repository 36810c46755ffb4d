/**
 * A device's replica of one space's key-value store (docs/kv.md §9): an abstract-level
 * database whose `kv` table holds the winners of the merge rule (§4), and whose writes become
 * signed batches that go to the nodes. Reads never leave the device; a write is acknowledged
 * once its batch, the keys it changes and its place in the outbox are committed together in
 * the replica file, whether or not a node is reachable.
 *
 * Which batches count is the host's question (the directory rule and the group's write rule):
 * the replica asks it for every batch it holds, again whenever the host says something changed,
 * so a batch from a device revoked later is withdrawn on every replica alike.
 */
import type Database from 'better-sqlite3';
import { decodeStatement, encodeStatement, type Statement } from '../../identity/statement.js';
import type { Identity } from '../../keys/keys.js';
import { P2PError } from '../../errors.js';
import { compareHlc, formatHlc, HybridClock, parseHlc, HLC_ZERO } from '../../kv/hlc.js';
import {
  batchFromStatement,
  KV_BATCH_KIND,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  signOwnBatch,
  splitCounted,
  type KvBatch,
  type KvOp,
} from '../../kv/batch.js';
import { KvState, type KvVersion } from '../../kv/merge.js';
import { SqliteLevel, type SqliteLevelOptions } from '../../kv/level/sqlite-level.js';
import { ReplicaTables, type KeptStamp } from './replica-tables.js';

/** Why a held batch does not count (besides the merge rule's own `fork`). */
export type Verdict = 'accept' | 'signer' | 'writer';

/** What a replica needs from the device it runs on. */
export interface ReplicaHost {
  /** The device that writes and the epoch it writes into; throws a P2PError when it cannot. */
  writer(): { identity: Identity; signer: string; person: string; epoch: string };
  /** The device's next statement counter (docs/identity.md §2). */
  nextSeq(signer: string): number;
  /** Whether a statement (a batch, a log entry) counts, with what the device knows now. */
  judge(
    writer: {
      readonly person: string;
      readonly signer: string;
      readonly at: number;
      readonly seq: number;
    },
    epoch: string,
  ): Verdict;
  /** Writer devices of the space now (compaction waits for each of them, docs/kv.md §6). */
  writers(): string[];
  /** Called after a local write was committed: the outbox has something to send. */
  wrote(): void;
}

/** One change of the store: the keys whose winner changed, and where it came from. */
export interface KvChange {
  readonly origin: 'local' | 'remote';
  readonly keys: readonly Buffer[];
}

export interface ReplicaStatus {
  readonly space: string;
  readonly keys: number;
  readonly versions: number;
  readonly batches: number;
  readonly versionVector: Record<string, number>;
  readonly ignored: Record<Verdict | 'fork' | 'malformed' | 'space', number>;
  readonly forks: readonly { signer: string; batch: number }[];
  readonly outbox: number;
}

interface LevelOp {
  type: 'put' | 'del';
  key: Buffer;
  value?: Buffer;
}

/** Batches applied between two compactions of the in-memory versions. */
const COMPACT_EVERY = 64;

export class KvReplica<K = string, V = string> extends SqliteLevel<K, V> {
  private tables: ReplicaTables | undefined;
  private state: KvState;
  private clock = new HybridClock();
  private counts = { signer: 0, writer: 0, malformed: 0 };
  private sinceCompaction = 0;
  private batchCount = 0;

  constructor(
    location: string,
    readonly space: string,
    private readonly host: ReplicaHost,
    options: SqliteLevelOptions<K, V> = {},
  ) {
    super(location, options);
    this.state = this.emptyState();
  }

  private emptyState(): KvState {
    // Admission is judged here, with the epoch the batch came in; the state applies the rest.
    return new KvState({ space: this.space, accepts: () => true, mayWrite: () => true });
  }

  override async _open(options: {
    createIfMissing: boolean;
    errorIfExists: boolean;
  }): Promise<void> {
    await super._open(options);
    this.tables = new ReplicaTables(this.writer!);
    this.rebuild();
  }

  /**
   * Applies every held batch again with the host's current judgement and brings the `kv`
   * table in line with the result. Runs on open (the host may have learnt a revocation while
   * the replica was closed) and when the host says its rules changed.
   */
  rebuild(): void {
    const tables = this.tables!;
    this.state = this.emptyState();
    // Malformed batches are refused when read and never kept: their count survives.
    this.counts = { signer: 0, writer: 0, malformed: this.counts.malformed };
    this.batchCount = 0;
    let clock = parseHlc(tables.meta('clock')) ?? HLC_ZERO;
    for (const row of tables.all(KV_BATCH_KIND)) {
      const statement = decodeStatement(row.statement);
      const read = statement ? batchFromStatement(statement) : undefined;
      if (!read?.ok) continue;
      for (const op of read.batch.body.ops) if (compareHlc(op.hlc, clock) > 0) clock = op.hlc;
      this.applyJudged(read.batch, row.epoch);
    }
    this.clock = new HybridClock(clock);
    this.state.compact(this.host.writers());
    const changed = this.syncTable();
    if (changed.length > 0) this.emit('change', { origin: 'remote', keys: changed } as KvChange);
  }

  private applyJudged(batch: KvBatch, epoch: string): boolean {
    const verdict = this.host.judge(batch, epoch);
    if (verdict !== 'accept') {
      this.counts[verdict] += 1;
      return false;
    }
    const result = this.state.apply(batch);
    if (result === 'applied') this.batchCount += 1;
    return result === 'applied' || result === 'fork';
  }

  /** Rewrites the `kv` table where it differs from the state's winners; the keys changed. */
  private syncTable(): Buffer[] {
    const db = this.writer!;
    const { put, del } = this.statements!;
    const changed: Buffer[] = [];
    db.transaction(() => {
      const stored = db
        .prepare('SELECT key, value FROM kv ORDER BY key')
        .iterate() as IterableIterator<{ key: Buffer; value: Buffer | null }>;
      let row = stored.next();
      const drop: Buffer[] = [];
      const write: KvVersion[] = [];
      for (const version of this.state.entries()) {
        while (!row.done && Buffer.compare(row.value.key, version.key) < 0) {
          drop.push(row.value.key);
          row = stored.next();
        }
        if (!row.done && row.value.key.equals(version.key)) {
          if (!(row.value.value ?? Buffer.alloc(0)).equals(version.value!)) write.push(version);
          row = stored.next();
        } else write.push(version);
      }
      for (; !row.done; row = stored.next()) drop.push(row.value.key);
      for (const key of drop) del.run(key);
      for (const v of write) put.run(v.key, v.value);
      changed.push(...drop, ...write.map((v) => v.key));
    })();
    return changed;
  }

  /**
   * Runs `work` (which changes the in-memory state, then the file) in one transaction. If the
   * file refuses it (a full disk), the state is rebuilt from the file, so memory never holds
   * what the file does not.
   */
  private commit(work: () => void): void {
    try {
      this.writer!.transaction(work)();
    } catch (error) {
      this.rebuild();
      throw error;
    }
  }

  /** Writes the winners of `keys` into the `kv` table (inside the caller's transaction). */
  private materialize(keys: Iterable<Buffer>): void {
    const { put, del } = this.statements!;
    for (const key of keys) {
      const winner = this.state.get(key);
      if (winner) put.run(key, winner.value);
      else del.run(key);
    }
  }

  override async _put(key: Buffer, value: Buffer): Promise<void> {
    this.replicate([{ type: 'put', key, value }]);
  }

  override async _del(key: Buffer): Promise<void> {
    this.replicate([{ type: 'del', key }]);
  }

  override async _batch(operations: LevelOp[]): Promise<void> {
    if (operations.length > 0) this.replicate(operations);
  }

  override async _clear(options: Parameters<SqliteLevel['_clear']>[0]): Promise<void> {
    // A clear is a delete of every key in range, replicated like any other.
    const keys: Buffer[] = [];
    for await (const key of this.keys({ ...options, keyEncoding: 'buffer' } as never)) {
      keys.push(key as unknown as Buffer);
    }
    for (let i = 0; i < keys.length; i += 10_000) {
      this.replicate(keys.slice(i, i + 10_000).map((key) => ({ type: 'del', key })));
    }
  }

  /**
   * Turns operations into signed batches of this device and commits them with their effect
   * and their place in the outbox. Throws before anything is kept when one cannot be written.
   */
  replicate(operations: readonly LevelOp[]): string[] {
    for (const op of operations) {
      if (op.key.length > MAX_KEY_BYTES) {
        throw new P2PError(
          'bad_kv_op',
          `a key is ${op.key.length} bytes; at most ${MAX_KEY_BYTES}`,
        );
      }
      if (op.type === 'put' && (op.value?.length ?? 0) > MAX_VALUE_BYTES) {
        throw new P2PError(
          'bad_kv_op',
          `a value is ${op.value!.length} bytes; at most ${MAX_VALUE_BYTES}`,
        );
      }
    }
    const writer = this.host.writer();
    const tables = this.tables!;
    const now = Date.now();
    const ops: KvOp[] = operations.map((op) =>
      op.type === 'put'
        ? {
            type: 'put',
            key: op.key,
            value: op.value ?? Buffer.alloc(0),
            hlc: this.clock.tick(now),
          }
        : { type: 'del', key: op.key, hlc: this.clock.tick(now) },
    );
    const first = tables.highest(KV_BATCH_KIND, writer.signer) + 1;
    const seen = this.state.versionVector();
    let offset = 0;
    // The batches are built here from valid operations, so they are signed without being read
    // back (a full one is 45 KiB to parse and check) and applied from the operations in hand.
    const batches = splitCounted({ space: this.space, firstBatch: first, seen, ops }).map(
      ({ body, count }, i) => {
        const statement = signOwnBatch({
          person: writer.person,
          signer: writer.identity,
          seq: this.host.nextSeq(writer.signer),
          at: now,
          body,
        });
        const batch: KvBatch = {
          person: writer.person,
          signer: writer.signer,
          seq: statement.seq,
          at: now,
          hash: statement.hash,
          body: {
            space: this.space,
            batch: first + i,
            seen,
            ops: ops.slice(offset, offset + count),
          },
        };
        offset += count;
        return { statement, batch };
      },
    );
    const touched = new Map<string, Buffer>();
    this.commit(() => {
      for (const { statement, batch } of batches) {
        tables.add({
          hash: statement.hash,
          kind: KV_BATCH_KIND,
          signer: writer.signer,
          number: batch.body.batch,
          log: '',
          epoch: writer.epoch,
          statement: encodeStatement(statement),
        });
        tables.queue(statement.hash);
        this.state.apply(batch);
        this.batchCount += 1;
        for (const op of batch.body.ops) touched.set(op.key.toString('hex'), op.key);
      }
      tables.setMetaValue('clock', formatHlc(this.clock.current));
      this.materialize(touched.values());
    });
    this.emit('change', { origin: 'local', keys: [...touched.values()] } as KvChange);
    this.host.wrote();
    return batches.map((b) => b.statement.hash);
  }

  /**
   * Keeps a batch read from a node (its statement verified by the caller) and applies it if it
   * counts. Returns whether the store changed.
   */
  receive(statement: Statement, epoch: string): boolean {
    const read = batchFromStatement(statement);
    if (!read.ok) {
      this.counts.malformed += 1;
      return false;
    }
    const tables = this.tables!;
    const { batch } = read;
    const touched = new Map<string, Buffer>();
    let applied = false;
    this.commit(() => {
      const added = tables.add({
        hash: statement.hash,
        kind: KV_BATCH_KIND,
        signer: batch.signer,
        number: batch.body.batch,
        log: '',
        epoch,
        statement: encodeStatement(statement),
      });
      if (!added) return;
      applied = this.applyJudged(batch, epoch);
      if (!applied) return;
      const now = Date.now();
      for (const op of batch.body.ops) {
        touched.set(op.key.toString('hex'), op.key);
        try {
          this.clock.receive(op.hlc, now);
        } catch {
          // A reading far ahead still counts in the merge; it only does not move this clock.
        }
      }
      tables.setMetaValue('clock', formatHlc(this.clock.current));
      // A fork withdraws one copy, whose keys may differ from this one's: recompute those too.
      if (this.state.forks.some((f) => f.signer === batch.signer && f.batch === batch.body.batch)) {
        for (const copy of tables.copies(KV_BATCH_KIND, batch.signer, batch.body.batch)) {
          const other = decodeStatement(copy);
          const read = other ? batchFromStatement(other) : undefined;
          if (read?.ok)
            for (const op of read.batch.body.ops) touched.set(op.key.toString('hex'), op.key);
        }
      }
      this.materialize(touched.values());
    });
    if (!applied) return false;
    if (++this.sinceCompaction >= COMPACT_EVERY) {
      this.sinceCompaction = 0;
      this.state.compact(this.host.writers());
    }
    this.emit('change', { origin: 'remote', keys: [...touched.values()] } as KvChange);
    return true;
  }

  /** Versions of `key` written concurrently with its winner (docs/kv.md §5), greatest first. */
  conflicts(key: Buffer): KvVersion[] {
    return this.state.conflicts(key);
  }

  /** The winning version of `key` (tombstone included), with who wrote it and when. */
  winner(key: Buffer): KvVersion | undefined {
    return this.state.winner(key);
  }

  /** Statements of this device no node holds yet, oldest first. */
  outbox(limit: number): { hash: string; statement: string }[] {
    return this.tables!.outbox(limit);
  }

  /** How many statements of this device no node holds yet (without counting the keys). */
  outboxSize(): number {
    return this.tables!.outboxSize();
  }

  sent(hashes: readonly string[]): void {
    this.tables!.sent(hashes);
  }

  /** Stamped entries kept for outbox statements (docs/kv.md §9.3), by statement hash. */
  stamps(hashes: readonly string[]): Map<string, KeptStamp> {
    return this.tables!.stamps(hashes);
  }

  keepStamps(rows: readonly KeptStamp[]): void {
    this.tables!.keepStamps(rows);
  }

  /** The replica file's connection, for the space's logs kept in the same file. */
  get database(): Database.Database {
    return this.writer!;
  }

  /** The replica file's own tables (the space's logs are kept there too). */
  get statementTables(): ReplicaTables {
    return this.tables!;
  }

  replicaStatus(): ReplicaStatus {
    const keys = this.writer!.prepare('SELECT COUNT(*) FROM kv').pluck().get() as number;
    return {
      space: this.space,
      keys,
      versions: this.state.size,
      batches: this.batchCount,
      versionVector: this.state.versionVector(),
      ignored: {
        accept: 0,
        ...this.counts,
        fork: this.state.ignored.fork,
        space: this.state.ignored.space,
      },
      forks: this.state.forks,
      outbox: this.outboxSize(),
    };
  }

  /**
   * Changes as they happen, local and remote, until the loop is left, the signal aborts or the
   * replica closes.
   */
  async *watch(options: { signal?: AbortSignal } = {}): AsyncGenerator<KvChange> {
    const queue: KvChange[] = [];
    let wake: (() => void) | undefined;
    let closed = options.signal?.aborted ?? false;
    const onChange = (change: KvChange): void => {
      queue.push(change);
      wake?.();
    };
    const onClose = (): void => {
      closed = true;
      wake?.();
    };
    this.on('change', onChange);
    this.once('closing', onClose);
    // A generator waiting for a change cannot be returned from outside: the signal wakes it.
    options.signal?.addEventListener('abort', onClose, { once: true });
    try {
      while (!closed) {
        while (queue.length > 0) yield queue.shift()!;
        if (closed) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.off('change', onChange);
      this.off('closing', onClose);
      options.signal?.removeEventListener('abort', onClose);
    }
  }
}
