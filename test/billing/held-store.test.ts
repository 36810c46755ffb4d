/**
 * Receipts v2 from the node's usage record (docs/billing.md §4.1, §5), on real SQLite files
 * at chosen times: an entry is itemized once, in the period its storage starts in, and later
 * periods bill it in their first receipt's held figures, up to its expiry; a split period
 * carries them in its first receipt only; a version-1 file is upgraded with its counters. After
 * every close the node's held counters equal a full recount.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { generateSigningKeyPair, type SigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import {
  MAX_RECEIPT_ITEMS,
  NO_HELD,
  signUsageReceipt,
  verifyUsageReceipt,
  type UsageBody,
} from '../../src/market/billing/receipt.js';
import { billingConfigSchema } from '../../src/node/billing/config.js';
import { PeriodCloser } from '../../src/node/billing/period-closer.js';
import { BILLING_DB_FILE, UsageStore } from '../../src/node/billing/usage-store.js';
import { tempDir } from '../helpers/tmp.js';
import { assertHeldCounters, expectedHeld, heldCounters } from './held-recount.js';

const P = 1000;
const T = 1_700_000_000_000;

interface Rig {
  readonly path: string;
  readonly usage: UsageStore;
  readonly closer: PeriodCloser;
  /** Closes a payer's periods ended by `now`, then holds the counters to a full recount. */
  close(payer: Buffer, now: number): boolean;
  bodies(payer: Buffer): UsageBody[];
  end(): void;
}

function rig(
  path = join(tempDir(), BILLING_DB_FILE),
  settings: object = {},
  key = generateSigningKeyPair(),
): Rig {
  const usage = new UsageStore(path);
  const config = billingConfigSchema().parse({ enabled: true, receipt_period_ms: P, ...settings });
  const closer = new PeriodCloser(usage, key, config, () => undefined, pino({ level: 'silent' }));
  const check = new Database(path, { readonly: true });
  return {
    path,
    usage,
    closer,
    close(payer, now) {
      const done = closer.close(payer, now);
      assertHeldCounters(check, `after a close at ${now - T}`);
      return done;
    },
    bodies: (payer) =>
      usage
        .receiptsSince(payer, 0, 1000)
        .map((r) => verifyUsageReceipt(JSON.parse(r.receipt)).body),
    end() {
      check.close();
      usage.close();
    },
  };
}

interface Put {
  readonly id: Buffer;
  readonly bytes: number;
  readonly at: number;
  readonly expiresAt: number;
}

function put(usage: UsageStore, payer: Buffer, puts: readonly Put[]): void {
  for (const p of puts)
    usage.addStored(payer, [{ id: p.id, bytes: p.bytes, expiresAt: p.expiresAt }], p.at);
}

function entry(bytes: number, at: number, expiresAt: number): Put {
  return { id: randomBytes(32), bytes, at: T + at, expiresAt: expiresAt === 0 ? 0 : T + expiresAt };
}

/** Each receipt's held figures against those computed from the receipts before it. */
function assertHeldFollows(
  bodies: readonly UsageBody[],
  expiry: ReadonlyMap<string, number>,
): void {
  for (const [i, body] of bodies.entries()) {
    const first = i === 0 || bodies[i - 1]!.from !== body.from;
    const want = first ? expectedHeld(bodies.slice(0, i), expiry, body.from, body.to) : NO_HELD;
    assert.deepEqual(body.held, want, `held of seq ${body.seq}`);
    assert.equal(body.v, 2);
  }
}

function storeItems(bodies: readonly UsageBody[]): string[] {
  return bodies.flatMap((b) => b.items.flatMap((i) => (i.k === 'store' ? [i.entry] : [])));
}

test('an entry is itemized once, in the period it starts in; later periods hold it to its expiry', () => {
  const a = rig();
  // Two receipts a call at most, so that closing all at the end takes several calls.
  const b = rig(undefined, { max_receipts_per_answer: 2 });
  try {
    const payer = randomBytes(32);
    const A = entry(100, 100, 0);
    const B = entry(200, 200, 2500); // expires in the middle of period 2
    const C = entry(300, 1300, 3000); // expires at the start of period 3
    const D = entry(50, 1400, 1700); // expires inside its own period
    const all = [A, B, C, D];
    const expiry = new Map(all.map((e) => [toHex(e.id), e.expiresAt]));
    for (const r of [a, b]) {
      put(r.usage, payer, [A, B]);
    }
    // One node closes each period as it ends; the other closes them all at the end.
    a.close(payer, T + 1005);
    for (const r of [a, b]) put(r.usage, payer, [C, D]);
    a.close(payer, T + 2005);
    a.close(payer, T + 3005);
    const read = randomBytes(32);
    for (const r of [a, b]) r.usage.addServed(payer, read, 77, T + 3100);
    a.close(payer, T + 4005);
    a.close(payer, T + 5005);
    let calls = 0;
    while (!b.close(payer, T + 5005)) assert.ok(++calls < 10, 'the closes end');
    assert.equal(calls, 2, 'five receipts at two a call');

    const bodies = a.bodies(payer);
    assert.deepEqual(
      bodies.map((x) => [x.seq, x.from - T, x.to - T, x.items.length]),
      [
        [0, 0, 1000, 2],
        [1, 1000, 2000, 2],
        [2, 2000, 3000, 0],
        [3, 3000, 4000, 1],
        [4, 4000, 5000, 0],
      ],
    );
    // Itemized once each, from its acceptance to its expiry or the period's end.
    assert.deepEqual(storeItems(bodies).sort(), all.map((e) => toHex(e.id)).sort());
    const dItem = bodies[1]!.items.find((i) => i.k === 'store' && i.entry === toHex(D.id));
    assert.deepEqual(dItem && dItem.k === 'store' && [dItem.from - T, dItem.to - T], [1400, 1700]);
    assert.deepEqual(bodies[0]!.held, NO_HELD);
    assert.deepEqual(bodies[1]!.held, { entries: 2, bytes: 300, byte_ms: String(300 * 1000) });
    // B expires half way through period 2: billed to its expiry. D has gone.
    assert.deepEqual(bodies[2]!.held, {
      entries: 3,
      bytes: 600,
      byte_ms: String(100 * 1000 + 200 * 500 + 300 * 1000),
    });
    // C expired at the start of period 3: only A is left.
    assert.deepEqual(bodies[3]!.held, { entries: 1, bytes: 100, byte_ms: '100000' });
    assert.deepEqual(bodies[4]!.held, { entries: 1, bytes: 100, byte_ms: '100000' });
    assertHeldFollows(bodies, expiry);
    // Over the periods, each entry is billed bytes × the time it was stored.
    const billed = bodies.reduce((s, x) => s + BigInt(x.stored_byte_ms), 0n);
    const stored = (e: Put, end: number) =>
      BigInt(e.bytes) * BigInt((e.expiresAt === 0 ? end : Math.min(end, e.expiresAt)) - e.at);
    assert.equal(
      billed,
      all.reduce((s, e) => s + stored(e, T + 5000), 0n),
    );
    // The expired rows are gone; the counters hold A alone.
    assert.deepEqual(
      heldCounters(new Database(a.path, { readonly: true })).kept.get(toHex(payer)),
      {
        entries: 1,
        bytes: 100,
      },
    );
    // Closed in two calls of two receipts and one, the same receipts.
    const strip = (x: UsageBody) => ({ ...x, node: '' });
    assert.deepEqual(b.bodies(payer).map(strip), bodies.map(strip));
    // A period with only held storage is not skipped as idle, and closing again signs nothing.
    a.close(payer, T + 5005);
    assert.equal(a.bodies(payer).length, 5);
  } finally {
    a.end();
    b.end();
  }
});

test('a split period carries its held figures in its first receipt only', () => {
  // One receipt a close: the split period's first part is saved by one call, the rest by the next.
  const r = rig(undefined, { max_receipts_per_answer: 1 });
  try {
    const payer = randomBytes(32);
    const early = Array.from({ length: 10 }, (_, i) => entry(100 + i, 10 * i, i < 3 ? 2500 : 0));
    const many = Array.from({ length: MAX_RECEIPT_ITEMS + 904 }, (_, i) =>
      entry(10 + (i % 5), 1000 + (i % 900), i % 2 === 0 ? 2600 : 0),
    );
    put(r.usage, payer, early);
    for (let i = 0; i < many.length; i += 1000) {
      r.usage.addStored(
        payer,
        many.slice(i, i + 1000).map((e) => ({ id: e.id, bytes: e.bytes, expiresAt: e.expiresAt })),
        T + 1000 + ((i / 1000) % 900),
      );
    }
    const expiry = new Map([...early, ...many].map((e) => [toHex(e.id), e.expiresAt]));
    const signed: number[] = [];
    for (let call = 0; call < 10; call++) {
      const done = r.close(payer, T + 3005);
      signed.push(r.bodies(payer).length);
      if (done) break;
    }
    assert.deepEqual(signed, [1, 2, 3, 4]);
    const bodies = r.bodies(payer);
    assert.deepEqual(
      bodies.map((x) => [x.from - T, x.items.length, x.held!.entries]),
      [
        [0, 10, 0],
        [1000, MAX_RECEIPT_ITEMS, 10],
        [1000, 904, 0],
        [2000, 0, 10 + many.length],
      ],
    );
    assertHeldFollows(bodies, expiry);
    const items = storeItems(bodies);
    assert.equal(items.length, new Set(items).size, 'no entry itemized twice');
    assert.equal(items.length, early.length + many.length);
  } finally {
    r.end();
  }
});

/** The schema of version 1, as nodes wrote it before the held counters. */
const SCHEMA_1 = `
  CREATE TABLE payers (
    payer BLOB PRIMARY KEY, first_at INTEGER NOT NULL,
    receipted_to INTEGER, next_seq INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE TABLE stored (
    payer BLOB NOT NULL, entry BLOB NOT NULL, bytes INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (payer, entry)
  ) WITHOUT ROWID;
  CREATE INDEX stored_at ON stored (payer, accepted_at, entry);
  CREATE TABLE served (
    payer BLOB NOT NULL, request BLOB NOT NULL, bytes INTEGER NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (payer, request)
  ) WITHOUT ROWID;
  CREATE INDEX served_at ON served (payer, at);
  CREATE TABLE jobs (
    payer BLOB NOT NULL, job TEXT NOT NULL, submitted_at INTEGER NOT NULL,
    receipt BLOB, fuel INTEGER, finished_at INTEGER, settled INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (payer, job)
  ) WITHOUT ROWID;
  CREATE TABLE receipts (
    payer BLOB NOT NULL, seq INTEGER NOT NULL, period_from INTEGER NOT NULL,
    period_to INTEGER NOT NULL, receipt TEXT NOT NULL,
    PRIMARY KEY (payer, seq)
  ) WITHOUT ROWID;
  PRAGMA user_version = 1;
`;

/** Writes a payer's v1 history: rows, v1 receipts of the items given, and its mark. */
function writeV1(
  db: Database.Database,
  key: SigningKeyPair,
  payer: Buffer,
  rows: readonly Put[],
  receipts: readonly { from: number; items: readonly Put[] }[],
  mark: number,
): void {
  db.prepare('INSERT INTO payers VALUES (?, ?, ?, ?)').run(payer, T, mark, receipts.length);
  for (const e of rows) {
    db.prepare('INSERT INTO stored VALUES (?, ?, ?, ?, ?)').run(
      payer,
      e.id,
      e.bytes,
      e.at,
      e.expiresAt,
    );
  }
  for (const [seq, r] of receipts.entries()) {
    const from = T + r.from;
    const items = r.items.map((e) => ({
      k: 'store' as const,
      entry: toHex(e.id),
      bytes: e.bytes,
      from: Math.max(from, e.at),
      to: e.expiresAt === 0 ? from + P : Math.min(from + P, e.expiresAt),
    }));
    const signed = signUsageReceipt(
      { v: 1, payer: toHex(payer), from, to: from + P, seq },
      items,
      key,
    );
    db.prepare('INSERT INTO receipts VALUES (?, ?, ?, ?, ?)').run(
      payer,
      seq,
      from,
      from + P,
      JSON.stringify(signed.receipt),
    );
  }
}

test('a version-1 billing.sqlite is upgraded: its itemized rows are counted, then held in v2', () => {
  const path = join(tempDir(), BILLING_DB_FILE);
  const key = generateSigningKeyPair();
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec(SCHEMA_1);
  // X: two periods receipted in v1, each listing every live entry; E4 came after the mark.
  const x = randomBytes(32);
  const E1 = entry(100, 100, 0);
  const E2 = entry(200, 200, 2500);
  const E3 = entry(300, 1100, 0);
  const E4 = entry(400, 2100, 0);
  writeV1(
    old,
    key,
    x,
    [E1, E2, E3, E4],
    [
      { from: 0, items: [E1, E2] },
      { from: 1000, items: [E1, E2, E3] },
    ],
    T + 2000,
  );
  // Y: period 1 left open by a split, its last receipt ending at G2; G3 is not itemized yet.
  const y = randomBytes(32);
  const F1 = entry(1000, 100, 0);
  const G = [1100, 1200, 1300].map((at) => entry(10, at, 0));
  const [G1, G2, G3] = G as [Put, Put, Put];
  writeV1(
    old,
    key,
    y,
    [F1, G1, G2, G3],
    [
      { from: 0, items: [F1] },
      { from: 1000, items: [F1, G1, G2] },
    ],
    T + 1000,
  );
  old.close();

  const r = rig(path, {}, key);
  try {
    const version = new Database(path, { readonly: true });
    assert.equal(version.pragma('user_version', { simple: true }), 2);
    const { kept } = heldCounters(version);
    assertHeldCounters(version, 'after the upgrade');
    version.close();
    assert.deepEqual(kept.get(toHex(x)), { entries: 3, bytes: 600 });
    assert.deepEqual(kept.get(toHex(y)), { entries: 3, bytes: 1020 });

    r.close(x, T + 3005);
    const xb = r.bodies(x);
    assert.equal(xb.length, 3);
    const third = xb[2]!;
    assert.equal(third.v, 2);
    assert.deepEqual(storeItems([third]), [toHex(E4.id)]);
    assert.deepEqual(third.held, {
      entries: 3,
      bytes: 600,
      byte_ms: String(100 * 1000 + 200 * 500 + 300 * 1000),
    });
    const xExpiry = new Map([E1, E2, E3, E4].map((e) => [toHex(e.id), e.expiresAt]));
    assert.deepEqual(third.held, expectedHeld(xb.slice(0, 2), xExpiry, third.from, third.to));

    // Y's open period goes on after G2, without held figures; the next period holds all four.
    r.close(y, T + 3005);
    const yb = r.bodies(y);
    assert.deepEqual(
      yb.slice(2).map((b) => [b.v, b.from - T, storeItems([b]), b.held]),
      [
        [2, 1000, [toHex(G3.id)], NO_HELD],
        [2, 2000, [], { entries: 4, bytes: 1030, byte_ms: String(1030 * 1000) }],
      ],
    );
  } finally {
    r.end();
  }
});

test('the storage held entries do not accrue after their expiry is summed exactly, past 2^64', () => {
  const r = rig();
  try {
    const payer = randomBytes(32);
    const from = T + 86_400_000;
    const to = from + 86_400_000;
    // Sizes near 2^53 and spans near the longest period: products and sums pass 64 bits.
    const rows = [
      { bytes: 2 ** 53 - 1, expiresAt: from + 1 },
      { bytes: 2 ** 52 + 12_345, expiresAt: from + 5_000_000 },
      { bytes: 2 ** 26 - 1, expiresAt: to - 1 },
      { bytes: 2 ** 26, expiresAt: from + 3 },
      { bytes: 7, expiresAt: to }, // expires at the end: accrues the whole period
      { bytes: 9, expiresAt: 0 },
    ];
    r.usage.addStored(
      payer,
      rows.map((x) => ({ id: randomBytes(32), ...x })),
      T,
    );
    // Accepted in the period: not held there, not counted.
    r.usage.addStored(payer, [{ id: randomBytes(32), bytes: 2 ** 40, expiresAt: to - 5 }], from);
    let want = 0n;
    for (const x of rows) {
      if (x.expiresAt !== 0 && x.expiresAt < to) want += BigInt(x.bytes) * BigInt(to - x.expiresAt);
    }
    assert.ok(want > 2n ** 64n);
    assert.equal(r.usage.heldShortfall(payer, from, to), want);
  } finally {
    r.end();
  }
});
