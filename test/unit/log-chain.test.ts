/**
 * Verifying a log (docs/kv.md, "Append-only log"): writers' chains given in shuffled order and
 * with duplicates, gaps, forks by the same seq and by a wrong prev, rewrites against a head
 * proof, and statements refused by the directory rule or the write rule, counted by reason.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signStatement, type Statement } from '../../src/identity/statement.js';
import { logEntryBody, readLogEntry } from '../../src/log/entry.js';
import { directoryPolicy, verifyLog, type LogPolicy } from '../../src/log/chain.js';
import { certBody, deviceState, revokeBody } from '../../src/identity/directory.js';
import { checkHead, compareHeads, logHeadBody, readLogHead } from '../../src/log/head.js';
import { chainAt, logEntry, writer, type Writer } from '../helpers/log-writers.js';
import { shuffled } from '../helpers/shuffle.js';

const SPACE = '0123456789abcdef0123456789abcdef';
const LOG = 'audit';

const WHERE = { space: SPACE, log: LOG };

function entry(w: Writer, seq: number, prev: string | null, at: number, data = `e${seq}`) {
  return logEntry(w, WHERE, seq, prev, at, data);
}

/** `n` chained entries by `w`, one second apart from `start`. */
function chain(w: Writer, n: number, start = 1_000_000): Statement[] {
  const times = Array.from({ length: n }, (_, i) => start + (i + 1) * 1000);
  return chainAt(w, WHERE, times, (seq) => `e${seq}`);
}

function head(w: Writer, s: Statement, at = 9_000_000): Statement {
  const e = readLogEntry(s)!;
  return signStatement({
    kind: 'log-head',
    person: w.text,
    signer: w.identity,
    seq: ++w.counter,
    at,
    body: logHeadBody(e),
  });
}

const seqs = (list: readonly { seq: number }[]) => list.map((e) => e.seq);

describe('chains', () => {
  test('a chain given shuffled and with duplicates verifies whole, in seq order', () => {
    const a = writer();
    const b = writer();
    const statements = [...chain(a, 20), ...chain(b, 7)];
    for (let seed = 1; seed <= 10; seed++) {
      const input = shuffled([...statements, ...statements.slice(3, 9)], seed);
      const report = verifyLog(SPACE, LOG, input);
      assert.deepEqual([...report.writers.keys()], [a.text, b.text].sort());
      const ca = report.writers.get(a.text)!;
      assert.deepEqual(
        seqs(ca.verified),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.deepEqual(
        ca.verified.map((e) => e.hash),
        statements.slice(0, 20).map((s) => s.hash),
      );
      assert.equal(report.writers.get(b.text)!.verified.length, 7);
      assert.deepEqual([ca.gaps, ca.forks, ca.rewrites, ca.pending], [[], [], [], []]);
    }
  });

  test('gaps: missing seqs are reported and stop the verified prefix', () => {
    const a = writer();
    const full = chain(a, 10);
    const held = full.filter((s) => ![3, 4, 8].includes(readLogEntry(s)!.seq));
    const c = verifyLog(SPACE, LOG, shuffled(held, 7)).writers.get(a.text)!;
    assert.deepEqual(seqs(c.verified), [1, 2]);
    assert.deepEqual(seqs(c.pending), [5, 6, 7, 9, 10]);
    assert.deepEqual(c.gaps, [
      { from: 3, to: 4 },
      { from: 8, to: 8 },
    ]);
    assert.deepEqual(c.forks, []);
  });

  test('a missing first entry is a gap from 1', () => {
    const a = writer();
    const c = verifyLog(SPACE, LOG, chain(a, 3).slice(1)).writers.get(a.text)!;
    assert.deepEqual(c.verified, []);
    assert.deepEqual(c.gaps, [{ from: 1, to: 1 }]);
  });

  test('fork by the same seq: both statements are the evidence, nothing past it verifies', () => {
    const a = writer();
    const main = chain(a, 6);
    const other = entry(a, 4, main[2]!.hash, 1_004_500, 'another history');
    const c = verifyLog(SPACE, LOG, shuffled([...main, other], 3)).writers.get(a.text)!;
    assert.deepEqual(seqs(c.verified), [1, 2, 3]);
    assert.equal(c.forks.length, 1);
    const f = c.forks[0]!;
    assert.equal(f.reason, 'same-seq');
    assert.equal(f.seq, 4);
    assert.deepEqual(new Set([f.first.hash, f.second.hash]), new Set([main[3]!.hash, other.hash]));
    // The entry after the fork links to one of the two: no second, spurious fork.
    assert.deepEqual(seqs(c.pending), [4, 4, 5, 6]);
  });

  test('fork by a wrong prev: the entry and its held predecessor are the evidence', () => {
    const a = writer();
    const main = chain(a, 5);
    const stray = entry(a, 3, 'ab'.repeat(32), 1_003_000);
    const held = [...main.filter((s) => readLogEntry(s)!.seq !== 3), stray];
    const c = verifyLog(SPACE, LOG, shuffled(held, 11)).writers.get(a.text)!;
    assert.deepEqual(seqs(c.verified), [1, 2]);
    const reasons = c.forks.map((f) => [f.reason, f.seq]);
    // seq 3 does not link to 2, and 4 (which links to the real 3) does not link to the stray 3.
    assert.deepEqual(reasons, [
      ['wrong-prev', 3],
      ['wrong-prev', 4],
    ]);
    assert.equal(c.forks[0]!.first.hash, main[1]!.hash);
    assert.equal(c.forks[0]!.second.hash, stray.hash);
  });

  test('one writer forking does not touch another writer', () => {
    const a = writer();
    const b = writer();
    const main = chain(a, 3);
    const twin = entry(a, 2, main[0]!.hash, 5, 'twin');
    const report = verifyLog(SPACE, LOG, [...main, twin, ...chain(b, 4)]);
    assert.equal(report.writers.get(a.text)!.verified.length, 1);
    assert.equal(report.writers.get(b.text)!.verified.length, 4);
    assert.deepEqual(report.writers.get(b.text)!.forks, []);
  });

  test('the work stays bounded for a large, shuffled log', () => {
    const a = writer();
    const statements = chain(a, 3000);
    const input = shuffled(statements, 5);
    const started = performance.now();
    const c = verifyLog(SPACE, LOG, input).writers.get(a.text)!;
    const ms = performance.now() - started;
    assert.equal(c.verified.length, 3000);
    // Parsing 3000 bodies and one sort: milliseconds; generous for a loaded machine.
    assert.ok(ms < 2000, `${ms} ms`);
  });
});

describe('head proofs', () => {
  test('a chain that extends the head agrees with it; a shorter one is behind', () => {
    const a = writer();
    const main = chain(a, 5);
    const h = head(a, main[2]!);
    const report = verifyLog(SPACE, LOG, [...main, h]);
    const c = report.writers.get(a.text)!;
    assert.deepEqual(c.rewrites, []);
    assert.deepEqual(
      c.heads.map((x) => x.hash),
      [main[2]!.hash],
    );
    const parsed = readLogHead(h)!;
    assert.deepEqual(checkHead(parsed, c.verified), { status: 'extends' });
    assert.deepEqual(checkHead(parsed, c.verified.slice(0, 2)), { status: 'behind', have: 2 });
  });

  test('an entry contradicting a head is a rewrite, with the head and the entry as evidence', () => {
    const a = writer();
    const main = chain(a, 4);
    const h = head(a, main[3]!);
    // Later the writer serves a different history from seq 3 on.
    const rewritten3 = entry(a, 3, main[1]!.hash, 1_003_000, 'rewritten');
    const rewritten4 = entry(a, 4, rewritten3.hash, 1_004_000, 'rewritten');
    const held = [main[0]!, main[1]!, rewritten3, rewritten4, h];
    const c = verifyLog(SPACE, LOG, shuffled(held, 2)).writers.get(a.text)!;
    assert.equal(c.forks.length, 0, 'the reader holds only one history of entries');
    assert.equal(c.rewrites.length, 1);
    const r = c.rewrites[0]!;
    assert.equal(r.reason, 'head-mismatch');
    assert.equal(r.first.hash, h.hash);
    assert.equal(r.second.hash, rewritten4.hash);
    assert.deepEqual(c.heads, []);
    // The contradicted entry and what follows it are no longer trusted.
    assert.deepEqual(seqs(c.verified), [1, 2, 3]);
    assert.deepEqual(seqs(c.pending), [4]);
    const served = [main[0]!, main[1]!, rewritten3, rewritten4].map((s) => readLogEntry(s)!);
    const check = checkHead(readLogHead(h)!, served);
    assert.equal(check.status, 'rewrite');
    assert.equal(check.status === 'rewrite' && check.evidence.second.hash, rewritten4.hash);
  });

  test("an entry right after the head that does not link to the head's hash is a rewrite", () => {
    const a = writer();
    const main = chain(a, 2);
    const h = head(a, main[1]!);
    const next = entry(a, 3, main[0]!.hash, 1_003_000);
    const c = verifyLog(SPACE, LOG, [...main, h, next]).writers.get(a.text)!;
    assert.deepEqual(
      c.rewrites.map((r) => [r.reason, r.seq, r.first.hash, r.second.hash]),
      [['head-successor', 3, h.hash, next.hash]],
    );
  });

  test('two heads at one seq with different hashes conflict', () => {
    const a = writer();
    const main = chain(a, 3);
    const twin = entry(a, 3, main[1]!.hash, 1_003_000, 'twin');
    const h1 = head(a, main[2]!);
    const h2 = head(a, twin);
    assert.equal(compareHeads(readLogHead(h1)!, readLogHead(h2)!), 'conflict');
    assert.equal(compareHeads(readLogHead(h1)!, readLogHead(h1)!), 'same');
    assert.equal(compareHeads(readLogHead(head(a, main[0]!))!, readLogHead(h1)!), 'before');
    const c = verifyLog(SPACE, LOG, [main[0]!, main[1]!, h1, h2]).writers.get(a.text)!;
    assert.deepEqual(
      c.rewrites.map((r) => r.reason),
      ['heads-differ'],
    );
    assert.deepEqual(c.heads, []);
  });

  test("another writer's head binds nobody else", () => {
    const a = writer();
    const b = writer();
    const mainA = chain(a, 2);
    const mainB = chain(b, 2);
    const hb = readLogHead(head(b, mainB[1]!))!;
    assert.equal(compareHeads(hb, readLogHead(head(a, mainA[1]!))!), 'unrelated');
    const c = verifyLog(SPACE, LOG, [...mainA, hb.statement]).writers.get(a.text)!;
    assert.deepEqual(c.rewrites, []);
  });
  test('a writer signing many histories at one seq costs a bounded report', () => {
    const a = writer();
    const main = chain(a, 1);
    const twins = Array.from({ length: 300 }, (_, i) => entry(a, 2, main[0]!.hash, 5, `t${i}`));
    const heads = twins.map((t) => head(a, t));
    const started = performance.now();
    const c = verifyLog(SPACE, LOG, shuffled([...main, ...twins, ...heads], 9)).writers.get(
      a.text,
    )!;
    const ms = performance.now() - started;
    assert.deepEqual(seqs(c.verified), [1]);
    assert.equal(c.forks.length, 16);
    assert.equal(c.rewrites.length, 16);
    assert.ok(c.rewrites.every((r) => r.reason === 'head-mismatch' || r.reason === 'heads-differ'));
    assert.ok(ms < 2000, `${ms} ms`);
  });
});

describe('admission', () => {
  test('statements refused by the directory or write rule are ignored and counted', () => {
    const root = writer();
    const phone = writer();
    const stranger = writer();
    const revoked = writer();
    const mine = chain(root, 3);
    // The phone writes for the root person.
    const phoneEntries: Statement[] = [];
    for (let seq = 1; seq <= 2; seq++) {
      phoneEntries.push(
        signStatement({
          kind: 'log-entry',
          person: root.text,
          signer: phone.identity,
          seq: ++phone.counter,
          at: 2_000_000 + seq,
          body: logEntryBody({
            space: SPACE,
            log: LOG,
            seq,
            prev: phoneEntries[seq - 2]?.hash ?? null,
            data: Buffer.from('p'),
          }),
        }),
      );
    }
    const strangers = chain(stranger, 2);
    const revokedEntries = chain(revoked, 3);
    const policy: LogPolicy = {
      accepts(person, signer, _at, seq) {
        if (person === root.text) return signer === root.text || signer === phone.text;
        // Revoked after its statement 2: statement 3 is past the cutoff.
        if (person === revoked.text) return signer === revoked.text && seq <= 2;
        return person === signer;
      },
      mayWrite: (person) => person !== stranger.text,
    };
    const other = signStatement({
      kind: 'log-entry',
      person: root.text,
      signer: root.identity,
      seq: 99,
      at: 1,
      body: logEntryBody({ space: SPACE, log: 'other', seq: 1, prev: null, data: Buffer.alloc(0) }),
    });
    const record = signStatement({
      kind: 'record',
      person: root.text,
      signer: root.identity,
      seq: 100,
      at: 1,
      body: { collection: 'c', key: 'k', deleted: false, data: '{}' },
    });
    const report = verifyLog(
      SPACE,
      LOG,
      [...mine, ...phoneEntries, ...strangers, ...revokedEntries, other, record],
      policy,
    );
    assert.deepEqual(report.refused, {
      'not-log': 1,
      'other-log': 1,
      'not-accepted': 1,
      'not-writer': 2,
    });
    assert.deepEqual([...report.writers.keys()], [root.text, phone.text, revoked.text].sort());
    assert.equal(report.writers.get(phone.text)!.verified.length, 2);
    assert.equal(report.writers.get(revoked.text)!.verified.length, 2);
  });

  test('with real directories: a revoked device counts up to its cutoff only', () => {
    const root = writer();
    const phone = writer();
    const cert = signStatement({
      kind: 'device-cert',
      person: root.text,
      signer: root.identity,
      seq: ++root.counter,
      at: 1000,
      body: certBody(phone.text, 'phone'),
    });
    const entries: Statement[] = [];
    for (let seq = 1; seq <= 4; seq++) {
      entries.push(
        signStatement({
          kind: 'log-entry',
          person: root.text,
          signer: phone.identity,
          seq: ++phone.counter,
          at: 2000 + seq,
          body: logEntryBody({
            space: SPACE,
            log: LOG,
            seq,
            prev: entries[seq - 2]?.hash ?? null,
            data: Buffer.from('p'),
          }),
        }),
      );
    }
    // The root had seen the phone's statements up to 2 when it revoked it.
    const revoke = signStatement({
      kind: 'device-revoke',
      person: root.text,
      signer: root.identity,
      seq: ++root.counter,
      at: 3000,
      body: revokeBody(phone.text, 2),
    });
    const before = directoryPolicy(
      new Map([[root.text, deviceState(root.text, [cert])]]),
      () => true,
    );
    assert.equal(
      verifyLog(SPACE, LOG, entries, before).writers.get(phone.text)!.verified.length,
      4,
    );
    const after = directoryPolicy(
      new Map([[root.text, deviceState(root.text, [cert, revoke])]]),
      () => true,
    );
    const report = verifyLog(SPACE, LOG, entries, after);
    assert.equal(report.refused['not-accepted'], 2);
    assert.equal(report.writers.get(phone.text)!.verified.length, 2);
    const unknown = directoryPolicy(new Map(), () => true);
    assert.equal(verifyLog(SPACE, LOG, entries, unknown).refused['not-accepted'], 4);
  });
});
