/**
 * Metering end to end: real nodes on 127.0.0.1 with their billing.sqlite, a payer whose puts,
 * reads and jobs are metered, the receipts and the invoice the node signs, and the payer's
 * check of them against its own ledger, honest and not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { toHex } from '../../src/encoding/bytes.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { verifyReceipt } from '../../src/compute/receipt.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import {
  billingGet,
  fetchReceipts,
  meteredGet,
  meteredPut,
  meteredSubmitJob,
  recordJobReceipt,
} from '../../src/client/billing/metered.js';
import { checkInvoice, checkReceipts } from '../../src/client/billing/check.js';
import { priceUsage } from '../../src/market/billing/invoice.js';
import { BillingPlugin } from '../../src/node/billing/plugin.js';
import { BILLING_DB_FILE } from '../../src/node/billing/usage-store.js';
import { signPayerHeader } from '../../src/market/billing/payer.js';
import { makeEntry } from '../helpers/entries.js';
import { ECHO, jobInfo, newJob, storeBlob, waitDone } from '../helpers/compute-jobs.js';
import { errorOf, request } from '../helpers/http.js';
import { startTestNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import {
  PRICES,
  afterPeriodOf,
  newPayer,
  nodeKeyOf,
  openBillingDb,
  startBillingNode,
  type TestPayer,
  billingCheck,
} from './billing-node.js';

/** Puts three entries, reads them back and runs one job, all metered; returns what was sent. */
async function useNode(url: string, payer: TestPayer, expiresAt: number) {
  const table = generateTableKey();
  const recipient = generateIdentity();
  const entries = ['one', 'two', 'three, a little longer'].map(
    (text) => makeEntry({ table, recipient, text, expiresAt }).bytes,
  );
  const put = await meteredPut(url, entries, payer);
  assert.equal(put.stored, 3, JSON.stringify(put));
  const read = await meteredGet(
    url,
    new URLSearchParams({ table: toHex(table.signing.publicKey) }),
    payer,
  );
  assert.equal(read.entries.length, 3);
  const owner = { identity: generateIdentity(), table: generateTableKey() };
  const module = await storeBlob(url, ECHO, owner);
  const info = await jobInfo(url);
  const job = newJob(info, owner.identity, module, []);
  const { id } = await meteredSubmitJob(url, job.request, payer);
  const answer = await waitDone(url, id);
  const receipt = verifyReceipt(answer.receipt, info.node);
  assert.ok(receipt, 'the compute receipt verifies');
  await recordJobReceipt(payer.ledger, receipt);
  return { entries, fuel: receipt.body.fuel, receipt };
}

test('metered puts, reads and jobs give receipts and an invoice that agree with the ledger', async () => {
  const node = await startBillingNode();
  const payer = await newPayer();
  const { entries, fuel } = await useNode(node.url, payer, Date.now() + 600_000);
  await afterPeriodOf();
  const receipts = await fetchReceipts(node.url, payer.key);
  assert.ok(receipts.length >= 1);
  const result = checkReceipts(receipts, payer.ledger.data);
  assert.deepEqual(result.differences, []);
  const gets = payer.ledger.data.requests.filter((r) => r.kind === 'get');
  assert.equal(result.totals.bytes_out, gets[0]!.kind === 'get' ? gets[0]!.bytes : -1);
  assert.equal(result.totals.fuel, fuel);
  assert.ok(fuel > 0);
  assert.ok(BigInt(result.totals.stored_byte_ms) > 0n);
  const stored = result.receipts.flatMap((r) => r.body.items.filter((i) => i.k === 'store'));
  for (const bytes of entries) {
    const id = toHex(sha256(bytes));
    const items = stored.filter((i) => i.k === 'store' && i.entry === id);
    assert.ok(items.length >= 1, `entry ${id} accrues storage`);
    for (const i of items) assert.equal(i.k === 'store' && i.bytes, bytes.length);
  }
  // A second read returns the very same receipts: signed once, never changed.
  const again = await fetchReceipts(node.url, payer.key);
  assert.deepEqual(again.slice(0, receipts.length), receipts);

  const invoice = await billingGet(
    node.url,
    '/billing/invoice',
    new URLSearchParams({ from: '0', to: String(Date.now() + 3_600_000) }),
    payer.key,
  );
  const checked = checkInvoice(invoice, payer.ledger.data, result, { prices: PRICES });
  assert.deepEqual(checked.differences, []);
  assert.ok(checked.amount !== null && checked.amount > 0);
  assert.equal(checked.amount, priceUsage(checked.totals, PRICES));
  // Prices other than the provider's offer are flagged.
  const other = checkInvoice(invoice, payer.ledger.data, result, {
    prices: { ...PRICES, gb_out: 1 },
  });
  assert.deepEqual(
    other.differences.map((d) => d.reason),
    ['invoice_prices'],
  );
  // An invoice whose amount is not its receipts at its prices is flagged.
  const padded = checkInvoice(
    { ...invoice, amount: (invoice.amount as number) * 2 },
    payer.ledger.data,
    result,
  );
  assert.deepEqual(
    padded.differences.map((d) => d.reason),
    ['invoice_amount'],
  );

  // The command line agrees: exit 0 and the totals (once this process has let the ledger go).
  await payer.ledger.close();
  const cli = await billingCheck(node.url, payer);
  assert.equal(cli.code, 0, cli.stderr + cli.stdout);
  assert.match(cli.stdout, /receipt\(s\) agree with the ledger/);
  const inv = await runCli([
    'billing',
    'invoice',
    '--node',
    node.url,
    '--payer',
    payer.keyFile,
    '--ledger',
    payer.ledgerFile,
    '--from',
    '0',
    '--to',
    String(Date.now() + 3_600_000),
  ]);
  assert.equal(inv.code, 0, inv.stderr);
  assert.match(inv.stdout, /amount=\S+ sat/);
  const listed = await runCli([
    'billing',
    'receipts',
    '--node',
    node.url,
    '--payer',
    payer.keyFile,
    '--json',
  ]);
  assert.equal(listed.code, 0, listed.stderr);
  // Stored entries go on accruing: later periods may have closed since.
  assert.ok(listed.lines.length >= receipts.length);
  assert.equal((JSON.parse(listed.lines[0]!) as { payer: string }).payer, payer.hex);
  // A payer key file that is not there: one line naming it, and a failure.
  const missing = await runCli([
    'billing',
    'check',
    '--node',
    node.url,
    '--payer',
    join(tempDir(), 'none.key'),
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^p2pcloud: .*none\.key.*\n$/);
});

test('a node that bills for what was not asked, inflates, double-bills or bills past expiry is caught', async () => {
  const node = await startBillingNode();
  const payer = await newPayer();
  // Entries expiring soon, so that storage billed after their expiry can be planted.
  const expiresAt = Date.now() + 5000;
  await useNode(node.url, payer, expiresAt);
  await afterPeriodOf();
  // The first receipts are honest, and settle the job.
  const honest = await fetchReceipts(node.url, payer.key);
  assert.deepEqual(checkReceipts(honest, payer.ledger.data).differences, []);

  const db = openBillingDb(node.dataDir);
  const payerKey = Buffer.from(payer.hex, 'hex');
  const now = Date.now();
  try {
    // An entry this payer never wrote.
    db.prepare('INSERT INTO stored VALUES (?, ?, ?, ?, ?)').run(
      payerKey,
      randomBytes(32),
      4096,
      now,
      0,
    );
    // A served request and a job this payer never made.
    db.prepare('INSERT INTO served VALUES (?, ?, ?, ?)').run(payerKey, randomBytes(32), 777, now);
    db.prepare('INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, 1)').run(
      payerKey,
      randomBytes(16).toString('hex'),
      now,
      randomBytes(32),
      5000,
      now,
    );
    // The payer's own entries kept on the bill after they expire, and larger than they are.
    // A node itemizes an entry in the period its storage starts in (later periods only hold
    // it), so the operator restarts their storage just after their expiry to itemize them
    // again there.
    db.prepare(
      'UPDATE stored SET expires_at = 0, bytes = bytes + 100, accepted_at = ? WHERE payer = ?',
    ).run(expiresAt + 1, payerKey);
    // The payer's own job billed again, with more fuel than its signed compute receipt says
    // (its row went when its period was receipted: the operator writes it back).
    const own = payer.ledger.data.requests.find((r) => r.kind === 'job' && r.fuel !== null);
    assert.ok(own?.kind === 'job' && own.job && own.receipt && own.fuel !== null);
    db.prepare('INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, 1)').run(
      payerKey,
      own.job,
      now,
      Buffer.from(own.receipt, 'hex'),
      own.fuel + 1000,
      now,
    );
  } finally {
    db.close();
  }
  // Wait past the entries' expiry and the end of the period.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now())));
  await afterPeriodOf();
  const lying = await fetchReceipts(node.url, payer.key);
  // Then the node signs the same periods again: double billing. The usage rows of receipted
  // periods are gone, so the operator puts the honest job back as well.
  const db2 = openBillingDb(node.dataDir);
  try {
    const honestJob = payer.ledger.data.requests.find((r) => r.kind === 'job' && r.fuel !== null);
    assert.ok(honestJob?.kind === 'job' && honestJob.job && honestJob.receipt);
    const { receipted_to: mark } = db2
      .prepare('SELECT receipted_to FROM payers WHERE payer = ?')
      .get(payerKey) as { receipted_to: number };
    db2
      .prepare('INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, 1)')
      .run(
        payerKey,
        honestJob.job,
        mark - 1500,
        Buffer.from(honestJob.receipt, 'hex'),
        honestJob.fuel,
        mark - 1500,
      );
    db2
      .prepare('UPDATE payers SET receipted_to = receipted_to - ? WHERE payer = ?')
      .run(2000, payerKey);
  } finally {
    db2.close();
  }
  const twice = await fetchReceipts(node.url, payer.key);
  const reasons = new Set(checkReceipts(twice, payer.ledger.data).differences.map((d) => d.reason));
  for (const reason of [
    'unknown_entry',
    'unknown_request',
    'unknown_job',
    'bytes_inflated',
    'storage_after_expiry',
    'job_billed_twice',
    'storage_overlap',
  ]) {
    assert.ok(
      reasons.has(reason as never),
      `${reason} is flagged (got ${[...reasons].join(', ')})`,
    );
  }
  assert.ok(twice.length > lying.length);
  // Read alone, the receipts after the honest ones bill the job with more fuel than it used.
  const later = checkReceipts(lying.slice(honest.length), payer.ledger.data).differences;
  assert.ok(
    later.some((d) => d.reason === 'fuel_mismatch'),
    later.map((d) => d.reason).join(', '),
  );

  await payer.ledger.close();
  const cli = await billingCheck(node.url, payer);
  assert.equal(cli.code, 1, cli.stdout + cli.stderr);
  assert.match(
    cli.stderr,
    /^p2pcloud: \d+ difference\(s\) between the node's bill and the ledger\n$/,
  );
  assert.ok(
    cli.lines.some((l) => l.startsWith('unknown_entry\t')),
    cli.stdout,
  );
  assert.ok(
    cli.lines.some((l) => l.startsWith('storage_overlap\t')),
    cli.stdout,
  );
});

test('storage billed from before the put was sent is caught', async () => {
  const node = await startBillingNode();
  const payer = await newPayer();
  const entry = makeEntry({ text: 'early' }).bytes;
  const db = openBillingDb(node.dataDir);
  const payerKey = Buffer.from(payer.hex, 'hex');
  await meteredPut(node.url, [entry], payer);
  try {
    // Five seconds back: past what the check allows for clocks (here 1 s).
    db.prepare('UPDATE stored SET accepted_at = accepted_at - 5000 WHERE payer = ?').run(payerKey);
    db.prepare('UPDATE payers SET first_at = first_at - 5000 WHERE payer = ?').run(payerKey);
  } finally {
    db.close();
  }
  await afterPeriodOf();
  const receipts = await fetchReceipts(node.url, payer.key);
  const reasons = checkReceipts(receipts, payer.ledger.data, { skewMs: 1000 }).differences.map(
    (d) => d.reason,
  );
  assert.ok(reasons.includes('storage_before_put'), reasons.join(', '));
  assert.ok(
    reasons.every((r) => r === 'storage_before_put'),
    reasons.join(', '),
  );
});

test('payer headers: malformed, forged, for another body, out of time or replayed are refused', async () => {
  const node = await startBillingNode();
  const payer = await newPayer();
  const other = await newPayer();
  const table = toHex(generateTableKey().signing.publicKey);
  const path = `/get?table=${table}`;
  const get = (header: string) =>
    request(node.url, path, { headers: { 'p2pcloud-payer': header } });
  const nodeKey = await nodeKeyOf(node.url);

  for (const header of ['v1.zz', `v2.${payer.hex}.1.${'0'.repeat(128)}`, 'x'.repeat(300)]) {
    const r = await get(header);
    assert.equal(r.status, 401, header);
    assert.equal(errorOf(r).code, 'payer_invalid');
  }
  // Signed by one key, naming another.
  const forged = signPayerHeader(other.key, nodeKey, 'GET', path, Date.now()).replace(
    other.hex,
    payer.hex,
  );
  assert.equal(errorOf(await get(forged)).code, 'payer_invalid');
  // Signed for another path.
  assert.equal(
    errorOf(await get(signPayerHeader(payer.key, nodeKey, 'GET', '/get?table=00', Date.now())))
      .code,
    'payer_invalid',
  );
  // Six minutes old.
  const stale = await get(signPayerHeader(payer.key, nodeKey, 'GET', path, Date.now() - 360_000));
  assert.equal(stale.status, 401);
  assert.match(String(errorOf(stale).message), /from the node's clock/);
  // Signed for another body.
  const entry = makeEntry().bytes;
  const put = await request(node.url, '/put', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'p2pcloud-payer': signPayerHeader(
        payer.key,
        nodeKey,
        'POST',
        '/put',
        Date.now(),
        Buffer.from('{}'),
      ),
    },
    body: JSON.stringify({ entry: entry.toString('base64') }),
  });
  assert.equal(put.status, 401);
  assert.equal(errorOf(put).code, 'payer_invalid');
  // A good header once, then the same again.
  const good = signPayerHeader(payer.key, nodeKey, 'GET', path, Date.now());
  assert.equal((await get(good)).status, 200);
  const replay = await get(good);
  assert.equal(replay.status, 409);
  assert.equal(errorOf(replay).code, 'payer_replayed');
  // The billing routes answer a payer only, and only with its own receipts.
  const anonymous = await request(node.url, '/billing/receipts');
  assert.equal(anonymous.status, 401);
  assert.equal(errorOf(anonymous).code, 'payer_invalid');
  await afterPeriodOf();
  assert.ok((await fetchReceipts(node.url, payer.key)).length >= 1);
  assert.deepEqual(await fetchReceipts(node.url, other.key), []);
  // Bad queries get their code.
  const bad = await request(node.url, '/billing/receipts?since=-1', {
    headers: {
      'p2pcloud-payer': signPayerHeader(
        payer.key,
        nodeKey,
        'GET',
        '/billing/receipts?since=-1',
        Date.now(),
      ),
    },
  });
  assert.equal(bad.status, 400);
  assert.equal(errorOf(bad).code, 'bad_query');
});

test('a node without billing meters nothing, keeps no file and answers billing_disabled', async () => {
  const dataDir = tempDir();
  const node = await startTestNode({ data_dir: dataDir }, [new BillingPlugin()]);
  assert.equal(node.ctx.putObservers.length, 0);
  for (const route of ['/billing/info', '/billing/receipts', '/billing/invoice?from=0&to=1']) {
    const r = await request(node.url, route);
    assert.equal(r.status, 404, route);
    assert.equal(errorOf(r).code, 'billing_disabled');
  }
  const payer = await newPayer();
  // The client does not sign for a node that bills nothing: its ledger would count in vain.
  await assert.rejects(meteredPut(node.url, [makeEntry().bytes], payer), {
    code: 'billing_disabled',
  });
  assert.equal(payer.ledger.data.requests.length, 0);
  // A header is ignored: the put is served as any other.
  const put = await request(node.url, '/put', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'p2pcloud-payer': signPayerHeader(payer.key, Buffer.alloc(32), 'POST', '/put', Date.now()),
    },
    body: JSON.stringify({ entry: makeEntry().bytes.toString('base64') }),
  });
  assert.equal(put.status, 200, put.body.toString());
  assert.equal(existsSync(join(dataDir, BILLING_DB_FILE)), false);
});

test('a payer header made for one node is refused by another; the client signs for each node', async () => {
  const a = await startBillingNode();
  const b = await startBillingNode();
  const payer = await newPayer();
  const path = `/get?table=${toHex(generateTableKey().signing.publicKey)}`;
  const header = signPayerHeader(payer.key, await nodeKeyOf(a.url), 'GET', path, Date.now());
  const atA = await request(a.url, path, { headers: { 'p2pcloud-payer': header } });
  assert.equal(atA.status, 200);
  // Node A hands the captured header to node B, which would bill it again.
  const atB = await request(b.url, path, { headers: { 'p2pcloud-payer': header } });
  assert.equal(atB.status, 401);
  assert.equal(errorOf(atB).code, 'payer_invalid');
  await afterPeriodOf();
  assert.deepEqual(await fetchReceipts(b.url, payer.key), []);
  assert.equal((await fetchReceipts(a.url, payer.key)).length, 1);
  // The client reads each node's key and pins the first in the ledger.
  await meteredPut(a.url, [makeEntry().bytes], payer);
  assert.equal(payer.ledger.data.node_key, toHex(await nodeKeyOf(a.url)));
  await assert.rejects(meteredPut(b.url, [makeEntry().bytes], payer), {
    code: 'billing_mismatch',
  });
  assert.equal(payer.ledger.data.requests.length, 1);
});

test('GET /billing/info takes no header and costs the replay cache nothing', async () => {
  const node = await startBillingNode({
    billing: { enabled: true, receipt_period_ms: 1000, prices: PRICES, max_replay_entries: 1000 },
  });
  const nodeKey = await nodeKeyOf(node.url);
  const attacker = generateIdentity().signing;
  for (let i = 0; i < 1100; i += 100) {
    const codes = await Promise.all(
      Array.from({ length: 100 }, async (_, j) => {
        const h = signPayerHeader(attacker, nodeKey, 'GET', '/billing/info', Date.now() + i + j);
        return (await request(node.url, '/billing/info', { headers: { 'p2pcloud-payer': h } }))
          .status;
      }),
    );
    assert.ok(
      codes.every((c) => c === 200),
      codes.join(','),
    );
  }
  const info = (await request(node.url, '/health')).json as {
    billing?: { replay_entries: number };
  };
  assert.equal(info.billing?.replay_entries, 0);
  // The info names the key, the period, the prices and how many receipts an answer holds.
  assert.deepEqual((await request(node.url, '/billing/info')).json, {
    v: 1,
    node: nodeKey.toString('hex'),
    receipt_period_ms: 1000,
    prices: PRICES,
    max_receipts_per_answer: 64,
  });
  const victim = await newPayer();
  assert.deepEqual(await fetchReceipts(node.url, victim.key), []);
});
