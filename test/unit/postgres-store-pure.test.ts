/**
 * The pure parts of the PostgreSQL store: URLs shown without their password, feed cursors, sums
 * of ids reduced modulo 2^256, and which failures mean the server is away.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2PError } from '../../src/errors.js';
import { addToSum } from '../../src/reconcile/buckets.js';
import { isConnectionFailure, openError, storeError } from '../../src/store/postgres/errors.js';
import { decodeFeedCursor, encodeFeedCursor } from '../../src/store/postgres/feed-cursor.js';
import { sumBytes, toBigInt } from '../../src/store/postgres/sums.js';
import { isPostgresUrl, redactUrl } from '../../src/store/postgres/url.js';

test('URLs are shown without password or options', () => {
  assert.equal(
    redactUrl('postgres://node:s3cret@db.example:5432/p2p?sslpassword=x&sslmode=require'),
    'postgres://node:***@db.example:5432/p2p',
  );
  assert.equal(redactUrl('postgresql://db.example/p2p'), 'postgresql://db.example/p2p');
  assert.ok(!redactUrl('postgres://a:b@[bad').includes('b@'));
  assert.ok(isPostgresUrl('postgres://x/y') && isPostgresUrl('POSTGRESQL://x/y'));
  assert.ok(!isPostgresUrl('sqlite') && !isPostgresUrl('mysql://x/y'));
});

test('feed cursors round-trip and anything else is bad_cursor', () => {
  const position = { xid: '18446744073709551615', seq: '9223372036854775807' };
  const text = encodeFeedCursor(position);
  assert.ok(text.length <= 64 && /^[A-Za-z0-9_.:-]+$/.test(text));
  assert.deepEqual(decodeFeedCursor(text), position);
  assert.deepEqual(decodeFeedCursor('pg1:007:01'), { xid: '7', seq: '1' });
  for (const bad of [
    '',
    'pg1:1',
    'pg2:1:1',
    'pg1:-1:1',
    'pg1:18446744073709551616:1',
    'pg1:1:9223372036854775808',
    'pg1:1:1:1',
  ]) {
    assert.throws(
      () => decodeFeedCursor(bad),
      (e: unknown) => e instanceof P2PError && e.code === 'bad_cursor',
      bad,
    );
  }
});

test('numeric sums reduce to the 256-bit sums the protocol digests', () => {
  const ids = [Buffer.alloc(32, 0xff), Buffer.alloc(32, 0x80), Buffer.alloc(32, 0x01)];
  const expected = new Uint8Array(32);
  let total = 0n;
  for (const id of ids) {
    addToSum(expected, id, 1);
    total += toBigInt(id);
  }
  addToSum(expected, ids[1]!, -1);
  total -= toBigInt(ids[1]!);
  assert.ok(sumBytes(total.toString()).equals(Buffer.from(expected)));
  // A negative total (more subtracted in one shard than added there) wraps the same way.
  assert.ok(
    sumBytes((-toBigInt(ids[2]!)).toString()).equals(sumBytes((1n << 256n) - toBigInt(ids[2]!))),
  );
  assert.equal(sumBytes('0').length, 32);
});

test('a server that is away is unavailable; other failures keep their meaning', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
  });
  assert.ok(isConnectionFailure(refused));
  assert.ok(isConnectionFailure(new Error('Connection terminated unexpectedly')));
  assert.ok(isConnectionFailure(Object.assign(new Error('terminating'), { code: '57P01' })));
  assert.ok(!isConnectionFailure(Object.assign(new Error('syntax'), { code: '42601' })));
  const during = storeError(refused, 'postgres://u:***@h/db');
  assert.ok(during instanceof P2PError && during.code === 'unavailable');
  assert.match(during.message, /^PostgreSQL at postgres:\/\/u:\*\*\*@h\/db is unavailable/);
  const atStart = openError(refused, 'postgres://u:***@h/db');
  assert.equal(atStart.code, 'unavailable');
  assert.equal(
    atStart.message,
    'cannot reach PostgreSQL at postgres://u:***@h/db: connection refused (is PostgreSQL running there?)',
  );
  const login = openError(
    Object.assign(new Error('password authentication failed'), { code: '28P01' }),
    'W',
  );
  assert.equal(login.code, 'bad_config');
});
