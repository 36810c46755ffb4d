/**
 * Brings a database to this build's schema at start: each missing migration in a transaction of
 * its own, all under one advisory lock, so processes starting at once apply each step once and
 * the others wait and then find it done.
 */
import type pg from 'pg';
import { P2PError } from '../../errors.js';
import { DEFAULT_BUCKETS, MAX_BUCKETS } from '../../reconcile/buckets.js';
import { MIGRATIONS, MIGRATION_LOCK, SCHEMA_VERSION } from './schema.js';

async function inTransaction<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function currentVersion(client: pg.PoolClient): Promise<number> {
  await client.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
  );
  const { rows } = await client.query<{ v: number | null }>(
    'SELECT max(version) AS v FROM schema_migrations',
  );
  return rows[0]?.v ?? 0;
}

/**
 * Applies the missing migrations and settles the bucket count (the first process to open the
 * database chooses it); returns the bucket count.
 */
export async function migrate(
  client: pg.PoolClient,
  where: string,
  requestedBuckets: number | undefined,
): Promise<number> {
  if (
    requestedBuckets !== undefined &&
    (!Number.isInteger(requestedBuckets) || requestedBuckets < 1 || requestedBuckets > MAX_BUCKETS)
  ) {
    throw new P2PError('bad_config', `buckets must be an integer in 1..${MAX_BUCKETS}`);
  }
  for (const migration of MIGRATIONS) {
    await inTransaction(client, async () => {
      const version = await currentVersion(client);
      if (version > SCHEMA_VERSION) {
        throw new P2PError(
          'bad_config',
          `the PostgreSQL store at ${where} has schema version ${version}, written by a newer build; this build reads up to version ${SCHEMA_VERSION}`,
        );
      }
      if (version >= migration.version) return;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
        migration.version,
        Date.now(),
      ]);
    });
  }
  return inTransaction(client, async () => {
    const version = await currentVersion(client);
    if (version > SCHEMA_VERSION) {
      throw new P2PError(
        'bad_config',
        `the PostgreSQL store at ${where} has schema version ${version}, written by a newer build; this build reads up to version ${SCHEMA_VERSION}`,
      );
    }
    await client.query(
      "INSERT INTO meta (key, value) VALUES ('buckets', $1), ('created_at', $2) ON CONFLICT (key) DO NOTHING",
      [String(requestedBuckets ?? DEFAULT_BUCKETS), String(Date.now())],
    );
    const { rows } = await client.query<{ value: string }>(
      "SELECT value FROM meta WHERE key = 'buckets'",
    );
    const buckets = Number(rows[0]?.value);
    if (!Number.isInteger(buckets) || buckets < 1) {
      throw new P2PError(
        'bad_config',
        `the PostgreSQL store at ${where} has no valid bucket count`,
      );
    }
    if (requestedBuckets !== undefined && requestedBuckets !== buckets) {
      throw new P2PError(
        'bad_config',
        `the PostgreSQL store at ${where} was created with ${buckets} buckets; it cannot be opened with ${requestedBuckets}`,
      );
    }
    return buckets;
  });
}
