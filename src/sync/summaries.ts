/**
 * Keeps reconciliation summaries (bucket fingerprints + rateless IBLT) current for the scopes
 * this node syncs: the whole store (built once at start) and table lists (built on demand,
 * kept in an LRU within a memory budget). Builds scan the store in chunks so the node keeps
 * serving; a change that lands during a build is applied only if the scan already passed it.
 */
import type { Logger } from 'pino';
import { toHex } from '../encoding/bytes.js';
import { SetSummary, sketchCapacityFor } from '../reconcile/summary.js';
import type { ScanPosition, Store, StoreChange, SyncSource } from '../store/store.js';
import { scopeKey, scopeTables, type Scope } from './scope.js';

const SCAN_CHUNK = 20_000;

interface Tracked {
  readonly scope: Scope;
  /** Set once the capacity is known (right after the first await of a build). */
  summary: SetSummary | undefined;
  /** Hex table key → index in the scope's table list (undefined for the whole store). */
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
  /** Memory allowed for table-list summaries together. */
  readonly budgetBytes?: number;
  readonly log?: Logger;
}

export class SummaryManager {
  private readonly tracked = new Map<string, Tracked>();
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

  /** The summary of a scope, building it if needed. */
  get(scope: Scope): Promise<SetSummary> {
    const key = scopeKey(scope);
    const existing = this.tracked.get(key);
    if (existing) {
      existing.lastUsed = Date.now();
      return existing.ready;
    }
    return this.track(scope, key);
  }

  private async capacityFor(scope: Scope): Promise<number> {
    if (scope.kind === 'all') return this.options.globalCapacity ?? 65536;
    const stats = await this.source.tableStats(scope.tables);
    return sketchCapacityFor(stats.reduce((sum, s) => sum + s.count, 0));
  }

  private track(scope: Scope, key: string): Promise<SetSummary> {
    const tableIndex =
      scope.kind === 'all'
        ? undefined
        : new Map(scope.tables.map((t, i) => [toHex(t), i] as [string, number]));
    const entry: Tracked = {
      scope,
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
      const capacity = await this.capacityFor(scope);
      entry.summary = new SetSummary(this.options.buckets, capacity);
      entry.bytes = this.options.buckets * 12 + capacity * 16;
      this.evict();
      await this.build(entry);
      return entry.summary;
    })();
    this.tracked.set(key, entry);
    entry.ready.catch(() => this.tracked.delete(key));
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
      const page = await this.source.scanShortIds(tables, entry.position, SCAN_CHUNK);
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
        const index = entry.tableIndex.get(toHex(change.table));
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

  private evict(): void {
    const budget = this.options.budgetBytes ?? 64 * 1024 * 1024;
    let total = 0;
    for (const [key, entry] of this.tracked) if (key !== 'all') total += entry.bytes;
    if (total <= budget) return;
    const candidates = [...this.tracked.entries()]
      .filter(([key, entry]) => key !== 'all' && entry.done)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [key, entry] of candidates) {
      if (total <= budget) break;
      this.tracked.delete(key);
      total -= entry.bytes;
    }
  }
}
