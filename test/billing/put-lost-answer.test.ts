/**
 * A put whose answer is lost on the way back (the connection drops after the node stored and
 * metered it) leaves its ledger line without a `stored` list: every entry stays billable, so the
 * node that did store them is not flagged for billing them. Through the SDK's metered put and
 * through a Client with a payer alike, and when the transport's second copy of the put is
 * refused as a replay. An answer that shows a refusal still stores nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../../src/crypto/sha256.js';
import { toHex } from '../../src/encoding/bytes.js';
import { meteredPut, storedByPut } from '../../src/client/billing/metered.js';
import { Ledger } from '../../src/client/billing/ledger.js';
import { Client } from '../../src/client/client.js';
import { makeEntry } from '../helpers/entries.js';
import { startRewritingProxy } from '../helpers/rewriting-proxy.js';
import {
  afterPeriodOf,
  newPayer,
  openBillingDb,
  startBillingNode,
  billingCheck,
} from './billing-node.js';

test('no answer, or a replay of a request that reached the node, records no stored list; a refusal records none stored', () => {
  const ids = ['aa'.repeat(32), 'bb'.repeat(32)];
  const refusal = (code: string) => ({ error: { code, message: 'no' } });
  assert.equal(storedByPut(ids, null, null), undefined);
  assert.equal(storedByPut(ids, 409, refusal('payer_replayed')), undefined);
  assert.deepEqual(storedByPut(ids, 409, refusal('conflict')), []);
  assert.deepEqual(storedByPut(ids, 503, null), []);
  assert.deepEqual(storedByPut(ids, 402, refusal('payment_required')), []);
  assert.deepEqual(storedByPut(ids, 200, null), []);
  assert.deepEqual(storedByPut(ids, 200, { results: [{ status: 'stored' }] }), []);
  const results = [{ status: 'stored' }, { status: 'rejected' }];
  assert.deepEqual(storedByPut(ids, 200, { results }), [ids[0]]);
});

test('a put whose answer was lost after the node stored it stays billable: the check agrees', async () => {
  const node = await startBillingNode();
  const payer = await newPayer();
  try {
    // The node gets the whole put and answers; the answer never reaches the client. The
    // transport may send the request again on a fresh connection (a pooled one dropped): the
    // node answers that copy 409 payer_replayed, cut too by `cutAll`, let through by `cutOnce`.
    let cut = 0;
    let replayed = 0;
    const cutting = (all: boolean) =>
      startRewritingProxy(node.url, (req, url) =>
        req.method === 'POST' && url.pathname === '/put'
          ? (status, body) => {
              if (status === 409) replayed++;
              if (all || status !== 409) {
                cut++;
                req.socket.destroy();
              }
              return body;
            }
          : undefined,
      );
    const entries: Buffer[] = [];
    for (const proxy of [await cutting(true), await cutting(false)]) {
      const viaSdk = makeEntry({ text: `stored, answer lost (SDK, ${proxy.url})` }).bytes;
      await assert.rejects(meteredPut(proxy.url, [viaSdk], payer));
      const viaClient = makeEntry({ text: `stored, answer lost (Client, ${proxy.url})` }).bytes;
      const client = new Client({ nodes: [proxy.url], payers: { [proxy.url]: payer } });
      const [report] = await client.putEncoded([viaClient]);
      assert.equal(report!.accepted, 0, 'the client saw no answer that it stored');
      entries.push(viaSdk, viaClient);
    }
    assert.ok(cut >= 4, `every put reached the node and its answer was cut (${cut})`);
    assert.ok(replayed >= 1, 'the transport sent a put again and the node refused the copy');

    const puts = payer.ledger.data.requests.filter((r) => r.kind === 'put');
    assert.equal(puts.length, 4);
    for (const put of puts) assert.equal(put.stored, undefined, JSON.stringify(put));
    await payer.ledger.close();
    // The node did store and meter both.
    const db = openBillingDb(node.dataDir);
    const rows = db
      .prepare('SELECT entry FROM stored WHERE payer = ?')
      .all(Buffer.from(payer.hex, 'hex')) as { entry: Buffer }[];
    db.close();
    assert.deepEqual(
      rows.map((r) => toHex(r.entry)).sort(),
      entries.map((e) => toHex(sha256(e))).sort(),
    );

    await afterPeriodOf();
    const check = await billingCheck(node.url, payer);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    const totals = /agree with the ledger: stored_byte_ms=(\d+)/.exec(check.stdout);
    assert.ok(totals && BigInt(totals[1]!) > 0n, check.stdout);
    // The ledger keeps the puts (the entries never expire) and still has no stored list.
    const reopened = await Ledger.open(payer.ledgerFile, payer.hex);
    const kept = reopened.data.requests.filter((r) => r.kind === 'put');
    await reopened.close();
    assert.deepEqual(
      kept.map((p) => (p.kind === 'put' ? p.stored : null)),
      [undefined, undefined, undefined, undefined],
    );
  } finally {
    await node.close();
  }
});
