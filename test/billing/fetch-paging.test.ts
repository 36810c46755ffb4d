/**
 * fetchReceipts holds a node to its paging: a `next` that does not move past the receipts
 * received, or pages that never end, are node_lied, not a partial list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { fetchReceipts } from '../../src/client/billing/metered.js';

test('a node whose next never advances is node_lied', async () => {
  let pages = 0;
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/billing/info') {
      res.end(JSON.stringify({ v: 1, node: toHex(randomBytes(32)), receipt_period_ms: 1000 }));
      return;
    }
    pages++;
    res.end(JSON.stringify({ v: 1, receipts: [], next: 0, complete: false }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await assert.rejects(fetchReceipts(url, generateSigningKeyPair(), 0, 50), {
      code: 'node_lied',
    });
    assert.equal(pages, 1);
  } finally {
    server.close();
  }
});
