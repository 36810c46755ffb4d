/**
 * Metered compute jobs: `job run --payer` (a child process) against a node process with compute
 * and billing on records the job and the compute receipt it verified in the payer's ledger, and
 * `billing check` then agrees with the fuel the node bills. A job whose answer does not verify
 * (a proxy strips the sealed output) is not noted, so the fuel the node bills for it is
 * flagged; nor is a job whose POST /jobs answer names another id. A ledger that cannot be
 * written ends the run without blaming the node. `--payer` takes one node, and its bad files
 * are refused in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { startRewritingProxy } from '../helpers/rewriting-proxy.js';
import { join } from 'node:path';
import { Ledger } from '../../src/client/billing/ledger.js';
import { Client } from '../../src/client/client.js';
import { storeBlob } from '../../src/client/compute/blob-store.js';
import { runJob } from '../../src/client/compute/run-job.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { deadUrl } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { countWords, wordCountModule } from '../helpers/word-count.js';
import {
  afterPeriodOf,
  newPayer,
  nodeKeyOf,
  billingCheck,
  spawnComputeBillingNode,
} from './billing-node.js';

function assertFails(result: CliResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `unexpected success: ${result.stdout}`);
  assert.equal(result.stdout, '', 'a failure printed on stdout');
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: \S/);
  assert.match(lines[0]!, pattern);
}

/**
 * A proxy in front of a node that hands the JSON answers of `POST /jobs` and `GET /jobs/:id`
 * to `change` before passing them on: a node whose answers the client must not believe.
 */
async function startJobTamperer(
  target: string,
  change: (route: 'submit' | 'state', answer: Record<string, unknown>) => void,
): Promise<string> {
  const proxy = await startRewritingProxy(target, (req, url) => {
    const route =
      req.method === 'POST' && url.pathname === '/jobs'
        ? 'submit'
        : req.method === 'GET' && /^\/jobs\/[0-9a-f]{32}$/.test(url.pathname)
          ? 'state'
          : undefined;
    if (!route) return undefined;
    return (status, body) => {
      if (status >= 300) return body;
      const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      change(route, parsed);
      return Buffer.from(JSON.stringify(parsed));
    };
  });
  return proxy.url;
}

const dir = tempDir();
const node = await spawnComputeBillingNode();
const identity = join(dir, 'me.key');
const table = join(dir, 'notes.table');
const wasm = join(dir, 'wc.wasm');
const notes = join(dir, 'notes.txt');
writeFileSync(wasm, wordCountModule());
const TEXT = 'metered words to count, and a few more\n'.repeat(50);
writeFileSync(notes, TEXT);
assert.equal((await runCli(['keygen', '--out', identity])).code, 0);
assert.equal((await runCli(['table', 'create', '--out', table])).code, 0);
const base = ['job', 'run', '--module', wasm, '--input', notes, '--identity', identity];
const run = [...base, '--table', table];

test('job run --payer notes the verified compute receipt; billing check agrees on its fuel', async () => {
  const payer = await newPayer();
  const ran = await runCli([...run, '--node', node.url, '--payer', payer.keyFile, '--json'], {
    timeoutMs: 120_000,
  });
  assert.equal(ran.code, 0, ran.stderr);
  const answer = JSON.parse(ran.stdout) as {
    id: string;
    status: string;
    receipt: { body: string };
    receipt_hash: string;
    output_base64: string;
  };
  assert.equal(answer.status, 'ok');
  assert.equal(Buffer.from(answer.output_base64, 'base64').toString(), `${countWords(TEXT)}\n`);
  const fuel = (JSON.parse(answer.receipt.body) as { fuel: number }).fuel;
  assert.ok(fuel > 0, 'the job used fuel');

  // The ledger is the key file's name + .ledger.json when --ledger is left out.
  const ledger = await Ledger.open(`${payer.keyFile}.ledger.json`, payer.hex);
  const jobs = ledger.data.requests.filter((r) => r.kind === 'job');
  assert.deepEqual(
    jobs.map((j) => ({ job: j.job, receipt: j.receipt, fuel: j.fuel })),
    [{ job: answer.id, receipt: answer.receipt_hash, fuel }],
  );
  // The module and the input were stored through the same payer: their puts are metered too.
  const puts = ledger.data.requests.filter((r) => r.kind === 'put');
  assert.equal(puts.length, 2);
  for (const put of puts) assert.ok(put.stored && put.stored.length === put.entries.length);
  await ledger.close();

  await afterPeriodOf();
  const check = await runCli(['billing', 'check', '--node', node.url, '--payer', payer.keyFile]);
  assert.equal(check.code, 0, check.stderr + check.stdout);
  const totals =
    /receipt\(s\) agree with the ledger: stored_byte_ms=(\d+) bytes_out=\d+ fuel=(\d+)/.exec(
      check.stdout,
    );
  assert.ok(totals, check.stdout);
  assert.equal(Number(totals[2]), fuel, 'the fuel billed is the fuel of the verified receipt');
  assert.ok(BigInt(totals[1]!) > 0n, 'the blobs are billed storage');
});

test('a job whose answer does not verify is not noted: the fuel the node bills is unverified', async () => {
  // The node ran the job and signed its receipt, but the sealed output does not reach the client.
  const proxy = await startJobTamperer(node.url, (route, answer) => {
    if (route === 'state') delete answer.output;
  });
  const payer = await newPayer();
  const person = generateIdentity();
  const owner = { table: generateTableKey(), identity: person };
  const client = new Client({ nodes: [node.url] });
  const module = await storeBlob(client, owner, wordCountModule());
  const input = await storeBlob(client, owner, Buffer.from(TEXT));
  await assert.rejects(
    runJob({
      nodes: [proxy],
      identity: person,
      module,
      inputs: [input],
      payers: { [proxy]: payer },
    }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'no_majority');
      assert.match(error.message, /node_lied: .*sealed output is missing/);
      return true;
    },
  );
  const jobs = payer.ledger.data.requests.filter((r) => r.kind === 'job');
  assert.equal(jobs.length, 1);
  assert.match(jobs[0]!.job ?? '', /^[0-9a-f]{32}$/, 'the node queued the job it was sent');
  assert.equal(jobs[0]!.receipt, null);
  await payer.ledger.close();

  await afterPeriodOf();
  const check = await billingCheck(node.url, payer);
  assert.equal(check.code, 1, check.stderr + check.stdout);
  const reasons = check.stdout
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => l.split('\t')[0]);
  assert.deepEqual(reasons, ['fuel_unverified']);
  assert.ok(check.stdout.includes(jobs[0]!.job!), check.stdout);
});

test('job run --payer takes one node, and refuses bad files in one line before storing', async () => {
  const payer = await newPayer();
  const ledgerOf = `${payer.keyFile}.ledger.json`;
  const paying = ['--payer', payer.keyFile];
  const other = await deadUrl();
  assertFails(
    await runCli([...run, '--node', node.url, '--node', other, ...paying]),
    /--payer meters one node: give exactly one --node/,
  );
  assertFails(
    await runCli([...run, '--node', node.url, '--payer', join(dir, 'missing.key')]),
    /--payer: .*missing\.key/,
  );
  assertFails(await runCli([...run, '--node', node.url, '--payer', table]), /--payer: /);
  const folder = join(dir, 'a-directory');
  mkdirSync(folder, { recursive: true });
  assertFails(
    await runCli([...run, '--node', node.url, ...paying, '--ledger', folder]),
    /cannot read .*a-directory/,
  );
  assertFails(
    await runCli([...run, '--node', node.url, '--ledger', ledgerOf]),
    /--ledger needs --payer/,
  );
  assert.equal(existsSync(ledgerOf), false, 'nothing was recorded');

  // A node that meters nothing is refused before anything is sent to it.
  const plain = await spawnNode(['--min-pow', '0']);
  try {
    assertFails(
      await runCli([...run, '--node', plain.url, ...paying], { timeoutMs: 60_000 }),
      /meters no usage/,
    );
  } finally {
    await plain.stop();
  }
  assert.equal(existsSync(ledgerOf), false, 'nothing was recorded');
});

test('a ledger that cannot be written ends the run with its error and blames no node', async () => {
  const payer = await newPayer();
  // A ledger that has pinned the node's key, then its file is replaced by a directory: the
  // key is known, so the first write is the job's line, and it fails.
  await payer.ledger.pinNodeKey((await nodeKeyOf(node.url)).toString('hex'));
  await payer.ledger.close();
  const ledger = await Ledger.open(payer.ledgerFile, payer.hex);
  rmSync(payer.ledgerFile);
  mkdirSync(payer.ledgerFile);
  const person = generateIdentity();
  const owner = { table: generateTableKey(), identity: person };
  const client = new Client({ nodes: [node.url] });
  const module = await storeBlob(client, owner, wordCountModule());
  const reputation = join(tempDir(), 'reputation.json');
  await assert.rejects(
    runJob({
      nodes: [node.url],
      identity: person,
      module,
      inputs: [],
      reputation,
      payers: { [node.url]: { key: payer.key, ledger } },
    }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'EISDIR', error.message);
      return true;
    },
  );
  assert.equal(existsSync(reputation), false, 'the node was not recorded as failed');
});

test('a node whose POST /jobs answer names another job fails: its job is never noted as run', async () => {
  const proxy = await startJobTamperer(node.url, (route, answer) => {
    if (route === 'submit') answer.id = 'f'.repeat(32);
  });
  const payer = await newPayer();
  const person = generateIdentity();
  const owner = { table: generateTableKey(), identity: person };
  const module = await storeBlob(new Client({ nodes: [node.url] }), owner, wordCountModule());
  let sentId = '';
  await assert.rejects(
    runJob({ nodes: [proxy], identity: person, module, payers: { [proxy]: payer } }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'no_majority');
      const lie = /node_lied: .*POST \/jobs answered job "f{32}", not ([0-9a-f]{32})/.exec(
        error.message,
      );
      assert.ok(lie, error.message);
      sentId = lie[1]!;
      return true;
    },
  );
  const jobs = payer.ledger.data.requests.filter((r) => r.kind === 'job');
  assert.deepEqual(
    jobs.map((j) => [j.job === sentId, j.receipt]),
    [[true, null]],
    'the job was recorded before it was sent, under its own id, not one the node made up',
  );
  await payer.ledger.close();
});
