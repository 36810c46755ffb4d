/**
 * The append-only logs of one space on a device (docs/kv.md §7, §9): this device's own chain
 * per log (the next seq and the hash it links to), the statements of every writer read from the
 * nodes, and the verified, merged view readers page through. Kept in the replica file's
 * statement table; a log's report is computed when it is read and kept until a statement of
 * that log arrives or the host's rules change.
 */
import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { P2PError } from '../../errors.js';
import {
  decodeStatement,
  encodeStatement,
  signStatement,
  type Statement,
} from '../../identity/statement.js';
import { verifyLog, type LogReport } from '../../log/chain.js';
import { isLogName, logEntryBody, MAX_LOG_DATA_BYTES, readLogEntry } from '../../log/entry.js';
import { logHeadBody, readLogHead } from '../../log/head.js';
import {
  decodeCursor,
  mergedView,
  readPage,
  type MergedEntry,
  type Page,
} from '../../log/merge.js';
import type { ReplicaHost } from './replica.js';
import type { ReplicaTables } from './replica-tables.js';

interface Computed {
  readonly report: LogReport;
  readonly view: MergedEntry[];
  readonly refused: { judged: number };
}

export function checkLogName(name: unknown): string {
  if (!isLogName(name)) throw new P2PError('bad_log', 'a log name is 1 to 64 characters');
  return name;
}

export class LogBook extends EventEmitter {
  private readonly cache = new Map<string, Computed>();
  /** Statements verified once, by hash: a log read after each append must not verify all again. */
  private readonly verified = new Map<string, Statement>();

  constructor(
    readonly space: string,
    private readonly db: Database.Database,
    private readonly tables: ReplicaTables,
    private readonly host: ReplicaHost,
  ) {
    super();
  }

  /** Appends `data` to this device's chain of `log`; the entry is kept and queued for the nodes. */
  append(log: string, data: Buffer): Statement {
    checkLogName(log);
    if (data.length > MAX_LOG_DATA_BYTES) {
      throw new P2PError(
        'log_data_too_large',
        `the entry holds ${data.length} bytes; at most 32 KiB`,
      );
    }
    const writer = this.host.writer();
    let statement!: Statement;
    this.db.transaction(() => {
      const seq = this.tables.highest('log-entry', writer.signer, log) + 1;
      const prev = seq === 1 ? null : this.ownHash(writer.signer, log, seq - 1);
      statement = signStatement({
        kind: 'log-entry',
        person: writer.person,
        signer: writer.identity,
        seq: this.host.nextSeq(writer.signer),
        at: Date.now(),
        body: logEntryBody({ space: this.space, log, seq, prev, data }),
      });
      this.keep(statement, writer.signer, seq, log, writer.epoch, true);
    })();
    this.changed(log);
    this.host.wrote();
    return statement;
  }

  /** Signs a head naming this device's latest entry of `log`, a proof readers can hold it to. */
  head(log: string): Statement {
    checkLogName(log);
    const writer = this.host.writer();
    let statement!: Statement;
    this.db.transaction(() => {
      const seq = this.tables.highest('log-entry', writer.signer, log);
      if (seq === 0) throw new P2PError('bad_log', 'this device has written nothing to this log');
      statement = signStatement({
        kind: 'log-head',
        person: writer.person,
        signer: writer.identity,
        seq: this.host.nextSeq(writer.signer),
        at: Date.now(),
        body: logHeadBody({
          space: this.space,
          log,
          seq,
          hash: this.ownHash(writer.signer, log, seq),
        }),
      });
      this.keep(statement, writer.signer, seq, log, writer.epoch, true);
    })();
    this.changed(log);
    this.host.wrote();
    return statement;
  }

  private ownHash(signer: string, log: string, seq: number): string {
    const hash = this.db
      .prepare(
        "SELECT hash FROM replica_statements WHERE kind = 'log-entry' AND log = ? AND signer = ? AND number = ? ORDER BY hash LIMIT 1",
      )
      .pluck()
      .get(log, signer, seq) as string | undefined;
    if (!hash) throw new Error(`own log entry ${seq} is missing`);
    return hash;
  }

  private keep(
    statement: Statement,
    signer: string,
    number: number,
    log: string,
    epoch: string,
    queue: boolean,
  ): boolean {
    const text = encodeStatement(statement);
    const added = this.tables.add({
      hash: statement.hash,
      kind: statement.kind as 'log-entry' | 'log-head',
      signer,
      number,
      log,
      epoch,
      statement: text,
    });
    if (queue) this.tables.queue(statement.hash);
    return added;
  }

  /** Keeps a log statement read from a node (verified by the caller); whether it was new. */
  receive(statement: Statement, epoch: string): boolean {
    const item = statement.kind === 'log-head' ? readLogHead(statement) : readLogEntry(statement);
    if (!item || item.space !== this.space) return false;
    const added = this.keep(statement, statement.signer, item.seq, item.log, epoch, false);
    this.verified.set(statement.hash, statement);
    if (added) this.changed(item.log);
    return added;
  }

  private changed(log: string): void {
    this.cache.delete(log);
    this.emit('append', log);
  }

  /** Forgets every computed report: the host's rules changed. */
  rejudge(): void {
    const logs = [...this.cache.keys()];
    this.cache.clear();
    for (const log of logs) this.emit('append', log);
  }

  names(): string[] {
    return this.tables.logs();
  }

  /** The verified writers' chains of `log` with what was found wrong, and its merged view. */
  computed(log: string): Computed {
    checkLogName(log);
    let done = this.cache.get(log);
    if (done) return done;
    const statements: Statement[] = [];
    let judged = 0;
    for (const row of this.tables.all('log', log)) {
      let statement = this.verified.get(row.hash);
      if (!statement) {
        statement = decodeStatement(row.statement);
        if (!statement) continue;
        this.verified.set(row.hash, statement);
      }
      if (this.host.judge(statement, row.epoch) !== 'accept') {
        judged += 1;
        continue;
      }
      statements.push(statement);
    }
    const report = verifyLog(this.space, log, statements);
    done = { report, view: mergedView(report), refused: { judged } };
    this.cache.set(log, done);
    return done;
  }

  /** Up to `limit` entries of the merged view after `cursor` (from the start without one). */
  read(log: string, cursor: string | undefined, limit: number): Page {
    const after = cursor === undefined || cursor === '' ? undefined : decodeCursor(cursor);
    if (cursor && !after) throw new P2PError('bad_log', 'this log position (cursor) is not valid');
    return readPage(this.computed(log).view, after, limit);
  }
}
