/**
 * The ordinary command line, metered: `put --payer` and `get --payer` (separate processes)
 * record into the payer's ledger what they send, `billing check` agrees with the node's
 * receipts, and a node that then bills a read never made is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateIdentity, generateTableKey, identityText } from '../../src/keys/keys.js';
import { saveIdentity, saveTableKey } from '../../src/keys/key-file.js';
import { Ledger } from '../../src/client/billing/ledger.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { afterPeriodOf, newPayer, startBillingNode, billReadNeverMade } from './billing-node.js';

test('put --payer, get --payer, then billing check agrees; a node billing more is caught', async () => {
  const node = await startBillingNode();
  try {
    const dir = tempDir();
    const payer = await newPayer();
    const ledgerFile = join(dir, 'cli.ledger');
    const tableFile = join(dir, 'table.key');
    const idFile = join(dir, 'me.key');
    const me = generateIdentity();
    await saveTableKey(tableFile, generateTableKey());
    await saveIdentity(idFile, me);
    const paying = ['--payer', payer.keyFile, '--ledger', ledgerFile];
    for (const text of ['first metered entry', 'second metered entry']) {
      const put = await runCli([
        'put',
        '--node',
        node.url,
        '--table',
        tableFile,
        '--to',
        identityText(me),
        ...paying,
        text,
      ]);
      assert.equal(put.code, 0, put.stderr);
    }
    const get = await runCli(['get', '--node', node.url, '--key', idFile, ...paying]);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /first metered entry/);
    const ledger = await Ledger.read(ledgerFile, payer.hex);
    assert.deepEqual(
      ledger.requests.map((r) => r.kind),
      ['put', 'put', 'get'],
    );
    const read = ledger.requests[2]!;
    assert.ok(read.kind === 'get' && read.bytes !== null && read.bytes > 0);

    // Two metered commands with --payer need one node: the ledger is one node's count.
    const two = await runCli([
      'get',
      '--node',
      node.url,
      '--node',
      node.url,
      '--key',
      idFile,
      ...paying,
    ]);
    assert.notEqual(two.code, 0);
    assert.match(two.stderr, /^p2pcloud: --payer meters one node/m);

    await afterPeriodOf();
    const check = await runCli(['billing', 'check', '--node', node.url, ...paying]);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    assert.match(check.stdout, /receipt\(s\) agree with the ledger/);

    // The node bills a read this payer never made: the next check fails and names it.
    billReadNeverMade(node.dataDir, payer.hex);
    await afterPeriodOf();
    const caught = await runCli(['billing', 'check', '--node', node.url, ...paying]);
    assert.equal(caught.code, 1, caught.stderr + caught.stdout);
    assert.match(caught.stdout, /^unknown_request\t/m);
  } finally {
    await node.close();
  }
});
