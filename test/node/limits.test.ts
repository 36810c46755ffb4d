/**
 * Limits of a node process beyond requests per address: request body bytes per address and
 * window, and entries and bytes per table and window at /put. Past them: 429 with Retry-After,
 * while other senders (another loopback address, 127.0.0.2) and other tables are served as
 * usual; loopback is exempt when the operator says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { errorOf, putFrames, putResults, request, type TestResponse } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { scrape } from '../helpers/prometheus.js';
import { BASE_ARGS, configFile, makeEntries } from '../helpers/sync.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { WindowCounters } from '../../src/http/window-counters.js';

function nodeWith(config: Record<string, unknown>) {
  return spawnNode([...BASE_ARGS, '--config', configFile(config)]);
}

function putFrom(url: string, localAddress: string, entries: readonly Buffer[]) {
  return request(url, '/put', {
    method: 'POST',
    body: encodeFrames(entries),
    headers: { 'content-type': ENTRIES_MEDIA_TYPE },
    localAddress,
  });
}

/** Sends `head` on a fresh connection and returns what the node answers before closing. */
function rawRequest(url: string, head: string): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname, () => socket.write(head));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
      // One answer is enough: the node may keep the connection open for the body.
      if (/\r\n\r\n[\s\S]*\}$/.test(answer)) socket.destroy();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
  });
}

function assertLimited(response: TestResponse, code: string, windowSeconds: number): void {
  assert.equal(response.status, 429, response.body.toString().slice(0, 300));
  assert.equal(errorOf(response).code, code);
  const retry = Number(response.headers['retry-after']);
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= windowSeconds,
    `Retry-After ${retry}`,
  );
}

/** POST /put with a chunked body (no Content-Length) from `localAddress`. */
function putChunked(url: string, localAddress: string, chunks: readonly Buffer[]) {
  return sendChunked(url, localAddress, chunks, 'POST', '/put', ENTRIES_MEDIA_TYPE);
}

/** A request with a chunked body (no Content-Length) from `localAddress`. */
function sendChunked(
  url: string,
  localAddress: string,
  chunks: readonly Buffer[],
  method: string,
  path: string,
  contentType: string,
) {
  const target = new URL(url);
  return new Promise<{ status: number; body: string; retryAfter: string | undefined }>(
    (resolve, reject) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method,
          path,
          localAddress,
          agent: false,
          headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body,
              retryAfter: res.headers['retry-after'] as string | undefined,
            }),
          );
        },
      );
      // The node may answer and close before every chunk is written.
      req.on('error', (error) =>
        req.writableEnded || (error as NodeJS.ErrnoException).code === 'EPIPE'
          ? undefined
          : reject(error),
      );
      void (async () => {
        for (const chunk of chunks) {
          if (req.destroyed) return;
          req.write(chunk);
          await new Promise((r) => setTimeout(r, 50));
        }
        req.end();
      })();
    },
  );
}

test('a flood from one address is refused while another address is served at the same time', async () => {
  const node = await nodeWith({ rate_limit: { max_requests: 30, window_seconds: 60 } });
  try {
    const flood = Array.from({ length: 60 }, () =>
      request(node.url, '/health', { localAddress: '127.0.0.1' }),
    );
    const other = Array.from({ length: 20 }, () =>
      request(node.url, '/health', { localAddress: '127.0.0.2' }),
    );
    const [flooded, served] = await Promise.all([Promise.all(flood), Promise.all(other)]);
    assert.equal(flooded.filter((r) => r.status === 200).length, 30);
    const refused = flooded.filter((r) => r.status !== 200);
    assert.equal(refused.length, 30);
    for (const response of refused) assertLimited(response, 'rate_limited', 60);
    assert.deepEqual(
      served.map((r) => r.status),
      Array<number>(20).fill(200),
    );
    const metrics = await scrape(node.url, { localAddress: '127.0.0.3' });
    assert.equal(metrics.value('p2pcloud_http_errors_total', { code: 'rate_limited' }), 30);
  } finally {
    await node.stop();
  }
});

test('body bytes per address: past the limit 429 with Retry-After, another address unaffected', async () => {
  const node = await nodeWith({
    max_body_bytes: 16_384,
    limits: { address_bytes: 40_000, window_seconds: 60 },
  });
  try {
    const entries = makeEntries(8, { size: 9000 }).bytes;
    for (const entry of entries.slice(0, 4)) {
      assert.equal((await putFrom(node.url, '127.0.0.1', [entry])).status, 200);
    }
    // 4 × about 9.2 kB sent: a fifth body would pass 40,000 bytes.
    const refused = await putFrom(node.url, '127.0.0.1', [entries[4]!]);
    assertLimited(refused, 'rate_limited', 60);
    assert.match(String(errorOf(refused).message), /request body bytes from this address/);
    // Requests without a body still pass, and another address is served meanwhile.
    assert.equal((await request(node.url, '/health', { localAddress: '127.0.0.1' })).status, 200);
    const other = await putFrom(node.url, '127.0.0.2', [entries[5]!]);
    assert.equal(other.status, 200);
    assert.equal(putResults(other)[0]!.status, 'stored');
    // A body without a declared length is counted as it arrives and cut where it passes.
    const chunked = await putChunked(node.url, '127.0.0.1', [
      Buffer.alloc(2000, 1),
      Buffer.alloc(2000, 2),
      Buffer.alloc(2000, 3),
    ]);
    assert.equal(chunked.status, 429, chunked.body);
    assert.match(chunked.body, /"code":"rate_limited"/);
    assert.ok(Number(chunked.retryAfter) >= 1);
    const metrics = await scrape(node.url);
    assert.equal(metrics.value('p2pcloud_http_errors_total', { code: 'rate_limited' }), 2);
    assert.equal(metrics.value('p2pcloud_store_entries'), 5);
  } finally {
    await node.stop();
  }
});

test('bodies nobody reads, from an address near its byte limit, never take the node down', async () => {
  const node = await nodeWith({
    max_body_bytes: 16_384,
    limits: { address_bytes: 40_000, window_seconds: 60 },
  });
  try {
    const entries = makeEntries(4, { size: 9000 }).bytes;
    for (const entry of entries)
      assert.equal((await putFrom(node.url, '127.0.0.1', [entry])).status, 200);
    // About 37 kB of 40,000 used: each of these bodies passes the limit. None is read by a
    // handler: a GET's body, a route that does not exist, a media type /put does not take.
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(4096, 1));
    const cases: [string, string, string][] = [
      ['GET', '/health', 'application/octet-stream'],
      ['GET', '/get', 'application/json'],
      ['POST', '/nowhere', 'application/json'],
      ['POST', '/health', 'text/plain'],
      ['POST', '/put', 'text/plain'],
    ];
    for (const [method, path, type] of cases) {
      const answer = await sendChunked(node.url, '127.0.0.1', chunks, method, path, type).catch(
        (error: Error) => ({ status: 0, body: error.message }),
      );
      assert.ok(answer.status < 500, `${method} ${path}: ${answer.status} ${answer.body}`);
      // The node is still up, and still serves the limited address's bodiless requests.
      assert.equal((await request(node.url, '/health', { localAddress: '127.0.0.2' })).status, 200);
      assert.equal((await request(node.url, '/health', { localAddress: '127.0.0.1' })).status, 200);
    }
    // Its bytes are still refused where a body is read.
    const chunked = await putChunked(node.url, '127.0.0.1', chunks);
    assert.equal(chunked.status, 429, chunked.body);
    assert.equal(node.child.exitCode, null);
  } finally {
    await node.stop();
  }
});

test('a declared body beyond max_body_bytes is 413 body_too_large, not a 429', async () => {
  const node = await nodeWith({ max_body_bytes: 16_384, limits: { address_bytes: 40_000 } });
  try {
    const answer = await rawRequest(
      node.url,
      'POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 3000000000\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"body_too_large"/);
    assert.doesNotMatch(answer, /retry-after/i);
  } finally {
    await node.stop();
  }
});

test('entries and bytes per table: past them 429 table_rate_limited, other tables stored', async () => {
  const node = await nodeWith({
    limits: { table_entries: 3, table_bytes: 5000, window_seconds: 60 },
  });
  try {
    const t = makeEntries(5, { size: 100 });
    const u = makeEntries(1, { size: 100 });
    const response = await putFrames(node.url, t.bytes.slice(0, 3));
    assert.deepEqual(
      putResults(response).map((r) => r.status),
      ['stored', 'stored', 'stored'],
    );
    // A batch with a limited table and another one: the other is stored, the answer says when
    // to try the limited one again.
    const mixed = await putFrames(node.url, [t.bytes[3]!, u.bytes[0]!]);
    assert.equal(mixed.status, 200);
    assert.deepEqual(
      putResults(mixed).map((r) => [r.status, r.code]),
      [
        ['rejected', 'table_rate_limited'],
        ['stored', undefined],
      ],
    );
    assert.ok(Number(mixed.headers['retry-after']) >= 1);
    assert.match(String(putResults(mixed)[0]!.message), /took 3 entries/);
    assertLimited(await putFrames(node.url, [t.bytes[4]!]), 'table_rate_limited', 60);

    // Bytes: two entries of about 2 kB fit in 5000 bytes, a third does not.
    const w = makeEntries(3, { size: 2000 });
    const bytes = await putFrames(node.url, w.bytes);
    assert.deepEqual(
      putResults(bytes).map((r) => r.code ?? r.status),
      ['stored', 'stored', 'table_rate_limited'],
    );

    // Forgeries are refused and give their table's budget back: whoever cannot sign for a
    // table cannot use up its writes.
    const v = makeEntries(3, { size: 100 });
    const forged = v.bytes.map((b) => {
      const out = Buffer.from(b);
      out[out.length - 10]! ^= 1;
      return out;
    });
    for (let i = 0; i < 3; i++) {
      assert.equal(errorOf(await putFrames(node.url, forged)).code, 'bad_signature');
    }
    const honest = await putFrames(node.url, v.bytes);
    assert.deepEqual(
      putResults(honest).map((r) => r.status),
      ['stored', 'stored', 'stored'],
    );
    const metrics = await scrape(node.url);
    assert.equal(
      metrics.value('p2pcloud_entries_rejected_total', { code: 'table_rate_limited' }),
      3,
    );
    assert.equal(metrics.value('p2pcloud_http_errors_total', { code: 'table_rate_limited' }), 1);
  } finally {
    await node.stop();
  }
});

test("forged copies sent in a loop do not hold a table's allowance from its owner", async () => {
  const node = await nodeWith({ limits: { table_entries: 10_000, window_seconds: 60 } });
  try {
    const owner = makeEntries(5, { size: 100 });
    const forged = Buffer.from(makeEntries(1, { table: owner.table, size: 100 }).bytes[0]!);
    forged[forged.length - 1]! ^= 1;
    let stop = false;
    let attacks = 0;
    const codes = new Set<string>();
    const attacker = async () => {
      // Bounded: the owner's puts below end it.
      while (!stop && attacks < 200) {
        const response = await putFrom(node.url, '127.0.0.2', Array<Buffer>(5000).fill(forged));
        // Copies after the first of a batch cost no verification: answered as its duplicates.
        // Once the owner has filled the window, they are refused before that.
        codes.add(String(putResults(response)[0]!.code));
        attacks += 1;
      }
    };
    const attackers = [attacker(), attacker()];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const statuses: string[] = [];
    for (const entry of owner.bytes.slice(0, 5)) {
      const response = await putFrom(node.url, '127.0.0.1', [entry]);
      statuses.push(
        response.status === 200 ? putResults(response)[0]!.status : String(response.status),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stop = true;
    await Promise.all(attackers);
    assert.ok(attacks >= 2, `attacker requests: ${attacks}`);
    assert.ok(codes.has('bad_signature'), [...codes].join());
    for (const code of codes) assert.match(code, /^(bad_signature|table_rate_limited)$/);
    assert.deepEqual(statuses, Array<string>(5).fill('stored'));
    // Only what was stored counted against the table.
    const metrics = await scrape(node.url);
    assert.equal(
      metrics.value('p2pcloud_entries_rejected_total', { code: 'table_rate_limited' }) ?? 0,
      0,
    );
  } finally {
    await node.stop();
  }
});

test("junk naming 10,000 other tables does not reset a limited table's count", async () => {
  const node = await nodeWith({ limits: { table_entries: 20, window_seconds: 60 } });
  try {
    const t = makeEntries(22, { size: 100 });
    const first = await putFrom(node.url, '127.0.0.1', t.bytes.slice(0, 20));
    assert.ok(putResults(first).every((r) => r.status === 'stored'));
    assertLimited(await putFrom(node.url, '127.0.0.1', [t.bytes[20]!]), 'table_rate_limited', 60);
    // 40 random bytes each: long enough to name a table, never an entry.
    const junk = Array.from({ length: 10_000 }, () => randomBytes(40));
    const refused = await putFrom(node.url, '127.0.0.2', junk);
    assert.ok(refused.status >= 400 && refused.status < 500, String(refused.status));
    assertLimited(await putFrom(node.url, '127.0.0.1', [t.bytes[21]!]), 'table_rate_limited', 60);
  } finally {
    await node.stop();
  }
});

test('limits.loopback false exempts loopback clients from the byte and table limits', async () => {
  const node = await nodeWith({
    max_body_bytes: 16_384,
    limits: { address_bytes: 20_000, table_entries: 2, window_seconds: 60, loopback: false },
  });
  try {
    const entries = makeEntries(6, { size: 9000 });
    for (const entry of entries.bytes) {
      const response = await putFrom(node.url, '127.0.0.1', [entry]);
      assert.equal(response.status, 200, response.body.toString());
      assert.equal(putResults(response)[0]!.status, 'stored');
    }
  } finally {
    await node.stop();
  }
});

test('a byte limit below max_body_bytes is refused at start', async () => {
  await assert.rejects(
    nodeWith({ max_body_bytes: 1_000_000, limits: { address_bytes: 500_000 } }),
    /limits\.address_bytes \(500000\) must be at least max_body_bytes/,
  );
});

test('window counters: a window ends, refunds stay in their window, the map stays bounded', () => {
  const counters = new WindowCounters(1000, 3, 2);
  counters.add('a', [1, 100], 0);
  counters.add('a', [2, 50], 500);
  assert.deepEqual(counters.use('a', 900), { used: [3, 150], retryAfterSeconds: 1 });
  counters.refund('a', [1, 100], 500);
  assert.deepEqual(counters.use('a', 900).used, [2, 50]);
  // The window that began at 0 ends at 1000: what was counted then is gone, and a refund of it
  // does not eat into the new window.
  assert.deepEqual(counters.use('a', 1000).used, [0, 0]);
  counters.add('a', [1, 10], 1000);
  counters.refund('a', [1, 10], 999);
  assert.deepEqual(counters.use('a', 1001).used, [1, 10]);
  for (const key of ['b', 'c', 'd', 'e']) counters.add(key, [1, 1], 1100);
  assert.equal(counters.size, 3);
  assert.deepEqual(counters.use('a', 1100).used, [0, 0], 'least recently counted is dropped');
  assert.deepEqual(counters.use('e', 1100).used, [1, 1]);
  // 'refuse': a full map keeps every active count, and makes room only as windows end.
  const strict = new WindowCounters(1000, 2, 1, 'refuse');
  assert.equal(strict.add('a', [5], 0), true);
  assert.equal(strict.add('b', [5], 500), true);
  assert.equal(strict.hasRoom('c', 900), false);
  assert.equal(strict.add('c', [1], 900), false);
  assert.equal(strict.hasRoom('a', 900), true);
  assert.deepEqual(strict.use('a', 900).used, [5]);
  assert.equal(strict.add('c', [1], 1000), true, 'the window of a ended at 1000');
  assert.deepEqual(strict.use('b', 1000).used, [5]);
  const long = new WindowCounters(60_000, 10);
  long.add('x', [5], 0);
  assert.equal(long.use('x', 30_500).retryAfterSeconds, 30);
});
