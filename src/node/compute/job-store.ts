/**
 * Jobs and their receipts, kept in `<data_dir>/compute.sqlite` (WAL): what GET /jobs/:id
 * answers after the run, across restarts. Never the grant or its keys, never a plaintext:
 * outputs and logs are kept only sealed to the requester.
 *
 * A job that was queued or running when the node stopped cannot be resumed (its keys lived in
 * memory only); at start it is marked failed with the reason node_restarted. Finished jobs past
 * keep_jobs are dropped oldest first; the ids and hashes of jobs not yet expired are remembered
 * apart, so a dropped job cannot be submitted again before it expires.
 */
import Database from 'better-sqlite3';
import { ComputeError } from '../../compute/errors.js';

export const COMPUTE_DB_FILE = 'compute.sqlite';
const SCHEMA_VERSION = 1;

export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  readonly id: string;
  readonly hash: string;
  readonly module: string;
  readonly state: JobState;
  /** Why a job failed without a receipt: node_restarted or expired. */
  readonly reason: string | null;
  /** The run status of the receipt, once done. */
  readonly outcome: string | null;
  readonly fuel: number | null;
  readonly fuelLimit: number;
  readonly wallMs: number | null;
  readonly receivedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly expiresAt: number;
}

export interface FinishedJob {
  readonly receipt: string;
  readonly output: Buffer | null;
  readonly log: Buffer | null;
}

interface Row {
  id: string;
  hash: string;
  module: string;
  state: JobState;
  reason: string | null;
  outcome: string | null;
  fuel: number | null;
  fuel_limit: number;
  wall_ms: number | null;
  received_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number;
}

const COLUMNS =
  'id, hash, module, state, reason, outcome, fuel, fuel_limit, wall_ms, received_at, started_at, finished_at, expires_at';

function toJobRow(r: Row): JobRow {
  return {
    id: r.id,
    hash: r.hash,
    module: r.module,
    state: r.state,
    reason: r.reason,
    outcome: r.outcome,
    fuel: r.fuel,
    fuelLimit: r.fuel_limit,
    wallMs: r.wall_ms,
    receivedAt: r.received_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    expiresAt: r.expires_at,
  };
}

export class JobStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new Error(`${path} has schema version ${version}, newer than this node knows`);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL UNIQUE,
        module TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        outcome TEXT,
        fuel INTEGER,
        fuel_limit INTEGER NOT NULL,
        wall_ms INTEGER,
        received_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        expires_at INTEGER NOT NULL,
        receipt TEXT,
        output BLOB,
        log BLOB
      );
      CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
      CREATE TABLE IF NOT EXISTS seen (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS seen_expiry ON seen (expires_at);
    `);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }

  /** Marks the jobs a stopped node left queued or running as failed; returns how many. */
  markInterrupted(now: number): number {
    return this.db
      .prepare(
        `UPDATE jobs SET state = 'failed', reason = 'node_restarted', finished_at = ? WHERE state IN ('queued', 'running')`,
      )
      .run(now).changes;
  }

  /** Records a new queued job; job_replayed if its id or hash was seen before. */
  insert(job: {
    id: string;
    hash: string;
    module: string;
    fuelLimit: number;
    receivedAt: number;
    expiresAt: number;
  }): void {
    const insert = this.db.transaction(() => {
      const seen = this.db
        .prepare('SELECT 1 FROM seen WHERE id = ? OR hash = ?')
        .get(job.id, job.hash);
      if (seen) throw new ComputeError('job_replayed', `job ${job.id} was submitted already`);
      this.db
        .prepare('INSERT INTO seen (id, hash, expires_at) VALUES (?, ?, ?)')
        .run(job.id, job.hash, job.expiresAt);
      this.db
        .prepare(
          `INSERT INTO jobs (id, hash, module, state, fuel_limit, received_at, expires_at) VALUES (?, ?, ?, 'queued', ?, ?, ?)`,
        )
        .run(job.id, job.hash, job.module, job.fuelLimit, job.receivedAt, job.expiresAt);
    });
    insert();
  }

  /** Whether a job id or hash was seen (and not yet forgotten after its expiry). */
  seen(id: string, hash: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM seen WHERE id = ? OR hash = ?').get(id, hash) !== undefined
    );
  }

  started(id: string, at: number): void {
    this.db.prepare(`UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?`).run(at, id);
  }

  finished(
    id: string,
    run: { outcome: string; fuel: number; wallMs: number; startedAt: number; finishedAt: number },
    result: FinishedJob,
  ): void {
    this.db
      .prepare(
        `UPDATE jobs SET state = 'done', outcome = ?, fuel = ?, wall_ms = ?, started_at = ?, finished_at = ?, receipt = ?, output = ?, log = ? WHERE id = ?`,
      )
      .run(
        run.outcome,
        run.fuel,
        run.wallMs,
        run.startedAt,
        run.finishedAt,
        result.receipt,
        result.output,
        result.log,
        id,
      );
  }

  failed(id: string, reason: string, at: number): void {
    this.db
      .prepare(`UPDATE jobs SET state = 'failed', reason = ?, finished_at = ? WHERE id = ?`)
      .run(reason, at, id);
  }

  get(id: string): (JobRow & Partial<FinishedJob>) | undefined {
    const row = this.db
      .prepare(`SELECT ${COLUMNS}, receipt, output, log FROM jobs WHERE id = ?`)
      .get(id) as
      | (Row & { receipt: string | null; output: Buffer | null; log: Buffer | null })
      | undefined;
    if (!row) return undefined;
    return {
      ...toJobRow(row),
      ...(row.receipt !== null ? { receipt: row.receipt, output: row.output, log: row.log } : {}),
    };
  }

  /** The most recent jobs, newest first: what the operator's list shows. */
  recent(limit: number): JobRow[] {
    return (
      this.db.prepare(`SELECT ${COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?`).all(limit) as Row[]
    ).map(toJobRow);
  }

  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const row of this.db
      .prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state')
      .all() as { state: JobState; n: number }[]) {
      out[row.state] = row.n;
    }
    return out;
  }

  /** Drops finished jobs beyond the newest `keep`, and forgets ids of jobs expired before `now`. */
  prune(keep: number, now: number): void {
    this.db
      .prepare(
        `DELETE FROM jobs WHERE state IN ('done', 'failed') AND seq <= (SELECT seq FROM jobs WHERE state IN ('done', 'failed') ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      )
      .run(keep);
    this.db.prepare('DELETE FROM seen WHERE expires_at < ?').run(now);
  }

  close(): void {
    this.db.close();
  }
}
