/**
 * docs/billing.md is enough for another implementation: a billing client in Python, written
 * from the document alone (test/independent/billing_client.py), checks the vectors and a real
 * node process. The TypeScript command line puts entries with a payer; the Python client reads
 * with its own payer headers, pages through the receipts, verifies and checks them, computes
 * held sets and recomputes an invoice, and must agree with the TypeScript client on the very
 * same receipts. Receipts damaged in transit, or inflated and signed again with another key,
 * are refused. It passes whether the node signs receipts v1 or v2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { generateIdentity, generateTableKey, identityText } from '../../src/keys/keys.js';
import { saveIdentity, saveTableKey } from '../../src/keys/key-file.js';
import { Ledger, type LedgerData } from '../../src/client/billing/ledger.js';
import { checkReceipts } from '../../src/client/billing/check.js';
import { fetchReceipts } from '../../src/client/billing/metered.js';
import { generateSigningKeyPair, sign } from '../../src/crypto/ed25519.js';
import {
  signUsageReceipt,
  usageMessage,
  type UsageItem,
} from '../../src/market/billing/receipt.js';
import { toHex } from '../../src/encoding/bytes.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const SCRIPT = join(repoRoot, 'test', 'independent', 'billing_client.py');
const VECTORS = join(repoRoot, 'docs', 'vectors', 'billing.json');
const PERIOD_MS = 1000;
// Storage priced high enough that its share of an amount is far above the 1e-9 tolerance.
const PRICES = { unit: 'sat', gb_month: 1e12, gb_out: 500, mfuel: 3 };

interface Difference {
  readonly reason: string;
  readonly text: string;
}
interface Totals {
  readonly stored_byte_ms: string;
  readonly bytes_out: number;
  readonly fuel: number;
}
interface PythonRun {
  readonly error?: string;
  readonly payer: string;
  readonly node_key: string;
  readonly reads: { request: string; status: number; bytes: number }[];
  readonly receipts: { received: number; verified: number; v1: number; v2: number; seqs: number[] };
  readonly totals: Totals;
  readonly held: { seq: number; node: HeldFigures; expected: HeldFigures }[];
  readonly invoice: {
    receipts: number;
    totals: Totals;
    amount: number | null;
    node_amount: number | null;
    from: number;
    to: number;
  };
  readonly differences: Difference[];
  readonly fetched?: Receipt[];
}
interface HeldFigures {
  readonly entries: number;
  readonly bytes: number;
  readonly byte_ms: string;
}
interface Receipt {
  readonly type: string;
  readonly v: number;
  readonly body: string;
  readonly sig: string;
}

/** Fails, naming what to install, when python3 or its cryptography package is missing. */
function requirePython(): void {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
  assert.ok(
    probe.error === undefined && probe.status === 0,
    'python3 with the cryptography package is needed for this test ' +
      `(Debian: apt-get install python3 python3-cryptography): ${probe.error?.message ?? probe.stderr}`,
  );
}

function python(
  args: string[],
  stdin: string,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.end(stdin);
  });
}

async function runPython(job: Record<string, unknown>): Promise<PythonRun> {
  const { code, out, err } = await python([], JSON.stringify(job));
  assert.equal(code, 0, `python client failed: ${out}${err}`);
  return JSON.parse(out) as PythonRun;
}

const reasons = (run: PythonRun): string[] => run.differences.map((d) => d.reason);

/** Replaces one digit of a receipt's body text: the same length, valid JSON, one byte off. */
function oneByteOff(receipt: Receipt): Receipt {
  const at = receipt.body.search(/"bytes":\d/) + '"bytes":'.length;
  assert.ok(at > 8, `a receipt with a bytes member: ${receipt.body}`);
  const digit = receipt.body[at]!;
  const other = String(digit === '9' ? 1 : Number(digit) + 1);
  return { ...receipt, body: receipt.body.slice(0, at) + other + receipt.body.slice(at + 1) };
}

/** The receipt with its first item's bytes raised and its totals to match, signed by `key`. */
function inflated(
  receipt: Receipt,
  key: ReturnType<typeof generateSigningKeyPair>,
  node: string,
): Receipt {
  const body = JSON.parse(receipt.body) as {
    node: string;
    stored_byte_ms: string;
    bytes_out: number;
    items: { k: string; bytes: number; from?: number; to?: number }[];
  };
  const item = body.items[0]!;
  item.bytes += 1000;
  if (item.k === 'store') {
    body.stored_byte_ms = String(
      BigInt(body.stored_byte_ms) + 1000n * BigInt(item.to! - item.from!),
    );
  } else body.bytes_out += 1000;
  body.node = node;
  const text = JSON.stringify(body);
  const sig = sign(usageMessage(text, receipt.v as 1 | 2), key);
  return { ...receipt, body: text, sig: toHex(sig) };
}

/** A proxy in front of the node that changes one digit of the first receipt of every page. */
async function startTamperingProxy(
  target: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          let body = Buffer.concat(chunks);
          const page = req.url?.startsWith('/billing/receipts') && answer.statusCode === 200;
          if (page) {
            const json = JSON.parse(body.toString('utf8')) as { receipts: Receipt[] };
            const first = json.receipts.findIndex((r) => /"bytes":\d/.test(r.body));
            if (first >= 0) json.receipts[first] = oneByteOff(json.receipts[first]!);
            body = Buffer.from(JSON.stringify(json));
          }
          const headers = { ...answer.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('the Python client recomputes the billing vectors and refuses every bad receipt', async () => {
  requirePython();
  const { code, out, err } = await python(['--vectors', VECTORS], '');
  assert.equal(code, 0, out + err);
  const result = JSON.parse(out) as {
    ok: boolean;
    failures: string[];
    verified: Record<string, number>;
    refused: { why: string; reason: string }[];
  };
  assert.deepEqual(result.failures, []);
  assert.equal(result.ok, true);
  assert.deepEqual(result.verified, { receipt: 1, receipt_v2: 2, receipt_v2_held_only: 2 });
  const vectors = JSON.parse(readFileSync(VECTORS, 'utf8')) as { refuse: { why: string }[] };
  assert.deepEqual(
    result.refused.map((r) => [r.why, r.reason]),
    vectors.refuse.map((r) => [r.why, 'receipt_invalid']),
  );
});

test('the Python client agrees with a real node and with the TypeScript client, and refuses tampered receipts', async () => {
  requirePython();
  const dir = tempDir();
  const config = join(dir, 'node.json');
  writeFileSync(
    config,
    JSON.stringify({
      min_pow_bits: 0,
      billing: {
        enabled: true,
        receipt_period_ms: PERIOD_MS,
        max_receipts_per_answer: 3,
        prices: PRICES,
      },
    }),
  );
  const node = await spawnNode(['--config', config]);
  try {
    const payer = generateIdentity();
    const payerFile = join(dir, 'payer.key');
    const ledgerFile = join(dir, 'payer.ledger');
    const tableFile = join(dir, 'table.key');
    const table = generateTableKey();
    await saveIdentity(payerFile, payer);
    await saveTableKey(tableFile, table);
    const me = identityText(generateIdentity());
    const puts: [string, string[]][] = [
      ['an entry kept for good', []],
      ['an entry that expires soon', ['--expires', '2s']],
      ['a longer entry, kept for good, so that sizes differ '.repeat(20), ['--no-pad']],
    ];
    for (const [text, extra] of puts) {
      const put = await runCli([
        'put',
        '--node',
        node.url,
        '--table',
        tableFile,
        '--to',
        me,
        '--payer',
        payerFile,
        '--ledger',
        ledgerFile,
        ...extra,
        text,
      ]);
      assert.equal(put.code, 0, put.stderr);
    }
    const payerHex = toHex(payer.signing.publicKey);
    const ledger = (await Ledger.open(ledgerFile, payerHex)).data;
    const entries = ledger.requests.flatMap((r) =>
      r.kind === 'put'
        ? r.entries
            .filter((e) => r.stored?.includes(e.id))
            .map((e) => ({
              id: e.id,
              bytes: e.bytes,
              expires_at: e.expires_at,
              sent_at: r.sent_at,
            }))
        : [],
    );
    assert.equal(entries.length, 3);
    assert.equal(entries.filter((e) => e.expires_at !== 0).length, 1);
    const tableHex = toHex(table.signing.publicKey);
    const job = {
      node: node.url,
      payer_seed: toHex(payer.signing.seed),
      entries,
      reads: [
        `table=${tableHex}&limit=10`,
        `table=${tableHex}&format=binary`,
        `table=${tableHex}&limit=1`,
      ],
      // The reads' period and the short entry's expiry are over before the receipts are read.
      wait_ms: 2500,
      invoice: { periods: 3, start: 'reads' },
      dump: true,
    };
    const honest = await runPython(job);
    assert.equal(honest.error, undefined);
    assert.equal(honest.payer, payerHex);
    assert.equal(honest.node_key, ledger.node_key);
    assert.equal(honest.reads.length, 3);
    assert.ok(
      honest.reads.every((r) => r.status === 200 && r.bytes > 0),
      JSON.stringify(honest.reads),
    );
    const fetched = honest.fetched!;
    // Paging: a page holds 3 receipts at most, and a call signs 2: several pages were read.
    assert.ok(fetched.length >= 4, `receipts: ${fetched.length}`);
    assert.equal(honest.receipts.verified, fetched.length);
    assert.equal(honest.receipts.v1 + honest.receipts.v2, fetched.length);
    assert.deepEqual(
      honest.receipts.seqs,
      fetched.map((_, i) => i),
    );
    assert.deepEqual(honest.differences, []);
    // Every read Python made is billed, at the bytes it received.
    assert.equal(
      honest.totals.bytes_out,
      honest.reads.reduce((n, r) => n + r.bytes, 0),
    );
    assert.ok(BigInt(honest.totals.stored_byte_ms) > 0n);
    // Held figures (v2 receipts): the node's are exactly what the payer computes.
    for (const h of honest.held) assert.deepEqual(h.node, h.expected, `seq ${h.seq}`);
    if (honest.receipts.v2 > 0) assert.ok(honest.held.some((h) => h.expected.entries > 0));

    // The TypeScript client, on the very same receipts: the same totals, and the only
    // differences it finds are the reads it did not make (Python's, not in its ledger).
    const ts = checkReceipts(fetched, ledger, { periodMs: PERIOD_MS });
    assert.deepEqual(ts.totals, honest.totals);
    assert.deepEqual(
      ts.differences.map((d) => d.reason),
      honest.reads.map(() => 'unknown_request'),
    );
    for (const r of honest.reads) {
      assert.ok(
        ts.differences.some((d) => d.message.includes(r.request)),
        r.request,
      );
    }
    // Signed receipts never change: a later fetch starts with the same ones.
    const later = await fetchReceipts(node.url, payer.signing);
    assert.deepEqual(later.slice(0, fetched.length), fetched);

    // The invoice the node answered: its amount is what Python recomputes from the receipts.
    const inv = honest.invoice;
    // Every receipt fetched whose period lies in the range, and only those.
    const inRange = fetched.filter((r) => {
      const b = JSON.parse(r.body) as { from: number; to: number };
      return b.from >= inv.from && b.to <= inv.to;
    });
    assert.ok(inRange.length >= 1);
    assert.equal(inv.receipts, inRange.length);
    assert.ok(inv.amount !== null && inv.node_amount !== null);
    // It starts with the period that bills the reads: served bytes and storage are priced.
    assert.ok(inv.totals.bytes_out > 0 && BigInt(inv.totals.stored_byte_ms) > 0n);
    assert.ok(inv.amount > 0);
    assert.ok(
      Math.abs(inv.amount - inv.node_amount) <= 1e-9 * Math.abs(inv.node_amount),
      `${inv.amount} vs ${inv.node_amount}`,
    );

    // A saved copy with one byte changed: refused, and it adds nothing to the totals.
    // A receipt after the first with items (a v2 receipt may hold storage without any).
    const target = fetched.findIndex((r) => {
      const b = JSON.parse(r.body) as { seq: number; items: unknown[] };
      return b.seq > 0 && b.items.length > 0;
    });
    assert.ok(target > 0);
    const damaged = fetched.map((r, i) => (i === target ? oneByteOff(r) : r));
    const saved = await runPython({
      ...job,
      reads: [],
      wait_ms: 0,
      invoice: null,
      dump: false,
      receipts: damaged,
      known_reads: readsOf(honest),
    });
    assert.equal(saved.receipts.verified, fetched.length - 1);
    assert.ok(reasons(saved).includes('receipt_invalid'), reasons(saved).join(','));
    // Its seq now counts as missing; and under v2, entries it alone itemized are not known to
    // be itemized, so the held figures of later periods bill more than the payer's held set.
    const consequences = ['receipt_invalid', 'seq_missing', 'held_mismatch'];
    assert.ok(
      reasons(saved).every((r) => consequences.includes(r)),
      reasons(saved).join(','),
    );
    const lost = JSON.parse(fetched[target]!.body) as Totals;
    assert.equal(
      BigInt(saved.totals.stored_byte_ms),
      BigInt(honest.totals.stored_byte_ms) - BigInt(lost.stored_byte_ms),
    );
    assert.equal(saved.totals.bytes_out, honest.totals.bytes_out - lost.bytes_out);

    // Inflated and signed again by another key: refused whether the body names the node's
    // key (the signature fails) or the other key (not the node's).
    const other = generateSigningKeyPair();
    const forged = inflated(fetched[target]!, other, honest.node_key);
    const impostor = inflated(fetched[target]!, other, toHex(other.publicKey));
    for (const [receipt, reason] of [
      [forged, 'receipt_invalid'],
      [impostor, 'wrong_node'],
    ] as const) {
      const run = await runPython({
        ...job,
        reads: [],
        wait_ms: 0,
        invoice: null,
        dump: false,
        receipts: fetched.map((r, i) => (i === target ? receipt : r)),
        known_reads: readsOf(honest),
      });
      assert.ok(reasons(run).includes(reason), `${reason}: ${reasons(run).join(',')}`);
      assert.equal(run.receipts.verified, fetched.length - 1);
      assert.equal(BigInt(run.totals.stored_byte_ms), BigInt(saved.totals.stored_byte_ms));
    }
    // The honest list with the same known reads has no difference: the refusals come from
    // the tampering alone.
    const again = await runPython({
      ...job,
      reads: [],
      wait_ms: 0,
      invoice: null,
      dump: false,
      receipts: fetched,
      known_reads: readsOf(honest),
    });
    assert.deepEqual(again.differences, []);

    // Damaged in transit, by a proxy between the Python client and the node.
    const proxy = await startTamperingProxy(node.url);
    try {
      const run = await runPython({
        ...job,
        node: proxy.url,
        reads: [],
        wait_ms: 0,
        invoice: null,
        known_reads: readsOf(honest),
      });
      assert.ok(reasons(run).includes('receipt_invalid'), reasons(run).join(','));
      assert.ok(run.receipts.verified < run.receipts.received);
    } finally {
      await proxy.close();
    }
  } finally {
    await node.stop();
  }
});

function readsOf(run: PythonRun): Record<string, number> {
  return Object.fromEntries(run.reads.map((r) => [r.request, r.bytes]));
}

test('the Python client computes the held sets of v2 receipts and flags held storage billed twice or above them', async () => {
  requirePython();
  const P = 1000;
  const T = 1_700_000_000_000;
  const node = generateSigningKeyPair();
  const payer = generateIdentity();
  const payerHex = toHex(payer.signing.publicKey);
  const id = (c: string) => c.repeat(64);
  const A = { id: id('a'), bytes: 1000, expires_at: 0 };
  const B = { id: id('b'), bytes: 500, expires_at: T + 2500 };
  const C = { id: id('c'), bytes: 300, expires_at: 0 };
  const read1 = id('1');
  const read2 = id('2');
  const ledger: LedgerData = {
    kind: 'p2pcloud-billing-ledger',
    v: 2,
    payer: payerHex,
    node_key: toHex(node.publicKey),
    requests: [
      { kind: 'put', request: id('d'), sent_at: T + 5, entries: [A, B], stored: [A.id, B.id] },
      { kind: 'put', request: id('e'), sent_at: T + 1100, entries: [C], stored: [C.id] },
      { kind: 'get', request: read1, sent_at: T + 4100, bytes: 700 },
      { kind: 'get', request: read2, sent_at: T + 4200, bytes: 900 },
    ],
  };
  const store = (e: typeof A, from: number, to: number): UsageItem => ({
    k: 'store',
    entry: e.id,
    bytes: e.bytes,
    from,
    to,
  });
  const held = (entries: number, bytes: number, byteMs: number) => ({
    entries,
    bytes,
    byte_ms: String(byteMs),
  });
  type Spec = [
    v: 1 | 2,
    seq: number,
    from: number,
    items: UsageItem[],
    h?: ReturnType<typeof held>,
  ];
  // Itemized once (v1 first, as a node upgraded in between), then held until expiry.
  const honest: Spec[] = [
    [1, 0, T, [store(A, T + 10, T + 1000), store(B, T + 10, T + 1000)]],
    [2, 1, T + 1000, [store(C, T + 1100, T + 2000)], held(2, 1500, 1500 * 1000)],
    [2, 2, T + 2000, [], held(3, 1800, 1000 * 1000 + 500 * 500 + 300 * 1000)],
    [2, 3, T + 3000, [], held(2, 1300, 1300 * 1000)],
    // A period split over two receipts: only the first carries the held figures.
    [2, 4, T + 4000, [{ k: 'serve', request: read1, bytes: 700 }], held(2, 1300, 1300 * 1000)],
    [2, 5, T + 4000, [{ k: 'serve', request: read2, bytes: 900 }], held(0, 0, 0)],
  ];
  const sign = (specs: Spec[]) =>
    specs.map(
      ([v, seq, from, items, h]) =>
        signUsageReceipt({ v, payer: payerHex, from, to: from + P, seq }, items, node, h).receipt,
    );
  const entries = [
    { ...A, sent_at: T + 5 },
    { ...B, sent_at: T + 5 },
    { ...C, sent_at: T + 1100 },
  ];
  const check = (specs: Spec[]) =>
    runPython({
      payer_seed: toHex(payer.signing.seed),
      node_key: toHex(node.publicKey),
      period_ms: P,
      now: T + 10_000,
      entries,
      known_reads: { [read1]: 700, [read2]: 900 },
      receipts: sign(specs),
    });

  const good = await check(honest);
  assert.deepEqual(good.differences, []);
  assert.deepEqual(
    good.held.map((h) => [h.seq, h.expected]),
    honest.filter((s) => s[0] === 2 && s[1] !== 5).map((s) => [s[1], s[4]]),
  );
  const ts = checkReceipts(sign(honest), ledger, { periodMs: P, now: T + 10_000 });
  assert.deepEqual(ts.totals, good.totals);
  assert.equal(
    good.totals.stored_byte_ms,
    String(1000 * 990 + 500 * 990 + 300 * 900 + 1_500_000 + 1_550_000 + 1_300_000 * 2),
  );

  const changed = (
    seq: number,
    spec: Partial<{ items: UsageItem[]; h: ReturnType<typeof held> }>,
  ) =>
    honest.map(
      (s): Spec => (s[1] === seq ? [s[0], s[1], s[2], spec.items ?? s[3], spec.h ?? s[4]] : s),
    );
  const cases: [string, Spec[], string][] = [
    [
      'held byte_ms one above the held set',
      changed(2, { h: held(3, 1800, 1_550_001) }),
      'held_mismatch',
    ],
    ['an expired entry still held', changed(3, { h: held(3, 1800, 1_800_000) }), 'held_mismatch'],
    [
      'held figures in the later receipt of a period',
      changed(5, { h: held(1, 300, 1000) }),
      'held_mismatch',
    ],
    [
      'an entry itemized again while held',
      changed(3, { items: [store(A, T + 3000, T + 4000)] }),
      'storage_overlap',
    ],
  ];
  for (const [why, specs, reason] of cases) {
    const run = await check(specs);
    assert.deepEqual(reasons(run), [reason], why);
    // The TypeScript client finds the same on the same receipts.
    const mine = checkReceipts(sign(specs), ledger, { periodMs: P, now: T + 10_000 });
    assert.deepEqual(
      mine.differences.map((d) => d.reason),
      [reason],
      `TypeScript, ${why}`,
    );
  }
});

/** A node that lies about its receipt pages, in one of the ways §6 says a client refuses. */
async function startLyingNode(
  scenario: 'gap' | 'next' | 'below' | 'stuck',
): Promise<{ url: string; pages: () => number; close(): Promise<void> }> {
  const key = generateSigningKeyPair();
  const node = toHex(key.publicKey);
  const T = 1_700_000_000_000;
  let pages = 0;
  const receipt = (payer: string, seq: number) =>
    signUsageReceipt(
      { v: 2, payer, from: T + seq * 1000, to: T + seq * 1000 + 1000, seq },
      [{ k: 'serve', request: toHex(Buffer.alloc(32, seq)), bytes: 10 }],
      key,
    ).receipt;
  const page = (payer: string, since: number) => {
    const seqs = (list: number[]) => list.map((seq) => receipt(payer, seq));
    if (scenario === 'gap') return { receipts: seqs([0, 1, 3]), next: 4, complete: true };
    // Pages that skip seqs: next is not one past the highest seq sent.
    if (scenario === 'next') {
      return { receipts: seqs([since, since + 1]), next: since + 5, complete: false };
    }
    // Each page starts one below the since asked.
    if (scenario === 'below') {
      return { receipts: seqs([Math.max(0, since - 1), since]), next: since + 1, complete: false };
    }
    return { receipts: [], next: since, complete: false };
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://node');
    const payer = String(req.headers['p2pcloud-payer'] ?? '').split('.')[1] ?? '';
    let answer: unknown = { v: 1, node, receipt_period_ms: 1000, prices: null };
    if (url.pathname === '/billing/receipts') {
      pages += 1;
      answer = { v: 1, node, payer, ...page(payer, Number(url.searchParams.get('since'))) };
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pages: () => pages,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('the Python client holds a node to the paging rules: a gap is seq_missing, a lying page node_lied', async () => {
  requirePython();
  const job = (url: string) =>
    JSON.stringify({
      node: url,
      payer_seed: toHex(generateIdentity().signing.seed),
      now: 1_800_000_000_000,
    });
  const gap = await startLyingNode('gap');
  try {
    const { code, out, err } = await python([], job(gap.url));
    assert.equal(code, 0, out + err);
    const run = JSON.parse(out) as PythonRun;
    assert.deepEqual(run.receipts.seqs, [0, 1, 3]);
    assert.ok(
      run.differences.some((d) => d.reason === 'seq_missing' && /\b2 to 2\b/.test(d.text)),
      JSON.stringify(run.differences),
    );
  } finally {
    await gap.close();
  }
  for (const scenario of ['next', 'below', 'stuck'] as const) {
    const node = await startLyingNode(scenario);
    try {
      const { code, out, err } = await python([], job(node.url));
      assert.equal(code, 1, `${scenario}: ${out}${err}`);
      assert.match((JSON.parse(out) as { error: string }).error, /node_lied/, scenario);
      // Refused at the page that lies, not after the page limit.
      assert.ok(node.pages() <= 2, `${scenario}: ${node.pages()} pages`);
    } finally {
      await node.close();
    }
  }
});
