/**
 * Translates Level range options into SQL over the replica table `kv(key BLOB PRIMARY KEY, value
 * BLOB) WITHOUT ROWID`. SQLite compares BLOBs with memcmp and then by length, which is the
 * byte order Level specifies, so a Level range is exactly a range of the primary key.
 */

/** Range options as abstract-level hands them to the private API (already encoded to bytes). */
export interface ByteRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
}

/** Where a paging iterator resumes: strictly after the last key it yielded, or at a seek target. */
export interface Cursor {
  key: Uint8Array;
  inclusive: boolean;
}

export interface RangeQuery {
  sql: string;
  params: Uint8Array[];
}

/** `WHERE …` (or '') and its parameters for a range, plus an optional resume cursor. */
export function rangeWhere(range: ByteRange, reverse: boolean, cursor?: Cursor): RangeQuery {
  const clauses: string[] = [];
  const params: Uint8Array[] = [];
  const add = (op: string, key: Uint8Array | undefined): void => {
    if (key === undefined) return;
    clauses.push(`key ${op} ?`);
    params.push(key);
  };
  // gte wins over gt and lte over lt, as abstract-level's range semantics say.
  if (range.gte !== undefined) add('>=', range.gte);
  else add('>', range.gt);
  if (range.lte !== undefined) add('<=', range.lte);
  else add('<', range.lt);
  if (cursor !== undefined) {
    // Keyset pagination: the next page starts past the cursor in the iteration's direction.
    const op = reverse ? (cursor.inclusive ? '<=' : '<') : cursor.inclusive ? '>=' : '>';
    add(op, cursor.key);
  }
  return { sql: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, params };
}

/**
 * One page of a range in key order (or reverse); the page size is bound as the last parameter,
 * after `params`, so that one prepared statement serves every page of the same shape.
 */
export function pageQuery(
  range: ByteRange,
  reverse: boolean,
  cursor?: Cursor,
  withValues = true,
): RangeQuery {
  const where = rangeWhere(range, reverse, cursor);
  const order = reverse ? 'DESC' : 'ASC';
  // The key is always read: the next page resumes after it.
  const columns = withValues ? 'key, value' : 'key';
  return {
    sql: `SELECT ${columns} FROM kv ${where.sql} ORDER BY key ${order} LIMIT ?`,
    params: where.params,
  };
}

/** Deletes a range, or only its first `limit` keys in the given direction (limit -1: all). */
export function clearQuery(range: ByteRange, reverse: boolean, limit: number): RangeQuery {
  const where = rangeWhere(range, reverse);
  if (limit < 0) return { sql: `DELETE FROM kv ${where.sql}`, params: where.params };
  const order = reverse ? 'DESC' : 'ASC';
  return {
    sql: `DELETE FROM kv WHERE key IN (SELECT key FROM kv ${where.sql} ORDER BY key ${order} LIMIT ${Math.floor(limit)})`,
    params: where.params,
  };
}
