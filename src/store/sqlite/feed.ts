/**
 * The feed of the SQLite store: entries in `seq` order, which is commit order because SQLite
 * has one writer at a time and each transaction numbers its rows after everything committed
 * before it. A `seq` is handed out once only: the highest ever used is kept in `meta`
 * (`feed_seq`), so deleting the newest entries and reopening never reuses their numbers, and a
 * cursor handed out before cannot skip an entry stored later.
 *
 * Cursor text, version 1: `s1.` followed by the decimal `seq` of the last entry examined
 * (`s1.0` before the first), e.g. `s1.1042` (docs/protocol.md §15).
 */
import type Database from 'better-sqlite3';
import { P2PError } from '../../errors.js';
import type { FeedPage, FeedQuery, StoredEntry } from '../store.js';
import { tableSet } from './sync-scans.js';
import type { StatementCache } from './statements.js';

const CURSOR_RE = /^s1\.(0|[1-9]\d{0,15})$/;
/** Rows read per statement while filling a page. */
const FEED_CHUNK = 256;
/** The `meta` key of the highest `seq` ever handed out. */
export const FEED_SEQ_KEY = 'feed_seq';

export function encodeFeedCursor(seq: number): string {
  return `s1.${seq}`;
}

/** The `seq` a cursor stands for; bad_cursor unless it is one this backend hands out. */
export function decodeFeedCursor(text: string): number {
  const match = CURSOR_RE.exec(text);
  const seq = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(seq)) {
    throw new P2PError('bad_cursor', 'feed cursor must be s1. followed by a decimal position');
  }
  return seq;
}

/**
 * The highest `seq` ever handed out, as the database says (other processes may write to it).
 * Databases written before the mark existed fall back to the highest stored row.
 */
export function feedHighWater(statements: StatementCache): number {
  const mark = statements.get(`SELECT value FROM meta WHERE key = '${FEED_SEQ_KEY}'`).get() as
    | { value: string }
    | undefined;
  const top = statements.get('SELECT MAX(seq) AS seq FROM entries').get() as {
    seq: number | null;
  };
  return Math.max(mark ? Number(mark.value) : 0, top.seq ?? 0);
}

/** Records `seq` as handed out (inside the writing transaction). */
export function saveFeedHighWater(statements: StatementCache, seq: number): void {
  statements
    .get(
      `INSERT INTO meta (key, value) VALUES ('${FEED_SEQ_KEY}', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    )
    .run(String(seq));
}

/** One page of the feed; the whole read runs in one implicit read transaction per statement. */
export function readFeed(statements: StatementCache, query: FeedQuery): FeedPage {
  const after = query.after === undefined ? 0 : decodeFeedCursor(query.after);
  // A position past anything handed out comes from another store: following it would skip
  // the entries this store numbers up to there.
  if (after > feedHighWater(statements)) {
    throw new P2PError('bad_cursor', 'feed cursor is beyond the end of this store');
  }
  const wanted = query.tables ? tableSet(query.tables) : undefined;
  // With a table filter, rows are examined by their table key alone: the bytes of entries
  // that do not match are never read, so scanLimit bounds the work, not the entries' sizes.
  const select = statements
    .get(
      wanted
        ? 'SELECT seq, created_at, expires_at, substr(data, 2, 32) FROM entries WHERE seq > ? ORDER BY seq LIMIT ?'
        : 'SELECT seq, created_at, expires_at, data FROM entries WHERE seq > ? ORDER BY seq LIMIT ?',
    )
    .raw(true);
  const dataOf = statements.get('SELECT data FROM entries WHERE seq = ?').pluck(true);
  const limit = Math.max(1, query.limit);
  const scanLimit = Math.max(1, query.scanLimit);
  const entries: StoredEntry[] = [];
  let bytes = 0;
  let cursor = after;
  let examined = 0;
  for (;;) {
    const ask = Math.min(FEED_CHUNK, scanLimit - examined);
    const rows = select.all(cursor, ask) as [number, number, number, Buffer][];
    let consumed = 0;
    for (const [seq, createdAt, expiresAt, column] of rows) {
      consumed += 1;
      cursor = seq;
      const wantedRow = !wanted || wanted.has(column.toString('latin1'));
      if (wantedRow) {
        const data = wanted ? (dataOf.get(seq) as Buffer) : column;
        entries.push({ seq, createdAt, expiresAt, bytes: data });
        bytes += data.length;
        if (entries.length >= limit || bytes >= query.maxBytes) break;
      }
    }
    examined += consumed;
    const full = entries.length >= limit || bytes >= query.maxBytes;
    if (rows.length < ask && consumed === rows.length && !full) {
      return { entries, cursor: encodeFeedCursor(cursor), end: true };
    }
    if (full || examined >= scanLimit) {
      return { entries, cursor: encodeFeedCursor(cursor), end: false };
    }
  }
}

/**
 * Wakes feed listeners: at once for this process's own commits, and by watching SQLite's
 * data_version (which moves when another connection commits) for other processes'.
 */
export class FeedSignal {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private dataVersion = -1;
  private pending = false;

  constructor(
    private readonly db: Database.Database,
    private readonly pollMs = 100,
  ) {}

  /** Coalesced: several commits in one turn of the event loop wake each listener once. */
  notify(): void {
    if (this.pending || this.listeners.size === 0) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      for (const listener of [...this.listeners]) listener();
    });
  }

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.dataVersion = this.readVersion();
      this.timer = setInterval(() => this.poll(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  private poll(): void {
    let version: number;
    try {
      version = this.readVersion();
    } catch {
      return; // closing: nothing more to watch
    }
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.notify();
    }
  }
}
