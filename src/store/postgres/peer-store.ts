/**
 * The peer table on PostgreSQL: shared by every process on the database. A peer's record
 * (failures, back-off, sync state) describes the peer against the one set of entries they all
 * store, so any process's update is valid for the others; the last write wins.
 */
import type { PeerRecord, PeerStore } from '../store.js';
import type { Queries } from './queries.js';

interface PeerRow {
  url: string;
  tables: string;
  first_seen: string;
  last_seen: string;
  last_attempt: string;
  failures: number;
  next_attempt: string;
  source: PeerRecord['source'];
  penalty: number;
  sync_state: string | null;
}

function fromRow(row: PeerRow): PeerRecord {
  return {
    url: row.url,
    tables: JSON.parse(row.tables) as PeerRecord['tables'],
    firstSeen: Number(row.first_seen),
    lastSeen: Number(row.last_seen),
    lastAttempt: Number(row.last_attempt),
    failures: row.failures,
    nextAttempt: Number(row.next_attempt),
    source: row.source,
    penalty: row.penalty,
    syncState: row.sync_state ?? null,
  };
}

export class PostgresPeerStore implements PeerStore {
  constructor(private readonly db: Queries) {}

  async upsert(records: readonly PeerRecord[]): Promise<void> {
    if (records.length === 0) return;
    // Sorted by URL so that two processes upserting the same peers lock them in one order.
    const sorted = [...records].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
    const unique = sorted.filter((r, i) => i === sorted.length - 1 || sorted[i + 1]!.url !== r.url);
    await this.db.query(
      `INSERT INTO peers (url, tables, first_seen, last_seen, last_attempt, failures, next_attempt, source, penalty, sync_state)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::integer[], $7::bigint[], $8::text[], $9::integer[], $10::text[])
       ON CONFLICT (url) DO UPDATE SET tables = excluded.tables, last_seen = excluded.last_seen,
         last_attempt = excluded.last_attempt, failures = excluded.failures,
         next_attempt = excluded.next_attempt, source = excluded.source,
         penalty = excluded.penalty, sync_state = excluded.sync_state`,
      [
        unique.map((r) => r.url),
        unique.map((r) => JSON.stringify(r.tables)),
        unique.map((r) => Math.trunc(r.firstSeen)),
        unique.map((r) => Math.trunc(r.lastSeen)),
        unique.map((r) => Math.trunc(r.lastAttempt)),
        unique.map((r) => r.failures),
        unique.map((r) => Math.trunc(r.nextAttempt)),
        unique.map((r) => r.source),
        unique.map((r) => r.penalty),
        unique.map((r) => r.syncState),
      ],
    );
  }

  async get(url: string): Promise<PeerRecord | undefined> {
    const rows = await this.db.rows<PeerRow>('SELECT * FROM peers WHERE url = $1', [url]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async list(limit = 10_000): Promise<PeerRecord[]> {
    const rows = await this.db.rows<PeerRow>(
      'SELECT * FROM peers ORDER BY last_seen DESC LIMIT $1',
      [limit],
    );
    return rows.map(fromRow);
  }

  async remove(url: string): Promise<void> {
    await this.db.query('DELETE FROM peers WHERE url = $1', [url]);
  }

  async count(): Promise<number> {
    const rows = await this.db.rows<{ n: string }>('SELECT count(*) AS n FROM peers');
    return Number(rows[0]!.n);
  }
}
