/**
 * Follows the `changes` log of a database shared by several processes: a LISTEN connection
 * wakes the tail when another process commits, and a slow timer covers notifications lost while
 * that connection was down. Rows are read in (xid, n) order and only below the oldest
 * transaction still running, so none is ever skipped: a row that commits later has an xid at
 * least that oldest one, above every position already read.
 */
import pg from 'pg';
import type { StoreChange } from '../store.js';
import { shortOfSqlKey } from '../sqlite/sql-keys.js';
import { CHANGE_CHANNEL } from './schema.js';
import type { Queries } from './queries.js';

/** Rows read per query; the tail reads on until it is caught up. */
const PAGE = 5000;
/** How often the log is read without a notification (ms). */
const POLL_MS = 1000;
const RECONNECT_MS = 500;

interface ChangeRow {
  xid: string;
  n: string;
  writer: string;
  sign: number;
  k: string;
  table_key: Buffer;
  created_at: string;
  seq: string;
}

export interface TailBatch {
  /** Changes made by other processes (this one's were reported when it committed them). */
  readonly others: StoreChange[];
  /** Whether any row read was an arrival, of any process: the feed may have grown. */
  readonly arrivals: boolean;
}

export class ChangeTail {
  private xid = '0';
  private n = '0';
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: Queries,
    private readonly connection: pg.ClientConfig,
    private readonly writer: string,
    private readonly deliver: (batch: TailBatch) => void,
  ) {}

  /** Starts at the end of the log as it is now. */
  async start(): Promise<void> {
    const rows = await this.db.rows<{ x: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x',
    );
    // Everything below the oldest running transaction is settled: start after all of it.
    this.xid = (BigInt(rows[0]!.x) - 1n).toString();
    this.n = '9223372036854775807';
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
    await this.listen();
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.connection);
    // A lost connection is replaced; the timer keeps the tail going meanwhile.
    client.on('error', () => {
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      setTimeout(() => void this.listen().catch(() => undefined), RECONNECT_MS).unref();
    });
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      setTimeout(() => void this.listen().catch(() => undefined), RECONNECT_MS).unref();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.wake();
  }

  /** Reads what is new (now, or right after a read in progress). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.readAll()
      .catch(() => undefined) // the server is away: the next wake tries again
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async readAll(): Promise<void> {
    for (;;) {
      const rows = await this.db.rows<ChangeRow>(
        `SELECT xid::text AS xid, n, writer, sign, k, table_key, created_at, seq FROM changes
         WHERE (xid, n) > ($1::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY xid, n LIMIT ${PAGE}`,
        [this.xid, this.n],
      );
      if (rows.length === 0 || this.stopped) return;
      const last = rows[rows.length - 1]!;
      this.xid = last.xid;
      this.n = last.n;
      const others: StoreChange[] = [];
      let arrivals = false;
      for (const row of rows) {
        if (row.sign > 0) arrivals = true;
        if (row.writer === this.writer) continue;
        const [hi, lo] = shortOfSqlKey(BigInt(row.k));
        others.push({
          sign: row.sign > 0 ? 1 : -1,
          hi,
          lo,
          table: row.table_key,
          createdAt: Number(row.created_at),
          seq: Number(row.seq),
        });
      }
      this.deliver({ others, arrivals });
      if (rows.length < PAGE) return;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    const client = this.listener;
    this.listener = undefined;
    if (client) {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
