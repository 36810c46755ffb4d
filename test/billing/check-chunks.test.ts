/**
 * `p2pcloud billing check` on a list of receipts longer than one fetch holds (docs/billing.md
 * §9): a real node with one-second periods and an entry held over many of them, checked with a
 * small `--chunk` (as a payer with a backlog past 100,000 receipts is, at the real limit): each
 * chunk is checked and compacted, the next is fetched from the new mark, and the check ends
 * complete. A difference stops it, and no seq after the last fetched is called missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ledger } from '../../src/client/billing/ledger.js';
import { fetchReceipts, meteredPut } from '../../src/client/billing/metered.js';
import { makeEntry } from '../helpers/entries.js';
import { runCli } from '../helpers/spawn.js';
import { afterPeriodOf, newPayer, startBillingNode, billReadNeverMade } from './billing-node.js';

test('billing check goes through a long list a chunk at a time, and stops at a difference', async () => {
  const node = await startBillingNode({
    billing: { enabled: true, receipt_period_ms: 1000, max_receipts_per_answer: 3 },
  });
  try {
    const payer = await newPayer();
    const put = await meteredPut(node.url, [makeEntry({ text: 'held for good' }).bytes], payer);
    assert.equal(put.stored, 1);
    await payer.ledger.close();
    // Seven periods or more: the first itemizes the entry, each later one holds it.
    const begun = Date.now();
    await afterPeriodOf(begun + 6000);
    const paying = ['--node', node.url, '--payer', payer.keyFile, '--ledger', payer.ledgerFile];
    // The fetch of two receipts at a time stops at its limit: not a lie.
    const partial = await fetchReceipts(node.url, payer.key, 0, undefined, {}, { receipts: 2 });
    assert.equal(partial.stopped, 'receipts');
    assert.equal(partial.next, partial.length);

    const check = await runCli(['billing', 'check', ...paying, '--chunk', '2']);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    const said = /^(\d+) receipt\(s\) agree with the ledger: .* \(checked in (\d+) chunks\)$/m.exec(
      check.stdout,
    );
    assert.ok(said, check.stdout);
    const [receipts, chunks] = [Number(said[1]), Number(said[2])];
    assert.ok(receipts >= 7, check.stdout);
    // Two receipts a chunk, each of its own period: the last period of a chunk that stopped
    // waits for the next one, so a chunk checks one receipt at least.
    assert.ok(chunks >= Math.ceil(receipts / 2) && chunks <= receipts + 1, check.stdout);
    const ledger = await Ledger.read(payer.ledgerFile, payer.hex);
    assert.equal(ledger.checked?.next, receipts, 'every receipt is below the mark');

    // Periods that agree pass, then the node bills a read the payer never made.
    await afterPeriodOf(Date.now() + 4000);
    billReadNeverMade(node.dataDir, payer.hex);
    await afterPeriodOf();
    const caught = await runCli(['billing', 'check', ...paying, '--chunk', '2']);
    assert.equal(caught.code, 1, caught.stderr + caught.stdout);
    const reasons = caught.lines.map((l) => l.split('\t')[0]);
    assert.deepEqual(reasons, ['unknown_request'], caught.stdout);
    const after = await Ledger.read(payer.ledgerFile, payer.hex);
    assert.ok(after.checked!.next > receipts, 'the chunks before the difference were compacted');
  } finally {
    await node.close();
  }
});
