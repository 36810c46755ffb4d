/**
 * Strict reading of log-entry and log-head bodies (docs/kv.md, "Append-only log"): exactly the
 * listed members, lowercase hex, canonical base64 of at most 32 KiB, prev null exactly at seq 1,
 * and the refusals of logEntryBody for what a writer must never sign.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStatement, encodeStatement, signStatement } from '../../src/identity/statement.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';
import { MAX_LOG_DATA_BYTES, logEntryBody, readLogEntry } from '../../src/log/entry.js';
import { logHeadBody, readLogHead } from '../../src/log/head.js';

const SPACE = '00112233445566778899aabbccddeeff';
const HASH = '0f'.repeat(32);
const who = generateIdentity();
const text = identityText(who);

function signed(kind: 'log-entry' | 'log-head', body: Record<string, unknown>) {
  return signStatement({ kind, person: text, signer: who, seq: 1, at: 1, body });
}

const good = { space: SPACE, log: 'audit', seq: 2, prev: HASH, data: 'aGVsbG8=' };

test('a well-formed entry reads back, also through its JSON text', () => {
  const s = signed('log-entry', good);
  const decoded = decodeStatement(encodeStatement(s))!;
  const e = readLogEntry(decoded)!;
  assert.deepEqual(
    [e.space, e.log, e.seq, e.prev, e.data.toString(), e.writer, e.hash],
    [SPACE, 'audit', 2, HASH, 'hello', text, s.hash],
  );
  const first = readLogEntry(signed('log-entry', { ...good, seq: 1, prev: null, data: '' }))!;
  assert.deepEqual([first.seq, first.prev, first.data.length], [1, null, 0]);
  const full = Buffer.alloc(MAX_LOG_DATA_BYTES, 7).toString('base64');
  assert.equal(readLogEntry(signed('log-entry', { ...good, data: full }))!.data.length, 32768);
  assert.equal(readLogEntry(signed('log-entry', { ...good, log: 'é'.repeat(64) }))!.log.length, 64);
});

test('entries not exactly as specified are refused', () => {
  const oversize = Buffer.alloc(MAX_LOG_DATA_BYTES + 1).toString('base64');
  const cases: Record<string, Record<string, unknown>> = {
    'extra member': { ...good, note: 'x' },
    'missing member': { space: SPACE, log: 'audit', seq: 2, prev: HASH },
    'oversize data': { ...good, data: oversize },
    'data not base64': { ...good, data: 'aGVsbG8' },
    'data base64url': { ...good, data: 'a-_b' },
    'data with a non-zero pad bit': { ...good, data: 'aGVsbG9=' },
    'data not a string': { ...good, data: 5 },
    'upper-case prev': { ...good, prev: HASH.toUpperCase() },
    'short prev': { ...good, prev: HASH.slice(2) },
    'prev not hex': { ...good, prev: 'zz' + HASH.slice(2) },
    'prev at seq 1': { ...good, seq: 1 },
    'null prev past seq 1': { ...good, prev: null },
    'seq 0': { ...good, seq: 0, prev: null },
    'fractional seq': { ...good, seq: 1.5 },
    'seq as text': { ...good, seq: '2' },
    'unsafe seq': { ...good, seq: 2 ** 53 },
    'upper-case space': { ...good, space: SPACE.toUpperCase() },
    'short space': { ...good, space: SPACE.slice(1) },
    'empty log name': { ...good, log: '' },
    'long log name': { ...good, log: 'x'.repeat(65) },
  };
  for (const [name, body] of Object.entries(cases)) {
    assert.equal(readLogEntry(signed('log-entry', body)), undefined, name);
  }
  assert.equal(readLogEntry(signed('log-head', good)), undefined, 'another kind');
});

test('heads read strictly', () => {
  const h = { space: SPACE, log: 'audit', seq: 3, hash: HASH };
  assert.deepEqual(readLogHead(signed('log-head', h))!.hash, HASH);
  for (const body of [
    { ...h, extra: 1 },
    { ...h, hash: HASH.toUpperCase() },
    { ...h, seq: 0 },
    { ...h, log: '' },
    { space: SPACE, log: 'audit', seq: 3 },
  ]) {
    assert.equal(readLogHead(signed('log-head', body)), undefined, JSON.stringify(body));
  }
  assert.equal(readLogHead(signed('log-entry', good)), undefined);
});

test('writers cannot make what readers refuse', () => {
  const base = { space: SPACE, log: 'a', seq: 1, prev: null, data: Buffer.alloc(0) };
  assert.throws(() => logEntryBody({ ...base, data: Buffer.alloc(MAX_LOG_DATA_BYTES + 1) }));
  assert.throws(() => logEntryBody({ ...base, prev: HASH }));
  assert.throws(() => logEntryBody({ ...base, seq: 2 }));
  assert.throws(() => logEntryBody({ ...base, log: 'x'.repeat(65) }));
  assert.throws(() => logEntryBody({ ...base, space: 'nope' }));
  assert.throws(() => logHeadBody({ space: SPACE, log: 'a', seq: 1, hash: 'x' }));
  assert.deepEqual(logEntryBody({ ...base, data: Buffer.from('hi') }), {
    space: SPACE,
    log: 'a',
    seq: 1,
    prev: null,
    data: 'aGk=',
  });
});
