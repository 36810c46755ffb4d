/**
 * What an issuer keeps, in one SQLite file (issuer.sqlite in its data directory): its keys,
 * the vouchers it sold, one row per purchase (voucher, key, count, time) and the spent set.
 * Nothing else: the blinded messages it signs are random to it and are not kept, and the
 * spent set holds the hashes of spent ticket messages with the hour they were spent, never a
 * purchase or voucher (docs/tickets.md §7).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { P2PError } from '../errors.js';
import { sha256 } from '../crypto/sha256.js';

export interface StoredKey {
  readonly id: Buffer;
  readonly spki: Buffer;
  readonly pkcs8: Buffer;
  readonly modulusBits: number;
  readonly kind: string;
  readonly value: number;
  readonly notBefore: number;
  readonly notAfter: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS keys (
  id BLOB PRIMARY KEY, spki BLOB NOT NULL, pkcs8 BLOB NOT NULL, modulus_bits INTEGER NOT NULL,
  kind TEXT NOT NULL, value INTEGER NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS vouchers (
  hash BLOB PRIMARY KEY, remaining INTEGER NOT NULL, created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS purchases (
  voucher BLOB NOT NULL, key_id BLOB NOT NULL, count INTEGER NOT NULL, at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS spent (
  spent_id BLOB PRIMARY KEY, key_id BLOB NOT NULL, hour INTEGER NOT NULL
) STRICT;
`;

export const ISSUER_STORE_VERSION = '1';

/** A voucher's stored form: its SHA-256, so a copy of the file cannot spend it. */
export function voucherHash(token: string): Buffer {
  return sha256(Buffer.from(token, 'utf8'));
}

export class IssuerStore {
  readonly path: string;
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.path = join(dataDir, 'issuer.sqlite');
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const version = this.db.prepare('SELECT value FROM meta WHERE name = ?').get('version') as
      | { value: string }
      | undefined;
    if (!version) {
      this.db
        .prepare('INSERT INTO meta (name, value) VALUES (?, ?)')
        .run('version', ISSUER_STORE_VERSION);
    } else if (version.value !== ISSUER_STORE_VERSION) {
      throw new P2PError(
        'bad_config',
        `${this.path} has store version ${version.value}, not ${ISSUER_STORE_VERSION}`,
      );
    }
  }

  keys(): StoredKey[] {
    const rows = this.db.prepare('SELECT * FROM keys ORDER BY not_before DESC, id').all() as Record<
      string,
      unknown
    >[];
    return rows.map((r) => ({
      id: r.id as Buffer,
      spki: r.spki as Buffer,
      pkcs8: r.pkcs8 as Buffer,
      modulusBits: r.modulus_bits as number,
      kind: r.kind as string,
      value: r.value as number,
      notBefore: r.not_before as number,
      notAfter: r.not_after as number,
    }));
  }

  addKey(key: StoredKey): void {
    this.db
      .prepare(
        'INSERT INTO keys (id, spki, pkcs8, modulus_bits, kind, value, not_before, not_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        key.id,
        key.spki,
        key.pkcs8,
        key.modulusBits,
        key.kind,
        key.value,
        key.notBefore,
        key.notAfter,
      );
  }

  addVoucher(token: string, tickets: number, now: number): void {
    this.db
      .prepare('INSERT INTO vouchers (hash, remaining, created_at) VALUES (?, ?, ?)')
      .run(voucherHash(token), tickets, now);
  }

  /**
   * Takes `count` tickets off a voucher and records the purchase, atomically: two requests
   * with one voucher cannot both spend its last tickets.
   */
  purchase(token: string, keyId: Buffer, count: number, now: number): void {
    const hash = voucherHash(token);
    this.db.transaction(() => {
      const taken = this.db
        .prepare('UPDATE vouchers SET remaining = remaining - ? WHERE hash = ? AND remaining >= ?')
        .run(count, hash, count);
      if (taken.changes === 0) {
        const row = this.db.prepare('SELECT remaining FROM vouchers WHERE hash = ?').get(hash) as
          | { remaining: number }
          | undefined;
        if (!row) throw new P2PError('voucher_invalid', 'the voucher is not known to this issuer');
        throw new P2PError(
          'voucher_exhausted',
          `the voucher has ${row.remaining} ticket(s) left; the batch asks for ${count}`,
        );
      }
      this.db
        .prepare('INSERT INTO purchases (voucher, key_id, count, at) VALUES (?, ?, ?, ?)')
        .run(hash, keyId, count, now);
    })();
  }

  /** Gives tickets back to a voucher whose purchase could not be signed after all. */
  refund(token: string, count: number): void {
    this.db
      .prepare('UPDATE vouchers SET remaining = remaining + ? WHERE hash = ?')
      .run(count, voucherHash(token));
  }

  /**
   * Marks every ticket of a batch spent, or none: the indexes of those spent before, empty
   * when the batch was marked. The time kept is the hour, too coarse to match a purchase by.
   */
  redeem(tickets: readonly { spentId: Buffer; keyId: Buffer }[], now: number): number[] {
    // Unix seconds of the hour's start (now is in milliseconds).
    const hour = Math.floor(now / 3_600_000) * 3600;
    const insert = this.db.prepare(
      'INSERT INTO spent (spent_id, key_id, hour) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    );
    const already: number[] = [];
    const run = this.db.transaction(() => {
      tickets.forEach((t, i) => {
        if (insert.run(t.spentId, t.keyId, hour).changes === 0) already.push(i);
      });
      // All or nothing: a batch with one spent ticket spends none of the others.
      if (already.length > 0) throw new RolledBack();
    });
    try {
      run();
    } catch (error) {
      if (!(error instanceof RolledBack)) throw error;
    }
    return already;
  }

  close(): void {
    this.db.close();
  }
}

class RolledBack extends Error {}
