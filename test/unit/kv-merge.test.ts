/**
 * The merge rule of docs/kv.md §4–6 on real signed batches: convergence whatever the order,
 * conflicts of writers editing offline, tombstones and their compaction, ignored batches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStatement, encodeStatement } from '../../src/identity/statement.js';
import {
  batchFromStatement,
  encodeBatchBody,
  signBatch,
  type KvBatch,
  type KvOp,
} from '../../src/kv/batch.js';
import { HybridClock } from '../../src/kv/hlc.js';
import { KvState, type KvStateOptions, type KvVersion } from '../../src/kv/merge.js';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';

const SPACE = '5a'.repeat(16);
const open: KvStateOptions = { space: SPACE, accepts: () => true, mayWrite: () => true };

/** A writer device with its own replica, clock and batch counter. */
class Writer {
  readonly identity: Identity = generateIdentity();
  readonly text = identityText(this.identity);
  readonly state = new KvState(open);
  readonly clock = new HybridClock();
  readonly log: KvBatch[] = [];
  private next = 1;
  private seq = 1;

  constructor(
    public now: number,
    readonly person?: string,
  ) {}

  write(ops: (['put', string, string] | ['del', string])[]): KvBatch {
    const kvOps: KvOp[] = ops.map((op) => {
      const hlc = this.clock.tick(this.now);
      return op[0] === 'put'
        ? { type: 'put', key: Buffer.from(op[1]), value: Buffer.from(op[2]), hlc }
        : { type: 'del', key: Buffer.from(op[1]), hlc };
    });
    const body = encodeBatchBody({
      space: SPACE,
      batch: this.next++,
      seen: this.state.versionVector(),
      ops: kvOps,
    });
    const statement = signBatch({
      person: this.person ?? this.text,
      signer: this.identity,
      seq: this.seq++,
      at: this.now,
      body,
    });
    // Through the wire form, as a replica would receive it.
    const decoded = decodeStatement(encodeStatement(statement));
    assert.ok(decoded);
    const read = batchFromStatement(decoded);
    assert.ok(read.ok);
    assert.equal(this.state.apply(read.batch), 'applied');
    this.log.push(read.batch);
    return read.batch;
  }

  /** Receives every batch `other` holds. */
  syncFrom(other: Writer, pool: readonly KvBatch[]): void {
    for (const b of pool) {
      if (other.state.applied(b.signer) >= b.body.batch && this.state.apply(b) === 'applied') {
        for (const op of b.body.ops) this.clock.receive(op.hlc, this.now);
      }
    }
  }
}

function all(...writers: Writer[]): KvBatch[] {
  return writers.flatMap((w) => w.log);
}

function syncAll(writers: Writer[]): void {
  const pool = all(...writers);
  for (const w of writers) for (const o of writers) w.syncFrom(o, pool);
}

function text(v: KvVersion | undefined): string | undefined {
  return v?.value?.toString();
}

/** Everything a reader can observe of a state, as plain data. */
function snapshot(state: KvState, keys: readonly string[]): unknown {
  return {
    entries: [...state.entries()].map((v) => [v.key.toString(), text(v), v.signer, v.batch]),
    reverse: [...state.entries({ reverse: true })].map((v) => v.key.toString()),
    keys: keys.map((k) => ({
      get: text(state.get(Buffer.from(k))),
      winner: state.winner(Buffer.from(k)) && [
        state.winner(Buffer.from(k))!.signer,
        state.winner(Buffer.from(k))!.batch,
      ],
      conflicts: state.conflicts(Buffer.from(k)).map((v) => [v.signer, v.batch, v.index, text(v)]),
    })),
    vector: state.versionVector(),
    size: state.size,
  };
}

/** Bounded deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('three writers editing the same keys offline: LWW winner, the others as conflicts', () => {
  const [a, b, c] = [new Writer(1000), new Writer(1000), new Writer(1000)];
  a.write([['put', 'doc', 'v0']]);
  syncAll([a, b, c]);
  a.now = 2000;
  b.now = 3000;
  c.now = 2500;
  a.write([['put', 'doc', 'from a']]);
  b.write([['put', 'doc', 'from b']]);
  c.write([['del', 'doc']]);
  syncAll([a, b, c]);
  const keys = ['doc'];
  for (const w of [a, b, c]) {
    assert.equal(text(w.state.get(Buffer.from('doc'))), 'from b');
    assert.deepEqual(
      w.state.conflicts(Buffer.from('doc')).map((v) => [v.signer, text(v)]),
      [
        [c.text, undefined],
        [a.text, 'from a'],
      ],
    );
    assert.deepEqual(snapshot(w.state, keys), snapshot(a.state, keys));
  }
  // The v0 version was seen by all three: it is overwritten, not a conflict.
  // A write made after seeing everything resolves the conflict.
  a.now = 4000;
  a.write([['put', 'doc', 'merged']]);
  syncAll([a, b, c]);
  for (const w of [a, b, c]) {
    assert.equal(text(w.state.get(Buffer.from('doc'))), 'merged');
    assert.deepEqual(w.state.conflicts(Buffer.from('doc')), []);
  }
});

test('equal clocks are broken by signer, then batch number, then op index', () => {
  const [a, b] = [new Writer(1000), new Writer(1000)];
  a.write([
    ['put', 'k', 'first'],
    ['put', 'k', 'second'],
  ]);
  const state = new KvState(open);
  state.apply(a.log[0]!);
  // Within a batch, each op has its own tick: the later op wins.
  assert.equal(text(state.get(Buffer.from('k'))), 'second');
  // Two writers at the very same clock reading: the greater signer text wins.
  const batchA = a.write([['put', 't', 'a']]);
  const equal = new KvState(open);
  const versionHlc = batchA.body.ops[0]!.hlc;
  const bClock = new HybridClock({ ms: versionHlc.ms, counter: versionHlc.counter - 1 });
  const bBody = encodeBatchBody({
    space: SPACE,
    batch: 1,
    seen: {},
    ops: [{ type: 'put', key: Buffer.from('t'), value: Buffer.from('b'), hlc: bClock.tick(0) }],
  });
  const bBatch = batchFromStatement(
    signBatch({ person: b.text, signer: b.identity, seq: 1, at: 1000, body: bBody }),
  );
  assert.ok(bBatch.ok);
  equal.apply(batchA);
  equal.apply(bBatch.batch);
  const expected = a.text > b.text ? 'a' : 'b';
  assert.equal(text(equal.get(Buffer.from('t'))), expected);
  assert.equal(equal.conflicts(Buffer.from('t')).length, 1);
});

test('any delivery order of the same batches gives the same state (many seeds)', () => {
  const started = Date.now();
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
  for (let scenario = 1; scenario <= 12; scenario++) {
    const random = rng(scenario * 7919);
    const writers = [new Writer(1000), new Writer(1000), new Writer(1000)];
    for (let step = 0; step < 40; step++) {
      const w = writers[Math.floor(random() * 3)]!;
      w.now += Math.floor(random() * 3); // often the same millisecond: counters and ties
      if (random() < 0.3) {
        const other = writers[Math.floor(random() * 3)]!;
        w.syncFrom(other, all(...writers));
        continue;
      }
      const ops: (['put', string, string] | ['del', string])[] = [];
      const n = 1 + Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        const key = keys[Math.floor(random() * keys.length)]!;
        ops.push(random() < 0.25 ? ['del', key] : ['put', key, `s${scenario}-${step}-${i}`]);
      }
      w.write(ops);
    }
    const batches = all(...writers);
    syncAll(writers);
    const reference = snapshot(writers[0]!.state, keys);
    for (const w of writers) assert.deepEqual(snapshot(w.state, keys), reference);
    for (let order = 0; order < 25; order++) {
      const state = new KvState(open);
      // Duplicates are harmless too.
      for (const b of shuffled([...batches, ...batches.slice(0, 5)], random)) state.apply(b);
      assert.deepEqual(snapshot(state, keys), reference, `scenario ${scenario} order ${order}`);
    }
  }
  assert.ok(Date.now() - started < 60_000);
});

test('a tombstone is compacted once every writer has seen it, and reads do not change', () => {
  const [a, b, c] = [new Writer(1000), new Writer(1000), new Writer(1000)];
  const writers = [a.text, b.text, c.text];
  a.write([
    ['put', 'gone', 'x'],
    ['put', 'kept', 'y'],
  ]);
  syncAll([a, b, c]);
  b.now = 2000;
  b.write([['del', 'gone']]);
  syncAll([a, b, c]);
  const state = c.state;
  const tombstone = state.winner(Buffer.from('gone'));
  assert.ok(tombstone && tombstone.value === undefined);
  assert.equal(state.get(Buffer.from('gone')), undefined);
  // a's and c's latest batches predate the delete: nothing may be dropped yet.
  assert.equal(state.compactable(tombstone, writers), false);
  assert.equal(state.compact(writers), 0);
  a.now = 3000;
  a.write([['put', 'other', '1']]);
  syncAll([a, b, c]);
  assert.equal(state.compactable(tombstone, writers), false); // c has not written since
  c.now = 3000;
  c.write([['put', 'other', '2']]);
  syncAll([a, b, c]);
  assert.equal(state.compactable(tombstone, writers), true);
  // A writer that has never written holds compaction back.
  assert.equal(state.compactable(tombstone, [...writers, identityText(generateIdentity())]), false);
  const keys = ['gone', 'kept', 'other'];
  // What a reader sees: live entries, values and conflicts (not the dropped tombstone).
  const view = (): unknown => ({
    entries: [...state.entries()].map((v) => [v.key.toString(), text(v)]),
    keys: keys.map((k) => [
      text(state.get(Buffer.from(k))),
      state.conflicts(Buffer.from(k)).map((v) => [v.signer, text(v)]),
    ]),
  });
  const before = view();
  const sizeBefore = state.size;
  const dropped = state.compact(writers);
  // The tombstone and the value it deleted; 'other' = '1' stays, as b has not seen it yet.
  assert.equal(dropped, 2);
  assert.equal(state.size, sizeBefore - 2);
  assert.equal(state.winner(Buffer.from('gone')), undefined);
  assert.deepEqual(view(), before);
  // A batch delivered again after compaction does not bring anything back.
  for (const batch of all(a, b, c)) assert.equal(state.apply(batch), 'duplicate');
  assert.equal(state.get(Buffer.from('gone')), undefined);
});

test('compaction keeps a version the winner has not seen: conflicts stay visible', () => {
  const [a, b] = [new Writer(1000), new Writer(1000)];
  const writers = [a.text, b.text];
  a.write([
    ['put', 'k', 'a'],
    ['put', 'd', 'a'],
  ]);
  b.now = 1001;
  b.write([
    ['put', 'k', 'b'],
    ['del', 'd'],
  ]);
  syncAll([a, b]);
  a.write([['put', 'x', '1']]);
  b.write([['put', 'x', '2']]);
  syncAll([a, b]);
  const state = a.state;
  const conflict = state.conflicts(Buffer.from('k'));
  assert.equal(conflict.length, 1);
  assert.equal(state.compactable(conflict[0]!, writers), true);
  state.compact(writers);
  assert.deepEqual(state.conflicts(Buffer.from('k')), conflict);
  assert.equal(text(state.get(Buffer.from('k'))), 'b');
  // A winning tombstone with a concurrent value stays, or the value would resurface.
  assert.equal(state.get(Buffer.from('d')), undefined);
  assert.deepEqual(
    state.conflicts(Buffer.from('d')).map((v) => [v.signer, text(v)]),
    [[a.text, 'a']],
  );
});

test('two ops on one key at the same clock reading: the later op of the batch wins', () => {
  const w = new Writer(1000);
  const hlc = { ms: 1000, counter: 0 };
  const body = encodeBatchBody({
    space: SPACE,
    batch: 1,
    seen: {},
    ops: [
      { type: 'put', key: Buffer.from('k'), value: Buffer.from('first'), hlc },
      { type: 'put', key: Buffer.from('k'), value: Buffer.from('second'), hlc },
      { type: 'put', key: Buffer.from('j'), value: Buffer.from('first'), hlc },
      { type: 'del', key: Buffer.from('j'), hlc },
      // The clock decides before the op index: the counter counts.
      {
        type: 'put',
        key: Buffer.from('c'),
        value: Buffer.from('high'),
        hlc: { ms: 1000, counter: 1 },
      },
      { type: 'put', key: Buffer.from('c'), value: Buffer.from('low'), hlc },
    ],
  });
  const read = batchFromStatement(
    signBatch({ person: w.text, signer: w.identity, seq: 1, at: 1000, body }),
  );
  assert.ok(read.ok);
  const state = new KvState(open);
  state.apply(read.batch);
  assert.equal(text(state.get(Buffer.from('k'))), 'second');
  assert.equal(state.get(Buffer.from('j')), undefined);
  assert.equal(text(state.get(Buffer.from('c'))), 'high');
  // The earlier op was seen by the later one: no conflict within a batch.
  assert.deepEqual(state.conflicts(Buffer.from('k')), []);
});

test('batches from a refused signer, a non-writer, another space or a fork are ignored and counted', () => {
  const member = new Writer(1000);
  const outsider = new Writer(1000);
  const revoked = new Writer(1000, member.text);
  const state = new KvState({
    space: SPACE,
    accepts: (person, signer) => person === signer || signer !== revoked.text,
    mayWrite: (person) => person === member.text,
  });
  const good = member.write([['put', 'k', 'member']]);
  assert.equal(state.apply(good), 'applied');
  assert.equal(state.apply(outsider.write([['put', 'k', 'outsider']])), 'writer');
  assert.equal(state.apply(revoked.write([['put', 'k', 'revoked']])), 'signer');
  assert.equal(state.apply({ ...good, body: { ...good.body, space: 'ff'.repeat(16) } }), 'space');
  assert.equal(state.apply(good), 'duplicate');
  assert.equal(text(state.get(Buffer.from('k'))), 'member');
  assert.deepEqual(state.ignored, { space: 1, signer: 1, writer: 1, fork: 0 });

  // A fork: two different batches under one number. Every replica keeps the same one.
  const twin = encodeBatchBody({
    space: SPACE,
    batch: 1,
    seen: {},
    ops: [
      {
        type: 'put',
        key: Buffer.from('k'),
        value: Buffer.from('twin'),
        hlc: good.body.ops[0]!.hlc,
      },
    ],
  });
  const twinRead = batchFromStatement(
    signBatch({ person: member.text, signer: member.identity, seq: 99, at: 1000, body: twin }),
  );
  assert.ok(twinRead.ok);
  const other = new KvState(open);
  other.apply(twinRead.batch);
  other.apply(good);
  state.apply(twinRead.batch);
  const kept = good.hash < twinRead.batch.hash ? 'member' : 'twin';
  for (const s of [state, other]) {
    assert.equal(text(s.get(Buffer.from('k'))), kept);
    assert.equal(s.size, 1);
    assert.deepEqual(s.forks, [{ signer: member.text, batch: 1 }]);
    assert.equal(s.ignored.fork, 1);
    assert.equal(s.applied(member.text), 1);
  }
});

test("applied() is the contiguous prefix of a writer's batches", () => {
  const w = new Writer(1000);
  const batches = [1, 2, 3, 4].map((i) => w.write([['put', `k${i}`, 'v']]));
  const state = new KvState(open);
  state.apply(batches[1]!);
  state.apply(batches[3]!);
  assert.equal(state.applied(w.text), 0);
  state.apply(batches[0]!);
  assert.equal(state.applied(w.text), 2);
  state.apply(batches[2]!);
  assert.deepEqual(state.versionVector(), { [w.text]: 4 });
  assert.deepEqual(
    [...state.entries()].map((v) => v.key.toString()),
    ['k1', 'k2', 'k3', 'k4'],
  );
});
