/**
 * Keeps reconciliation summaries (bucket fingerprints + rateless IBLT) current for the scopes
 * this node syncs: the whole store (built once at start) and table lists (built on demand,
 * kept in an LRU within a memory budget). Builds scan the store in chunks so the node keeps
 * serving; a change that lands during a build is applied only if the scan already passed it.
 *
 * Table-list summaries are built for whoever asks, so what they may cost is bounded per
 * requester: the memory of the summaries one requester caused (a share of the budget; past it
 * its own least recently used ones go first), and the entries its builds may read per second.
 */
import type { Logger } from 'pino';
import { P2PError } from '../errors.js';
import { sha256 } from '../crypto/sha256.js';
import { SetSummary, sketchCapacityFor } from '../reconcile/summary.js';
import type { ScanPosition, Store, StoreChange, SyncSource } from '../store/store.js';
import { scopeTables, type Scope } from './scope.js';

/** Short ids read per step of a whole-store build (an index-only scan: a few ms). */
const SCAN_CHUNK = 20_000;
/** Entries read per step of a table-list build (each is hashed: a few ms). */
const TABLE_SCAN_CHUNK = 2_000;

/** The requester of the node's own sessions: not limited by the per-requester bounds. */
export const LOCAL = 'local';

/**
 * Memory one table-list summary holds, measured (see docs/protocol.md, cost model): three
 * u32 arrays per bucket, 16 bytes per sketch symbol, the table list and its index (a Buffer
 * and a map entry per table), and a fixed part (objects, promise, closures).
 */
export const SUMMARY_FIXED_BYTES = 4096;
export const SUMMARY_TABLE_BYTES = 320;
export function summaryBytes(buckets: number, capacity: number, tables: number): number {
  return SUMMARY_FIXED_BYTES + buckets * 12 + capacity * 16 + tables * SUMMARY_TABLE_BYTES;
}

/** What one build costs a requester's allowance, in entries read, beyond the entries. */
const BUILD_BASE_ENTRIES = 1_000;

interface Tracked {
  readonly scope: Scope;
  /** Who caused the build (an address, or LOCAL): its share pays for the memory. */
  readonly owner: string;
  /** Set once the capacity is known (right after the first await of a build). */
  summary: SetSummary | undefined;
  /** Table key (as a binary string) → index in the scope's table list (undefined for 'all'). */
  readonly tableIndex: Map<string, number> | undefined;
  position: ScanPosition | undefined;
  done: boolean;
  /** Changes seen while a scan query was in flight: judged once its page is applied. */
  pending: StoreChange[] | undefined;
  ready: Promise<SetSummary>;
  lastUsed: number;
  bytes: number;
}

function comparePosition(scope: Scope, a: ScanPosition, b: ScanPosition): number {
  if (scope.kind === 'all') return a.hi - b.hi || a.lo - b.lo;
  return a.table - b.table || a.createdAt - b.createdAt || a.seq - b.seq;
}

export interface SummaryOptions {
  readonly buckets: number;
  /** Sketch capacity of the whole-store summary (symbols; 16 bytes each in memory). */
  readonly globalCapacity?: number;
  /** Memory allowed for table-list summaries together (64 MiB). */
  readonly budgetBytes?: number;
  /** Memory the summaries one requester caused may hold (a quarter of the budget). */
  readonly shareBytes?: number;
  /** Entries per second one requester's builds may read on average (20,000). */
  readonly buildEntriesPerSecond?: number;
  /** Entries one requester's builds may read at once (a minute's worth). */
  readonly buildBurstEntries?: number;
  readonly log?: Logger;
}

/** A requester's allowance of entries to read for builds: a bucket that may go into debt. */
interface Allowance {
  tokens: number;
  at: number;
}

/** The cache key of a scope: fixed-size, however many tables it lists. */
function summaryKey(scope: Scope): string {
  if (scope.kind === 'all') return 'all';
  return sha256(Buffer.concat([Buffer.from('tables'), ...scope.tables])).toString('base64');
}

export class SummaryManager {
  private readonly tracked = new Map<string, Tracked>();
  private readonly allowances = new Map<string, Allowance>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly source: SyncSource & Pick<Store, 'tableStats'>,
    private readonly options: SummaryOptions,
  ) {}

  /** Subscribes to changes and starts building the whole-store summary. */
  start(): void {
    this.unsubscribe = this.source.onChange((changes) => this.apply(changes));
    void this.get({ kind: 'all' }).catch((error: unknown) =>
      this.options.log?.error({ err: error }, 'building the sync summary failed'),
    );
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
  }

  /** True once the whole-store summary is complete. */
  get ready(): boolean {
    return this.tracked.get('all')?.done === true;
  }

  /**
   * The summary of a scope, building it if needed. `requester` (an address) pays for the
   * build; past its allowance or its share of memory the promise rejects with rate_limited.
   */
  get(scope: Scope, requester: string = LOCAL): Promise<SetSummary> {
    const key = summaryKey(scope);
    const existing = this.tracked.get(key);
    if (existing) {
      existing.lastUsed = Date.now();
      return existing.ready;
    }
    return this.track(scope, key, requester);
  }

  /** Memory the table-list summaries hold, as accounted (for tests and /health). */
  get heldBytes(): number {
    let total = 0;
    for (const [key, entry] of this.tracked) if (key !== 'all') total += entry.bytes;
    return total;
  }

  private get budget(): number {
    return this.options.budgetBytes ?? 64 * 1024 * 1024;
  }

  private async sizeOf(scope: Scope): Promise<{ capacity: number; entries: number }> {
    if (scope.kind === 'all') return { capacity: this.options.globalCapacity ?? 65536, entries: 0 };
    const stats = await this.source.tableStats(scope.tables);
    const entries = stats.reduce((sum, s) => sum + s.count, 0);
    return { capacity: sketchCapacityFor(entries), entries };
  }

  /**
   * Takes `entries` from the requester's allowance. The allowance may go into debt, so that a
   * scope larger than the burst can still be built once; a requester in debt waits.
   */
  private charge(requester: string, entries: number): void {
    if (requester === LOCAL) return;
    const rate = this.options.buildEntriesPerSecond ?? 20_000;
    const burst = this.options.buildBurstEntries ?? rate * 60;
    const now = Date.now();
    const allowance = this.allowances.get(requester) ?? { tokens: burst, at: now };
    allowance.tokens = Math.min(burst, allowance.tokens + ((now - allowance.at) / 1000) * rate);
    allowance.at = now;
    if (allowance.tokens <= 0) {
      const seconds = Math.ceil((1 - allowance.tokens) / rate);
      throw new P2PError(
        'rate_limited',
        `too many new sync scopes from this address; try again in ${seconds} s`,
        { retry_after_seconds: seconds },
      );
    }
    allowance.tokens -= entries + BUILD_BASE_ENTRIES;
    this.allowances.set(requester, allowance);
    // Forget allowances that are full again, so the map does not grow with every address.
    if (this.allowances.size > 4096) {
      for (const [who, a] of this.allowances) {
        if (a.tokens + ((now - a.at) / 1000) * rate >= burst) this.allowances.delete(who);
      }
    }
  }

  private track(scope: Scope, key: string, owner: string): Promise<SetSummary> {
    const tableIndex =
      scope.kind === 'all'
        ? undefined
        : new Map(scope.tables.map((t, i) => [t.toString('latin1'), i] as [string, number]));
    const entry: Tracked = {
      scope,
      owner,
      summary: undefined,
      tableIndex,
      position: undefined,
      done: false,
      pending: undefined,
      ready: Promise.resolve(undefined as unknown as SetSummary),
      lastUsed: Date.now(),
      bytes: 0,
    };
    entry.ready = (async () => {
      const { capacity, entries } = await this.sizeOf(scope);
      const tables = scope.kind === 'all' ? 0 : scope.tables.length;
      const bytes = summaryBytes(this.options.buckets, capacity, tables);
      if (key !== 'all') {
        this.charge(owner, entries);
        this.makeRoom(owner, bytes);
      }
      entry.summary = new SetSummary(this.options.buckets, capacity);
      entry.bytes = bytes;
      await this.build(entry);
      return entry.summary;
    })();
    this.tracked.set(key, entry);
    entry.ready.catch(() => {
      if (this.tracked.get(key) === entry) this.tracked.delete(key);
    });
    return entry.ready;
  }

  private async build(entry: Tracked): Promise<void> {
    const tables = scopeTables(entry.scope);
    const started = Date.now();
    for (;;) {
      if (this.stopped) throw new Error('summary manager stopped');
      // A change committed while the query is in flight may or may not be in its page; hold
      // such changes back and judge them against the position the page reaches.
      entry.pending = [];
      const page = await this.source.scanShortIds(
        tables,
        entry.position,
        tables ? TABLE_SCAN_CHUNK : SCAN_CHUNK,
      );
      for (const item of page.items) entry.summary!.toggle(item.hi, item.lo, 1);
      if (page.items.length > 0) entry.position = page.items[page.items.length - 1];
      if (page.done) entry.done = true;
      const held = entry.pending;
      entry.pending = undefined;
      this.applyTo(entry, held, page.done);
      if (page.done) break;
      // Let requests run between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.options.log?.info(
      {
        scope: entry.scope.kind === 'all' ? 'all' : `${entry.scope.tables.length} tables`,
        entries: entry.summary!.size,
        ms: Date.now() - started,
      },
      'sync summary ready',
    );
  }

  private apply(changes: readonly StoreChange[]): void {
    for (const entry of this.tracked.values()) {
      if (entry.pending) entry.pending.push(...changes);
      else this.applyTo(entry, changes, entry.done);
    }
  }

  private applyTo(entry: Tracked, changes: readonly StoreChange[], complete: boolean): void {
    const summary = entry.summary;
    // No summary yet means the scan has not started: it will see every change.
    if (!summary) return;
    for (const change of changes) {
      let table = -1;
      if (entry.tableIndex) {
        const index = entry.tableIndex.get(change.table.toString('latin1'));
        if (index === undefined) continue;
        table = index;
      }
      if (!complete) {
        // Beyond the scan position: a later page will see the entry (or its absence).
        const position: ScanPosition = {
          table,
          createdAt: change.createdAt,
          seq: change.seq,
          hi: change.hi,
          lo: change.lo,
        };
        if (!entry.position || comparePosition(entry.scope, position, entry.position) > 0) continue;
      }
      summary.toggle(change.hi, change.lo, change.sign);
    }
  }

  /**
   * Frees memory for a new summary of `bytes` that `owner` caused: first the owner's own least
   * recently used summaries past its share, then anyone's past the whole budget. Summaries
   * still being built are kept; a requester whose share is taken by builds in flight waits.
   */
  private makeRoom(owner: string, bytes: number): void {
    const share = this.options.shareBytes ?? Math.floor(this.budget / 4);
    if (owner !== LOCAL) {
      if (bytes > share) {
        throw new P2PError('bad_sync_request', 'the scope is too large for this node to summarise');
      }
      let owned = 0;
      for (const [key, e] of this.tracked) if (key !== 'all' && e.owner === owner) owned += e.bytes;
      const left = this.evictWhile(owned + bytes - share, (e) => e.owner === owner);
      if (left > 0) {
        throw new P2PError(
          'rate_limited',
          'this address has too many sync summaries being built; try again in 10 s',
          { retry_after_seconds: 10 },
        );
      }
    }
    this.evictWhile(this.heldBytes + bytes - this.budget, () => true);
  }

  /** Evicts finished summaries (least recently used first) until `excess` bytes are freed. */
  private evictWhile(excess: number, eligible: (entry: Tracked) => boolean): number {
    if (excess <= 0) return 0;
    const candidates = [...this.tracked.entries()]
      .filter(([key, entry]) => key !== 'all' && entry.done && eligible(entry))
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [key, entry] of candidates) {
      if (excess <= 0) break;
      this.tracked.delete(key);
      excess -= entry.bytes;
    }
    return Math.max(0, excess);
  }
}
