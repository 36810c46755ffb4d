/**
 * Request bounds of a node running as a real child process: per-address rate limits on every
 * route (429 rate_limited with Retry-After), loopback limited unless the operator says not,
 * JSON nesting bounded, and the data directory and database readable by the owner only. The
 * gateway's limiter is checked over real HTTP as well.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { makeEntry } from '../helpers/entries.js';
import { startTestGateway } from '../helpers/gateways.js';
import { health, putFrames, request, type TestResponse } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { configFile } from '../helpers/sync.js';
import { addressKey } from '../../src/http/rate-limit.js';

async function nodeWithConfig(config: Record<string, unknown>) {
  return spawnNode(['--config', configFile(config), '--min-pow', '0']);
}

/** Sends `count` requests, `parallel` at a time, and returns the answers in order. */
async function burst(
  count: number,
  parallel: number,
  send: (i: number) => Promise<TestResponse>,
): Promise<TestResponse[]> {
  const out: TestResponse[] = new Array<TestResponse>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await send(i);
      }
    }),
  );
  return out;
}

function assertLimited(response: TestResponse, what: string): void {
  assert.equal(response.status, 429, `${what}: ${response.status} ${response.body.toString()}`);
  const retry = Number(response.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1, `${what}: Retry-After ${retry}`);
  const error = (response.json as { error?: { code?: unknown; message?: unknown } }).error;
  assert.equal(error?.code, 'rate_limited', what);
  assert.match(String(error?.message), /too many requests/);
}

test('every route of a node answers 429 rate_limited with Retry-After past the limit', async () => {
  const node = await nodeWithConfig({ rate_limit: { max_requests: 40, window_seconds: 60 } });
  try {
    const first = await burst(40, 8, () => request(node.url, '/health'));
    assert.deepEqual(
      first.map((r) => r.status),
      Array<number>(40).fill(200),
    );
    const routes: [string, string][] = [
      ['GET', '/health'],
      ['POST', '/hello'],
      ['POST', '/put'],
      ['GET', '/get?table=00'],
      ['GET', '/index'],
      ['POST', '/sync/reconcile'],
      ['GET', '/sync/peers'],
      ['GET', '/no/such/route'],
      ['GET', '/'],
    ];
    for (const [method, path] of routes) {
      const response = await request(node.url, path, {
        method,
        ...(method === 'POST'
          ? { body: '{"urls":[]}', headers: { 'content-type': 'application/json' } }
          : {}),
      });
      assertLimited(response, `${method} ${path}`);
    }
  } finally {
    await node.stop();
  }
});

test('the default limit refuses a flood from loopback past 10,000 requests per window', async () => {
  // The default number of requests, in a window long enough that the machine's speed cannot
  // spread the flood over several windows.
  const node = await nodeWithConfig({ rate_limit: { window_seconds: 600 } });
  try {
    const flood = await burst(10_100, 16, () => request(node.url, '/health'));
    const accepted = flood.filter((r) => r.status === 200).length;
    const limited = flood.filter((r) => r.status === 429);
    assert.equal(accepted, 10_000);
    assert.equal(limited.length, 100);
    assertLimited(limited[0]!, 'flood');
  } finally {
    await node.stop();
  }
});

test('an operator can exempt loopback from the limits', async () => {
  const node = await nodeWithConfig({
    rate_limit: { max_requests: 10, window_seconds: 60, loopback: false },
  });
  try {
    const answers = await burst(60, 6, () => request(node.url, '/health'));
    assert.deepEqual(
      answers.map((r) => r.status),
      Array<number>(60).fill(200),
    );
  } finally {
    await node.stop();
  }
});

test('deeply nested JSON is a 400 bad_json, not a crash', async () => {
  const node = await spawnNode(['--min-pow', '0']);
  try {
    for (const body of [
      '['.repeat(200_000),
      `{"urls":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      `{"urls":[${'{"a":'.repeat(40)}1${'}'.repeat(40)}]}`,
    ]) {
      const response = await request(node.url, '/hello', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(response.status, 400, response.body.toString().slice(0, 200));
      const error = (response.json as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'bad_json');
      assert.match(error.message, /nests deeper than 32/);
    }
    // Nesting inside strings is text, not structure.
    const quoted = await request(node.url, '/hello', {
      method: 'POST',
      body: JSON.stringify({ urls: [], node_id: '['.repeat(40) }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal((quoted.json as { error: { code: string } }).error.code, 'bad_hello');
    assert.equal((await health(node.url)).status, 'ok');
  } finally {
    await node.stop();
  }
});

test("the node's data directory is 0700 and its database files 0600", async () => {
  const node = await spawnNode(['--min-pow', '0']);
  try {
    const results = await putFrames(node.url, [makeEntry({ text: 'private' }).bytes]);
    assert.equal(results.status, 200);
    assert.equal(statSync(node.dataDir).mode & 0o777, 0o700);
    for (const name of ['entries.sqlite', 'entries.sqlite-wal', 'entries.sqlite-shm']) {
      assert.equal(statSync(join(node.dataDir, name)).mode & 0o777, 0o600, name);
    }
  } finally {
    await node.stop();
  }
});

test('every route of the gateway is rate limited', async () => {
  const node = await spawnNode(['--min-pow', '0']);
  try {
    const gateway = await startTestGateway([node.url], {
      rate_limit: { max_requests: 20, window_seconds: 60 },
    });
    const first = await burst(20, 4, () => request(gateway.url, '/api/health'));
    assert.ok(
      first.every((r) => r.status !== 429),
      first.map((r) => r.status).join(),
    );
    for (const path of ['/api/health', '/no/such/page']) {
      assertLimited(await request(gateway.url, path), `gateway ${path}`);
    }
  } finally {
    await node.stop();
  }
});

test('IPv6 senders are counted per /64, IPv4 per address', () => {
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), addressKey('2001:db8:1:2:ffff::1'));
  assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.notEqual(addressKey('192.0.2.1'), addressKey('192.0.2.2'));
});
