/**
 * The client SDK against real nodes (in-process, real HTTP, real SQLite) and against a small
 * lying HTTP server: per-node put results, merged and de-duplicated reads, opening entries,
 * and refusing whatever a node returns that does not verify or was not asked for.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after } from 'node:test';
import { Client } from '../../src/client/client.js';
import { P2PError } from '../../src/errors.js';
import { decodeEntry } from '../../src/entry/format.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { toHex } from '../../src/encoding/bytes.js';
import {
  generateIdentity,
  generateTableKey,
  identityText,
  recipientText,
  tableText,
  type TableKey,
} from '../../src/keys/keys.js';
import type { RunningNode } from '../../src/node/server.js';
import { makeEntry } from '../helpers/entries.js';
import { startTestNode } from '../helpers/nodes.js';
import { deadUrl, putFrames, putResults, request, storedIds } from '../helpers/http.js';
import { bucketOf } from '../../src/reconcile/buckets.js';

const MINUTE = 60_000;

async function store(node: RunningNode, entries: readonly { bytes: Buffer }[]): Promise<void> {
  const response = await putFrames(
    node.url,
    entries.map((e) => e.bytes),
  );
  assert.equal(response.status, 200);
  assert.ok(putResults(response).every((r) => r.status === 'stored'));
}

interface Liar {
  readonly url: string;
  /** What the liar answers next; set by each test. */
  respond: (req: IncomingMessage, url: URL, res: ServerResponse) => void;
  /** Query strings of the /get requests it received. */
  readonly gets: URLSearchParams[];
}

/** A tiny HTTP server on 127.0.0.1 that answers whatever the test tells it to. */
async function startLiar(): Promise<Liar> {
  const liar: Liar = {
    url: '',
    respond: (_req, _url, res) => {
      res.writeHead(500).end();
    },
    gets: [],
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://liar');
    req.resume();
    req.on('end', () => {
      if (url.pathname === '/get') liar.gets.push(url.searchParams);
      if (url.pathname === '/health') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'ok', policy: { min_pow_bits: 0 } }));
        return;
      }
      liar.respond(req, url, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(liar, { url: `http://127.0.0.1:${port}` });
}

function sendFrames(res: ServerResponse, frames: readonly Uint8Array[], status = 200): void {
  res.writeHead(status, { 'content-type': ENTRIES_MEDIA_TYPE }).end(encodeFrames(frames));
}

function flip(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset] = copy[offset]! ^ 0x01;
  return copy;
}

// Nodes and the liar start at module level: the helpers register their clean-up with after(),
// which inside a before() hook would run as soon as that hook ends.
const [nodeA, nodeB] = await Promise.all([startTestNode(), startTestNode()]);
const liar = await startLiar();

describe('Client.put', () => {
  test('writes to every node and reports each node’s answer', async () => {
    const table = generateTableKey();
    const reader = generateIdentity();
    const client = new Client({ nodes: [nodeA.url, `${nodeB.url}/`], powThreads: 1 });
    assert.deepEqual(client.nodes, [nodeA.url, nodeB.url]);
    const report = await client.put({
      table,
      to: identityText(reader),
      data: 'to both',
      powBits: 2,
    });
    assert.deepEqual(
      report.nodes.map((n) => [n.node, n.status]),
      [
        [nodeA.url, 'stored'],
        [nodeB.url, 'stored'],
      ],
    );
    assert.equal(report.accepted, 2);
    assert.ok(report.powBits >= 2);
    const entry = decodeEntry(report.bytes);
    assert.ok(entry.table.equals(table.signing.publicKey));
    assert.ok(entry.recipient.equals(reader.box.publicKey));
    for (const node of [nodeA, nodeB]) {
      assert.equal((await storedIds(node.url, [report.id])).size, 1);
    }
    // The same bytes again: both nodes already have them.
    const [again] = await client.putEncoded([report.bytes]);
    assert.deepEqual(
      again!.nodes.map((n) => n.status),
      ['duplicate', 'duplicate'],
    );
    assert.equal(again!.accepted, 2);
  });

  test('recipient as p2prcpt1… text, hex or bytes', async () => {
    const reader = generateIdentity();
    const client = new Client({ nodes: [nodeA.url], powThreads: 1 });
    for (const to of [
      recipientText(reader.box.publicKey),
      toHex(reader.box.publicKey),
      reader.box.publicKey,
    ]) {
      const report = await client.put({ table: generateTableKey(), to, data: 'x', powBits: 0 });
      assert.ok(decodeEntry(report.bytes).recipient.equals(reader.box.publicKey));
      assert.equal(report.accepted, 1);
    }
    for (const to of [tableText(generateTableKey()), 'p2pid1nope', new Uint8Array(31)]) {
      await assert.rejects(
        client.put({ table: generateTableKey(), to, data: 'x', powBits: 0 }),
        (error: unknown) => error instanceof P2PError && error.code === 'bad_key',
      );
    }
  });

  test('an unreachable node, a refusing node and a broken node are reported, not fatal', async () => {
    const mirrored = generateTableKey();
    const picky = await startTestNode({ mirror: [tableText(mirrored)] });
    const dead = await deadUrl();
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/put') res.writeHead(200).end('this is not JSON');
      else res.writeHead(404).end();
    };
    const client = new Client({
      nodes: [nodeA.url, dead, picky.url, liar.url],
      powThreads: 1,
      timeoutMs: 20_000,
    });
    const report = await client.put({
      table: generateTableKey(),
      to: generateIdentity().box.publicKey,
      data: 'mixed',
      powBits: 0,
    });
    const byNode = new Map(report.nodes.map((n) => [n.node, n]));
    assert.equal(byNode.get(nodeA.url)!.status, 'stored');
    assert.equal(byNode.get(dead)!.status, 'error');
    assert.equal(byNode.get(dead)!.code, 'node_unreachable');
    assert.equal(byNode.get(picky.url)!.status, 'rejected');
    assert.equal(byNode.get(picky.url)!.code, 'table_not_accepted');
    assert.equal(byNode.get(liar.url)!.status, 'error');
    assert.equal(byNode.get(liar.url)!.code, 'node_error');
    assert.equal(report.accepted, 1);

    // A node answering with the wrong number of results is not believed either.
    liar.respond = (_req, _url, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ results: [{ status: 'stored' }, { status: 'stored' }] }));
    };
    const [only] = await new Client({ nodes: [liar.url] }).putEncoded([report.bytes]);
    assert.equal(only!.nodes[0]!.status, 'error');
    assert.equal(only!.accepted, 0);

    const none = await new Client({ nodes: [dead], timeoutMs: 20_000 }).putEncoded([report.bytes]);
    assert.equal(none[0]!.accepted, 0);
    assert.equal(none[0]!.nodes[0]!.code, 'node_unreachable');
  });

  test('putEncoded reports per entry, per node', async () => {
    const table = generateTableKey();
    const good = makeEntry({ table });
    const bad = flip(makeEntry({ table }).bytes, 150);
    const client = new Client({ nodes: [nodeA.url, nodeB.url] });
    const reports = await client.putEncoded([good.bytes, bad]);
    assert.deepEqual(
      reports.map((r) => [r.accepted, r.nodes.map((n) => [n.status, n.code])]),
      [
        [
          2,
          [
            ['stored', undefined],
            ['stored', undefined],
          ],
        ],
        [
          0,
          [
            ['rejected', 'bad_signature'],
            ['rejected', 'bad_signature'],
          ],
        ],
      ],
    );
  });
});

describe('Client.get and Client.read', () => {
  test('merges and de-duplicates entries across nodes, in order', async () => {
    const table = generateTableKey();
    const base = Date.now() - 30 * MINUTE;
    const entries = Array.from({ length: 8 }, (_, i) =>
      makeEntry({ table, createdAt: base + i * 1000, text: `merge ${i}` }),
    );
    // 0,1 only on A; 2,3 only on B; 4..7 on both.
    await store(nodeA, [...entries.slice(0, 2), ...entries.slice(4)]);
    await store(nodeB, entries.slice(2));
    const client = new Client({ nodes: [nodeA.url, nodeB.url] });
    const newest = await client.get({ tables: [table.signing.publicKey] });
    assert.deepEqual(
      newest.entries.map((e) => e.id),
      [...entries].reverse().map((e) => toHex(e.id)),
    );
    assert.deepEqual(
      newest.nodes.map((n) => [n.node, n.ok, n.invalid]),
      [
        [nodeA.url, true, 0],
        [nodeB.url, true, 0],
      ],
    );
    assert.ok(newest.nodes.every((n) => n.entries === 6));
    const oldest = await client.get({ tables: [tableText(table)], order: 'asc', limit: 5 });
    assert.deepEqual(
      oldest.entries.map((e) => e.id),
      entries.slice(0, 5).map((e) => toHex(e.id)),
    );
    for (const e of oldest.entries) {
      assert.ok(e.table.equals(table.signing.publicKey));
      assert.equal(e.bytes.length, e.entry.bytes.length);
    }
    const window = await client.get({
      tables: [table.signing.publicKey],
      since: base + 2000,
      until: new Date(base + 6000),
      order: 'asc',
    });
    assert.deepEqual(
      window.entries.map((e) => e.id),
      entries.slice(2, 6).map((e) => toHex(e.id)),
    );
    const byId = await client.get({ ids: [toHex(entries[3]!.id), toHex(entries[0]!.id)] });
    assert.deepEqual(
      byId.entries.map((e) => e.id).sort(),
      [entries[0]!.id, entries[3]!.id].map((id) => toHex(id)).sort(),
    );
    await assert.rejects(
      client.get({}),
      (error: unknown) => error instanceof P2PError && error.code === 'missing_filter',
    );
  });

  test('one dead node does not stop a read; its failure is reported', async () => {
    const table = generateTableKey();
    const entry = makeEntry({ table });
    await store(nodeA, [entry]);
    const dead = await deadUrl();
    const result = await new Client({ nodes: [dead, nodeA.url], timeoutMs: 20_000 }).get({
      tables: [table.signing.publicKey],
    });
    assert.deepEqual(
      result.entries.map((e) => e.id),
      [toHex(entry.id)],
    );
    assert.equal(result.nodes[0]!.ok, false);
    assert.equal(result.nodes[0]!.error?.code, 'node_unreachable');
    assert.equal(result.nodes[1]!.ok, true);
  });

  test('read() opens the entries sealed to the identity and skips the others', async () => {
    const table = generateTableKey();
    const me = generateIdentity();
    const someoneElse = generateIdentity();
    const base = Date.now() - 10 * MINUTE;
    const mine = [0, 1, 2].map((i) =>
      makeEntry({ table, recipient: me, createdAt: base + i * 1000, text: `for me ${i}` }),
    );
    const theirs = [0, 1].map((i) =>
      makeEntry({ table, recipient: someoneElse, createdAt: base + 500 + i * 1000, text: 'no' }),
    );
    await store(nodeA, [...mine, ...theirs]);
    await store(nodeB, mine.slice(1));
    const client = new Client({ nodes: [nodeA.url, nodeB.url] });
    const read = await client.read(me, { tables: [table.signing.publicKey], order: 'asc' });
    assert.deepEqual(
      read.entries.map((e) => e.text),
      ['for me 0', 'for me 1', 'for me 2'],
    );
    assert.ok(read.entries.every((e) => e.plaintext.equals(Buffer.from(e.text))));
    // Asking for every recipient: the others' entries come back but cannot be opened.
    const everything = await client.get({ tables: [table.signing.publicKey] });
    assert.equal(everything.entries.length, 5);
    const opened = await client.read(me, {
      tables: [table.signing.publicKey],
      recipients: [],
      order: 'asc',
    });
    assert.deepEqual(
      opened.entries.map((e) => e.text),
      ['for me 0', 'for me 1', 'for me 2'],
    );
    // A box key pair works as well as an identity.
    const theirsRead = await client.read(someoneElse.box, { tables: [table.signing.publicKey] });
    assert.deepEqual(
      theirsRead.entries.map((e) => e.text),
      ['no', 'no'],
    );
  });

  test('minPowBits: entries with less work are invalid for the client', async () => {
    const table = generateTableKey();
    const strong = [0, 1].map(() => makeEntry({ table, powBits: 8 }));
    const weak: ReturnType<typeof makeEntry>[] = [];
    for (let i = 0; i < 200 && weak.length < 3; i++) {
      const entry = makeEntry({ table });
      if (entryPowBits(decodeEntry(entry.bytes)) < 8) weak.push(entry);
    }
    assert.equal(weak.length, 3);
    await store(nodeA, [...strong, ...weak]);
    const strict = await new Client({ nodes: [nodeA.url], minPowBits: 8 }).get({
      tables: [table.signing.publicKey],
    });
    assert.deepEqual(strict.entries.map((e) => e.id).sort(), strong.map((e) => toHex(e.id)).sort());
    assert.equal(strict.nodes[0]!.invalid, 3);
    // Less work than this client wants is no lie: the node's own minimum may be lower.
    assert.equal(strict.nodes[0]!.ok, true);
    assert.ok(strict.entries.every((e) => e.powBits >= 8));
    const lax = await new Client({ nodes: [nodeA.url] }).get({ tables: [table.signing.publicKey] });
    assert.equal(lax.entries.length, 5);
    assert.equal(lax.nodes[0]!.invalid, 0);
  });

  test('requiredPowBits is the highest minimum among reachable nodes', async () => {
    const low = await startTestNode({ min_pow_bits: 3 });
    const high = await startTestNode({ min_pow_bits: 6 });
    const dead = await deadUrl();
    const client = new Client({
      nodes: [low.url, dead, high.url],
      powThreads: 1,
      timeoutMs: 20_000,
    });
    assert.equal(await client.requiredPowBits(), 6);
    const report = await client.put({
      table: generateTableKey(),
      to: generateIdentity().box.publicKey,
      data: 'enough work',
    });
    assert.ok(report.powBits >= 6, `only ${report.powBits} bits`);
    assert.equal(entryPowBits(decodeEntry(report.bytes)), report.powBits);
    const byNode = new Map(report.nodes.map((n) => [n.node, n.status]));
    assert.equal(byNode.get(low.url), 'stored');
    assert.equal(byNode.get(high.url), 'stored');
    assert.equal(byNode.get(dead), 'error');
    await assert.rejects(
      new Client({ nodes: [dead], timeoutMs: 20_000 }).requiredPowBits(),
      (error: unknown) => error instanceof P2PError && error.code === 'all_nodes_failed',
    );
  });
});

describe('a lying node is caught', () => {
  const table: TableKey = generateTableKey();
  const reader = generateIdentity();
  const base = Date.now() - 20 * MINUTE;
  const real = Array.from({ length: 4 }, (_, i) =>
    makeEntry({ table, recipient: reader, createdAt: base + i * 1000, text: `real ${i}` }),
  );
  const realIds = real.map((e) => toHex(e.id));

  /** Reads the table through the liar and a real node holding `real`. */
  async function readThroughLiar(frames: readonly Uint8Array[], status = 200) {
    liar.gets.length = 0;
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get') sendFrames(res, frames, status);
      else res.writeHead(404).end();
    };
    const client = new Client({ nodes: [liar.url, nodeB.url] });
    const result = await client.get({ tables: [table.signing.publicKey], order: 'asc', limit: 10 });
    assert.ok(liar.gets.length >= 1, 'the client never asked the liar');
    assert.equal(liar.gets[0]!.get('table'), toHex(table.signing.publicKey));
    return {
      result,
      liarReport: result.nodes.find((n) => n.node === liar.url)!,
      ids: result.entries.map((e) => e.id),
    };
  }

  before(async () => {
    await store(nodeB, real);
  });

  test('entries with a broken signature are counted invalid and never returned', async () => {
    const forged = makeEntry({ table, recipient: reader, createdAt: base + 1500, text: 'fake' });
    const broken = flip(forged.bytes, forged.bytes.length - 1);
    const { result, liarReport, ids } = await readThroughLiar([
      real[0]!.bytes,
      broken,
      real[2]!.bytes,
    ]);
    assert.deepEqual(ids, realIds);
    assert.ok(!ids.includes(toHex(forged.id)));
    assert.equal(liarReport.invalid, 1);
    assert.equal(liarReport.entries, 2);
    // A node verifies every entry before storing it: serving a broken one is a lie.
    assert.equal(liarReport.ok, false);
    assert.equal(liarReport.error?.code, 'node_lied');
    assert.ok(result.entries.every((e) => !e.bytes.equals(broken)));
  });

  test('a tampered payload (signature over other bytes) is invalid', async () => {
    const tampered = flip(real[1]!.bytes, 100);
    const { liarReport, ids } = await readThroughLiar([tampered]);
    assert.deepEqual(ids, realIds);
    assert.equal(liarReport.invalid, 1);
  });

  test('entries of another table than asked are invalid', async () => {
    const other = generateTableKey();
    const foreign = [0, 1].map((i) =>
      makeEntry({ table: other, recipient: reader, createdAt: base + i * 1000 + 100 }),
    );
    const { liarReport, ids } = await readThroughLiar(foreign.map((e) => e.bytes));
    assert.deepEqual(ids, realIds);
    assert.equal(liarReport.invalid, 2);
    assert.equal(liarReport.entries, 0);
    assert.equal(liarReport.error?.code, 'node_lied');
  });

  test('entries outside the asked time window or out of order are invalid', async () => {
    liar.gets.length = 0;
    const early = makeEntry({ table, recipient: reader, createdAt: base - 60_000 });
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get') sendFrames(res, [early.bytes, real[3]!.bytes, real[1]!.bytes]);
      else res.writeHead(404).end();
    };
    const client = new Client({ nodes: [liar.url] });
    const result = await client.get({
      tables: [table.signing.publicKey],
      since: base,
      order: 'asc',
    });
    // early: before since; real[1] after real[3] in an ascending answer: out of order.
    assert.deepEqual(
      result.entries.map((e) => e.id),
      [realIds[3]],
    );
    assert.equal(result.nodes[0]!.invalid, 2);
  });

  /**
   * Reads through the liar alone, which answers `/get` with `frames` (and `/index` with a bucket
   * count of `buckets`); returns the ids handed out and the liar's report.
   */
  async function liarAlone(
    frames: readonly Uint8Array[],
    filter: Parameters<Client['get']>[0],
    buckets = 16,
  ) {
    liar.gets.length = 0;
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get') sendFrames(res, frames);
      else if (url.pathname === '/index')
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ version: 1, buckets, count: frames.length, root: '00'.repeat(32) }),
          );
      else res.writeHead(404).end();
    };
    const result = await new Client({ nodes: [liar.url] }).get(filter);
    return {
      ids: result.entries.map((e) => e.id),
      report: result.nodes[0]!,
      query: liar.gets[0]!,
      asked: liar.gets.length,
    };
  }

  /** The report of a node that slipped `lies` entries in. */
  function assertLied(
    report: { ok: boolean; invalid: number; error?: { code: string; message: string } },
    lies: number,
  ) {
    assert.equal(report.invalid, lies);
    assert.equal(report.ok, false);
    assert.equal(report.error?.code, 'node_lied');
    assert.match(report.error!.message, /did not match the query/);
  }

  test('entries sealed to another recipient than asked are refused and the node reported', async () => {
    const other = generateIdentity();
    const forOther = makeEntry({ table, recipient: other, createdAt: base + 2500 });
    // read() asks for the reader's own entries: one sealed to someone else is a lie.
    liar.gets.length = 0;
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get')
        sendFrames(res, [real[0]!.bytes, forOther.bytes, real[3]!.bytes]);
      else res.writeHead(404).end();
    };
    const read = await new Client({ nodes: [liar.url] }).read(reader, {
      tables: [table.signing.publicKey],
      order: 'asc',
    });
    assert.equal(liar.gets[0]!.get('recipient'), toHex(reader.box.publicKey));
    assert.deepEqual(
      read.entries.map((e) => e.text),
      ['real 0', 'real 3'],
    );
    assertLied(read.nodes[0]!, 1);
    // get() with a recipient filter: the same.
    const { ids, report, query } = await liarAlone([forOther.bytes, real[1]!.bytes], {
      recipients: [recipientText(reader.box.publicKey)],
      order: 'asc',
    });
    assert.equal(query.get('recipient'), toHex(reader.box.publicKey));
    assert.deepEqual(ids, [realIds[1]]);
    assertLied(report, 1);
    // The entry for the other recipient is fine when asked for it.
    const fine = await liarAlone([forOther.bytes], { recipients: [other.box.publicKey] });
    assert.deepEqual(fine.ids, [toHex(forOther.id)]);
    assert.equal(fine.report.ok, true);
    assert.equal(fine.report.invalid, 0);
  });

  test('an ids answer may hold only the ids asked for', async () => {
    const { ids, report, query } = await liarAlone(
      [real[0]!.bytes, real[1]!.bytes, real[2]!.bytes],
      { ids: [realIds[0]!, realIds[2]!.toUpperCase()], order: 'asc' },
    );
    assert.deepEqual(query.getAll('id'), [realIds[0], realIds[2]]);
    assert.deepEqual(ids, [realIds[0], realIds[2]]);
    assertLied(report, 1);
    // ids combined with a table: an asked-for id of another table is still refused.
    const foreign = makeEntry({ table: generateTableKey(), recipient: reader, createdAt: base });
    const mixed = await liarAlone([foreign.bytes, real[1]!.bytes], {
      ids: [toHex(foreign.id), realIds[1]!],
      tables: [table.signing.publicKey],
      order: 'asc',
    });
    assert.deepEqual(mixed.ids, [realIds[1]]);
    assertLied(mixed.report, 1);
  });

  test('created_at must be before until and at or after since', async () => {
    const until = base + 3000; // real[3] is created exactly at `until`
    const late = makeEntry({ table, recipient: reader, createdAt: until + 1 });
    const { ids, report, query } = await liarAlone(
      [late.bytes, real[3]!.bytes, real[2]!.bytes, real[1]!.bytes],
      { tables: [table.signing.publicKey], until, order: 'desc' },
    );
    assert.equal(query.get('until'), String(until));
    assert.deepEqual(ids, [realIds[2], realIds[1]]);
    assertLied(report, 2);
    // One millisecond before until is inside the window.
    const edge = makeEntry({ table, recipient: reader, createdAt: until - 1 });
    const inside = await liarAlone([edge.bytes], { tables: [table.signing.publicKey], until });
    assert.deepEqual(inside.ids, [toHex(edge.id)]);
    assert.equal(inside.report.ok, true);
    // since is inclusive: an entry exactly at since is fine, one a millisecond earlier is not.
    const early = makeEntry({ table, recipient: reader, createdAt: base + 999 });
    const window = await liarAlone([early.bytes, real[1]!.bytes, real[2]!.bytes], {
      since: base + 1000,
      order: 'asc',
    });
    assert.equal(window.query.get('since'), String(base + 1000));
    assert.deepEqual(window.ids, [realIds[1], realIds[2]]);
    assertLied(window.report, 1);
  });

  test('a bucket answer may hold only entries of that bucket', async () => {
    const BUCKETS = 16;
    const byBucket = new Map<number, ReturnType<typeof makeEntry>[]>();
    for (let i = 0; i < 400 && ((byBucket.get(3)?.length ?? 0) < 2 || byBucket.size < 2); i++) {
      // All at one time, so that only the bucket can set them apart (not the order check).
      const entry = makeEntry({ table, recipient: reader, createdAt: base + 5 });
      const b = bucketOf(entry.id, BUCKETS);
      byBucket.set(b, [...(byBucket.get(b) ?? []), entry]);
    }
    const inside = byBucket.get(3)!;
    assert.equal(inside.length, 2);
    const outside = [...byBucket.entries()].find(([b]) => b !== 3)![1][0]!;
    const { ids, report, query } = await liarAlone(
      [inside[0]!.bytes, outside.bytes, inside[1]!.bytes],
      { bucket: 3, order: 'asc' },
      BUCKETS,
    );
    assert.equal(query.get('bucket'), '3');
    assert.deepEqual(
      ids,
      inside.map((e) => toHex(e.id)),
    );
    assertLied(report, 1);
    // The bucket is judged by the node's own bucket count: with 1 bucket everything is in 0.
    const one = await liarAlone([outside.bytes], { bucket: 0 }, 1);
    assert.deepEqual(one.ids, [toHex(outside.id)]);
    assert.equal(one.report.ok, true);
    // A node that gives no bucket count cannot have its bucket answers checked.
    const none = await liarAlone([inside[0]!.bytes], { bucket: 3 }, 0);
    assert.deepEqual(none.ids, []);
    assert.equal(none.asked, 0);
    assert.equal(none.report.error?.code, 'node_lied');
    assert.match(none.report.error!.message, /bucket count/);
  });

  test('a bucket query against a real node returns exactly that bucket', async () => {
    const response = await request(nodeB.url, '/index?summary=1');
    const buckets = (response.json as { buckets: number }).buckets;
    const wanted = bucketOf(real[2]!.id, buckets);
    const result = await new Client({ nodes: [nodeB.url] }).get({
      bucket: wanted,
      tables: [table.signing.publicKey],
    });
    assert.ok(result.entries.some((e) => e.id === realIds[2]));
    assert.ok(result.entries.every((e) => bucketOf(Buffer.from(e.id, 'hex'), buckets) === wanted));
    assert.equal(result.nodes[0]!.ok, true);
    assert.equal(result.nodes[0]!.invalid, 0);
  });

  test('garbage frames: a broken stream is a node_lied error, garbage entries are invalid', async () => {
    const truncated = encodeFrames([real[0]!.bytes]).subarray(0, 50);
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get') {
        res.writeHead(200, { 'content-type': ENTRIES_MEDIA_TYPE }).end(truncated);
      } else res.writeHead(404).end();
    };
    let result = await new Client({ nodes: [liar.url, nodeB.url] }).get({
      tables: [table.signing.publicKey],
      order: 'asc',
    });
    const brokenReport = result.nodes.find((n) => n.node === liar.url)!;
    assert.equal(brokenReport.ok, false);
    assert.equal(brokenReport.error?.code, 'node_lied');
    assert.equal(brokenReport.entries, 0);
    assert.deepEqual(
      result.entries.map((e) => e.id),
      realIds,
    );

    const { liarReport, ids } = await readThroughLiar([
      Buffer.from('garbage that frames fine'),
      Buffer.alloc(0),
      Buffer.alloc(300, 1),
    ]);
    assert.deepEqual(ids, realIds);
    assert.equal(liarReport.invalid, 3);
    assert.equal(liarReport.entries, 0);

    // Not frames at all, from the only node: nothing comes back, the error is reported.
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get') res.writeHead(200).end('\xff\xff\xff\xff<html>');
      else res.writeHead(404).end();
    };
    result = await new Client({ nodes: [liar.url] }).get({ tables: [table.signing.publicKey] });
    assert.deepEqual(result.entries, []);
    assert.equal(result.nodes[0]!.error?.code, 'node_lied');
  });

  test('more entries than asked for is a node_lied error and none of them is used', async () => {
    liar.gets.length = 0;
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get')
        sendFrames(
          res,
          real.map((e) => e.bytes),
        );
      else res.writeHead(404).end();
    };
    const result = await new Client({ nodes: [liar.url] }).get({
      tables: [table.signing.publicKey],
      order: 'asc',
      limit: 2,
    });
    assert.equal(liar.gets[0]!.get('limit'), '2');
    assert.deepEqual(result.entries, []);
    assert.equal(result.nodes[0]!.ok, false);
    assert.equal(result.nodes[0]!.error?.code, 'node_lied');
  });

  test('a node that sends only invalid entries with a next cursor forever is not paged forever', async () => {
    const junk = flip(real[0]!.bytes, 120);
    let requests = 0;
    liar.respond = (_req, url, res) => {
      if (url.pathname !== '/get') {
        res.writeHead(404).end();
        return;
      }
      requests += 1;
      // A safety stop for the test itself: give up the lie after 100 pages.
      const headers: Record<string, string> = { 'content-type': ENTRIES_MEDIA_TYPE };
      if (requests < 100) headers['p2pcloud-next-cursor'] = `page${requests}`;
      res.writeHead(200, headers).end(encodeFrames([junk, junk]));
    };
    const result = await new Client({ nodes: [liar.url, nodeB.url] }).get({
      tables: [table.signing.publicKey],
      order: 'asc',
      limit: 10,
    });
    assert.deepEqual(
      result.entries.map((e) => e.id),
      realIds,
    );
    assert.ok(requests <= 10, `the client asked the liar ${requests} times`);
    const report = result.nodes.find((n) => n.node === liar.url)!;
    assert.equal(report.entries, 0);
    assert.ok(report.invalid >= 2);
  });

  test('an error status from the node is a node_error, with the node’s own code kept', async () => {
    liar.respond = (_req, url, res) => {
      if (url.pathname === '/get') {
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'unavailable', message: 'busy' } }));
      } else res.writeHead(404).end();
    };
    const result = await new Client({ nodes: [liar.url, nodeB.url] }).get({
      tables: [table.signing.publicKey],
      order: 'asc',
    });
    const report = result.nodes.find((n) => n.node === liar.url)!;
    assert.equal(report.ok, false);
    assert.equal(report.error?.code, 'node_error');
    assert.match(report.error!.message, /busy/);
    assert.deepEqual(
      result.entries.map((e) => e.id),
      realIds,
    );
  });

  test('a node that never answers is cut off by the timeout', async () => {
    liar.respond = () => undefined; // hold the request open
    const started = Date.now();
    const result = await new Client({ nodes: [liar.url], timeoutMs: 1_000 }).get({
      tables: [table.signing.publicKey],
      order: 'asc',
    });
    assert.deepEqual(result.entries, []);
    assert.equal(result.nodes[0]!.ok, false);
    assert.equal(result.nodes[0]!.error?.code, 'node_unreachable');
    assert.match(result.nodes[0]!.error!.message, /timed out/);
    assert.ok(Date.now() - started >= 900);
  });
});
