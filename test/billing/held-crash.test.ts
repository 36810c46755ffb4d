/**
 * The held counters and the receipts commit together (docs/billing.md §5): a node process
 * killed with SIGKILL while it closes a payer's periods, then restarted on the same data
 * directory, holds counters equal to a full recount, and goes on signing receipts whose held
 * figures follow from the receipts before them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { PAYER_HEADER, signPayerHeader } from '../../src/market/billing/payer.js';
import { NO_HELD, verifyUsageReceipt, type UsageBody } from '../../src/market/billing/receipt.js';
import { BILLING_DB_FILE } from '../../src/node/billing/usage-store.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { configFile } from '../helpers/sync.js';
import { tempDir } from '../helpers/tmp.js';
import { afterPeriodOf, nodeKeyOf, PERIOD_MS } from './billing-node.js';
import { assertHeldCounters, expectedHeld } from './held-recount.js';

const payer = generateSigningKeyPair();

async function receiptsFrom(node: NodeProcess, nodeKey: Buffer, since: number) {
  const path = `/billing/receipts?since=${since}`;
  return fetch(`${node.url}${path}`, {
    headers: { [PAYER_HEADER]: signPayerHeader(payer, nodeKey, 'GET', path, Date.now()) },
  });
}

test('a node killed while it closes periods keeps its held counters equal to a recount', async () => {
  const dataDir = tempDir();
  const config = configFile({ billing: { enabled: true, receipt_period_ms: PERIOD_MS } });
  const start = () => spawnNode(['--config', config, '--min-pow', '0'], dataDir);
  const table = generateTableKey();
  const recipient = generateIdentity();
  const expiry = new Map<string, number>();
  // Delays from sending the request that closes periods to the kill: before, during and after.
  const delays = [0, 1, 2, 4, 7, 11, 16, 25];
  let killedMidway = 0;
  for (const [round, delay] of delays.entries()) {
    const node = await start();
    const nodeKey = await nodeKeyOf(node.url);
    for (let batch = 0; batch < 3; batch++) {
      const now = Date.now();
      const made = Array.from({ length: 50 }, (_, i) => {
        // Some expire within the next periods (not so soon that a slow put would find them
        // expired), some never.
        const expiresAt = i % 3 === 0 ? 0 : now + 1500 + ((i * 137 + round * 311) % 3000);
        const e = makeEntry({ table, recipient, text: `r${round} b${batch} e${i}`, expiresAt });
        expiry.set(toHex(e.id), expiresAt);
        return e.bytes;
      });
      const body = encodeFrames(made);
      const answer = await fetch(`${node.url}/put`, {
        method: 'POST',
        body,
        headers: {
          'content-type': ENTRIES_MEDIA_TYPE,
          [PAYER_HEADER]: signPayerHeader(payer, nodeKey, 'POST', '/put', Date.now(), body),
        },
      });
      const text = await answer.text();
      assert.equal(answer.status, 200, text);
      assert.equal((JSON.parse(text) as { stored: number }).stored, made.length, text);
    }
    await afterPeriodOf();
    const asked = receiptsFrom(node, nodeKey, 0).then(
      (r) => r.status,
      () => 'no answer',
    );
    await new Promise((resolve) => setTimeout(resolve, delay));
    await node.kill9();
    if ((await asked) === 'no answer') killedMidway += 1;
    const db = new Database(join(dataDir, BILLING_DB_FILE), { readonly: true });
    try {
      assertHeldCounters(db, `after a kill ${delay} ms into a close`);
    } finally {
      db.close();
    }
  }
  assert.ok(killedMidway >= 1, 'at least one kill came before the answer');

  // Restarted, the node closes what is left; every receipt's held set follows from the earlier.
  const node = await start();
  const nodeKey = await nodeKeyOf(node.url);
  await afterPeriodOf();
  const bodies: UsageBody[] = [];
  for (let calls = 0; ; calls++) {
    assert.ok(calls < 200, 'the receipts end');
    const answer = (await (await receiptsFrom(node, nodeKey, bodies.length)).json()) as {
      receipts: unknown[];
      complete: boolean;
    };
    bodies.push(...answer.receipts.map((r) => verifyUsageReceipt(r).body));
    if (answer.complete) break;
  }
  await node.stop();
  assert.deepEqual(
    bodies.map((b) => b.seq),
    bodies.map((_, i) => i),
  );
  for (const [i, body] of bodies.entries()) {
    const first = i === 0 || bodies[i - 1]!.from !== body.from;
    const want = first ? expectedHeld(bodies.slice(0, i), expiry, body.from, body.to) : NO_HELD;
    assert.deepEqual(body.held, want, `held of seq ${body.seq}`);
  }
  const itemized = bodies.flatMap((b) =>
    b.items.flatMap((item) => (item.k === 'store' ? [item.entry] : [])),
  );
  assert.equal(itemized.length, expiry.size, 'every entry itemized');
  assert.equal(new Set(itemized).size, expiry.size, 'and once');
  const db = new Database(join(dataDir, BILLING_DB_FILE), { readonly: true });
  try {
    assertHeldCounters(db, 'at the end');
  } finally {
    db.close();
  }
});
