/**
 * Subscriptions against real node processes: entries that arrive by sync reach subscribers, a
 * subscriber that never reads is dropped with its reason while the others get everything and
 * the node's memory stays bounded, and 10,000 subscribers opening at once are all served and
 * all freed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { generateTableKey } from '../../src/keys/keys.js';
import { toHex } from '../../src/encoding/bytes.js';
import { makeEntry } from '../helpers/entries.js';
import { health, putFrames, putResults, waitFor } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { BASE_ARGS, configFile } from '../helpers/sync.js';
import { subscribeSse, subscribeWs, type TestSubscriber } from '../helpers/subscriptions.js';

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function subscribers(url: string): Promise<number> {
  const answer = (await health(url)) as unknown as { subscriptions: { subscribers: number } };
  return answer.subscriptions.subscribers;
}

test('entries that arrive by sync from another node reach its subscribers', async () => {
  const source = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  const mirror = await spawnNode([...BASE_ARGS, '--peer', source.url, '--sync-interval', '0.3']);
  try {
    const table = generateTableKey();
    const sub = await subscribeWs(mirror.url, `table=${toHex(table.signing.publicKey)}`);
    await sub.waitFor((m) => m.type === 'live');
    const entries = [0, 1, 2, 3].map((i) => makeEntry({ table, text: `synced${i}` }).bytes);
    const results = putResults(await putFrames(source.url, entries));
    assert.ok(results.every((r) => r.status === 'stored'));
    const arrived = await waitFor(async () => sub.entries().length >= 4, 30_000, 50);
    assert.ok(arrived, `got ${sub.entries().length} of 4 entries by sync`);
    assert.deepEqual(new Set(sub.entries()), new Set(entries.map((e) => e.toString('base64url'))));
    assert.equal(sub.entries().length, 4, 'each entry once');
    sub.close();
  } finally {
    await mirror.stop();
    await source.stop();
  }
});

test('a subscriber that never reads is dropped as subscriber_too_slow; others are unaffected', async () => {
  const config = configFile({ subscriptions: { buffer_kib: 64 } });
  const node = await spawnNode([...BASE_ARGS, '--config', config]);
  try {
    const table = generateTableKey();
    const query = `table=${toHex(table.signing.publicKey)}`;
    // The stalled subscriber: sends its request, then reads nothing.
    const stalled = connect(Number(new URL(node.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write(
      `GET /subscribe?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
    );
    stalled.pause();
    const reader = await subscribeSse(node.url, query);
    await reader.waitFor((m) => m.type === 'live');
    assert.ok(await waitFor(async () => (await subscribers(node.url)) === 2, 10_000, 50));
    const rssBefore = rssBytes(node.child.pid!);

    // 40 MiB of entries, far more than the stalled connection's buffers and socket take.
    const text = 'x'.repeat(30_000);
    const expected: string[] = [];
    let dropped = false;
    // Once dropped, the stalled subscriber reads at last (before the node gives up on it): it
    // finds what the node had queued for it (its buffer and the sockets' own), then a closing
    // message with the reason.
    let tail = '';
    let received = 0;
    const ended = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    const readStalled = (): void => {
      stalled.setEncoding('latin1');
      stalled.on('data', (chunk: string) => {
        received += chunk.length;
        tail = (tail + chunk).slice(-4096);
      });
      stalled.resume();
    };
    for (let batch = 0; batch < 70; batch++) {
      const entries = Array.from(
        { length: 20 },
        (_, i) => makeEntry({ table, text: `${batch}.${i}.${text}` }).bytes,
      );
      const results = putResults(await putFrames(node.url, entries));
      assert.ok(results.every((r) => r.status === 'stored'));
      expected.push(...entries.map((e) => e.toString('base64url')));
      if (!dropped && (await subscribers(node.url)) === 1) {
        dropped = true;
        readStalled();
      }
    }
    if (!dropped) {
      dropped = await waitFor(async () => (await subscribers(node.url)) === 1, 10_000, 50);
      readStalled();
    }
    assert.ok(dropped, 'the stalled subscriber was dropped');
    const rssAfter = rssBytes(node.child.pid!);
    // The stalled subscriber held at most its buffer; the rest is the node's own churn.
    assert.ok(
      rssAfter - rssBefore < 256 * 1024 * 1024,
      `node memory grew by ${Math.round((rssAfter - rssBefore) / 1048576)} MiB`,
    );
    // The reading subscriber got everything, in order, once.
    const complete = await waitFor(
      async () => reader.entries().length >= expected.length,
      60_000,
      50,
    );
    assert.ok(complete, `reader got ${reader.entries().length} of ${expected.length}`);
    assert.deepEqual(reader.entries(), expected);

    await ended;
    assert.match(tail, /event: closing\ndata: \{"type":"closing","code":"subscriber_too_slow"/);
    const sent = expected.reduce((sum, e) => sum + e.length, 0);
    assert.ok(
      received < 16 * 1024 * 1024 && received < sent / 3,
      `the stalled subscriber was queued ${received} bytes of ${sent}`,
    );
    reader.close();
  } finally {
    await node.stop();
  }
});

test('10,000 subscribers opening at once are all served, and all freed when they leave', async () => {
  const config = configFile({
    rate_limit: { loopback: false },
    subscriptions: { max_subscribers: 12_000 },
  });
  const node = await spawnNode([...BASE_ARGS, '--config', config]);
  const subs: TestSubscriber[] = [];
  try {
    const table = generateTableKey();
    const query = `table=${toHex(table.signing.publicKey)}`;
    const COUNT = 10_000;
    const started = Date.now();
    // A connection the kernel resets while its accept queue overflows is tried again, as any
    // client would; each at most a few times.
    let retries = 0;
    const open = async (): Promise<TestSubscriber> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await subscribeWs(node.url, query);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (attempt >= 5 || (code !== 'ECONNRESET' && code !== 'ECONNREFUSED')) throw error;
          retries += 1;
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    };
    const opened = await Promise.allSettled(Array.from({ length: COUNT }, () => open()));
    for (const result of opened) if (result.status === 'fulfilled') subs.push(result.value);
    const failures = opened.filter((r) => r.status === 'rejected');
    assert.equal(
      failures.length,
      0,
      String((failures[0] as PromiseRejectedResult | undefined)?.reason),
    );
    await Promise.all(subs.map((s) => s.waitFor((m) => m.type === 'live', 120_000)));
    const openMs = Date.now() - started;
    assert.equal(await subscribers(node.url), COUNT);
    const rss = rssBytes(node.child.pid!);

    const entry = makeEntry({ table, text: 'to all' }).bytes;
    const putAt = Date.now();
    assert.equal(putResults(await putFrames(node.url, [entry]))[0]!.status, 'stored');
    const all = await waitFor(async () => subs.every((s) => s.entries().length === 1), 120_000, 50);
    assert.ok(
      all,
      `${subs.filter((s) => s.entries().length === 1).length} of ${COUNT} got the entry`,
    );
    const fanOutMs = Date.now() - putAt;
    for (const s of subs) assert.equal(s.entries()[0], entry.toString('base64url'));
    assert.ok(
      rss < 1024 * 1024 * 1024,
      `node RSS ${Math.round(rss / 1048576)} MiB with ${COUNT} subscribers`,
    );
    console.log(
      `# 10,000 subscribers: opened in ${openMs} ms (${retries} connections retried), one entry to all in ${fanOutMs} ms, node RSS ${Math.round(rss / 1048576)} MiB`,
    );

    for (const s of subs) s.close();
    const freed = await waitFor(async () => (await subscribers(node.url)) === 0, 60_000, 100);
    assert.ok(freed, `${await subscribers(node.url)} subscribers left after all closed`);
  } finally {
    for (const s of subs) s.close();
    await node.stop();
  }
});
