/**
 * What a stranger's sync request may cost a node: a real node process holding ten thousand
 * entries gets cheap hostile requests (scopes naming tables it does not hold, thousands of
 * overlapping ranges, a new 10,000-table scope per request) while /health is probed in a tight
 * loop. The node must keep answering within a bound, spend CPU in proportion to the request,
 * keep its memory bounded, and still answer honest requests correctly.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { toHex } from '../../src/encoding/bytes.js';
import { OFFSET, entryId } from '../../src/entry/format.js';
import { decodeFrames } from '../../src/entry/framing.js';
import { SetSummary } from '../../src/reconcile/summary.js';
import {
  SYNC_MEDIA_TYPE,
  decodeSyncMessage,
  encodeSyncMessage,
  shortIdKey,
  shortIdOf,
} from '../../src/sync/wire.js';
import { request, type TestResponse } from '../helpers/http.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { BASE_ARGS, errorLines, makeEntries, putAll } from '../helpers/sync.js';

const ENTRIES = 10_000;
const FRAME_LIMITS = { maxFrameBytes: 1024 * 1024, maxFrames: 100_000 };
const BUCKETS = 5000;

let node: NodeProcess;
let held: ReturnType<typeof makeEntries>;
let single: ReturnType<typeof makeEntries>;

/** The table key (hex) of an entry. */
function tableOf(bytes: Buffer): string {
  return toHex(bytes.subarray(OFFSET.table, OFFSET.table + 32));
}

function pid(): number {
  return node.child.pid!;
}

/** CPU time (user + system) the node process has used so far, in ms. */
function cpuMs(): number {
  const fields = readFileSync(`/proc/${pid()}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the line, counted in clock ticks (100 a second).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMiB(): number {
  const line = readFileSync(`/proc/${pid()}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

function sync(
  path: string,
  header: Record<string, unknown>,
  payload?: Buffer,
): Promise<TestResponse> {
  return request(node.url, path, {
    method: 'POST',
    headers: { 'content-type': SYNC_MEDIA_TYPE },
    body: encodeSyncMessage({ v: 1, ...header }, payload),
    timeoutMs: 30_000,
  });
}

/**
 * Runs `work` while GET /health is asked again and again; returns its result and the slowest
 * /health answer seen meanwhile (ms).
 */
async function probed<T>(work: () => Promise<T>): Promise<{ result: T; slowest: number }> {
  let done = false;
  let slowest = 0;
  const probe = (async () => {
    for (let i = 0; i < 100_000 && !done; i++) {
      const started = performance.now();
      const response = await request(node.url, '/health', { timeoutMs: 60_000 });
      assert.equal(response.status, 200);
      slowest = Math.max(slowest, performance.now() - started);
    }
  })();
  try {
    const result = await work();
    return { result, slowest };
  } finally {
    done = true;
    await probe;
  }
}

function absentTables(n: number): string[] {
  return Array.from({ length: n }, () => toHex(randomBytes(32)));
}

const cases: [string, (t: TestContext) => Promise<void>][] = [];

/** A sync request sent from another loopback address (another "peer" to the node). */
function syncFrom(
  localAddress: string,
  path: string,
  header: Record<string, unknown>,
  payload?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  const body = encodeSyncMessage({ v: 1, ...header }, payload);
  const url = new URL(node.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: false,
        host: url.hostname,
        port: url.port,
        localAddress,
        method: 'POST',
        path,
        headers: { 'content-type': SYNC_MEDIA_TYPE, 'content-length': String(body.length) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A generous bound on a /health answer on a shared two-core machine. */
const HEALTH_BOUND_MS = 400;

cases.push([
  '/sync/ids with thousands of overlapping full ranges costs the node next to nothing',
  async (t: TestContext) => {
    const ranges = Array.from({ length: 7000 }, () => [0, BUCKETS]);
    const body = encodeSyncMessage({ v: 1, scope: absentTables(1), ranges });
    assert.ok(body.length <= 64 * 1024, `the request is ${body.length} bytes`);
    const cpuBefore = cpuMs();
    const { result, slowest } = await probed(() =>
      request(node.url, '/sync/ids', {
        method: 'POST',
        headers: { 'content-type': SYNC_MEDIA_TYPE },
        body,
        timeoutMs: 20_000,
      }),
    );
    const cpu = cpuMs() - cpuBefore;
    t.diagnostic(
      `${body.length} bytes; slowest /health ${Math.round(slowest)} ms; node CPU ${cpu} ms`,
    );
    assert.equal(result.status, 400, String(result.body));
    assert.equal((result.json as { error: { code: string } }).error.code, 'bad_sync_request');
    assert.ok(slowest < HEALTH_BOUND_MS, `/health took ${Math.round(slowest)} ms`);
    // The probe loop itself costs the node some CPU; the request must not add seconds.
    assert.ok(cpu < 1500, `the node used ${cpu} ms of CPU`);
  },
]);

cases.push([
  '/sync/ids over every bucket with a scope of absent tables and one small held table',
  async (t: TestContext) => {
    // One range per bucket (sorted, disjoint): the largest legal request, about 60 KB.
    const ranges = Array.from({ length: BUCKETS }, (_, b) => [b, b + 1]);
    const scope = [...absentTables(20), tableOf(single.bytes[0]!)];
    const cpuBefore = cpuMs();
    const { result, slowest } = await probed(() => sync('/sync/ids', { scope, ranges }));
    t.diagnostic(`slowest /health ${Math.round(slowest)} ms; node CPU ${cpuMs() - cpuBefore} ms`);
    assert.equal(result.status, 200, String(result.body));
    const { header, payload } = decodeSyncMessage(result.body);
    const counts = header.counts as number[];
    assert.equal(counts.length, BUCKETS);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      1,
    );
    const [hi, lo] = shortIdOf(entryId(single.bytes[0]!));
    assert.equal(shortIdKey(payload.readUInt32BE(0), payload.readUInt32BE(4)), shortIdKey(hi, lo));
    assert.ok(slowest < HEALTH_BOUND_MS, `/health took ${Math.round(slowest)} ms`);

    // The same ranges with scope all list every entry, in order.
    const all = await sync('/sync/ids', { scope: 'all', ranges: [[0, BUCKETS]] });
    assert.equal(all.status, 200);
    const listed = decodeSyncMessage(all.body);
    assert.deepEqual(listed.header.counts, [ENTRIES + 1]);
    assert.equal(listed.payload.length, (ENTRIES + 1) * 8);
    for (let i = 8; i < listed.payload.length; i += 8) {
      assert.ok(
        Buffer.compare(listed.payload.subarray(i - 8, i), listed.payload.subarray(i, i + 8)) < 0,
      );
    }
  },
]);

cases.push([
  '/sync/fetch by bucket range with an absent-table scope costs no scan',
  async (t: TestContext) => {
    const rounds = 150;
    const cpuBefore = cpuMs();
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      const response = await sync('/sync/fetch', {
        scope: absentTables(1),
        mode: 'buckets',
        range: [0, BUCKETS],
      });
      assert.equal(response.status, 200);
      assert.equal(decodeFrames(response.body, FRAME_LIMITS).length, 0);
    }
    const cpu = cpuMs() - cpuBefore;
    const perRequest = cpu / rounds;
    t.diagnostic(`${perRequest.toFixed(1)} ms of node CPU per request`);
    // A full scan of 10,000 entries costs tens of ms; an index lookup and an HTTP answer, ~1 ms.
    assert.ok(
      perRequest < 10,
      `${perRequest.toFixed(1)} ms of CPU per request (${Math.round(performance.now() - started)} ms in all)`,
    );

    // An honest fetch of the held table still streams all of it, page by page.
    const scope = [tableOf(held.bytes[0]!)];
    const seen = new Set<string>();
    let after: string | undefined;
    for (let page = 0; page < 100; page++) {
      const response = await sync('/sync/fetch', {
        scope,
        mode: 'buckets',
        range: [0, BUCKETS],
        max_bytes: 64 * 1024,
        ...(after ? { after } : {}),
      });
      assert.equal(response.status, 200);
      for (const bytes of decodeFrames(response.body, FRAME_LIMITS))
        seen.add(toHex(entryId(bytes)));
      after = response.headers['p2pcloud-next'] as string | undefined;
      if (!after) break;
    }
    assert.equal(after, undefined, 'the range was finished');
    assert.equal(seen.size, ENTRIES);
    assert.ok(held.ids.every((id) => seen.has(id)));
  },
]);

cases.push([
  'new 10,000-table scopes on /sync/reconcile leave memory bounded',
  async (t: TestContext) => {
    const fingerprints = Buffer.alloc(BUCKETS);
    const reconcile = (scope: string[]): Promise<TestResponse> =>
      sync(
        '/sync/reconcile',
        { scope, salt: 1, count: 0, capacity: 256, buckets: BUCKETS },
        fingerprints,
      );
    // Warm up allocators and caches before the first measurement.
    for (let i = 0; i < 3; i++) assert.equal((await reconcile(absentTables(10_000))).status, 200);
    const before = rssMiB();
    const scopes = 80;
    let slowest = 0;
    for (let i = 0; i < scopes; i++) {
      const started = performance.now();
      const response = await reconcile(absentTables(10_000));
      slowest = Math.max(slowest, performance.now() - started);
      assert.ok(response.status === 200 || response.status === 429, String(response.body));
    }
    const grown = rssMiB() - before;
    t.diagnostic(
      `RSS ${before.toFixed(0)} MiB -> ${(before + grown).toFixed(0)} MiB; slowest ${Math.round(slowest)} ms`,
    );
    // Unbounded, every scope leaves megabytes behind (hundreds of MiB after 80 of them).
    assert.ok(grown < 80, `RSS grew by ${grown.toFixed(0)} MiB after ${scopes} scopes`);

    // A scope of held tables still gets a correct answer: buckets mode against an empty caller
    // lists exactly the buckets holding its entries.
    const honest = await sync(
      '/sync/reconcile',
      {
        scope: [tableOf(single.bytes[0]!), ...absentTables(100)],
        salt: 7,
        count: 0,
        capacity: 256,
        buckets: BUCKETS,
        force: 'buckets',
      },
      Buffer.alloc(BUCKETS),
    );
    assert.equal(honest.status, 200, String(honest.body));
    assert.equal(decodeSyncMessage(honest.body).header.count, 1);
  },
]);

cases.push([
  "a stranger's reconciles do not evict an honest peer's sketch snapshot",
  async () => {
    // Fingerprints of the node's own set: the difference is empty and the answer a sketch.
    const ours = new SetSummary(BUCKETS, 256);
    for (const bytes of [...held.bytes, ...single.bytes]) {
      const [hi, lo] = shortIdOf(entryId(bytes));
      ours.toggle(hi, lo, 1);
    }
    const header = { scope: 'all', salt: 99, count: ours.size, capacity: 256, buckets: BUCKETS };
    const payload = Buffer.from(ours.fingerprints(99));
    const honest = await syncFrom('127.0.0.2', '/sync/reconcile', header, payload);
    assert.equal(honest.status, 200, honest.body.toString());
    const answer = decodeSyncMessage(honest.body).header;
    assert.equal(answer.mode, 'sketch');
    for (let i = 0; i < 40; i++) {
      const stranger = await syncFrom('127.0.0.3', '/sync/reconcile', header, payload);
      assert.equal(stranger.status, 200);
    }
    const more = await syncFrom('127.0.0.2', '/sync/symbols', {
      session: answer.session,
      from: answer.symbols,
      to: (answer.symbols as number) + 10,
    });
    assert.equal(more.status, 200, more.body.toString());
    assert.equal(decodeSyncMessage(more.body).header.symbols, 10);
  },
]);

cases.push([
  '/sync/fetch pages hold at most 8 MiB, whatever max_bytes asks',
  async () => {
    // 150 entries of about 60 KiB (9 MB) in a table of their own.
    const large = makeEntries(150, { label: 'large', size: 60_000 });
    await putAll(node.url, large.bytes, 20);
    const scope = [tableOf(large.bytes[0]!)];
    const seen = new Set<string>();
    let after: string | undefined;
    let pages = 0;
    for (; pages < 10; pages++) {
      const response = await sync('/sync/fetch', {
        scope,
        mode: 'buckets',
        range: [0, BUCKETS],
        max_bytes: 32 * 1024 * 1024,
        ...(after ? { after } : {}),
      });
      assert.equal(response.status, 200);
      const entries = decodeFrames(response.body, FRAME_LIMITS);
      const bytes = entries.reduce((sum, e) => sum + e.length, 0);
      // A page ends after the entry that reaches the limit.
      assert.ok(bytes < 8 * 1024 * 1024 + 64 * 1024, `a page of ${bytes} bytes`);
      for (const entry of entries) seen.add(toHex(entryId(entry)));
      after = response.headers['p2pcloud-next'] as string | undefined;
      if (!after) break;
    }
    assert.equal(pages, 1, 'two pages: the first cut at 8 MiB');
    assert.deepEqual([...seen].sort(), [...large.ids].sort());
  },
]);

test("a stranger's sync requests cost the node in proportion to their size", async (t: TestContext) => {
  node = await spawnNode(BASE_ARGS);
  held = makeEntries(ENTRIES, { label: 'bulk' });
  single = makeEntries(1, { label: 'single' });
  await putAll(node.url, held.bytes);
  await putAll(node.url, single.bytes);
  try {
    for (const [name, run] of cases) await t.test(name, run);
    assert.deepEqual(errorLines(node.stderr()), [], 'the node logged no error');
  } finally {
    await node.stop();
  }
});
