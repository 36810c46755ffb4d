/**
 * A metered job whose run stopped after the node queued it (the requester aborted, or lost its
 * poll) is settled later: `billing check` flags the fuel the node bills for it as unverified and
 * names `job result --payer`, which checks the node's answer with what the ledger knows (the job
 * id) and notes its compute receipt; the next check agrees. A job the ledger does not hold, or
 * an answer that fails a check, notes nothing and says so in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Ledger } from '../../src/client/billing/ledger.js';
import { Client } from '../../src/client/client.js';
import { storeBlob } from '../../src/client/compute/blob-store.js';
import { jobState } from '../../src/client/compute/node-api.js';
import { runJob } from '../../src/client/compute/run-job.js';
import { saveIdentity } from '../../src/keys/key-file.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { startRewritingProxy } from '../helpers/rewriting-proxy.js';
import { runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { countWords, wordCountModule } from '../helpers/word-count.js';
import {
  afterPeriodOf,
  newPayer,
  type TestPayer,
  spawnComputeBillingNode,
} from './billing-node.js';

const dir = tempDir();
const node = await spawnComputeBillingNode();
const TEXT = 'words of a run that was cut short\n'.repeat(40);
const person = generateIdentity();
const personFile = join(dir, 'person.key');
await saveIdentity(personFile, person);
const owner = { table: generateTableKey(), identity: person };
const client = new Client({ nodes: [node.url] });
const module = await storeBlob(client, owner, wordCountModule());
const input = await storeBlob(client, owner, Buffer.from(TEXT));

function oneLineFailure(result: CliResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `unexpected success: ${result.stdout}`);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: \S/);
  assert.match(lines[0]!, pattern);
}

/**
 * A metered run stopped right after the node queued the job, before any poll: the ledger has
 * the job's id and no receipt. Resolves with the id once the node has finished the job.
 */
async function interruptedJob(payer: TestPayer): Promise<string> {
  const stop = new AbortController();
  await assert.rejects(
    runJob({
      nodes: [node.url],
      identity: person,
      module,
      inputs: [input],
      payers: { [node.url]: payer },
      signal: stop.signal,
      onProgress: (p) => {
        if (p.state === 'submitted') stop.abort();
      },
    }),
    /aborted/,
  );
  const jobs = payer.ledger.data.requests.filter((r) => r.kind === 'job');
  assert.equal(jobs.length, 1);
  const id = jobs[0]!.job;
  assert.ok(id !== null && /^[0-9a-f]{32}$/.test(id), 'the node queued the job');
  assert.equal(jobs[0]!.receipt, null, 'the run stopped before it saw an answer');
  for (let i = 0; i < 10; i++) {
    if ((await jobState(node.url, id, 30_000)).status === 'done') return id;
  }
  throw new Error(`job ${id} did not finish`);
}

async function check(payer: TestPayer): Promise<CliResult> {
  const args = ['--node', node.url, '--payer', payer.keyFile, '--ledger', payer.ledgerFile];
  return runCli(['billing', 'check', ...args]);
}

function reasons(result: CliResult): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => l.split('\t')[0]!);
}

async function jobLine(payer: TestPayer, id: string) {
  const ledger = await Ledger.open(payer.ledgerFile, payer.hex);
  try {
    const record = ledger.requestOfJob(id);
    assert.ok(record?.kind === 'job');
    return { receipt: record.receipt, fuel: record.fuel };
  } finally {
    await ledger.close();
  }
}

const result = (id: string, nodeUrl: string, payer: TestPayer): string[] => [
  'job',
  'result',
  id,
  '--node',
  nodeUrl,
  '--identity',
  personFile,
  '--payer',
  payer.keyFile,
  '--ledger',
  payer.ledgerFile,
];

test('an interrupted metered run is settled by job result --payer: the check then agrees', async () => {
  const payer = await newPayer();
  const id = await interruptedJob(payer);
  await payer.ledger.close();
  await afterPeriodOf();

  const before = await check(payer);
  assert.equal(before.code, 1, before.stderr + before.stdout);
  assert.deepEqual(reasons(before), ['fuel_unverified']);
  const hint = before.stdout.split('\n').find((l) => l.startsWith('fuel_unverified\t'))!;
  assert.ok(hint.includes(`p2pcloud job result ${id} `), hint);
  assert.match(hint, /--payer KEYFILE/);

  const settled = await runCli(result(id, node.url, payer));
  assert.equal(settled.code, 0, settled.stderr);
  assert.equal(settled.stdout, `${countWords(TEXT)}\n`, 'the output opened and is the job’s');
  assert.match(
    settled.stderr,
    new RegExp(`job ${id}: receipt [0-9a-f]{16}… \\(fuel \\d+\\) noted`),
  );
  // What is noted is the receipt the node signed for this job, as the node serves it.
  const served = (await jobState(node.url, id, 0)).receipt as { body: string };
  const body = JSON.parse(served.body) as { fuel: number };
  assert.ok(body.fuel > 0);
  const noted = await jobLine(payer, id);
  assert.equal(noted.fuel, body.fuel);
  assert.match(noted.receipt ?? '', /^[0-9a-f]{64}$/);

  const afterwards = await check(payer);
  assert.equal(afterwards.code, 0, afterwards.stderr + afterwards.stdout);
  const totals = /agree with the ledger: stored_byte_ms=\d+ bytes_out=\d+ fuel=(\d+)/.exec(
    afterwards.stdout,
  );
  assert.ok(totals, afterwards.stdout);
  assert.equal(Number(totals[1]), body.fuel, 'the fuel billed is the fuel of the noted receipt');
});

test('job result --payer notes nothing for a job the ledger does not hold or an answer that fails', async () => {
  const payer = await newPayer();
  const id = await interruptedJob(payer);
  await payer.ledger.close();

  oneLineFailure(
    await runCli(result(id, node.url, payer).filter((a) => a !== '--payer' && a !== payer.keyFile)),
    /--ledger needs --payer/,
  );
  // Another payer's ledger never sent this job.
  const stranger = await newPayer();
  await stranger.ledger.close();
  oneLineFailure(
    await runCli(result(id, node.url, stranger)),
    new RegExp(`job ${id} is not in the ledger .*nothing recorded`),
  );

  // The node ran the job, but its sealed output does not reach the client.
  const stripped = await startRewritingProxy(node.url, (req, url) =>
    req.method === 'GET' && url.pathname === `/jobs/${id}`
      ? (status, bytes) => {
          if (status !== 200) return bytes;
          const answer = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
          delete answer.output;
          return Buffer.from(JSON.stringify(answer));
        }
      : undefined,
  );
  oneLineFailure(
    await runCli(result(id, stripped.url, payer)),
    /sealed output is missing.*nothing recorded/,
  );
  // The answer of another job of the same requester, whose output opens with the identity,
  // shown under this job's id.
  const other = await newPayer();
  const otherId = await interruptedJob(other);
  await other.ledger.close();
  const otherState = await jobState(node.url, otherId, 0);
  const swapped = await startRewritingProxy(node.url, (req, url) =>
    req.method === 'GET' && url.pathname === `/jobs/${id}`
      ? (status, bytes) =>
          status === 200 ? Buffer.from(JSON.stringify({ ...otherState, id })) : bytes
      : undefined,
  );
  oneLineFailure(
    await runCli(result(id, swapped.url, payer)),
    /the receipt names another job.*nothing recorded/,
  );
  assert.deepEqual(await jobLine(payer, id), { receipt: null, fuel: null });
  assert.deepEqual(await jobLine(stranger, id).catch(() => 'absent'), 'absent');

  // The honest answer is noted.
  const settled = await runCli(result(id, node.url, payer));
  assert.equal(settled.code, 0, settled.stderr);
  assert.notEqual((await jobLine(payer, id)).fuel, null);
});
