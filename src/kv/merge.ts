/**
 * The merge rule of the key-value store (docs/kv.md §4–6): every operation of every accepted
 * batch is a version of its key; the winner is the greatest version in the total order (hlc,
 * then signer text, then batch number, then op index), so replicas that hold the same batches
 * agree whatever order they received them in. The versions a winner had not seen are its
 * conflicts. Deletes are tombstone versions, dropped by compact() once every writer has seen
 * them. Pure and in memory: a replica persists what it needs around it.
 */
import { compareHlc, type Hlc } from './hlc.js';
import type { KvBatch } from './batch.js';

/** One operation of one batch, as the state keeps it. */
export interface KvVersion {
  readonly key: Buffer;
  /** The value written; undefined for a delete (a tombstone). */
  readonly value: Buffer | undefined;
  readonly hlc: Hlc;
  readonly signer: string;
  readonly person: string;
  readonly batch: number;
  /** Index of the operation in its batch. */
  readonly index: number;
  /** The seen vector of the version's batch. */
  readonly seen: Readonly<Record<string, number>>;
}

/** The directory rule: may `signer` speak for `person` at time `at` with counter `seq`. */
export type AcceptsRule = (person: string, signer: string, at: number, seq: number) => boolean;
/** The space's membership rule: may `person` write to the space. */
export type MayWriteRule = (person: string) => boolean;

export type IgnoreReason = 'space' | 'signer' | 'writer' | 'fork';
export type ApplyResult = 'applied' | 'duplicate' | IgnoreReason;

export interface KvStateOptions {
  /** Group id of the space; batches of another space are ignored. */
  readonly space: string;
  readonly accepts: AcceptsRule;
  readonly mayWrite: MayWriteRule;
}

/** Total order of versions: negative when `a` loses to `b`. */
export function compareVersions(a: KvVersion, b: KvVersion): number {
  const byClock = compareHlc(a.hlc, b.hlc);
  if (byClock !== 0) return byClock;
  if (a.signer !== b.signer) return a.signer < b.signer ? -1 : 1;
  if (a.batch !== b.batch) return a.batch - b.batch;
  return a.index - b.index;
}

/** Whether `seer` (a version, or a writer's batch) had seen `version` when it was written. */
export function hasSeen(
  seer: {
    readonly signer: string;
    readonly batch: number;
    readonly seen: Readonly<Record<string, number>>;
  },
  version: { readonly signer: string; readonly batch: number },
): boolean {
  // A writer has seen its own earlier batches and the earlier ops of the same batch.
  if (seer.signer === version.signer) return seer.batch >= version.batch;
  return (seer.seen[version.signer] ?? 0) >= version.batch;
}

interface BatchRecord {
  readonly hash: string;
  readonly seen: Readonly<Record<string, number>>;
  /** Hex keys the batch wrote, to withdraw it when a fork resolves against it. */
  readonly keys: readonly string[];
}

function batchId(signer: string, batch: number): string {
  return `${signer}#${batch}`;
}

export class KvState {
  readonly space: string;
  private readonly accepts: AcceptsRule;
  private readonly mayWrite: MayWriteRule;
  /** Versions per key (hex), unordered. */
  private readonly versions = new Map<string, KvVersion[]>();
  private readonly batches = new Map<string, BatchRecord>();
  /** Per signer, the batch numbers applied above the contiguous prefix. */
  private readonly pending = new Map<string, Set<number>>();
  private readonly prefix = new Map<string, number>();
  private readonly ignoredCounts: Record<IgnoreReason, number> = {
    space: 0,
    signer: 0,
    writer: 0,
    fork: 0,
  };
  private readonly forkList: { signer: string; batch: number }[] = [];
  private sortedKeys: Buffer[] | undefined;

  constructor(options: KvStateOptions) {
    this.space = options.space;
    this.accepts = options.accepts;
    this.mayWrite = options.mayWrite;
  }

  /** Applies one verified batch; what happened to it. Idempotent. */
  apply(batch: KvBatch): ApplyResult {
    const { body } = batch;
    if (body.space !== this.space) return this.ignore('space');
    if (!this.accepts(batch.person, batch.signer, batch.at, batch.seq))
      return this.ignore('signer');
    if (!this.mayWrite(batch.person)) return this.ignore('writer');
    const id = batchId(batch.signer, body.batch);
    const known = this.batches.get(id);
    if (known) {
      if (known.hash === batch.hash) return 'duplicate';
      // Two different batches under one number: a writer forked. Keep the one with the smaller
      // hash on every replica, whatever came first, and report the fork.
      if (!this.forkList.some((f) => f.signer === batch.signer && f.batch === body.batch)) {
        this.forkList.push({ signer: batch.signer, batch: body.batch });
      }
      this.ignoredCounts.fork += 1;
      if (known.hash < batch.hash) return 'fork';
      this.withdraw(batch.signer, body.batch, known);
    }
    const keys: string[] = [];
    body.ops.forEach((op, index) => {
      const hex = op.key.toString('hex');
      keys.push(hex);
      const version: KvVersion = {
        key: op.key,
        value: op.type === 'put' ? op.value : undefined,
        hlc: op.hlc,
        signer: batch.signer,
        person: batch.person,
        batch: body.batch,
        index,
        seen: body.seen,
      };
      const list = this.versions.get(hex);
      if (list) list.push(version);
      else {
        this.versions.set(hex, [version]);
        this.sortedKeys = undefined;
      }
    });
    this.batches.set(id, { hash: batch.hash, seen: body.seen, keys });
    if (!known) this.markApplied(batch.signer, body.batch);
    return known ? 'fork' : 'applied';
  }

  private ignore(reason: IgnoreReason): ApplyResult {
    this.ignoredCounts[reason] += 1;
    return reason;
  }

  private withdraw(signer: string, batch: number, record: BatchRecord): void {
    for (const hex of new Set(record.keys)) {
      const list = this.versions.get(hex);
      if (!list) continue;
      const kept = list.filter((v) => v.signer !== signer || v.batch !== batch);
      if (kept.length > 0) this.versions.set(hex, kept);
      else {
        this.versions.delete(hex);
        this.sortedKeys = undefined;
      }
    }
  }

  private markApplied(signer: string, batch: number): void {
    let top = this.prefix.get(signer) ?? 0;
    let above = this.pending.get(signer);
    if (!above) this.pending.set(signer, (above = new Set()));
    above.add(batch);
    while (above.has(top + 1)) above.delete(++top);
    this.prefix.set(signer, top);
  }

  /** Ignored batches so far, by reason (forks count every losing or replaced copy). */
  get ignored(): Readonly<Record<IgnoreReason, number>> {
    return { ...this.ignoredCounts };
  }

  /** Batch numbers at which a writer signed two different batches. */
  get forks(): readonly { readonly signer: string; readonly batch: number }[] {
    return this.forkList.map((f) => ({ ...f }));
  }

  /** The highest n such that batches 1…n of `signer` are all applied. */
  applied(signer: string): number {
    return this.prefix.get(signer) ?? 0;
  }

  /** applied() of every signer seen so far: the `seen` of this replica's next batch. */
  versionVector(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const signer of [...this.prefix.keys()].sort()) {
      const n = this.prefix.get(signer) ?? 0;
      if (n > 0) out[signer] = n;
    }
    return out;
  }

  /** The greatest version of `key`, tombstone or not; undefined when none is held. */
  winner(key: Uint8Array): KvVersion | undefined {
    const list = this.versions.get(Buffer.from(key).toString('hex'));
    if (!list) return undefined;
    let best = list[0];
    for (const v of list) if (best === undefined || compareVersions(v, best) > 0) best = v;
    return best;
  }

  /** The winning version of `key` when it is a value; undefined when absent or deleted. */
  get(key: Uint8Array): KvVersion | undefined {
    const w = this.winner(key);
    return w && w.value !== undefined ? w : undefined;
  }

  /**
   * The versions of `key` its winner had not seen (written concurrently with it), greatest
   * first; tombstones included, since a concurrent delete is a conflict too.
   */
  conflicts(key: Uint8Array): KvVersion[] {
    const w = this.winner(key);
    if (!w) return [];
    const list = this.versions.get(Buffer.from(key).toString('hex')) ?? [];
    return list.filter((v) => v !== w && !hasSeen(w, v)).sort((a, b) => compareVersions(b, a));
  }

  /** Live keys in byte order (or reverse) with their winning versions. */
  *entries(options: { reverse?: boolean } = {}): Generator<KvVersion> {
    if (!this.sortedKeys) {
      this.sortedKeys = [...this.versions.values()]
        .map((list) => list[0]!.key)
        .sort((a, b) => Buffer.compare(a, b));
    }
    const keys = options.reverse ? [...this.sortedKeys].reverse() : this.sortedKeys;
    for (const key of keys) {
      const v = this.get(key);
      if (v) yield v;
    }
  }

  /** Number of versions held (values, overwritten values and tombstones). */
  get size(): number {
    let n = 0;
    for (const list of this.versions.values()) n += list.length;
    return n;
  }

  /**
   * Whether every writer's latest applied batch (the contiguous prefix) had seen `version`.
   * A writer with nothing applied has seen nothing, so it holds compaction back.
   */
  compactable(version: KvVersion, writers: readonly string[]): boolean {
    return writers.every((writer) => {
      const latest = this.applied(writer);
      if (latest === 0) return false;
      const record = this.batches.get(batchId(writer, latest));
      if (!record) return false;
      return hasSeen({ signer: writer, batch: latest, seen: record.seen }, version);
    });
  }

  /**
   * Drops the versions no writer can still write concurrently with: versions the winner has
   * overwritten and every writer has seen, and tombstones every writer has seen (a winning tombstone only with every other version of its
   * key, so no older value resurfaces). Returns how many versions were dropped.
   */
  compact(writers: readonly string[]): number {
    let dropped = 0;
    for (const [hex, list] of [...this.versions]) {
      const w = list.reduce((best, v) => (compareVersions(v, best) > 0 ? v : best));
      // A conflict stays while its winner stands, even once every writer has seen it.
      const kept = list.filter((v) => v === w || !hasSeen(w, v) || !this.compactable(v, writers));
      if (kept.length === 1 && w.value === undefined && this.compactable(w, writers)) {
        this.versions.delete(hex);
        this.sortedKeys = undefined;
        dropped += list.length;
        continue;
      }
      dropped += list.length - kept.length;
      if (kept.length !== list.length) this.versions.set(hex, kept);
    }
    return dropped;
  }
}
