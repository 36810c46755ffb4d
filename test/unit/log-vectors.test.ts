/**
 * docs/vectors/log.json (written once by scripts/log-vectors.mjs) against the implementation:
 * every statement is re-signed from the file's fixed inputs and compared value by value, the
 * bodies are rebuilt from docs/kv.md, and the merged positions, cursors and fork evidence are
 * recomputed from the statements' JSON texts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import {
  decodeStatement,
  encodeStatement,
  signStatement,
  statementMessage,
  type Statement,
  type StatementKind,
} from '../../src/identity/statement.js';
import { identityText } from '../../src/keys/keys.js';
import { verifyLog } from '../../src/log/chain.js';
import { readLogEntry } from '../../src/log/entry.js';
import { checkHead, readLogHead } from '../../src/log/head.js';
import { encodeCursor, mergedView } from '../../src/log/merge.js';
import { repoRoot } from '../helpers/paths.js';

interface StatementVector {
  kind: StatementKind;
  statement_seq: number;
  at: number;
  body_utf8: string;
  message: string;
  sig: string;
  hash: string;
  statement_utf8: string;
}

interface Vectors {
  writer: { signing_seed: string; box_secret: string; text: string };
  space: string;
  log: string;
  entries: StatementVector[];
  head: StatementVector;
  merged: { t: number; seq: number; hash: string; cursor: string }[];
  fork: {
    entry: StatementVector;
    reason: string;
    seq: number;
    first_hash: string;
    second_hash: string;
    verified: number;
  };
}

const v = JSON.parse(
  readFileSync(join(repoRoot, 'docs', 'vectors', 'log.json'), 'utf8'),
) as Vectors;
const writer = {
  signing: signingKeyPairFromSeed(Buffer.from(v.writer.signing_seed, 'hex')),
  box: boxKeyPairFromSecret(Buffer.from(v.writer.box_secret, 'hex')),
};

/** Re-signs the vector's statement from its inputs and checks every value of it. */
function check(vector: StatementVector, body: Record<string, unknown>): Statement {
  const s = signStatement({
    kind: vector.kind,
    person: v.writer.text,
    signer: writer,
    seq: vector.statement_seq,
    at: vector.at,
    body,
  });
  assert.equal(s.body, vector.body_utf8);
  assert.equal(statementMessage(s).toString('hex'), vector.message);
  assert.equal(s.sig, vector.sig);
  assert.equal(s.hash, vector.hash);
  assert.equal(encodeStatement(s), vector.statement_utf8);
  const decoded = decodeStatement(vector.statement_utf8);
  assert.ok(decoded);
  assert.equal(decoded.hash, vector.hash);
  return decoded;
}

test('the writer', () => {
  assert.equal(identityText(writer), v.writer.text);
});

test('the chain: bodies as docs/kv.md gives them, signed and hashed', () => {
  const payloads = ['first', 'second', 'third'];
  let prev: string | null = null;
  v.entries.forEach((vector, i) => {
    assert.equal(vector.kind, 'log-entry');
    // Members in the documented order, data in standard padded base64.
    const body = {
      space: v.space,
      log: v.log,
      seq: i + 1,
      prev,
      data: Buffer.from(payloads[i]!).toString('base64'),
    };
    const s = check(vector, body);
    const e = readLogEntry(s)!;
    assert.deepEqual([e.seq, e.prev, e.data.toString()], [i + 1, prev, payloads[i]]);
    prev = s.hash;
  });
});

test('the head, its check against the chain, the merged positions and cursors', () => {
  const head = check(v.head, {
    space: v.space,
    log: v.log,
    seq: 2,
    hash: v.entries[1]!.hash,
  });
  const statements = v.entries.map((e) => decodeStatement(e.statement_utf8)!);
  const report = verifyLog(v.space, v.log, [...statements, head]);
  const chain = report.writers.get(v.writer.text)!;
  assert.equal(chain.verified.length, 3);
  assert.deepEqual(checkHead(readLogHead(head)!, chain.verified), { status: 'extends' });
  assert.deepEqual(
    chain.heads.map((h) => h.hash),
    [v.entries[1]!.hash],
  );
  // The third entry's clock reads earlier than the second's: it keeps the second's time.
  assert.ok(v.entries[2]!.at < v.entries[1]!.at);
  assert.deepEqual(
    mergedView(report).map((m) => ({
      t: m.position.t,
      seq: m.position.seq,
      hash: m.entry.hash,
      cursor: encodeCursor(m.position),
    })),
    v.merged,
  );
  assert.deepEqual(
    v.merged.map((m) => m.cursor),
    v.merged.map((m) => `1.${m.t}.${m.seq}.${v.writer.text}`),
  );
});

test('the fork: a second entry at seq 3, and its evidence', () => {
  const forked = check(v.fork.entry, {
    space: v.space,
    log: v.log,
    seq: 3,
    prev: v.entries[1]!.hash,
    data: Buffer.from('another third').toString('base64'),
  });
  const statements = [...v.entries, v.head].map((e) => decodeStatement(e.statement_utf8)!);
  const chain = verifyLog(v.space, v.log, [forked, ...statements]).writers.get(v.writer.text)!;
  assert.equal(chain.forks.length, 1);
  const f = chain.forks[0]!;
  assert.deepEqual(
    [f.reason, f.seq, f.first.hash, f.second.hash, chain.verified.length],
    [v.fork.reason, v.fork.seq, v.fork.first_hash, v.fork.second_hash, v.fork.verified],
  );
  // The evidence is the two entries at seq 3, smaller hash first.
  assert.deepEqual(
    [v.fork.first_hash, v.fork.second_hash],
    [v.entries[2]!.hash, v.fork.entry.hash].sort(),
  );
});
