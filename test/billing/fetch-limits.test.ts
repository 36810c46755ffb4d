/**
 * fetchReceipts on a long list (docs/billing.md §6): a node that pages honestly through more
 * receipts than the fetch holds is not a liar; the fetch stops at its limit (receipts, bytes
 * or pages), ends with whole periods and says where to go on. Paging violations stay node_lied.
 * The node here is a small HTTP server on 127.0.0.1 that serves receipt-shaped answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { fetchReceipts } from '../../src/client/billing/metered.js';

const P = 1000;

/** Receipt `seq` of a list where periods 0, 1, 2, … hold `split` receipts each. */
function receipt(seq: number, split: number): { body: string; sig: string } {
  const from = Math.floor(seq / split) * P;
  return { body: JSON.stringify({ v: 2, seq, from, to: from + P }), sig: '00' };
}

interface Fake {
  url: string;
  asked: number[];
  close(): void;
}

/** A node of `count` receipts in pages of `page`; `answer` may change a page before it goes. */
async function fakeNode(
  count: number,
  page: number,
  split = 1,
  answer: (since: number, body: Record<string, unknown>) => Record<string, unknown> = (_, b) => b,
): Promise<Fake> {
  const asked: number[] = [];
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/billing/info') {
      res.end(JSON.stringify({ v: 1, node: toHex(randomBytes(32)), receipt_period_ms: P }));
      return;
    }
    const since = Number(url.searchParams.get('since'));
    asked.push(since);
    const seqs = Array.from(
      { length: Math.max(0, Math.min(page, count - since)) },
      (_, i) => since + i,
    );
    res.end(
      JSON.stringify(
        answer(since, {
          v: 1,
          receipts: seqs.map((s) => receipt(s, split)),
          next: seqs.length > 0 ? seqs[seqs.length - 1]! + 1 : since,
          complete: since + page >= count,
        }),
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    close: () => server.close(),
  };
}

const seqs = (list: readonly unknown[]) =>
  list.map((r) => (JSON.parse((r as { body: string }).body) as { seq: number }).seq);

test('a list longer than the fetch holds stops at the limit, on a period boundary, and goes on', async () => {
  const key = generateSigningKeyPair();
  // 50 receipts, 3 to a period, 8 to a page.
  const node = await fakeNode(50, 8, 3);
  try {
    const first = await fetchReceipts(node.url, key, 0, undefined, {}, { receipts: 20 });
    assert.equal(first.stopped, 'receipts');
    // 20 fit (pages of 8, 8, then 4 of the third); periods of 3 end at seq 17.
    assert.deepEqual(
      seqs(first),
      Array.from({ length: 18 }, (_, i) => i),
    );
    assert.equal(first.next, 18);
    const all = [...first];
    let next = first.next;
    for (let calls = 0; calls < 10; calls++) {
      const more = await fetchReceipts(node.url, key, next, undefined, {}, { receipts: 20 });
      all.push(...more);
      next = more.next;
      if (!more.stopped) break;
    }
    assert.deepEqual(
      seqs(all),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(next, 50);

    const paged = await fetchReceipts(node.url, key, 0, 2);
    assert.equal(paged.stopped, 'pages');
    assert.deepEqual(
      seqs(paged),
      Array.from({ length: 15 }, (_, i) => i),
    );
    assert.equal(paged.next, 15);

    // Bytes for receipts 0 to 9, not 10: trimmed to the 3 whole periods they hold.
    let size = 0;
    for (let s = 0; s < 10; s++) size += JSON.stringify(receipt(s, 3)).length;
    const light = await fetchReceipts(node.url, key, 0, undefined, {}, { bytes: size });
    assert.equal(light.stopped, 'bytes');
    assert.deepEqual(
      seqs(light),
      Array.from({ length: 9 }, (_, i) => i),
    );
    assert.equal(light.next, 9);

    // A fetch that holds it all says nothing stopped it.
    const whole = await fetchReceipts(node.url, key, 0);
    assert.equal(whole.stopped, undefined);
    assert.equal(whole.length, 50);
    assert.equal(whole.next, 50);
  } finally {
    node.close();
  }
});

test('one period larger than the limit is returned whole rather than nothing', async () => {
  const node = await fakeNode(30, 8, 30);
  try {
    const got = await fetchReceipts(
      node.url,
      generateSigningKeyPair(),
      0,
      undefined,
      {},
      { receipts: 5 },
    );
    assert.equal(got.stopped, 'receipts');
    assert.deepEqual(seqs(got), [0, 1, 2, 3, 4]);
    assert.equal(got.next, 5);
  } finally {
    node.close();
  }
});

test('paging violations are still node_lied', async () => {
  const key = generateSigningKeyPair();
  const cases: Record<
    string,
    (since: number, b: Record<string, unknown>) => Record<string, unknown>
  > = {
    'a receipt below since': (since, b) =>
      since > 0 ? { ...b, receipts: [receipt(since - 1, 1), ...(b.receipts as unknown[])] } : b,
    'next not one past the highest': (since, b) =>
      since > 0 ? { ...b, next: (b.next as number) + 1 } : b,
    'next not moving': (since, b) => (since > 0 ? { ...b, receipts: [], next: since } : b),
  };
  for (const [name, change] of Object.entries(cases)) {
    const node = await fakeNode(40, 8, 1, change);
    try {
      await assert.rejects(
        fetchReceipts(node.url, key, 0, undefined, {}, { receipts: 1000 }),
        { code: 'node_lied' },
        name,
      );
    } finally {
      node.close();
    }
  }
});
