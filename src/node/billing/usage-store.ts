/**
 * The node's usage record, `<data_dir>/billing.sqlite` (docs/billing.md §3): per payer, the
 * entries it stored, the bytes it was served, its jobs, and the receipts signed for it. Payers
 * are keys of their own: nothing here names a ticket, an address or another payer.
 */
import Database from 'better-sqlite3';
import { P2PError } from '../../errors.js';

export const BILLING_DB_FILE = 'billing.sqlite';
/** 2: the payer's held counters (docs/billing.md §5) and the index on expiry they are read by. */
const SCHEMA_VERSION = 2;

export interface StoredRow {
  readonly entry: Buffer;
  readonly bytes: number;
  readonly accepted_at: number;
  /** 0: the entry does not expire. */
  readonly expires_at: number;
}

export interface ServedRow {
  readonly request: Buffer;
  readonly bytes: number;
  readonly at: number;
}

export interface JobRow {
  readonly job: string;
  readonly receipt: Buffer | null;
  readonly fuel: number | null;
  readonly finished_at: number | null;
}

/** The last item signed in a period still being closed: where its next receipt starts. */
export interface PeriodCursor {
  readonly kind: 'store' | 'serve' | 'fuel';
  /** Entry id, request id, or job id (16 bytes). */
  readonly id: Buffer;
}

export interface PayerRow {
  readonly payer: Buffer;
  readonly first_at: number;
  /** End of the last period receipted, or null before the first receipt. */
  readonly receipted_to: number | null;
  readonly next_seq: number;
  /** Rows itemized in saved receipts and still kept: the held set's count (§4.1, §5). */
  readonly held_entries: number;
  /** Their bytes. */
  readonly held_bytes: number;
}

/** A number of rows and their bytes. */
export interface RowCount {
  readonly entries: number;
  readonly bytes: number;
}

export class UsageStore {
  private readonly db: Database.Database;
  /** The statements of the request path, prepared once. */
  private readonly hot: Record<
    'addPayer' | 'payer' | 'stored' | 'served' | 'job' | 'dropServed' | 'dropJobs' | 'dropStored',
    Database.Statement
  >;

  /** The sync level of ordinary writes: NORMAL, or FULL for a node whose durability is power. */
  private readonly usual: 'NORMAL' | 'FULL';

  constructor(path: string, durability: 'process' | 'power' = 'process') {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.usual = durability === 'power' ? 'FULL' : 'NORMAL';
    this.db.pragma(`synchronous = ${this.usual}`);
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version !== 0 && version !== 1 && version !== SCHEMA_VERSION) {
      this.db.close();
      throw new P2PError('bad_config', `${path}: billing schema ${version} is not supported`);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS payers (
        payer BLOB PRIMARY KEY, first_at INTEGER NOT NULL,
        receipted_to INTEGER, next_seq INTEGER NOT NULL DEFAULT 0,
        held_entries INTEGER NOT NULL DEFAULT 0, held_bytes INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS stored (
        payer BLOB NOT NULL, entry BLOB NOT NULL, bytes INTEGER NOT NULL,
        accepted_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        PRIMARY KEY (payer, entry)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS stored_at ON stored (payer, accepted_at, entry);
      CREATE TABLE IF NOT EXISTS served (
        payer BLOB NOT NULL, request BLOB NOT NULL, bytes INTEGER NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (payer, request)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS served_at ON served (payer, at);
      CREATE TABLE IF NOT EXISTS jobs (
        payer BLOB NOT NULL, job TEXT NOT NULL, submitted_at INTEGER NOT NULL,
        receipt BLOB, fuel INTEGER, finished_at INTEGER, settled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (payer, job)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS receipts (
        payer BLOB NOT NULL, seq INTEGER NOT NULL, period_from INTEGER NOT NULL,
        period_to INTEGER NOT NULL, receipt TEXT NOT NULL,
        PRIMARY KEY (payer, seq)
      ) WITHOUT ROWID;
    `);
    if (version === 1) this.db.transaction(() => this.upgradeFrom1())();
    this.db.exec('CREATE INDEX IF NOT EXISTS stored_expiry ON stored (payer, expires_at)');
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.hot = {
      addPayer: this.db.prepare('INSERT OR IGNORE INTO payers (payer, first_at) VALUES (?, ?)'),
      payer: this.db.prepare('SELECT * FROM payers WHERE payer = ?'),
      stored: this.db.prepare(
        'INSERT OR IGNORE INTO stored (payer, entry, bytes, accepted_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ),
      served: this.db.prepare(
        'INSERT OR IGNORE INTO served (payer, request, bytes, at) VALUES (?, ?, ?, ?)',
      ),
      job: this.db.prepare(
        'INSERT OR IGNORE INTO jobs (payer, job, submitted_at) VALUES (?, ?, ?)',
      ),
      dropServed: this.db.prepare('DELETE FROM served WHERE payer = ? AND at < ?'),
      dropJobs: this.db.prepare(
        'DELETE FROM jobs WHERE payer = ? AND settled = 1 AND finished_at < ?',
      ),
      dropStored: this.db.prepare(
        'DELETE FROM stored WHERE payer = ? AND expires_at > 0 AND expires_at <= ?',
      ),
    };
  }

  /**
   * Version 1 kept no held counters: they are counted once here. Every row accepted before a
   * payer's mark was itemized by a v1 receipt (which listed every live entry in every period);
   * so were the rows of a period still being closed up to the last item of its last receipt.
   */
  private upgradeFrom1(): void {
    this.db.exec(`
      ALTER TABLE payers ADD COLUMN held_entries INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE payers ADD COLUMN held_bytes INTEGER NOT NULL DEFAULT 0;
      UPDATE payers SET
        held_entries = (SELECT COUNT(*) FROM stored s
          WHERE s.payer = payers.payer AND s.accepted_at < payers.receipted_to),
        held_bytes = (SELECT COALESCE(SUM(bytes), 0) FROM stored s
          WHERE s.payer = payers.payer AND s.accepted_at < payers.receipted_to);
    `);
    // Periods left open by a split: their last receipt starts at the mark (or there is no mark).
    const open = this.db
      .prepare(
        `SELECT r.payer, r.period_from AS "from", r.period_to AS "to", r.receipt
         FROM payers p JOIN receipts r ON r.payer = p.payer AND r.seq = p.next_seq - 1
         WHERE p.receipted_to IS NULL OR r.period_from >= p.receipted_to`,
      )
      .all() as { payer: Buffer; from: number; to: number; receipt: string }[];
    const add = this.db.prepare(
      'UPDATE payers SET held_entries = held_entries + ?, held_bytes = held_bytes + ? WHERE payer = ?',
    );
    for (const o of open) {
      const { body } = JSON.parse(o.receipt) as { body: string };
      const items = (JSON.parse(body) as { items: { k: string; entry?: string }[] }).items;
      const last = items[items.length - 1];
      const base =
        'SELECT COUNT(*) AS entries, COALESCE(SUM(bytes), 0) AS bytes FROM stored WHERE payer = ? AND accepted_at >= ? AND accepted_at < ?';
      let count: RowCount;
      if (last?.k === 'store') {
        // Storage items come first: the period's rows up to this one were itemized.
        const key = this.storedKey(o.payer, Buffer.from(last.entry!, 'hex'));
        count = key
          ? (this.db
              .prepare(`${base} AND (accepted_at, entry) <= (?, ?)`)
              .get(o.payer, o.from, o.to, key.at, key.id) as RowCount)
          : { entries: 0, bytes: 0 };
      } else {
        count = this.db.prepare(base).get(o.payer, o.from, o.to) as RowCount;
      }
      add.run(count.entries, count.bytes, o.payer);
    }
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }

  /** The time usage is counted at: never inside a period already receipted for the payer. */
  private touch(payer: Buffer, now: number): number {
    this.hot.addPayer.run(payer, now);
    const row = this.payer(payer)!;
    return row.receipted_to !== null && now < row.receipted_to ? row.receipted_to : now;
  }

  payer(payer: Buffer): PayerRow | undefined {
    return this.hot.payer.get(payer) as PayerRow | undefined;
  }

  /** Entries a payer's put stored (or found stored): each accrues from now. */
  addStored(
    payer: Buffer,
    entries: readonly { id: Buffer; bytes: number; expiresAt: number }[],
    now: number,
  ): void {
    const insert = this.hot.stored;
    this.db.transaction(() => {
      const at = this.touch(payer, now);
      for (const e of entries) {
        // An entry already expired accrues nothing; it is not recorded.
        if (e.expiresAt !== 0 && e.expiresAt <= at) continue;
        insert.run(payer, e.id, e.bytes, at, e.expiresAt);
      }
    })();
  }

  addServed(payer: Buffer, request: Buffer, bytes: number, now: number): void {
    this.db.transaction(() => {
      const at = this.touch(payer, now);
      this.hot.served.run(payer, request, bytes, at);
    })();
  }

  addJob(payer: Buffer, job: string, now: number): void {
    this.db.transaction(() => {
      const at = this.touch(payer, now);
      this.hot.job.run(payer, job, at);
    })();
  }

  /** Jobs of a payer whose fuel is not known yet. */
  unsettledJobs(payer: Buffer): string[] {
    return (
      this.db.prepare('SELECT job FROM jobs WHERE payer = ? AND settled = 0').all(payer) as {
        job: string;
      }[]
    ).map((r) => r.job);
  }

  /** A job ended: with its receipt's hash and fuel, or (receipt null) with nothing to bill. */
  settleJob(
    payer: Buffer,
    job: string,
    receipt: Buffer | null,
    fuel: number | null,
    now: number,
  ): void {
    this.db.transaction(() => {
      const at = this.touch(payer, now);
      this.db
        .prepare(
          'UPDATE jobs SET receipt = ?, fuel = ?, finished_at = ?, settled = 1 WHERE payer = ? AND job = ?',
        )
        .run(receipt, fuel, at, payer, job);
    })();
  }

  /**
   * The rows of the payer's usage in [from, to) after `after` (the last item already signed in
   * this period, in item order: storage by accepted_at then entry, served by at then request,
   * fuel by finished_at then job), at most `limit` of them. Rows of an ended period never
   * change (later usage is recorded at later times), so the pages do not shift.
   */
  periodRows(
    payer: Buffer,
    from: number,
    to: number,
    after: PeriodCursor | null,
    limit: number,
  ): { stored: StoredRow[]; served: ServedRow[]; jobs: JobRow[] } {
    const stored: StoredRow[] = [];
    const served: ServedRow[] = [];
    const jobs: JobRow[] = [];
    let left = limit;
    const kind = after?.kind ?? 'store';
    if (kind === 'store') {
      // An entry is itemized in the period its storage starts in (§4.1); later periods hold it.
      // Rows are recorded only while they accrue, so each accrues from its acceptance.
      const base =
        'SELECT entry, bytes, accepted_at, expires_at FROM stored WHERE payer = ? AND accepted_at >= ? AND accepted_at < ?';
      const key = after ? this.storedKey(payer, after.id) : null;
      const rows = (
        key
          ? this.db
              .prepare(
                `${base} AND (accepted_at, entry) > (?, ?) ORDER BY accepted_at, entry LIMIT ?`,
              )
              .all(payer, from, to, key.at, key.id, left)
          : this.db
              .prepare(`${base} ORDER BY accepted_at, entry LIMIT ?`)
              .all(payer, from, to, left)
      ) as StoredRow[];
      stored.push(...rows);
      left -= rows.length;
    }
    if (left > 0 && kind !== 'fuel') {
      const base = 'SELECT request, bytes, at FROM served WHERE payer = ? AND at >= ? AND at < ?';
      const key = after?.kind === 'serve' ? this.servedKey(payer, after.id) : null;
      const rows = (
        key
          ? this.db
              .prepare(`${base} AND (at, request) > (?, ?) ORDER BY at, request LIMIT ?`)
              .all(payer, from, to, key.at, key.id, left)
          : this.db.prepare(`${base} ORDER BY at, request LIMIT ?`).all(payer, from, to, left)
      ) as ServedRow[];
      served.push(...rows);
      left -= rows.length;
    }
    if (left > 0) {
      const base =
        'SELECT job, receipt, fuel, finished_at FROM jobs WHERE payer = ? AND settled = 1 AND receipt IS NOT NULL AND fuel IS NOT NULL AND finished_at >= ? AND finished_at < ?';
      const key = after?.kind === 'fuel' ? this.jobKey(payer, after.id) : null;
      const rows = (
        key
          ? this.db
              .prepare(`${base} AND (finished_at, job) > (?, ?) ORDER BY finished_at, job LIMIT ?`)
              .all(payer, from, to, key.at, key.id, left)
          : this.db.prepare(`${base} ORDER BY finished_at, job LIMIT ?`).all(payer, from, to, left)
      ) as JobRow[];
      jobs.push(...rows);
    }
    return { stored, served, jobs };
  }

  private storedKey(payer: Buffer, entry: Buffer): { at: number; id: Buffer } | null {
    const row = this.db
      .prepare('SELECT accepted_at AS at FROM stored WHERE payer = ? AND entry = ?')
      .get(payer, entry) as { at: number } | undefined;
    return row ? { at: row.at, id: entry } : null;
  }

  private servedKey(payer: Buffer, request: Buffer): { at: number; id: Buffer } | null {
    const row = this.db
      .prepare('SELECT at FROM served WHERE payer = ? AND request = ?')
      .get(payer, request) as { at: number } | undefined;
    return row ? { at: row.at, id: request } : null;
  }

  private jobKey(payer: Buffer, job: Buffer): { at: number; id: string } | null {
    const id = job.toString('hex');
    const row = this.db
      .prepare('SELECT finished_at AS at FROM jobs WHERE payer = ? AND job = ?')
      .get(payer, id) as { at: number } | undefined;
    return row ? { at: row.at, id } : null;
  }

  /** The newest receipt signed for the payer, if any. */
  lastReceipt(payer: Buffer): { from: number; to: number; receipt: string } | undefined {
    return this.db
      .prepare(
        'SELECT period_from AS "from", period_to AS "to", receipt FROM receipts WHERE payer = ? ORDER BY seq DESC LIMIT 1',
      )
      .get(payer) as { from: number; to: number; receipt: string } | undefined;
  }

  /**
   * The earliest time at or after `from` at which the payer has new usage (an entry accepted,
   * a read served, a job ended), or null. Held storage is not looked for here: the closer
   * knows from the held counters whether the period holds any.
   */
  nextActivity(payer: Buffer, from: number): number | null {
    const row = this.db
      .prepare(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(accepted_at) AS t FROM stored WHERE payer = ? AND accepted_at >= ?
           UNION ALL SELECT MIN(at) FROM served WHERE payer = ? AND at >= ?
           UNION ALL SELECT MIN(finished_at) FROM jobs WHERE payer = ? AND settled = 1 AND receipt IS NOT NULL AND finished_at >= ?)`,
      )
      .get(payer, from, payer, from, payer, from) as { t: number | null };
    return row.t;
  }

  /**
   * Rows accepted before `acceptedBefore` whose entry expires in (after, until]: those that
   * leave the held set by `until`. Read by the index on expiry, so only those rows are read.
   */
  expiring(payer: Buffer, after: number, until: number, acceptedBefore: number): RowCount {
    const row = this.db
      .prepare(
        'SELECT COUNT(*) AS entries, COALESCE(SUM(bytes), 0) AS bytes FROM stored WHERE payer = ? AND expires_at > ? AND expires_at <= ? AND accepted_at < ?',
      )
      .safeIntegers(true)
      .get(payer, Math.max(after, 0), until, acceptedBefore) as { entries: bigint; bytes: bigint };
    return { entries: Number(row.entries), bytes: Number(row.bytes) };
  }

  /**
   * Σ bytes × (to − expires_at), exactly, over the rows held in the period [from, to) (accepted
   * before `from`) whose entry expires inside it: the storage they do not accrue in the period.
   * Each product and sum is split so that none can pass SQLite's 64-bit integers: bytes below
   * 2^53 as high × 2^26 + low, each times a span below 2^27, each product summed in 32-bit
   * halves.
   */
  heldShortfall(payer: Buffer, from: number, to: number): bigint {
    const parts = (x: string): string =>
      `COALESCE(SUM((${x}) >> 32), 0), COALESCE(SUM((${x}) & 4294967295), 0)`;
    const high = '(bytes >> 26) * (? - expires_at)';
    const low = '(bytes & 67108863) * (? - expires_at)';
    const end = BigInt(to);
    const row = this.db
      .prepare(
        `SELECT ${parts(high)}, ${parts(low)} FROM stored WHERE payer = ? AND expires_at > ? AND expires_at < ? AND accepted_at < ?`,
      )
      .raw(true)
      .safeIntegers(true)
      // `to` as an integer: a number is bound as a double, which would make the products doubles.
      .get(end, end, end, end, payer, from, to, from) as [bigint, bigint, bigint, bigint];
    const [hh, hl, lh, ll] = row;
    return (((hh << 32n) + hl) << 26n) + (lh << 32n) + ll;
  }

  /**
   * Stores the receipts of closed periods and moves the payer's mark, in one transaction. The
   * usage rows those periods settled go in the same transaction: the receipts hold what they
   * billed, and nothing before the mark is ever recomputed. Storage rows stay while the entry
   * still accrues; unsettled jobs stay until they end.
   */
  saveReceipts(
    payer: Buffer,
    receipts: readonly { seq: number; from: number; to: number; text: string }[],
    receiptedTo: number,
    nextSeq: number,
    itemized: RowCount = { entries: 0, bytes: 0 },
  ): void {
    const insert = this.db.prepare(
      'INSERT INTO receipts (payer, seq, period_from, period_to, receipt) VALUES (?, ?, ?, ?, ?)',
    );
    // Receipts are sent once stored: a commit lost to a power cut would let the node sign the
    // same seq again over other usage. FULL syncs the write-ahead log at this commit (and with
    // it every usage row before it); the request path keeps the node's durability.
    this.db.pragma('synchronous = FULL');
    try {
      this.db.transaction(() => {
        for (const r of receipts) insert.run(payer, r.seq, r.from, r.to, r.text);
        // The held counters move with the receipts: up by the storage they itemize, down by the
        // rows this mark deletes (all of them itemized: accepted before an entry's expiry, so
        // in a period now closed). Rows past earlier marks are gone already: the index on
        // expiry reads only those that go now.
        const gone = this.expiring(payer, 0, receiptedTo, receiptedTo);
        this.db
          .prepare(
            'UPDATE payers SET receipted_to = ?, next_seq = ?, held_entries = held_entries + ?, held_bytes = held_bytes + ? WHERE payer = ?',
          )
          .run(
            receiptedTo,
            nextSeq,
            itemized.entries - gone.entries,
            itemized.bytes - gone.bytes,
            payer,
          );
        this.hot.dropServed.run(payer, receiptedTo);
        this.hot.dropJobs.run(payer, receiptedTo);
        this.hot.dropStored.run(payer, receiptedTo);
      })();
    } finally {
      this.db.pragma(`synchronous = ${this.usual}`);
    }
  }

  receiptsSince(payer: Buffer, seq: number, limit: number): { seq: number; receipt: string }[] {
    return this.db
      .prepare(
        'SELECT seq, receipt FROM receipts WHERE payer = ? AND seq >= ? ORDER BY seq LIMIT ?',
      )
      .all(payer, seq, limit) as { seq: number; receipt: string }[];
  }

  receiptsIn(payer: Buffer, from: number, to: number, limit: number): string[] {
    return (
      this.db
        .prepare(
          'SELECT receipt FROM receipts WHERE payer = ? AND period_from >= ? AND period_to <= ? ORDER BY seq LIMIT ?',
        )
        .all(payer, from, to, limit) as { receipt: string }[]
    ).map((r) => r.receipt);
  }

  close(): void {
    this.db.close();
  }
}
