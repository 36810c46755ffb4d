#!/usr/bin/env node
// Writes docs/vectors/kv.json (docs/kv.md §1.1) from fixed keys, times and operations, using
// the compiled code in dist/ (build first: npx tsc -p tsconfig.json).
// test/unit/kv-vectors.test.ts recomputes every value. The vectors are written once: a file
// whose content would change is refused unless --force is given, because a changed vector means
// a changed format or merge rule.
//
//   node scripts/kv-vectors.mjs           write the file if missing, else check it
//   node scripts/kv-vectors.mjs --force   overwrite (only when the format is meant to change)
import { dist, writeVectors } from './lib/vector-file.mjs';

const { signingKeyPairFromSeed } = await dist('crypto/ed25519.js');
const { boxKeyPairFromSecret } = await dist('crypto/x25519.js');
const { identityText } = await dist('keys/keys.js');
const { encodeStatement } = await dist('identity/statement.js');
const { HLC_ZERO, MAX_SKEW_MS, formatHlc, parseHlc, receive, tick } = await dist('kv/hlc.js');
const { encodeBatchBody, signBatch, batchFromStatement } = await dist('kv/batch.js');
const { KvState } = await dist('kv/merge.js');

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const fill = (byte, length) => Buffer.alloc(length, byte);

function writerOf(name, seedByte) {
  const identity = {
    signing: signingKeyPairFromSeed(fill(seedByte, 32)),
    box: boxKeyPairFromSecret(fill(seedByte + 1, 32)),
  };
  return {
    name,
    identity,
    vector: {
      signing_seed: hex(fill(seedByte, 32)),
      box_secret: hex(fill(seedByte + 1, 32)),
      text: identityText(identity),
    },
  };
}

// §2: a clock through local events, remote readings, a full counter and a refused skew.
const t0 = 1_767_225_600_000;
const hlcSteps = [
  { event: 'tick', now: t0 },
  { event: 'tick', now: t0 },
  { event: 'tick', now: t0 - 5 },
  { event: 'receive', remote: formatHlc({ ms: t0 + 10, counter: 4 }), now: t0 + 1 },
  { event: 'receive', remote: formatHlc({ ms: t0, counter: 0 }), now: t0 + 20 },
  { event: 'receive', remote: formatHlc({ ms: t0 + 20, counter: 0xffff }), now: t0 + 20 },
  {
    event: 'receive',
    remote: formatHlc({ ms: t0 + 21 + MAX_SKEW_MS + 1, counter: 0 }),
    now: t0 + 21,
  },
  { event: 'tick', now: t0 + 30 },
];
let clock = HLC_ZERO;
for (const step of hlcSteps) {
  try {
    clock =
      step.event === 'tick'
        ? tick(clock, step.now)
        : receive(clock, parseHlc(step.remote), step.now);
    step.after = formatHlc(clock);
  } catch (error) {
    step.refused = error.code;
    step.after = formatHlc(clock);
  }
}

// §3 and §4: three writers of one space; the scenario of §5.
const space = hex(fill(0x20, 16));
const a = writerOf('a', 0x21);
const b = writerOf('b', 0x23);
const c = writerOf('c', 0x25);
const writers = { a, b, c };
const h = (ms, counter = 0) => formatHlc({ ms: t0 + ms, counter });
const batches = [
  {
    writer: 'a',
    batch: 1,
    seq: 1,
    at: t0,
    seen: {},
    ops: [
      { type: 'put', key: 'title', value: 'Draft', hlc: h(0) },
      { type: 'put', key: 'owner', value: 'a', hlc: h(0, 1) },
      { type: 'put', key: 'tmp', value: 'scratch', hlc: h(0, 2) },
    ],
  },
  // b and c have seen a's first batch, then edit offline, concurrently with a's second batch.
  {
    writer: 'b',
    batch: 1,
    seq: 4,
    at: t0 + 1000,
    seen: { a: 1 },
    ops: [
      { type: 'put', key: 'title', value: 'Plan', hlc: h(1000) },
      { type: 'del', key: 'tmp', hlc: h(1000, 1) },
    ],
  },
  {
    writer: 'c',
    batch: 1,
    seq: 9,
    at: t0 + 1000,
    seen: { a: 1 },
    ops: [{ type: 'put', key: 'title', value: 'Notes', hlc: h(1000) }],
  },
  {
    writer: 'a',
    batch: 2,
    seq: 2,
    at: t0 + 900,
    seen: {},
    ops: [{ type: 'del', key: 'owner', hlc: h(900) }],
  },
  // a later saw b's batch and wrote again.
  {
    writer: 'a',
    batch: 3,
    seq: 3,
    at: t0 + 2000,
    seen: { b: 1 },
    ops: [{ type: 'put', key: 'owner', value: 'a+b', hlc: h(2000) }],
  },
];
const state = new KvState({ space, accepts: () => true, mayWrite: () => true });
for (const batch of batches) {
  const w = writers[batch.writer];
  const seen = Object.fromEntries(
    Object.entries(batch.seen).map(([name, n]) => [writers[name].vector.text, n]),
  );
  const ops = batch.ops.map((op) => ({
    type: op.type,
    key: Buffer.from(op.key),
    ...(op.type === 'put' ? { value: Buffer.from(op.value) } : {}),
    hlc: parseHlc(op.hlc),
  }));
  const body = encodeBatchBody({ space, batch: batch.batch, seen, ops });
  const statement = signBatch({
    person: w.vector.text,
    signer: w.identity,
    seq: batch.seq,
    at: batch.at,
    body,
  });
  batch.body = body;
  batch.statement = encodeStatement(statement);
  batch.hash = statement.hash;
  const read = batchFromStatement(statement);
  if (!read.ok || state.apply(read.batch) !== 'applied') throw new Error('vector batch refused');
}
const nameOf = (signer) => Object.values(writers).find((w) => w.vector.text === signer).name;
const versionOf = (v) => ({
  writer: nameOf(v.signer),
  batch: v.batch,
  index: v.index,
  value: v.value === undefined ? null : v.value.toString('utf8'),
});
const keys = {};
for (const key of ['owner', 'title', 'tmp']) {
  const winner = state.winner(Buffer.from(key));
  keys[key] = {
    winner: versionOf(winner),
    conflicts: state.conflicts(Buffer.from(key)).map(versionOf),
  };
}

const vectors = {
  description:
    'p2pcloud key-value store, format version 1 (docs/kv.md). Keys and values of the ' +
    'scenario are UTF-8 texts here; they are bytes in the format. Written by scripts/kv-vectors.mjs.',
  hlc: { max_skew_ms: MAX_SKEW_MS, start: formatHlc(HLC_ZERO), steps: hlcSteps },
  space,
  writers: Object.fromEntries(Object.values(writers).map((w) => [w.name, w.vector])),
  batches,
  result: {
    keys,
    live: [...state.entries()].map((v) => v.key.toString('utf8')),
    version_vector: Object.fromEntries(
      Object.entries(state.versionVector()).map(([signer, n]) => [nameOf(signer), n]),
    ),
  },
};

writeVectors('kv.json', 'key-value', vectors);
