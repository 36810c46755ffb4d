import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteLevel, SQLITE_LEVEL_FORMAT } from '../../src/kv/level/sqlite-level.js';
import { tempDir } from '../helpers/tmp.js';

const key = (i: number): string => `k${String(i).padStart(6, '0')}`;

test('Level ecosystem code runs unchanged: sublevels, json values, range iterators', async () => {
  const db = new SqliteLevel<string, string>(join(tempDir(), 'eco.sqlite'));
  const users = db.sublevel<string, { name: string; n: number }>('users', {
    valueEncoding: 'json',
  });
  const tags = db.sublevel<string, string>('tags', {});
  await users.batch([
    { type: 'put', key: 'bob', value: { name: 'Bob', n: 2 } },
    { type: 'put', key: 'alice', value: { name: 'Alice', n: 1 } },
    { type: 'put', key: 'carol', value: { name: 'Carol', n: 3 } },
  ]);
  await tags.put('alice', 'admin');
  await db.put('zz', 'top level');

  assert.deepEqual(await users.get('alice'), { name: 'Alice', n: 1 });
  assert.deepEqual(await users.keys().all(), ['alice', 'bob', 'carol']);
  assert.deepEqual(await users.values({ gt: 'alice', reverse: true }).all(), [
    { name: 'Carol', n: 3 },
    { name: 'Bob', n: 2 },
  ]);
  // A sublevel's keys are prefixed in the parent, in byte order, apart from the other sublevel.
  assert.deepEqual(await db.keys().all(), [
    '!tags!alice',
    '!users!alice',
    '!users!bob',
    '!users!carol',
    'zz',
  ]);
  const nested = users.sublevel<string, string>('archive', {});
  await nested.put('old', 'x');
  assert.deepEqual(await db.keys({ gte: '!users!!archive!', lt: '!users!!archive"' }).all(), [
    '!users!!archive!old',
  ]);
  await users.clear({ gte: 'b' });
  // The nested sublevel's key lives inside users' range, before its own keys.
  assert.deepEqual(await users.keys().all(), ['!archive!old', 'alice']);
  assert.equal(await tags.get('alice'), 'admin');

  // Binary keys sort by bytes, not by string: 0xff after 0x7f, a prefix before its extensions.
  const bin = db.sublevel<Uint8Array, Uint8Array>('bin', {
    keyEncoding: 'view',
    valueEncoding: 'view',
  });
  const raw = [[0xff], [0x7f], [0x7f, 0x00], [0x00], []].map((b) => Uint8Array.from(b));
  await bin.batch(raw.map((k) => ({ type: 'put' as const, key: k, value: k })));
  const order = (await bin.keys().all()).map((k) => Array.from(k));
  assert.deepEqual(order, [[], [0x00], [0x7f], [0x7f, 0x00], [0xff]]);
  assert.deepEqual(Array.from((await bin.get(Uint8Array.from([0x7f, 0x00])))!), [0x7f, 0x00]);
  await db.close();
});

test('iterators and snapshots page through a large range and keep the view taken at creation', async () => {
  const db = new SqliteLevel<string, string>(join(tempDir(), 'pages.sqlite'), { pageRows: 100 });
  const n = 2_500;
  await db.batch(
    Array.from({ length: n }, (_, i) => ({ type: 'put' as const, key: key(i), value: `v${i}` })),
  );
  const forward = db.iterator();
  const reverse = db.iterator({ reverse: true, gte: key(1000) });
  const snapshot = db.snapshot();
  // Writes after creation, between pages and beyond the first page, are not seen.
  await db.del(key(5));
  await db.put(key(1500), 'changed');
  await db.put(key(n), 'new');
  await db.clear({ lt: key(2000) });
  const seen = await forward.all();
  assert.equal(seen.length, n);
  assert.deepEqual(seen[5], [key(5), 'v5']);
  assert.deepEqual(seen[1500], [key(1500), 'v1500']);
  assert.deepEqual(seen.at(-1), [key(n - 1), `v${n - 1}`]);
  const back: string[] = [];
  for await (const [k] of reverse) back.push(k);
  assert.equal(back.length, n - 1000);
  assert.equal(back[0], key(n - 1));
  assert.equal(back.at(-1), key(1000));
  // An explicit snapshot serves gets and iterators opened after the writes.
  assert.equal(await db.get(key(5), { snapshot }), 'v5');
  assert.equal(await db.get(key(5)), undefined);
  assert.equal((await db.keys({ snapshot, gte: key(1990) }).all()).length, n - 1990);
  await snapshot.close();

  // A fresh iterator sees the writes; limits and seeks work across page boundaries.
  assert.deepEqual(await db.keys({ limit: 3 }).all(), [key(2000), key(2001), key(2002)]);
  const it = db.iterator({ limit: 250 });
  it.seek(key(2300));
  const after = await it.all();
  assert.equal(after.length, 201);
  assert.deepEqual(after[0], [key(2300), 'v2300']);
  assert.deepEqual(after.at(-1), [key(n), 'new']);
  await db.close();
});

test('a replica survives reopening, and refuses a file of another format', async () => {
  const dir = tempDir();
  const path = join(dir, 'reopen.sqlite');
  const db = new SqliteLevel<string, string>(path, { synchronous: 'full' });
  await db.put('a', '1');
  await db.batch([
    { type: 'put', key: 'b', value: '2' },
    { type: 'del', key: 'a' },
  ]);
  await db.close();
  await db.open();
  assert.deepEqual(await db.iterator().all(), [['b', '2']]);
  await db.close();

  const raw = new Database(path);
  assert.equal(raw.pragma('user_version', { simple: true }), SQLITE_LEVEL_FORMAT);
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.pragma('user_version = 99');
  raw.close();
  const other = new SqliteLevel(path);
  type OpenFailure = Error & { code?: string; cause?: Error & { code?: string } };
  await assert.rejects(other.open(), (err: OpenFailure) => {
    assert.equal(err.code, 'LEVEL_DATABASE_NOT_OPEN');
    assert.equal(err.cause?.code, 'SQLITE_LEVEL_FORMAT');
    assert.match(err.cause!.message, /replica format 99/);
    return true;
  });
  await assert.rejects(
    new SqliteLevel(join(dir, 'absent.sqlite'), { createIfMissing: false }).open(),
    (err: OpenFailure) => err.cause?.code === 'SQLITE_LEVEL_MISSING',
  );
  await assert.rejects(
    new SqliteLevel(path, { errorIfExists: true }).open(),
    (err: OpenFailure) => err.cause?.code === 'SQLITE_LEVEL_EXISTS',
  );

  // A batch is one transaction: one bad operation leaves nothing of the others.
  const atomic = new SqliteLevel<string, string>(join(dir, 'atomic.sqlite'));
  await atomic.put('keep', 'old');
  const writer = (atomic as unknown as { writer: Database.Database }).writer;
  writer.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = CAST('bad' AS BLOB) BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  await assert.rejects(
    atomic.batch([
      { type: 'put', key: 'keep', value: 'new' },
      { type: 'put', key: 'bad', value: 'x' },
    ]),
  );
  assert.equal(await atomic.get('keep'), 'old');
  await atomic.close();

  assert.throws(() => new SqliteLevel(path, { synchronous: 'sometimes' as 'off' }), TypeError);
  assert.throws(() => new SqliteLevel(path, { pageRows: 0 }), TypeError);
  assert.throws(() => new SqliteLevel(''), TypeError);
});
