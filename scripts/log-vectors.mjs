#!/usr/bin/env node
// Writes docs/vectors/log.json (docs/kv.md, "Append-only log") from fixed keys and times,
// using the compiled code in dist/ (build first: npx tsc -p tsconfig.json).
// test/unit/log-vectors.test.ts recomputes every value. The vectors are written once: a file
// whose content would change is refused unless --force is given, because a changed vector
// means a changed format.
//
//   node scripts/log-vectors.mjs           write the file if missing, else check it
//   node scripts/log-vectors.mjs --force   overwrite (only when the format is meant to change)
import { dist, writeVectors } from './lib/vector-file.mjs';
import { fill, hex, identityOf } from './lib/seeded-identity.mjs';

const { signStatement, statementMessage, encodeStatement } = await dist('identity/statement.js');
const { logEntryBody, readLogEntry } = await dist('log/entry.js');
const { logHeadBody } = await dist('log/head.js');
const { verifyLog } = await dist('log/chain.js');
const { mergedView, encodeCursor } = await dist('log/merge.js');

const writer = identityOf(fill(0x11, 32), fill(0x12, 32));
const space = hex(fill(0x13, 16));
const log = 'audit';

function statementVector(input) {
  const s = signStatement(input);
  return {
    statement: s,
    vector: {
      kind: s.kind,
      statement_seq: s.seq,
      at: s.at,
      body_utf8: s.body,
      message: hex(statementMessage(s)),
      sig: s.sig,
      hash: s.hash,
      statement_utf8: encodeStatement(s),
    },
  };
}

// A chain of three entries; the clock reads backwards at the third, which keeps its place.
const times = [1_767_225_600_000, 1_767_225_601_000, 1_767_225_500_000];
const payloads = ['first', 'second', 'third'];
const entries = [];
for (let i = 0; i < 3; i++) {
  const body = logEntryBody({
    space,
    log,
    seq: i + 1,
    prev: entries[i - 1]?.statement.hash ?? null,
    data: Buffer.from(payloads[i]),
  });
  entries.push(
    statementVector({
      kind: 'log-entry',
      person: writer.vector.text,
      signer: writer.identity,
      seq: 10 + i,
      at: times[i],
      body,
    }),
  );
}

// The writer's head proof for seq 2.
const head = statementVector({
  kind: 'log-head',
  person: writer.vector.text,
  signer: writer.identity,
  seq: 13,
  at: 1_767_225_602_000,
  body: logHeadBody(readLogEntry(entries[1].statement)),
});

// A second entry at seq 3: with the chain's third, proof of two histories.
const forked = statementVector({
  kind: 'log-entry',
  person: writer.vector.text,
  signer: writer.identity,
  seq: 14,
  at: 1_767_225_603_000,
  body: logEntryBody({
    space,
    log,
    seq: 3,
    prev: entries[1].statement.hash,
    data: Buffer.from('another third'),
  }),
});

const clean = verifyLog(space, log, [...entries.map((e) => e.statement), head.statement]);
const report = verifyLog(
  space,
  log,
  [...entries, forked, head].map((e) => e.statement),
);
const fork = report.writers.get(writer.vector.text).forks[0];

const vectors = {
  description:
    'p2pcloud append-only log vectors, version 1 (docs/kv.md, "Append-only log"). Test keys: never use them for real data.',
  writer: writer.vector,
  space,
  log,
  entries: entries.map((e) => e.vector),
  head: head.vector,
  merged: mergedView(clean).map((m) => ({
    t: m.position.t,
    seq: m.position.seq,
    hash: m.entry.hash,
    cursor: encodeCursor(m.position),
  })),
  fork: {
    entry: forked.vector,
    reason: fork.reason,
    seq: fork.seq,
    first_hash: fork.first.hash,
    second_hash: fork.second.hash,
    verified: report.writers.get(writer.vector.text).verified.length,
  },
};

writeVectors('log.json', 'log', vectors);
