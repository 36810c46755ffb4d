/**
 * The connection pool as the store uses it: every call maps connection failures to
 * `unavailable`, and transactions that lose a deadlock or serialization race run again.
 */
import type pg from 'pg';
import { isRetryable, storeError } from './errors.js';

const MAX_ATTEMPTS = 5;

export class Queries {
  constructor(
    readonly pool: pg.Pool,
    /** The redacted URL, for messages. */
    readonly where: string,
  ) {}

  async query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (error) {
      throw storeError(error, this.where);
    }
  }

  async rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (error) {
      throw storeError(error, this.where);
    }
  }

  /**
   * Runs `work` in a transaction on one connection; resolves only after COMMIT. A connection
   * that failed is not given back to the pool for reuse.
   */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw storeError(error, this.where);
      }
      let broken: Error | undefined;
      // While checked out, the pool no longer listens for the connection's errors: one that the
      // server ends between two queries (a restart) would be an unhandled 'error' event and end
      // the process. It is noted here; the next query fails and the connection is dropped.
      const onError = (error: Error): void => {
        broken ??= error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollback) {
          broken = rollback as Error;
        }
        if (isRetryable(error) && attempt < MAX_ATTEMPTS) continue;
        throw storeError(error, this.where);
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    }
  }
}
