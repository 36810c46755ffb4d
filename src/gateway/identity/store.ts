/**
 * What the identity layer keeps in the gateway's index database: the statements it has read
 * (directories and group logs), the group keys it holds, who received each epoch, the link
 * codes it has handed out, each signer's counter, and entries waiting for a directory.
 *
 *   id_statements   hash → statement text; scope = the person (directory statements) or the
 *                   group id (group operations)
 *   id_seq          this gateway's own counters, per signing identity
 *   id_seen_seq     the highest seq accepted from each signer (what a revocation names)
 *   groups          groups this gateway reads, with the control secrets it can open
 *   group_epochs    the keys it holds per epoch (epoch_secret only for writers)
 *   group_recipients  the box keys each epoch's packages went to (whether an epoch is clean),
 *                   by the signer of the group-keys statement that said so
 *   group_packages  packages addressed to this gateway's keys, kept until their op arrives
 *                   (only those signed by the op's own signer count then)
 *   links           link codes handed out (used_by is set before the answer is sent)
 *   deferred        entries signed by a device whose person's directory is not read yet
 */
import type { RecordIndex } from '../index-db.js';
import { decodeStatement, encodeStatement, type Statement } from '../../identity/statement.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS id_statements (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  scope TEXT NOT NULL,
  at INTEGER NOT NULL,
  text TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS id_statements_by_scope ON id_statements(kind, scope);
CREATE TABLE IF NOT EXISTS id_seq (signer TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS id_seen_seq (signer TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups (
  id TEXT PRIMARY KEY,
  invited_by TEXT,
  joined_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_controls (
  grp TEXT NOT NULL,
  secret TEXT NOT NULL,
  PRIMARY KEY (grp, secret)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_epochs (
  grp TEXT NOT NULL,
  epoch TEXT NOT NULL,
  epoch_secret TEXT,
  reader_secret TEXT NOT NULL,
  control_secret TEXT NOT NULL,
  PRIMARY KEY (grp, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_recipients (
  grp TEXT NOT NULL,
  epoch TEXT NOT NULL,
  signer TEXT NOT NULL,
  recipient TEXT NOT NULL,
  PRIMARY KEY (grp, epoch, signer, recipient)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_packages (
  grp TEXT NOT NULL,
  epoch TEXT NOT NULL,
  signer TEXT NOT NULL,
  recipient TEXT NOT NULL,
  ct TEXT NOT NULL,
  PRIMARY KEY (grp, epoch, signer, recipient)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
  secret TEXT PRIMARY KEY,
  identity TEXT NOT NULL,
  name TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  used_by TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deferred (
  id TEXT PRIMARY KEY,
  person TEXT NOT NULL,
  bytes BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deferred_by_person ON deferred(person);
`;

/** Entries kept waiting for a directory, at most: a flood of them is dropped, not stored. */
export const MAX_DEFERRED = 10_000;

export interface HeldEpoch {
  readonly group: string;
  readonly epoch: string;
  readonly epochSecret: Buffer | undefined;
  readonly readerSecret: Buffer;
  readonly controlSecret: Buffer;
}

export interface LinkRow {
  readonly secret: string;
  readonly identity: string;
  readonly name: string;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly usedBy: string | null;
}

export class IdentityStore {
  constructor(private readonly index: RecordIndex) {
    index.db.exec(SCHEMA);
  }

  private get db() {
    return this.index.db;
  }

  transaction<T>(work: () => T): T {
    return this.index.transaction(work);
  }

  /** Stores a statement; false if it was held already. */
  addStatement(statement: Statement, scope: string): boolean {
    return (
      this.db
        .prepare(
          'INSERT OR IGNORE INTO id_statements (hash, kind, scope, at, text) VALUES (?, ?, ?, ?, ?)',
        )
        .run(statement.hash, statement.kind, scope, statement.at, encodeStatement(statement))
        .changes > 0
    );
  }

  /** Statements of some kinds in a scope (verified again on the way out: the file is not trusted more than a node). */
  statements(
    kinds: readonly string[],
    scope: string,
  ): (Statement & { bodyObject: Record<string, unknown> })[] {
    const marks = kinds.map(() => '?').join(', ');
    const rows = this.db
      .prepare(
        `SELECT text FROM id_statements WHERE kind IN (${marks}) AND scope = ? ORDER BY hash`,
      )
      .all(...kinds, scope) as { text: string }[];
    return rows.flatMap((row) => {
      const statement = decodeStatement(row.text);
      return statement ? [statement] : [];
    });
  }

  statementCount(kinds: readonly string[], scope: string): number {
    const marks = kinds.map(() => '?').join(', ');
    return (
      this.db
        .prepare(`SELECT COUNT(*) AS n FROM id_statements WHERE kind IN (${marks}) AND scope = ?`)
        .get(...kinds, scope) as { n: number }
    ).n;
  }

  /** The next value of a signer's own counter, stored before it is used. */
  nextSeq(signer: string): number {
    return this.transaction(() => {
      const row = this.db.prepare('SELECT seq FROM id_seq WHERE signer = ?').get(signer) as
        | { seq: number }
        | undefined;
      const seq = (row?.seq ?? 0) + 1;
      this.db
        .prepare(
          'INSERT INTO id_seq (signer, seq) VALUES (?, ?) ON CONFLICT (signer) DO UPDATE SET seq = excluded.seq',
        )
        .run(signer, seq);
      return seq;
    });
  }

  noteSeq(signer: string, seq: number): void {
    this.db
      .prepare(
        `INSERT INTO id_seen_seq (signer, seq) VALUES (?, ?)
           ON CONFLICT (signer) DO UPDATE SET seq = MAX(seq, excluded.seq)`,
      )
      .run(signer, seq);
  }

  seenSeq(signer: string): number {
    const row = this.db.prepare('SELECT seq FROM id_seen_seq WHERE signer = ?').get(signer) as
      | { seq: number }
      | undefined;
    return row?.seq ?? 0;
  }

  addGroup(group: string, invitedBy: string | null): void {
    this.db
      .prepare('INSERT OR IGNORE INTO groups (id, invited_by, joined_at) VALUES (?, ?, ?)')
      .run(group, invitedBy, Date.now());
  }

  groups(): { id: string; invitedBy: string | null; joinedAt: number }[] {
    return (
      this.db.prepare('SELECT id, invited_by, joined_at FROM groups ORDER BY id').all() as {
        id: string;
        invited_by: string | null;
        joined_at: number;
      }[]
    ).map((r) => ({ id: r.id, invitedBy: r.invited_by, joinedAt: r.joined_at }));
  }

  addControl(group: string, secret: Buffer): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO group_controls (grp, secret) VALUES (?, ?)')
        .run(group, secret.toString('hex')).changes > 0
    );
  }

  controls(group: string): Buffer[] {
    return (
      this.db.prepare('SELECT secret FROM group_controls WHERE grp = ?').all(group) as {
        secret: string;
      }[]
    ).map((r) => Buffer.from(r.secret, 'hex'));
  }

  /** Stores the keys of an epoch; a writer's secret replaces a reader's keys, never the reverse. */
  addEpoch(epoch: HeldEpoch): boolean {
    const current = this.db
      .prepare('SELECT epoch_secret FROM group_epochs WHERE grp = ? AND epoch = ?')
      .get(epoch.group, epoch.epoch) as { epoch_secret: string | null } | undefined;
    if (current && (current.epoch_secret !== null || !epoch.epochSecret)) return false;
    this.db
      .prepare(
        `INSERT INTO group_epochs (grp, epoch, epoch_secret, reader_secret, control_secret)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (grp, epoch) DO UPDATE SET epoch_secret = excluded.epoch_secret`,
      )
      .run(
        epoch.group,
        epoch.epoch,
        epoch.epochSecret?.toString('hex') ?? null,
        epoch.readerSecret.toString('hex'),
        epoch.controlSecret.toString('hex'),
      );
    this.addControl(epoch.group, epoch.controlSecret);
    return true;
  }

  epochs(group: string): HeldEpoch[] {
    return (
      this.db.prepare('SELECT * FROM group_epochs WHERE grp = ?').all(group) as {
        grp: string;
        epoch: string;
        epoch_secret: string | null;
        reader_secret: string;
        control_secret: string;
      }[]
    ).map((r) => ({
      group: r.grp,
      epoch: r.epoch,
      epochSecret: r.epoch_secret === null ? undefined : Buffer.from(r.epoch_secret, 'hex'),
      readerSecret: Buffer.from(r.reader_secret, 'hex'),
      controlSecret: Buffer.from(r.control_secret, 'hex'),
    }));
  }

  addRecipients(group: string, epoch: string, signer: string, recipients: readonly string[]): void {
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO group_recipients (grp, epoch, signer, recipient) VALUES (?, ?, ?, ?)',
    );
    for (const recipient of recipients) insert.run(group, epoch, signer, recipient);
  }

  recipients(group: string, epoch: string, signer: string): Set<string> {
    return new Set(
      (
        this.db
          .prepare(
            'SELECT recipient FROM group_recipients WHERE grp = ? AND epoch = ? AND signer = ?',
          )
          .all(group, epoch, signer) as { recipient: string }[]
      ).map((r) => r.recipient),
    );
  }

  addPackage(group: string, epoch: string, signer: string, recipient: string, ct: string): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO group_packages (grp, epoch, signer, recipient, ct) VALUES (?, ?, ?, ?, ?)',
      )
      .run(group, epoch, signer, recipient, ct);
  }

  packages(group: string): { epoch: string; signer: string; recipient: string; ct: string }[] {
    return this.db
      .prepare('SELECT epoch, signer, recipient, ct FROM group_packages WHERE grp = ?')
      .all(group) as { epoch: string; signer: string; recipient: string; ct: string }[];
  }

  dropPackage(group: string, epoch: string, signer: string, recipient: string): void {
    this.db
      .prepare(
        'DELETE FROM group_packages WHERE grp = ? AND epoch = ? AND signer = ? AND recipient = ?',
      )
      .run(group, epoch, signer, recipient);
  }

  addLink(row: LinkRow): void {
    this.db
      .prepare(
        'INSERT INTO links (secret, identity, name, expires_at, created_at, used_by) VALUES (?, ?, ?, ?, ?, NULL)',
      )
      .run(row.secret, row.identity, row.name, row.expiresAt, row.createdAt);
  }

  /** Every link ever handed out that is not long expired (used ones included: they refuse). */
  /** Links still worth watching closely: unused and not expired more than a minute ago. */
  openLinks(now: number): LinkRow[] {
    return this.linkRows(
      'SELECT * FROM links WHERE used_by IS NULL AND expires_at > ?',
      now - 60_000,
    );
  }

  watchedLinks(now: number): LinkRow[] {
    return this.linkRows('SELECT * FROM links WHERE expires_at > ?', now - 3_600_000);
  }

  private linkRows(sql: string, after: number): LinkRow[] {
    return (
      this.db.prepare(sql).all(after) as {
        secret: string;
        identity: string;
        name: string;
        expires_at: number;
        created_at: number;
        used_by: string | null;
      }[]
    ).map((r) => ({
      secret: r.secret,
      identity: r.identity,
      name: r.name,
      expiresAt: r.expires_at,
      createdAt: r.created_at,
      usedBy: r.used_by,
    }));
  }

  /** Marks a link used by a device; false if it was used already (by anyone). */
  useLink(secret: string, device: string): boolean {
    return (
      this.db
        .prepare('UPDATE links SET used_by = ? WHERE secret = ? AND used_by IS NULL')
        .run(device, secret).changes > 0
    );
  }

  link(secret: string): LinkRow | undefined {
    return this.watchedLinks(0).find((l) => l.secret === secret);
  }

  defer(id: string, person: string, bytes: Buffer): void {
    const n = (this.db.prepare('SELECT COUNT(*) AS n FROM deferred').get() as { n: number }).n;
    if (n >= MAX_DEFERRED) return;
    this.db
      .prepare('INSERT OR IGNORE INTO deferred (id, person, bytes) VALUES (?, ?, ?)')
      .run(id, person, bytes);
  }

  deferredPersons(): string[] {
    return (
      this.db.prepare('SELECT DISTINCT person FROM deferred').all() as { person: string }[]
    ).map((r) => r.person);
  }

  takeDeferred(person: string): { id: string; bytes: Buffer }[] {
    const rows = this.db.prepare('SELECT id, bytes FROM deferred WHERE person = ?').all(person) as {
      id: string;
      bytes: Buffer;
    }[];
    this.db.prepare('DELETE FROM deferred WHERE person = ?').run(person);
    return rows;
  }
}
